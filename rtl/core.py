"""The spiking core engine: packet parser, fan-out delivery, neuron update, decision.

The core is time stepped and event driven. It parses host packets (format in
:mod:`spikestream.model.protocol`) one word per cycle; ``END_STEP(t)`` runs step ``t``:

1. *Deliver*: the sources that spiked in step ``t-1`` (input events tagged ``t-1`` and
   neuron spikes of ``t-1``) are read from the event queue, their fan-out row pointers
   from the pointer table, and their synapses, ``lanes`` per cycle, from the synaptic
   memory. Lane ``k`` adds ``w << e_g`` into its own accumulator bank ``k`` (a
   read-modify-write with a one-cycle loop: the read port is transparent to the write
   port, so back-to-back updates of one neuron see each other).
2. *Update*: every group of ``neuron_lanes`` neurons in turn (one group per cycle,
   pipelined): the lane banks are summed into ``a[i]`` and cleared, and one
   :class:`~spikestream.rtl.neuron.NeuronUpdate` per neuron lane computes the new state.
   The spikes of a group wait as one entry of a small FIFO and leave one per cycle, in
   neuron order, into the event queue (delivered at ``t+1``) and the output stream.
3. *Report*: the STEP packet trailer (events, synaptic operations, spikes, cycles).

``END_SAMPLE`` scans the output population for the decision and sends SUMMARY. The
cycle counts are those of :mod:`spikestream.model.cycles`.

Storage (all memories have one read and one write port, so they map to block RAM):
neuron parameters and state (one word per group of ``neuron_lanes`` neurons, written per
neuron when loading), ``lanes`` accumulator banks (same grouping; delivery writes one
neuron of a word, the update reads and clears whole words), the
pointer table (``first_row, count`` per source), the synaptic memory (rows of ``lanes``
synapses in canonical order; each source's fan-out starts on a fresh row, and only live
synapses are stored, so pruned synapses cost nothing), and a two-half event queue
(``event_queue_depth`` sources per half: the step being delivered and the next one).
"""

from __future__ import annotations

import logging

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikestream.model.config import CoreConfig
from spikestream.model.protocol import (ARGUMENT_BITS, CONFIG_WORDS, DECISION_CODES, DECISION_EARLY_EXIT_BIT,
                                        NEURON_FIELDS, NEURON_WORDS, OPCODE_SHIFT, STATE_WORDS,
                                        STEP_TRAILER_WORDS, SUMMARY_WORDS, WORD_BITS, ErrorFlag, InOpcode,
                                        OutOpcode, header, synapse_format, synapse_rows)
from spikestream.model.network import DecisionMode

from .decision import DecisionScan
from .spikes import SpikeSerializer
from .neuron import NEURON_LATENCY, NeuronUpdate, accumulator_bits, neuron_params_layout, neuron_state_layout

__all__ = ["SpikingCore", "output_fifo_depth", "COUNTERS"]

log = logging.getLogger("spikestream.rtl")

#: The activity counters the core exposes (32-bit, wrapping, cleared by ``counters_clear``).
COUNTERS = ("cycles", "synaptic_ops", "events_in", "events_out", "dropped_packets")


def _bits(count: int) -> int:
    """Address bits for ``count`` entries (at least 1)."""
    return max(1, (count - 1).bit_length())


def output_fifo_depth(core: CoreConfig) -> int:
    """Words of the output FIFO: a whole step's STEP packet always fits."""
    need = core.max_neurons + 1 + STEP_TRAILER_WORDS + 1
    return 1 << (need - 1).bit_length()


