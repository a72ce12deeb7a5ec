"""The update phase of a step: every neuron, ``neuron_lanes`` per cycle, then the report.

``UPDATE`` sums and clears the accumulator banks, runs the neuron units, writes the
state back and sends the spikes (in neuron order) to the output stream and the event
queue; ``REPORT`` sends the STEP trailer and, on an early exit, goes on to the SUMMARY.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed

from spikestream.model.protocol import STEP_TRAILER_WORDS, ErrorFlag

from .learning_walk import record_first_spike

__all__ = ["add_update_states"]


def add_update_states(m, e: SimpleNamespace) -> None:
    """Add the ``UPDATE`` and ``REPORT`` states to the engine FSM of ``m``.

    ``e`` holds the storage ports, registers and helpers the phases share
    (built by :meth:`SpikingCore.elaborate <spikestream.rtl.core.SpikingCore.elaborate>`).
    """
    acc_bits, bank_r, bank_w, channel_seen = e.acc_bits, e.bank_r, e.bank_w, e.channel_seen
    count_dropped, count_spike_out, deliver_half, depth = e.count_dropped, e.count_spike_out, e.deliver_half, e.depth
    early_exit, emit, flag, group_bits, group_of = e.early_exit, e.emit, e.flag, e.group_bits, e.group_of
    lanes, n_inputs, n_neurons, neuron_bits = e.lanes, e.n_inputs, e.n_neurons, e.neuron_bits
    neuron_units, output_size, output_spiked = e.neuron_units, e.output_size, e.output_spiked
    output_start, parallel, params_r, push_half = e.output_start, e.parallel, e.params_r, e.push_half
    queue_bits, queue_count, queue_w, report_index = e.queue_bits, e.queue_count, e.queue_w, e.report_index
    sample_done, slot_bits, spikes, state_r = e.sample_done, e.slot_bits, e.spikes, e.state_r
    state_seen, state_w, step, step_cycles = e.state_seen, e.state_w, e.step, e.step_cycles
    step_events, step_spikes, step_synapses = e.step_events, e.step_spikes, e.step_synapses
    update_groups, update_index, update_inflight = e.update_groups, e.update_index, e.update_inflight
    learn = e.learn

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
            m.d.sync += learn.neuron_spiked.bit_select(spiking, 1).eq(1)
            if e.core.learning:
                record_first_spike(m, learn, step, neuron=spiking)
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
            if e.core.learning:
                with m.If(learn.pending_groups != 0):
                    m.next = "LEARN_SELECT"  # the PAIR rule of this step (learning_walk.py)
                with m.Else():
                    m.next = "REPORT"
            else:
                m.next = "REPORT"

    with m.State("REPORT"):
        m.d.sync += [step_cycles.eq(step_cycles + 1), report_index.eq(report_index + 1)]
        trailer = Array([step_events, step_synapses, step_spikes, learn.step_updates, learn.step_skipped,
                         step_cycles + 1])
        emit(trailer[report_index], report_index == STEP_TRAILER_WORDS - 1)
        with m.If(report_index == STEP_TRAILER_WORDS - 1):
            m.d.sync += [step.eq(step + 1), queue_count[deliver_half].eq(0), channel_seen.eq(0),
                         learn.neuron_spiked.eq(0)]
            with m.If(early_exit & output_spiked):
                # The decision is made: report it now, not at END_SAMPLE.
                m.d.sync += sample_done.eq(1)
                m.next = "SUMMARY_WAIT"
            with m.Else():
                m.next = "RECEIVE"

