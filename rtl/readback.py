"""Readback of the core's memories: neuron state, synapse rows, fan-out pointers.

Each readback sends a header, then per item a memory read and its words (the counts
of :mod:`spikestream.model.cycles`), waiting for output FIFO room before each item.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Mux, Signal, signed

from spikestream.model.protocol import STATE_WORDS, WORD_BITS, OutOpcode, header

__all__ = ["add_readback_states"]


def add_readback_states(m, e: SimpleNamespace) -> None:
    """Add the READ_NEURONS, READ_SYNAPSES and READ_FANOUT states to the engine FSM of ``m``.

    ``e`` holds the storage ports, registers and helpers the phases share
    (built by :meth:`SpikingCore.elaborate <spikestream.rtl.core.SpikingCore.elaborate>`).
    """
    emit, fifo_has_room, group_of, lanes, n_neurons = e.emit, e.fifo_has_room, e.group_of, e.lanes, e.n_neurons
    pointer_r, readback_end, readback_index = e.pointer_r, e.readback_end, e.readback_index
    report_index, slot_of, state_r, state_slot = e.report_index, e.slot_of, e.state_r, e.state_slot
    synapse_r = e.synapse_r

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

