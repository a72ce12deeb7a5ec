"""The packet parser of the core: host words in, tables and markers out.

The ``RECEIVE`` state takes one word per cycle from the input stream (packet format in
:mod:`spikestream.model.protocol`): it loads CONFIG (checked as a whole in
``CONFIG_COMMIT``), neuron parameters, fan-out pointers and synapse rows, queues input
events (at most one per channel and step, at most ``event_queue_depth`` per step),
starts steps, sample ends and readbacks, and flags every error
(:class:`~spikestream.model.protocol.ErrorFlag`), dropping the offending data.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Signal

from spikestream.model.network import DecisionMode
from spikestream.model.protocol import (CONFIG_WORDS, DECISION_CODES, DECISION_EARLY_EXIT_BIT, NEURON_FIELDS,
                                        NEURON_WORDS, ErrorFlag, InOpcode)

from .learning_walk import add_rules_payload, go_to_sample_end, record_first_spike

__all__ = ["add_parser_states"]


def add_parser_states(m, e: SimpleNamespace) -> None:
    """Add the ``RECEIVE`` and ``CONFIG_COMMIT`` states to the engine FSM of ``m``.

    ``e`` holds the storage ports, registers and helpers the phases share
    (built by :meth:`SpikingCore.elaborate <spikestream.rtl.core.SpikingCore.elaborate>`).
    """
    beat, begin_packet_error, channel_bits = e.beat, e.begin_packet_error, e.channel_bits
    channel_seen, config_words, configured, core = e.channel_seen, e.config_words, e.configured, e.core
    count_dropped, count_event_in, decision_mode, depth = e.count_dropped, e.count_event_in, e.decision_mode, e.depth
    drop, early_exit, exponents, flag, fmt, group_of = e.drop, e.early_exit, e.exponents, e.flag, e.fmt, e.group_of
    in_packet, item, lanes, n_inputs, n_neurons = e.in_packet, e.item, e.lanes, e.n_inputs, e.n_neurons
    opcode, output_size, output_start, parallel = e.opcode, e.output_size, e.output_start, e.parallel
    params_layout, params_w, pointer_w, ports = e.params_layout, e.params_w, e.pointer_w, e.ports
    push_half, queue_bits, queue_count, queue_w = e.push_half, e.queue_bits, e.queue_count, e.queue_w
    readback_end, readback_index, reset_sample, rows = e.readback_end, e.readback_index, e.reset_sample, e.rows
    sample_done, shadow, shadow_exponents, slot_of = e.sample_done, e.shadow, e.shadow_exponents, e.slot_of
    staged, step, sub, synapse_w, timesteps, word = e.staged, e.step, e.sub, e.synapse_w, e.timesteps, e.word
    word_argument, word_opcode = e.word_argument, e.word_opcode
    learn = e.learn

    with m.State("RECEIVE"):
        m.d.comb += ports.in_ready.eq(1)
        with m.If(beat & ~in_packet):
            m.d.sync += [opcode.eq(word_opcode), item.eq(word_argument), sub.eq(0), drop.eq(0),
                         in_packet.eq(~ports.in_last)]
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
                    with m.If(~ports.in_last | ~configured):
                        begin_packet_error(ErrorFlag.MALFORMED)
                    with m.Elif(sample_done):
                        pass
                    with m.Elif(~events_for_now):
                        flag(ErrorFlag.STEP_ORDER)
                    with m.Else():
                        m.next = "STEP_WAIT"
                with m.Case(InOpcode.END_SAMPLE):
                    with m.If(~ports.in_last | ~configured):
                        begin_packet_error(ErrorFlag.MALFORMED)
                    with m.Elif(sample_done & (learn.learn_groups != 0)):
                        if core.learning:  # the SUMMARY left after the deciding step; LEARNED now
                            go_to_sample_end(m, learn)
                    with m.Elif(sample_done):
                        reset_sample()  # the SUMMARY left right after the deciding step
                    with m.Else():
                        m.next = "SUMMARY_WAIT"
                with m.Case(InOpcode.READ_NEURONS):
                    with m.If(~ports.in_last | ~configured):
                        begin_packet_error(ErrorFlag.MALFORMED)
                    with m.Else():
                        m.next = "READ_HEADER"
                with m.Case(InOpcode.REWARD):
                    with m.If(~ports.in_last):
                        begin_packet_error(ErrorFlag.MALFORMED)
                with m.Case(InOpcode.CONFIG):
                    with m.If(ports.in_last):
                        flag(ErrorFlag.MALFORMED)
                with m.Case(InOpcode.NEURONS, InOpcode.FANOUT, InOpcode.SYNAPSES):
                    pass
                with m.Case(InOpcode.RULES):
                    if not core.learning:
                        begin_packet_error(ErrorFlag.MALFORMED)  # a core built without learning
                    else:
                        with m.If(~configured | ports.in_last):
                            begin_packet_error(ErrorFlag.MALFORMED)
                with m.Case(InOpcode.READ_SYNAPSES, InOpcode.READ_FANOUT):
                    with m.If(ports.in_last):
                        flag(ErrorFlag.MALFORMED)  # the count is missing
                with m.Default():
                    begin_packet_error(ErrorFlag.MALFORMED)

        with m.If(beat & in_packet):
            with m.If(ports.in_last):
                m.d.sync += in_packet.eq(0)
            with m.If(~drop):
                def payload_error(error: ErrorFlag):
                    flag(error)
                    with m.If(~ports.in_last):
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
                        with m.Elif(ports.in_last):
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
                            with m.If(ports.in_last):
                                flag(ErrorFlag.MALFORMED)  # a partial neuron is dropped

                    with m.Case(InOpcode.FANOUT):
                        with m.If(sub == 0):
                            m.d.sync += [staged[0].eq(word), sub.eq(1)]
                            with m.If(ports.in_last):
                                flag(ErrorFlag.MALFORMED)
                        with m.Else():
                            m.d.sync += [sub.eq(0), item.eq(item + 1)]
                            first_row = staged[0]
                            in_range = ((item < core.num_sources) & (word <= core.max_neurons)
                                        & (first_row <= rows) & (first_row * lanes + word <= rows * lanes))
                            with m.If(in_range):
                                m.d.comb += [pointer_w.en.eq(1), pointer_w.addr.eq(item),
                                             pointer_w.data.first_row.eq(first_row),
                                             pointer_w.data.count.eq(word), learn.count_loaded.eq(word)]
                            with m.Else():
                                flag(ErrorFlag.INDEX_RANGE)

                    if core.learning:
                        with m.Case(InOpcode.RULES):
                            add_rules_payload(m, learn)

                    with m.Case(InOpcode.SYNAPSES):
                        target = word[:fmt.target_bits]
                        group = word[fmt.group_shift:fmt.group_shift + fmt.group_bits]
                        in_range = ((item < rows) & (target < core.max_neurons) & (group < core.max_groups)
                                    & (word >> fmt.width == 0))
                        with m.If(in_range):
                            m.d.comb += [synapse_w.addr.eq(item), synapse_w.en.eq(1 << sub)]
                            if core.learning:  # a loaded synapse starts with no eligibility
                                m.d.comb += [learn.elig_w.addr.eq(item), learn.elig_w.en.eq(1 << sub)]
                            for lane in range(lanes):
                                m.d.comb += synapse_w.data[lane].eq(word[:fmt.width])
                        with m.Else():
                            flag(ErrorFlag.INDEX_RANGE)
                        with m.If(sub == lanes - 1):
                            m.d.sync += [sub.eq(0), item.eq(item + 1)]
                        with m.Else():
                            m.d.sync += sub.eq(sub + 1)
                            with m.If(ports.in_last):
                                flag(ErrorFlag.MALFORMED)  # a partial row

                    with m.Case(InOpcode.READ_SYNAPSES):
                        with m.If(~ports.in_last):
                            payload_error(ErrorFlag.MALFORMED)
                        with m.Elif((word == 0) | (item >= rows) | (word > rows - item)):
                            flag(ErrorFlag.INDEX_RANGE)
                        with m.Else():
                            m.d.sync += [readback_index.eq(item), readback_end.eq(item + word)]
                            m.next = "ROWS_HEADER"

                    with m.Case(InOpcode.READ_FANOUT):
                        with m.If(~ports.in_last):
                            payload_error(ErrorFlag.MALFORMED)
                        with m.Elif((word == 0) | (item >= core.num_sources)
                                    | (word > core.num_sources - item)):
                            flag(ErrorFlag.INDEX_RANGE)
                        with m.Else():
                            m.d.sync += [readback_index.eq(item), readback_end.eq(item + word)]
                            m.next = "FANOUT_HEADER"

                    with m.Case(InOpcode.EVENTS):
                        channel = word[:channel_bits]
                        with m.If(word >= n_inputs):
                            flag(ErrorFlag.INDEX_RANGE)
                        with m.Elif(channel_seen.bit_select(channel, 1)):
                            flag(ErrorFlag.DUPLICATE_EVENT)
                        with m.Elif(queue_count[push_half] >= depth):
                            flag(ErrorFlag.QUEUE_OVERFLOW)
                        with m.Else():
                            m.d.comb += [queue_w.en.eq(1),
                                         queue_w.addr.eq(Cat(queue_count[push_half][:queue_bits], push_half)),
                                         queue_w.data.eq(word), count_event_in.eq(1)]
                            m.d.sync += [queue_count[push_half].eq(queue_count[push_half] + 1),
                                         channel_seen.bit_select(channel, 1).eq(1)]
                            if core.learning:
                                record_first_spike(m, learn, step, channel=channel)

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
            m.d.comb += learn.config_commit.eq(1)
            reset_sample()
        with m.Else():
            flag(ErrorFlag.MALFORMED)
            m.d.comb += count_dropped.eq(1)
        m.next = "RECEIVE"