class SpikingCore(wiring.Component):
    """The core behind its streams (flat valid/ready ports; the top level adds AXI).

    Ports
    -----
    in_data, in_valid, in_last, in_ready
        Host packets (AXI4-Stream semantics: a word moves when ``valid & ready``).
    out_data, out_valid, out_last, out_ready
        Core packets, from a FIFO (``out_valid`` and the word hold until ``out_ready``).
    errors : Out(len(ErrorFlag))
        Sticky error flags (:class:`~spikestream.model.protocol.ErrorFlag`); bits set in
        ``errors_clear`` clear the cycle after.
    cycles, synaptic_ops, events_in, events_out, dropped_packets : Out(32)
        Activity counters (busy cycles, synapses traversed, input events accepted, neuron
        spikes emitted, packets with an error); ``counters_clear`` zeroes them.
    busy, configured, sample_done, step : Out
        Status: not waiting for input; a valid CONFIG was loaded; the sample ended
        early (decision made); the next step to run.

    After a reset the core first zeroes its accumulators (one cycle per group of
    ``neuron_lanes`` neurons; ``busy``, not counted in ``cycles``), then accepts input.
    """

    def __init__(self, core: CoreConfig):
        self.core = core
        members = {
            "in_data": In(WORD_BITS), "in_valid": In(1), "in_last": In(1), "in_ready": Out(1),
            "out_data": Out(WORD_BITS), "out_valid": Out(1), "out_last": Out(1), "out_ready": In(1),
            "errors": Out(len(ErrorFlag)), "errors_clear": In(len(ErrorFlag)), "counters_clear": In(1),
            "busy": Out(1), "configured": Out(1), "sample_done": Out(1), "step": Out(core.timestep_bits + 1),
        }
        members.update({name: Out(32) for name in COUNTERS})
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self.core
        lanes = core.lanes
        log.info("elaborating SpikingCore for %s", core.to_json())
        fmt = synapse_format(core)
        rows = synapse_rows(core)
        acc_bits = accumulator_bits(core)
        depth = core.event_queue_depth
        neuron_bits = _bits(core.max_neurons)
        source_bits = _bits(core.num_sources)
        row_bits = _bits(rows)
        queue_bits = _bits(depth)
        exp_bits = max(1, core.max_weight_exponent.bit_length())
        params_layout = neuron_params_layout(core)
        state_layout = neuron_state_layout(core)
        step_bits = core.timestep_bits + 1
        # Neurons are stored in groups of `parallel` (one memory word), updated together.
        parallel = core.neuron_lanes
        slot_bits = (parallel - 1).bit_length()
        groups = -(-core.max_neurons // parallel)
        group_bits = _bits(groups)

        def group_of(neuron):
            return neuron[slot_bits:] if slot_bits else neuron

        def slot_of(neuron):
            return neuron[:slot_bits] if slot_bits else Const(0, 1)

        # ---- storage -------------------------------------------------------------------
        m.submodules.params = params_mem = Memory(shape=data.ArrayLayout(params_layout, parallel), depth=groups,
                                                  init=[])
        m.submodules.state = state_mem = Memory(shape=data.ArrayLayout(state_layout, parallel), depth=groups,
                                                init=[])
        pointer_layout = data.StructLayout({"first_row": unsigned(row_bits), "count": unsigned(neuron_bits + 1)})
        m.submodules.pointers = pointer_mem = Memory(shape=pointer_layout, depth=core.num_sources, init=[])
        synapse_layout = data.StructLayout({"target": unsigned(fmt.target_bits), "weight": signed(fmt.weight_bits),
                                            "group": unsigned(fmt.group_bits)})
        m.submodules.synapses = synapse_mem = Memory(shape=data.ArrayLayout(synapse_layout, lanes), depth=rows,
                                                     init=[])
        m.submodules.queue = queue_mem = Memory(shape=unsigned(source_bits), depth=2 << queue_bits, init=[])
        banks = []
        for lane in range(lanes):
            bank = Memory(shape=data.ArrayLayout(signed(acc_bits), parallel), depth=groups, init=[])
            m.submodules[f"accumulator{lane}"] = bank
            banks.append(bank)

        params_w = params_mem.write_port(granularity=1)
        params_r = params_mem.read_port()
        state_w = state_mem.write_port()
        state_r = state_mem.read_port()
        pointer_w = pointer_mem.write_port()
        pointer_r = pointer_mem.read_port()
        synapse_w = synapse_mem.write_port(granularity=1)
        synapse_r = synapse_mem.read_port()
        queue_w = queue_mem.write_port()
        queue_r = queue_mem.read_port()
        bank_w = [bank.write_port(granularity=1) for bank in banks]
        bank_r = [bank.read_port(transparent_for=(w,)) for bank, w in zip(banks, bank_w)]
        for port in (params_r, state_r, pointer_r, synapse_r, queue_r, *bank_r):
            m.d.comb += port.en.eq(0)

        m.submodules.out_fifo = fifo = SyncFIFOBuffered(width=WORD_BITS + 1, depth=output_fifo_depth(core))
        m.d.comb += [
            self.out_data.eq(fifo.r_data[:WORD_BITS]), self.out_last.eq(fifo.r_data[WORD_BITS]),
            self.out_valid.eq(fifo.r_rdy), fifo.r_en.eq(self.out_ready),
        ]
        fifo_data = Signal(WORD_BITS)
        fifo_last = Signal()
        m.d.comb += fifo.w_data.eq(Cat(fifo_data, fifo_last))

        def emit(value, last=0):
            m.d.comb += [fifo.w_en.eq(1), fifo_data.eq(value), fifo_last.eq(last)]

        def fifo_has_room(words: int):
            return fifo.level <= fifo.depth - words

        # ---- configuration (CONFIG packet) ---------------------------------------------
        configured = Signal()
        n_inputs = Signal(range(core.max_inputs + 1))
        n_neurons = Signal(range(core.max_neurons + 1))
        timesteps = Signal(step_bits)
        output_start = Signal(range(core.max_neurons + 1))
        output_size = Signal(range(core.max_neurons + 1))
        decision_mode = Signal(2)
        early_exit = Signal()
        exponents = Array(Signal(exp_bits, name=f"exponent{g}") for g in range(core.max_groups))
        shadow = Array(Signal(WORD_BITS, name=f"config_word{k}") for k in range(CONFIG_WORDS))
        shadow_exponents = Array(Signal(exp_bits, name=f"config_exponent{g}") for g in range(core.max_groups))
        config_words = Signal(range(CONFIG_WORDS + core.max_groups + 1))

        # ---- sample state --------------------------------------------------------------
        step = Signal(step_bits)  # next step to run == steps run in this sample
        sample_done = Signal()  # early exit happened
        queue_count = Array(Signal(range(depth + 1), name=f"queue_count{h}") for h in range(2))
        push_half = step[0]  # events of step t (delivered at t+1)
        deliver_half = ~step[0]  # events of step t-1

        clear_index = Signal(range(groups + 1))
        clearing = Signal()  # zeroing the accumulators after a reset

        # ---- errors and counters -------------------------------------------------------
        errors = Signal(len(ErrorFlag))
        raise_error = Signal(len(ErrorFlag))  # pulses this cycle
        counters = {name: getattr(self, name) for name in ("cycles", "synaptic_ops", "events_in", "events_out",
                                                            "dropped_packets")}
        count_dropped = Signal()
        count_event_in = Signal()
        count_spike_out = Signal()
        count_synapses = Signal(range(core.max_neurons + 1))
        m.d.sync += errors.eq((errors & ~self.errors_clear) | raise_error)
        with m.If(self.counters_clear):
            for counter in counters.values():
                m.d.sync += counter.eq(0)
        with m.Else():
            m.d.sync += [
                counters["cycles"].eq(counters["cycles"] + (self.busy & ~clearing)),
                counters["synaptic_ops"].eq(counters["synaptic_ops"] + count_synapses),
                counters["events_in"].eq(counters["events_in"] + count_event_in),
                counters["events_out"].eq(counters["events_out"] + count_spike_out),
                counters["dropped_packets"].eq(counters["dropped_packets"] + count_dropped),
            ]
        m.d.comb += [
            self.errors.eq(errors), self.configured.eq(configured), self.sample_done.eq(sample_done),
            self.step.eq(step),
        ]

        def flag(error: ErrorFlag):
            m.d.comb += raise_error[error].eq(1)

        # ---- parser state --------------------------------------------------------------
        in_packet = Signal()  # the next word is payload
        opcode = Signal(8)
        drop = Signal()  # discard the rest of this packet
        packet_error = Signal()  # an error happened in this packet (count it once)
        sub = Signal(range(max(lanes, NEURON_WORDS, CONFIG_WORDS + core.max_groups) + 1))
        item = Signal(ARGUMENT_BITS + 1)  # neuron / source / row being loaded
        staged = Array(Signal(WORD_BITS, name=f"staged{k}") for k in range(NEURON_WORDS - 1))
        word = self.in_data
        beat = Signal()
        m.d.comb += beat.eq(self.in_valid & self.in_ready)
        word_opcode = word[OPCODE_SHIFT:]
        word_argument = word[:ARGUMENT_BITS]
        with m.If(beat & self.in_last):
            m.d.sync += packet_error.eq(0)
            m.d.comb += count_dropped.eq(packet_error | (raise_error != 0))
        with m.Elif(beat & (raise_error != 0)):
            m.d.sync += packet_error.eq(1)

        # ---- delivery pipeline state ---------------------------------------------------
        queue_index = Signal(range(depth + 1))
        queue_valid = Signal()
        pointer_valid = Signal()
        issue_busy = Signal()
        issue_row = Signal(row_bits)
        issue_left = Signal(range(core.max_neurons + 1))
        synapse_valid = Signal()
        synapse_mask = Signal(lanes)
        issue_active = Signal()  # the issuer started a source or issued a row last cycle
        acc_valid = [Signal(name=f"acc_valid{k}") for k in range(lanes)]
        acc_target = [Signal(neuron_bits, name=f"acc_target{k}") for k in range(lanes)]
        acc_value = [Signal(signed(acc_bits), name=f"acc_value{k}") for k in range(lanes)]
        step_events = Signal(range(depth + 1))
        step_synapses = Signal(32)
        step_spikes = Signal(range(core.max_neurons + 1))
        step_cycles = Signal(32)
        output_spiked = Signal()

        # ---- update pipeline state -----------------------------------------------------
        neuron_units = []
        for k in range(parallel):
            unit = NeuronUpdate(core)
            m.submodules[f"neuron{k}"] = unit
            neuron_units.append(unit)
        update_index = Signal(range(groups + 1))  # next group to read
        update_groups = Signal(range(groups + 1))
        m.d.comb += update_groups.eq((n_neurons + parallel - 1) >> slot_bits)
        m.submodules.spikes = spikes = SpikeSerializer(core)
        update_inflight = Signal(NEURON_LATENCY + 1)  # valid bits: memory read, then the neuron stages

        # ---- decision scan state -------------------------------------------------------
        scan_index = Signal(range(core.max_neurons + 1))
        scan_valid = Signal()
        scan_at = Signal(range(core.max_neurons + 1))  # index within the output population
        m.submodules.decision = decision_scan = DecisionScan(core)
        m.d.comb += [decision_scan.mode.eq(decision_mode), decision_scan.timesteps.eq(timesteps)]
        report_index = Signal(range(max(STEP_TRAILER_WORDS, SUMMARY_WORDS + 1, STATE_WORDS, lanes) + 1))
        readback_index = Signal(range(max(core.max_neurons, rows, core.num_sources) + 1))
        readback_end = Signal(range(max(rows, core.num_sources) + 1))

        def reset_sample():
            m.d.sync += [step.eq(0), sample_done.eq(0), queue_count[0].eq(0), queue_count[1].eq(0)]

        def begin_packet_error(error: ErrorFlag):
            """Flag ``error`` on a header word and drop the packet's payload."""
            flag(error)
            with m.If(~self.in_last):
                m.d.sync += drop.eq(1)

        state_zero = Signal()  # no step ran in this sample: the stored state is stale
        m.d.comb += state_zero.eq(step == 0)
        state_seen = Signal(data.ArrayLayout(state_layout, parallel))
        m.d.comb += state_seen.eq(Mux(state_zero, 0, state_r.data))
        state_slot = Signal(max(1, slot_bits))  # slot of the neuron whose group state_r holds
        one_state = Signal(state_layout)
        m.d.comb += one_state.eq(state_seen[state_slot])

        with m.FSM(name="engine"):
            with m.State("CLEAR"):
                # After a reset the accumulators may hold a half-delivered step: zero them.
                m.d.comb += clearing.eq(1)
                for lane in range(lanes):
                    m.d.comb += [bank_w[lane].addr.eq(clear_index), bank_w[lane].data.eq(0),
                                 bank_w[lane].en.eq((1 << parallel) - 1)]
                m.d.sync += clear_index.eq(clear_index + 1)
                with m.If(clear_index == groups - 1):
                    m.next = "RECEIVE"

            with m.State("RECEIVE"):
                m.d.comb += self.in_ready.eq(1)
                with m.If(beat & ~in_packet):
                    m.d.sync += [opcode.eq(word_opcode), item.eq(word_argument), sub.eq(0), drop.eq(0),
                                 in_packet.eq(~self.in_last)]
                    events_for_now = configured & (word_argument == step) & (step < timesteps)
                    with m.Switch(word_opcode):
                        with m.Case(InOpcode.EVENTS):
                            with m.If(~configured):
                                begin_packet_error(ErrorFlag.MALFORMED)
                            with m.Elif(sample_done):
                                m.d.sync += drop.eq(1)  # the sample ended early: ignore its events
                            with m.Elif(~events_for_now):
                                begin_packet_error(ErrorFlag.STEP_ORDER)
                        with m.Case(InOpcode.END_STEP):
                            with m.If(~self.in_last | ~configured):
                                begin_packet_error(ErrorFlag.MALFORMED)
                            with m.Elif(sample_done):
                                pass
                            with m.Elif(~events_for_now):
                                flag(ErrorFlag.STEP_ORDER)
                            with m.Else():
                                m.next = "STEP_WAIT"
                        with m.Case(InOpcode.END_SAMPLE):
                            with m.If(~self.in_last | ~configured):
                                begin_packet_error(ErrorFlag.MALFORMED)
                            with m.Else():
                                m.next = "SUMMARY_WAIT"
                        with m.Case(InOpcode.READ_NEURONS):
                            with m.If(~self.in_last | ~configured):
                                begin_packet_error(ErrorFlag.MALFORMED)
                            with m.Else():
                                m.next = "READ_HEADER"
                        with m.Case(InOpcode.REWARD):
                            with m.If(~self.in_last):
                                begin_packet_error(ErrorFlag.MALFORMED)
                        with m.Case(InOpcode.CONFIG):
                            with m.If(self.in_last):
                                flag(ErrorFlag.MALFORMED)
                        with m.Case(InOpcode.NEURONS, InOpcode.FANOUT, InOpcode.SYNAPSES):
                            pass
                        with m.Case(InOpcode.READ_SYNAPSES, InOpcode.READ_FANOUT):
                            with m.If(self.in_last):
                                flag(ErrorFlag.MALFORMED)  # the count is missing
                        with m.Default():
                            begin_packet_error(ErrorFlag.MALFORMED)

                with m.If(beat & in_packet):
                    with m.If(self.in_last):
                        m.d.sync += in_packet.eq(0)
                    with m.If(~drop):
                        def payload_error(error: ErrorFlag):
                            flag(error)
                            with m.If(~self.in_last):
                                m.d.sync += drop.eq(1)

                        with m.Switch(opcode):
                            with m.Case(InOpcode.CONFIG):
                                # Stage the words; CONFIG_COMMIT checks them together and applies.
                                word_ok = Signal()
                                m.d.comb += word_ok.eq(1)
                                m.d.sync += [sub.eq(sub + 1), config_words.eq(sub + 1)]
                                limits = {0: core.max_inputs, 1: core.max_neurons, 2: core.max_timesteps}
                                with m.Switch(sub):
                                    for index, limit in limits.items():
                                        with m.Case(index):
                                            with m.If((word == 0) | (word > limit)):
                                                m.d.comb += word_ok.eq(0)
                                with m.If(sub < CONFIG_WORDS):
                                    m.d.sync += shadow[sub].eq(word)
                                with m.Elif((sub < CONFIG_WORDS + core.max_groups)
                                            & (word <= core.max_weight_exponent)):
                                    m.d.sync += shadow_exponents[sub - CONFIG_WORDS].eq(word)
                                with m.Else():
                                    m.d.comb += word_ok.eq(0)
                                with m.If(~word_ok):
                                    payload_error(ErrorFlag.TOO_LARGE)
                                with m.Elif(self.in_last):
                                    m.next = "CONFIG_COMMIT"

                            with m.Case(InOpcode.NEURONS):
                                with m.If(sub == NEURON_WORDS - 1):
                                    m.d.sync += [sub.eq(0), item.eq(item + 1)]
                                    words = [staged[k] for k in range(NEURON_WORDS - 1)] + [word]
                                    loaded = Signal(params_layout)
                                    for name, (index, shift) in NEURON_FIELDS.items():
                                        field = getattr(loaded, name)
                                        m.d.comb += field.eq(words[index][shift:shift + len(field)])
                                    bias = words[NEURON_FIELDS["bias"][0]].as_signed()
                                    refractory = words[NEURON_FIELDS["refractory"][0]] >> NEURON_FIELDS["refractory"][1]
                                    in_range = ((item < core.max_neurons)
                                                & (words[NEURON_FIELDS["threshold"][0]] <= core.state_max)
                                                & (words[NEURON_FIELDS["adapt_increment"][0]] <= core.state_max)
                                                & (bias <= core.state_max) & (bias >= core.state_min)
                                                & (refractory <= core.refractory_max))
                                    with m.If(in_range):
                                        m.d.comb += [params_w.en.eq(1 << slot_of(item)),
                                                     params_w.addr.eq(group_of(item))]
                                        m.d.comb += [params_w.data[k].eq(loaded) for k in range(parallel)]
                                    with m.Else():
                                        flag(ErrorFlag.INDEX_RANGE)
                                with m.Else():
                                    m.d.sync += [staged[sub].eq(word), sub.eq(sub + 1)]
                                    with m.If(self.in_last):
                                        flag(ErrorFlag.MALFORMED)  # a partial neuron is dropped

                            with m.Case(InOpcode.FANOUT):
                                with m.If(sub == 0):
                                    m.d.sync += [staged[0].eq(word), sub.eq(1)]
                                    with m.If(self.in_last):
                                        flag(ErrorFlag.MALFORMED)
                                with m.Else():
                                    m.d.sync += [sub.eq(0), item.eq(item + 1)]
                                    first_row = staged[0]
                                    in_range = ((item < core.num_sources) & (word <= core.max_neurons)
                                                & (first_row <= rows) & (first_row * lanes + word <= rows * lanes))
                                    with m.If(in_range):
                                        m.d.comb += [pointer_w.en.eq(1), pointer_w.addr.eq(item),
                                                     pointer_w.data.first_row.eq(first_row),
                                                     pointer_w.data.count.eq(word)]
                                    with m.Else():
                                        flag(ErrorFlag.INDEX_RANGE)

                            with m.Case(InOpcode.SYNAPSES):
                                target = word[:fmt.target_bits]
                                group = word[fmt.group_shift:fmt.group_shift + fmt.group_bits]
                                in_range = ((item < rows) & (target < core.max_neurons) & (group < core.max_groups)
                                            & (word >> fmt.width == 0))
                                with m.If(in_range):
                                    m.d.comb += [synapse_w.addr.eq(item), synapse_w.en.eq(1 << sub)]
                                    for lane in range(lanes):
                                        m.d.comb += synapse_w.data[lane].eq(word[:fmt.width])
                                with m.Else():
                                    flag(ErrorFlag.INDEX_RANGE)
                                with m.If(sub == lanes - 1):
                                    m.d.sync += [sub.eq(0), item.eq(item + 1)]
                                with m.Else():
                                    m.d.sync += sub.eq(sub + 1)
                                    with m.If(self.in_last):
                                        flag(ErrorFlag.MALFORMED)  # a partial row

                            with m.Case(InOpcode.READ_SYNAPSES):
                                with m.If(~self.in_last):
                                    payload_error(ErrorFlag.MALFORMED)
                                with m.Elif((word == 0) | (item >= rows) | (word > rows - item)):
                                    flag(ErrorFlag.INDEX_RANGE)
                                with m.Else():
                                    m.d.sync += [readback_index.eq(item), readback_end.eq(item + word)]
                                    m.next = "ROWS_HEADER"

                            with m.Case(InOpcode.READ_FANOUT):
                                with m.If(~self.in_last):
                                    payload_error(ErrorFlag.MALFORMED)
                                with m.Elif((word == 0) | (item >= core.num_sources)
                                            | (word > core.num_sources - item)):
                                    flag(ErrorFlag.INDEX_RANGE)
                                with m.Else():
                                    m.d.sync += [readback_index.eq(item), readback_end.eq(item + word)]
                                    m.next = "FANOUT_HEADER"

                            with m.Case(InOpcode.EVENTS):
                                with m.If(word >= n_inputs):
                                    flag(ErrorFlag.INDEX_RANGE)
                                with m.Elif(queue_count[push_half] >= depth):
                                    flag(ErrorFlag.QUEUE_OVERFLOW)
                                with m.Else():
                                    m.d.comb += [queue_w.en.eq(1),
                                                 queue_w.addr.eq(Cat(queue_count[push_half][:queue_bits], push_half)),
                                                 queue_w.data.eq(word), count_event_in.eq(1)]
                                    m.d.sync += queue_count[push_half].eq(queue_count[push_half] + 1)

            with m.State("CONFIG_COMMIT"):
                fixed = [shadow[k] for k in range(CONFIG_WORDS)]
                c_inputs, c_neurons, c_steps, c_start, c_size, c_decision = fixed
                mode = c_decision[:2]
                consistent = ((config_words >= CONFIG_WORDS) & (c_start + c_size <= c_neurons) & (c_size != 0)
                              & (mode <= DECISION_CODES[DecisionMode.MAX_POTENTIAL])
                              & (~c_decision[DECISION_EARLY_EXIT_BIT]
                                 | (mode == DECISION_CODES[DecisionMode.FIRST_SPIKE]))
                              & (c_decision >> (DECISION_EARLY_EXIT_BIT + 1) == 0))
                with m.If(consistent):
                    m.d.sync += [
                        configured.eq(1), n_inputs.eq(c_inputs), n_neurons.eq(c_neurons), timesteps.eq(c_steps),
                        output_start.eq(c_start), output_size.eq(c_size), decision_mode.eq(mode),
                        early_exit.eq(c_decision[DECISION_EARLY_EXIT_BIT]),
                    ]
                    for g in range(core.max_groups):
                        m.d.sync += exponents[g].eq(shadow_exponents[g])
                    reset_sample()
                with m.Else():
                    flag(ErrorFlag.MALFORMED)
                    m.d.comb += count_dropped.eq(1)
                m.next = "RECEIVE"

            with m.State("STEP_WAIT"):
                # Wait (uncounted) until the whole STEP packet fits the output FIFO.
                with m.If(fifo_has_room(core.max_neurons + 1 + STEP_TRAILER_WORDS)):
                    emit(header(OutOpcode.STEP, 0) | step)
                    m.d.sync += [queue_index.eq(0), queue_valid.eq(0), pointer_valid.eq(0), issue_busy.eq(0),
                                 synapse_valid.eq(0), issue_active.eq(0), step_events.eq(queue_count[deliver_half]),
                                 step_synapses.eq(0), step_spikes.eq(0), step_cycles.eq(0), output_spiked.eq(0)]
                    m.d.sync += [v.eq(0) for v in acc_valid]
                    m.next = "DELIVER"

            with m.State("DELIVER"):
                m.d.sync += step_cycles.eq(step_cycles + 1)
                deliver_count = queue_count[deliver_half]
                issue_take = ~issue_busy
                pointer_take = ~pointer_valid | issue_take
                queue_take = ~queue_valid | pointer_take
                m.d.comb += [
                    queue_r.en.eq(queue_take), queue_r.addr.eq(Cat(queue_index[:queue_bits], deliver_half)),
                    pointer_r.en.eq(pointer_take), pointer_r.addr.eq(queue_r.data),
                ]
                with m.If(queue_take):
                    m.d.sync += queue_valid.eq(queue_index < deliver_count)
                    with m.If(queue_index < deliver_count):
                        m.d.sync += queue_index.eq(queue_index + 1)
                with m.If(pointer_take):
                    m.d.sync += pointer_valid.eq(queue_valid)
                # Issue one synapse row per cycle; a new source starts with its first row.
                load = issue_take & pointer_valid
                fanout = pointer_r.data
                issue_count = Mux(issue_busy, issue_left, fanout.count)
                issue = issue_busy | (load & (fanout.count != 0))
                mask = Signal(lanes)
                for lane in range(lanes):
                    m.d.comb += mask[lane].eq(issue_count > lane)
                m.d.comb += [synapse_r.en.eq(1), synapse_r.addr.eq(Mux(issue_busy, issue_row, fanout.first_row))]
                m.d.sync += [synapse_valid.eq(issue), synapse_mask.eq(mask), issue_active.eq(issue_busy | load)]
                with m.If(issue_busy):
                    m.d.sync += [issue_row.eq(issue_row + 1), issue_left.eq(issue_left - lanes),
                                 issue_busy.eq(issue_left > lanes)]
                with m.Elif(load):
                    m.d.sync += [issue_row.eq(fanout.first_row + 1), issue_left.eq(fanout.count - lanes),
                                 issue_busy.eq(fanout.count > lanes), step_synapses.eq(step_synapses + fanout.count)]
                    m.d.comb += count_synapses.eq(fanout.count)
                # Accumulate: lane k adds its synapse into bank k (read, then write next cycle).
                for lane in range(lanes):
                    synapse = synapse_r.data[lane]
                    value = (synapse.weight << exponents[synapse.group])
                    updated = bank_r[lane].data[slot_of(acc_target[lane])] + acc_value[lane]
                    m.d.comb += [bank_r[lane].en.eq(1), bank_r[lane].addr.eq(group_of(synapse.target)),
                                 bank_w[lane].addr.eq(group_of(acc_target[lane])),
                                 bank_w[lane].en.eq(Mux(acc_valid[lane], 1 << slot_of(acc_target[lane]), 0))]
                    m.d.comb += [bank_w[lane].data[k].eq(updated) for k in range(parallel)]
                    m.d.sync += [acc_valid[lane].eq(synapse_valid & synapse_mask[lane]),
                                 acc_target[lane].eq(synapse.target), acc_value[lane].eq(value)]
                drained = ((queue_index == deliver_count) & ~queue_valid & ~pointer_valid & ~issue_busy
                           & ~issue_active)
                with m.If(drained):
                    # The last accumulator write happens in this cycle; the update reads after it.
                    m.d.sync += [update_index.eq(0), update_inflight.eq(0)]
                    m.next = "UPDATE"

            with m.State("UPDATE"):
                # Groups of `parallel` neurons: read, update (NEURON_LATENCY stages), write
                # back; the spikes of a group queue up as one entry and leave one per cycle.
                m.d.sync += step_cycles.eq(step_cycles + 1)
                issuing = update_index < update_groups
                m.d.comb += [params_r.en.eq(1), params_r.addr.eq(update_index),
                             state_r.en.eq(1), state_r.addr.eq(update_index)]
                with m.If(issuing):
                    m.d.sync += update_index.eq(update_index + 1)
                m.d.sync += update_inflight.eq(Cat(issuing, update_inflight[:-1]))
                read_valid = update_inflight[0]
                read_group = Signal(group_bits)
                m.d.sync += read_group.eq(update_index)
                for lane in range(lanes):
                    m.d.comb += [bank_r[lane].en.eq(1), bank_r[lane].addr.eq(update_index),
                                 bank_w[lane].addr.eq(read_group), bank_w[lane].data.eq(0),
                                 bank_w[lane].en.eq(Mux(read_valid, (1 << parallel) - 1, 0))]
                for k, unit in enumerate(neuron_units):
                    index = Signal(neuron_bits + 1, name=f"update_neuron{k}")
                    m.d.comb += index.eq(Cat(Const(k, slot_bits), read_group) if slot_bits else read_group)
                    synaptic_input = Signal(signed(acc_bits), name=f"synaptic_input{k}")
                    m.d.comb += synaptic_input.eq(sum(bank_r[lane].data[k] for lane in range(lanes)))
                    m.d.comb += [
                        unit.in_valid.eq(read_valid & (index < n_neurons)), unit.in_index.eq(index),
                        unit.in_state.eq(state_seen[k]), unit.in_params.eq(params_r.data[k]),
                        unit.in_synaptic_input.eq(synaptic_input), unit.in_step.eq(step),
                        state_w.data[k].eq(unit.out_state),
                    ]
                lead = neuron_units[0]  # slot 0 of a group in flight always exists
                out_group = group_of(lead.out_index)
                spike_mask = Cat(unit.out_spike for unit in neuron_units)
                m.d.comb += [
                    state_w.addr.eq(out_group), state_w.en.eq(Mux(lead.out_valid, (1 << parallel) - 1, 0)),
                    spikes.in_valid.eq(lead.out_valid), spikes.in_group.eq(out_group), spikes.in_mask.eq(spike_mask),
                ]
                # The spikes leave the serializer in neuron order, one per cycle.
                spiking = spikes.out_neuron
                with m.If(spikes.out_valid):
                    emit(spiking)
                    m.d.comb += count_spike_out.eq(1)
                    m.d.sync += step_spikes.eq(step_spikes + 1)
                    with m.If((spiking >= output_start) & (spiking < output_start + output_size)):
                        m.d.sync += output_spiked.eq(1)
                    with m.If(queue_count[push_half] < depth):
                        m.d.comb += [queue_w.en.eq(1), queue_w.addr.eq(Cat(queue_count[push_half][:queue_bits],
                                                                            push_half)),
                                     queue_w.data.eq(spiking + n_inputs)]
                        m.d.sync += queue_count[push_half].eq(queue_count[push_half] + 1)
                    with m.Else():
                        flag(ErrorFlag.QUEUE_OVERFLOW)
                        m.d.comb += count_dropped.eq(1)
                with m.If(~issuing & (update_inflight == 0) & ~spikes.pending):
                    m.d.sync += report_index.eq(0)
                    m.next = "REPORT"

            with m.State("REPORT"):
                m.d.sync += [step_cycles.eq(step_cycles + 1), report_index.eq(report_index + 1)]
                trailer = Array([step_events, step_synapses, step_spikes, step_cycles + 1])
                emit(trailer[report_index], report_index == STEP_TRAILER_WORDS - 1)
                with m.If(report_index == STEP_TRAILER_WORDS - 1):
                    m.d.sync += [step.eq(step + 1), queue_count[deliver_half].eq(0)]
                    with m.If(early_exit & output_spiked):
                        m.d.sync += sample_done.eq(1)
                    m.next = "RECEIVE"

            with m.State("SUMMARY_WAIT"):
                with m.If(fifo_has_room(SUMMARY_WORDS + 1)):
                    m.d.sync += [scan_index.eq(0), scan_valid.eq(0), step_cycles.eq(0)]
                    m.d.comb += decision_scan.start.eq(1)
                    m.next = "DECIDE"

            with m.State("DECIDE"):
                # Feed the output population, in index order, to the decision scan.
                m.d.sync += step_cycles.eq(step_cycles + 1)
                scanning = scan_index < output_size
                scan_neuron = Signal(neuron_bits + 1)
                m.d.comb += [scan_neuron.eq(output_start + scan_index), state_r.en.eq(1),
                             state_r.addr.eq(group_of(scan_neuron))]
                m.d.sync += state_slot.eq(slot_of(scan_neuron))
                with m.If(scanning):
                    m.d.sync += scan_index.eq(scan_index + 1)
                m.d.sync += [scan_valid.eq(scanning), scan_at.eq(scan_index)]
                m.d.comb += [decision_scan.valid.eq(scan_valid), decision_scan.index.eq(scan_at),
                             decision_scan.state.eq(one_state)]
                with m.If(~scanning & ~scan_valid):
                    m.d.sync += report_index.eq(0)
                    m.next = "SUMMARY"

            with m.State("SUMMARY"):
                m.d.sync += [step_cycles.eq(step_cycles + 1), report_index.eq(report_index + 1)]
                words = Array([header(OutOpcode.SUMMARY, 0), decision_scan.decision, decision_scan.decision_step,
                               step, step_cycles + 1])
                emit(words[report_index], report_index == SUMMARY_WORDS)
                with m.If(report_index == SUMMARY_WORDS):
                    reset_sample()
                    m.next = "RECEIVE"

            with m.State("READ_HEADER"):
                with m.If(fifo_has_room(1)):
                    emit(header(OutOpcode.NEURON_STATE, 0))
                    m.d.sync += readback_index.eq(0)
                    m.next = "READ_ISSUE"

            with m.State("READ_ISSUE"):
                with m.If(fifo_has_room(STATE_WORDS)):
                    m.d.comb += [state_r.en.eq(1), state_r.addr.eq(group_of(readback_index))]
                    m.d.sync += state_slot.eq(slot_of(readback_index))
                    m.d.sync += [report_index.eq(0), readback_index.eq(readback_index + 1)]
                    m.next = "READ_WORDS"

            with m.State("READ_WORDS"):
                m.d.sync += report_index.eq(report_index + 1)
                stored = state_r.data[state_slot]  # the stored state, even before a sample's first step
                fields = Array([stored.u.as_signed(), stored.v.as_signed(), stored.theta, stored.refractory_left])
                value = Signal(signed(WORD_BITS))
                m.d.comb += value.eq(fields[report_index])
                final = report_index == STATE_WORDS - 1
                emit(value.as_unsigned(), final & (readback_index == n_neurons))
                with m.If(final & (readback_index == n_neurons)):
                    m.next = "RECEIVE"
                with m.Elif(final):
                    m.next = "READ_ISSUE"

            with m.State("ROWS_HEADER"):
                with m.If(fifo_has_room(1)):
                    emit(header(OutOpcode.SYNAPSE_ROWS, 0) | readback_index)
                    m.next = "ROWS_ISSUE"

            with m.State("ROWS_ISSUE"):
                with m.If(fifo_has_room(lanes)):
                    m.d.comb += [synapse_r.en.eq(1), synapse_r.addr.eq(readback_index)]
                    m.d.sync += [report_index.eq(0), readback_index.eq(readback_index + 1)]
                    m.next = "ROWS_WORDS"

            with m.State("ROWS_WORDS"):
                m.d.sync += report_index.eq(report_index + 1)
                lane_words = Array(synapse_r.data[lane].as_value() for lane in range(lanes))
                final = report_index == lanes - 1
                emit(lane_words[report_index], final & (readback_index == readback_end))
                with m.If(final & (readback_index == readback_end)):
                    m.next = "RECEIVE"
                with m.Elif(final):
                    m.next = "ROWS_ISSUE"

            with m.State("FANOUT_HEADER"):
                with m.If(fifo_has_room(1)):
                    emit(header(OutOpcode.FANOUT_TABLE, 0) | readback_index)
                    m.next = "FANOUT_ISSUE"

            with m.State("FANOUT_ISSUE"):
                with m.If(fifo_has_room(2)):
                    m.d.comb += [pointer_r.en.eq(1), pointer_r.addr.eq(readback_index)]
                    m.d.sync += [report_index.eq(0), readback_index.eq(readback_index + 1)]
                    m.next = "FANOUT_WORDS"

            with m.State("FANOUT_WORDS"):
                m.d.sync += report_index.eq(report_index + 1)
                final = report_index == 1
                emit(Mux(final, pointer_r.data.count, pointer_r.data.first_row),
                     final & (readback_index == readback_end))
                with m.If(final & (readback_index == readback_end)):
                    m.next = "RECEIVE"
                with m.Elif(final):
                    m.next = "FANOUT_ISSUE"

        m.d.comb += self.busy.eq(~self.in_ready)
        return m
