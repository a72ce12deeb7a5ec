"""The delivery phase of a step: the sources that spiked, through their fan-out.

``STEP_WAIT`` waits for room for a whole STEP packet and sends its header; ``DELIVER``
reads the event queue, the fan-out pointers and ``lanes`` synapses per cycle, and adds
``w << e_g`` into the accumulator bank of each lane (see :mod:`spikestream.rtl.core`).
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Mux, Signal

from spikestream.model.protocol import STEP_TRAILER_WORDS, OutOpcode, header

__all__ = ["add_delivery_states"]


def add_delivery_states(m, e: SimpleNamespace) -> None:
    """Add the ``STEP_WAIT`` and ``DELIVER`` states to the engine FSM of ``m``.

    ``e`` holds the storage ports, registers and helpers the phases share
    (built by :meth:`SpikingCore.elaborate <spikestream.rtl.core.SpikingCore.elaborate>`).
    """
    acc_target, acc_valid, acc_value, bank_r, bank_w = e.acc_target, e.acc_valid, e.acc_value, e.bank_r, e.bank_w
    core, count_synapses, deliver_half, emit = e.core, e.count_synapses, e.deliver_half, e.emit
    exponents, fifo_has_room, group_of, issue_active = e.exponents, e.fifo_has_room, e.group_of, e.issue_active
    issue_busy, issue_left, issue_row, lanes = e.issue_busy, e.issue_left, e.issue_row, e.lanes
    output_spiked, parallel, pointer_r, pointer_valid = e.output_spiked, e.parallel, e.pointer_r, e.pointer_valid
    queue_bits, queue_count, queue_index, queue_r = e.queue_bits, e.queue_count, e.queue_index, e.queue_r
    queue_valid, slot_of, step, step_cycles = e.queue_valid, e.slot_of, e.step, e.step_cycles
    step_events, step_spikes, step_synapses = e.step_events, e.step_spikes, e.step_synapses
    synapse_mask, synapse_r, synapse_valid = e.synapse_mask, e.synapse_r, e.synapse_valid
    update_index, update_inflight = e.update_index, e.update_inflight
    learn = e.learn

    with m.State("STEP_WAIT"):
        # Wait (uncounted) until the whole STEP packet fits the output FIFO.
        with m.If(fifo_has_room(core.max_neurons + 1 + STEP_TRAILER_WORDS)):
            emit(header(OutOpcode.STEP, 0) | step)
            m.d.sync += [queue_index.eq(0), queue_valid.eq(0), pointer_valid.eq(0), issue_busy.eq(0),
                         synapse_valid.eq(0), issue_active.eq(0), step_events.eq(queue_count[deliver_half]),
                         step_synapses.eq(0), step_spikes.eq(0), step_cycles.eq(0), output_spiked.eq(0)]
            m.d.sync += [v.eq(0) for v in acc_valid]
            # A sample learns with the groups enabled when its step 0 runs.
            learning = Mux(step == 0, e.ports.learning_enable[:len(learn.plastic_mask)] & learn.plastic_mask,
                           learn.learn_groups)
            m.d.sync += [learn.learn_groups.eq(learning), learn.pending_groups.eq(learning & learn.pair_mask),
                         learn.step_updates.eq(0), learn.step_skipped.eq(0)]
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
            m.d.sync += learn.step_skipped.eq(learn.step_skipped + fanout.pruned)
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

