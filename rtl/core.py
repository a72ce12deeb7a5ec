"""The spiking core engine: storage, the engine FSM, and the decision at a sample's end.

The FSM's phases live one per file and are added to the FSM here: the packet parser
(:mod:`~spikestream.rtl.parser`), the delivery of a step (:mod:`~spikestream.rtl.delivery`),
its neuron update and report (:mod:`~spikestream.rtl.update`) and the readbacks
(:mod:`~spikestream.rtl.readback`). They share the storage ports, registers and helpers
declared in :meth:`SpikingCore.elaborate` (passed as one namespace).

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

``END_SAMPLE`` scans the output population for the decision and sends SUMMARY; with
early exit the scan and SUMMARY follow the deciding step's STEP packet at once, and
``END_SAMPLE`` only starts the next sample. The cycle counts are those of
:mod:`spikestream.model.cycles`.

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
from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikestream.model.config import LEARNING_GROUPS, CoreConfig
from spikestream.model.golden import LFSR_SEED
from spikestream.model.protocol import (ARGUMENT_BITS, CONFIG_WORDS, LEARNED_WORDS, NEURON_WORDS, OPCODE_SHIFT,
                                        RULE_WORDS, STATE_WORDS, STEP_TRAILER_WORDS, SUMMARY_WORDS, WORD_BITS, ErrorFlag,
                                        OutOpcode, header, synapse_format, synapse_rows)

from .decision import DecisionScan
from .delivery import add_delivery_states
from .learning_walk import add_learned_states, add_learning_states, add_learning_storage, go_to_sample_end
from .parser import add_parser_states
from .readback import add_readback_states
from .spikes import SpikeSerializer
from .neuron import NEURON_LATENCY, NeuronUpdate, accumulator_bits, neuron_params_layout, neuron_state_layout
from .update import add_update_states

__all__ = ["SpikingCore", "output_fifo_depth", "COUNTERS"]

log = logging.getLogger("spikestream.rtl")

#: The activity counters the core exposes (32-bit, wrapping, cleared by ``counters_clear``).
COUNTERS = ("cycles", "synaptic_ops", "events_in", "events_out", "dropped_packets", "learning_updates")


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
        early (decision made and SUMMARY sent; END_SAMPLE awaited); the next step to run.
    learning_updates : Out(32)
        Activity counter: synapse updates applied by learning.
    learning_enable : In(32)
        Bit ``g``: group ``g`` learns; sampled when a sample's step 0 runs.
    live_synapses, pruned_synapses : Out(32)
        Synapses stored (FANOUT counts loaded since the last CONFIG, minus pruned ones) and
        pruned since the last CONFIG.
    lfsr : Out(16)
        The stochastic-rounding LFSR; ``lfsr_write`` loads ``lfsr_write_value`` (a CONFIG
        loads ``LFSR_SEED``).

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
            "learning_enable": In(LEARNING_GROUPS), "live_synapses": Out(32), "pruned_synapses": Out(32),
            "lfsr": Out(16), "lfsr_write": In(1), "lfsr_write_value": In(16),
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
        pointer_layout = data.StructLayout({"first_row": unsigned(row_bits), "count": unsigned(neuron_bits + 1),
                                            "pruned": unsigned(neuron_bits + 1)})
        m.submodules.pointers = pointer_mem = Memory(shape=pointer_layout, depth=core.num_sources, init=[])
        synapse_fields = {"target": unsigned(fmt.target_bits), "weight": signed(fmt.weight_bits),
                          "group": unsigned(fmt.group_bits)}
        if fmt.count_bits:
            synapse_fields["count"] = unsigned(fmt.count_bits)  # pruning counter
        synapse_layout = data.StructLayout(synapse_fields)
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
        # Input channels that already have an event in the step being received (a channel
        # spikes at most once per step); cleared when that step runs.
        channel_seen = Signal(core.max_inputs)
        channel_bits = _bits(core.max_inputs)
        push_half = step[0]  # events of step t (delivered at t+1)
        deliver_half = ~step[0]  # events of step t-1

        clear_index = Signal(range(groups + 1))
        clearing = Signal()  # zeroing the accumulators after a reset

        # ---- learning (see learning_walk.py); inert stand-ins on a core without it ------
        learn = SimpleNamespace(core=core)
        if core.learning:
            add_learning_storage(m, learn)
        else:
            for name in ("learn_groups", "pending_groups", "plastic_mask", "pair_mask", "reward_mask"):
                setattr(learn, name, Signal(max(1, core.max_groups), name=name))
            for name in ("step_updates", "step_skipped", "learned_updates", "learned_pruned", "live_synapses",
                         "pruned_synapses"):
                setattr(learn, name, Signal(32, name=name))
            learn.count_updates, learn.count_pruned = Signal(1), Signal(1)
            learn.count_loaded = Signal(range(core.max_neurons + 1))
            learn.neuron_spiked = Signal(core.max_neurons)
        learn.config_commit = Signal()  # a CONFIG was applied: reset the learning state
        m.d.comb += [self.live_synapses.eq(learn.live_synapses), self.pruned_synapses.eq(learn.pruned_synapses)]
        with m.If(learn.config_commit):
            m.d.sync += [learn.live_synapses.eq(0), learn.pruned_synapses.eq(0), learn.plastic_mask.eq(0),
                         learn.pair_mask.eq(0), learn.reward_mask.eq(0)]
        with m.Else():
            m.d.sync += [learn.live_synapses.eq(learn.live_synapses + learn.count_loaded - learn.count_pruned),
                         learn.pruned_synapses.eq(learn.pruned_synapses + learn.count_pruned)]
        if core.learning:
            m.d.comb += [self.lfsr.eq(learn.engine.lfsr_state),
                         learn.engine.lfsr_load.eq(learn.config_commit | self.lfsr_write),
                         learn.engine.lfsr_load_value.eq(Mux(learn.config_commit, LFSR_SEED, self.lfsr_write_value))]
        else:
            m.d.comb += self.lfsr.eq(LFSR_SEED)

        # ---- errors and counters -------------------------------------------------------
        errors = Signal(len(ErrorFlag))
        raise_error = Signal(len(ErrorFlag))  # pulses this cycle
        counters = {name: getattr(self, name) for name in COUNTERS}
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
                counters["learning_updates"].eq(counters["learning_updates"] + learn.count_updates),
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
        sub = Signal(range(max(lanes, NEURON_WORDS, RULE_WORDS, CONFIG_WORDS + core.max_groups) + 1))
        item = Signal(ARGUMENT_BITS + 1)  # neuron / source / row / group being loaded
        staged = Array(Signal(WORD_BITS, name=f"staged{k}") for k in range(max(NEURON_WORDS, RULE_WORDS) - 1))
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
        winner = Signal(neuron_bits + 1)  # the decision as a neuron id (TTFS winner_only)
        m.d.comb += winner.eq(output_start + decision_scan.decision)
        report_index = Signal(range(max(STEP_TRAILER_WORDS, SUMMARY_WORDS + 1, LEARNED_WORDS + 1, STATE_WORDS, lanes) + 1))
        readback_index = Signal(range(max(core.max_neurons, rows, core.num_sources) + 1))
        readback_end = Signal(range(max(rows, core.num_sources) + 1))

        def reset_sample():
            m.d.sync += [step.eq(0), sample_done.eq(0), queue_count[0].eq(0), queue_count[1].eq(0),
                         channel_seen.eq(0), learn.learn_groups.eq(0)]
            if core.learning:
                m.d.sync += [learn.input_fired.eq(0), learn.neuron_fired.eq(0)]

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

        # What the phases (parser, delivery, update, readback) share.
        engine = SimpleNamespace(
            ports=self,
            acc_bits=acc_bits, acc_target=acc_target, acc_valid=acc_valid, acc_value=acc_value, bank_r=bank_r,
            bank_w=bank_w, beat=beat, begin_packet_error=begin_packet_error, channel_bits=channel_bits,
            channel_seen=channel_seen, config_words=config_words, configured=configured, core=core,
            count_dropped=count_dropped, count_event_in=count_event_in, count_spike_out=count_spike_out,
            count_synapses=count_synapses, decision_mode=decision_mode, deliver_half=deliver_half, depth=depth,
            drop=drop, early_exit=early_exit, emit=emit, exponents=exponents, fifo_has_room=fifo_has_room, flag=flag,
            fmt=fmt, group_bits=group_bits, group_of=group_of, in_packet=in_packet, issue_active=issue_active,
            issue_busy=issue_busy, issue_left=issue_left, issue_row=issue_row, item=item, lanes=lanes,
            n_inputs=n_inputs, n_neurons=n_neurons, neuron_bits=neuron_bits, neuron_units=neuron_units, opcode=opcode,
            output_size=output_size, output_spiked=output_spiked, output_start=output_start, parallel=parallel,
            params_layout=params_layout, params_r=params_r, params_w=params_w, pointer_r=pointer_r,
            pointer_valid=pointer_valid, pointer_w=pointer_w, push_half=push_half, queue_bits=queue_bits,
            queue_count=queue_count, queue_index=queue_index, queue_r=queue_r, queue_valid=queue_valid,
            queue_w=queue_w, readback_end=readback_end, readback_index=readback_index, report_index=report_index,
            reset_sample=reset_sample, rows=rows, sample_done=sample_done, shadow=shadow,
            shadow_exponents=shadow_exponents, slot_bits=slot_bits, slot_of=slot_of, spikes=spikes, staged=staged,
            state_r=state_r, state_seen=state_seen, state_slot=state_slot, state_w=state_w, step=step,
            step_cycles=step_cycles, step_events=step_events, step_spikes=step_spikes, step_synapses=step_synapses,
            sub=sub, synapse_mask=synapse_mask, synapse_r=synapse_r, synapse_valid=synapse_valid, synapse_w=synapse_w,
            timesteps=timesteps, update_groups=update_groups, update_index=update_index,
            update_inflight=update_inflight, word=word, word_argument=word_argument, word_opcode=word_opcode,
            learn=learn, row_bits=row_bits, winner=winner, synapse_row_layout=data.ArrayLayout(synapse_layout, lanes))
        # The learning phases see the shared namespace too.
        for name, value in vars(engine).items():
            if not hasattr(learn, name):
                setattr(learn, name, value)

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

            add_parser_states(m, engine)  # RECEIVE, CONFIG_COMMIT
            add_delivery_states(m, engine)  # STEP_WAIT, DELIVER
            add_update_states(m, engine)  # UPDATE, REPORT
            if core.learning:
                add_learning_states(m, learn)  # LEARN_SELECT, TRACE, SWEEP
                add_learned_states(m, learn)  # LEARNED_WAIT, LEARN_END, LEARNED

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
                    with m.If(sample_done):  # after an early exit END_SAMPLE ends the sample
                        m.next = "RECEIVE"
                    with m.Elif(learn.learn_groups != 0):  # a learning sample: its end walk, LEARNED
                        if core.learning:
                            go_to_sample_end(m, learn)
                    with m.Else():
                        reset_sample()
                        m.next = "RECEIVE"

            add_readback_states(m, engine)  # READ_*, ROWS_*, FANOUT_*

        m.d.comb += self.busy.eq(~self.in_ready)
        return m
