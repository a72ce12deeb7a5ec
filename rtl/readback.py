"""Readback of the core's memories: neuron state, synapse rows, fan-out pointers.

Each readback sends a header, then per item a memory read and its words (the counts
of :mod:`spikestream.model.cycles`), waiting for output FIFO room before each item.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Signal, signed

from spikestream.model.protocol import FANOUT_TABLE_WORDS, STATE_WORDS, WORD_BITS, OutOpcode, header

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

    def state_word(final):
        stored = state_r.data[state_slot]  # the stored state, even before a sample's first step
        fields = Array([stored.u.as_signed(), stored.v.as_signed(), stored.theta, stored.refractory_left])
        value = Signal(signed(WORD_BITS))
        m.d.comb += value.eq(fields[report_index])
        return value.as_unsigned()

    _add_item_states(m, e, "READ", state_r, group_of(readback_index), STATE_WORDS, n_neurons, state_word,
                     also_on_issue=[state_slot.eq(slot_of(readback_index))])

    with m.State("ROWS_HEADER"):
        with m.If(fifo_has_room(1)):
            emit(header(OutOpcode.SYNAPSE_ROWS, 0) | readback_index)
            m.next = "ROWS_ISSUE"

    def row_word(final):
        lane_words = Array(synapse_r.data[lane].as_value() for lane in range(lanes))
        return lane_words[report_index]

    _add_item_states(m, e, "ROWS", synapse_r, readback_index, lanes, readback_end, row_word)

    with m.State("FANOUT_HEADER"):
        with m.If(fifo_has_room(1)):
            emit(header(OutOpcode.FANOUT_TABLE, 0) | readback_index)
            m.next = "FANOUT_ISSUE"

    def pointer_word(final):  # FANOUT_TABLE_WORDS: first row, live count, pruned count
        fields = Array([pointer_r.data.first_row, pointer_r.data.count, pointer_r.data.pruned])
        return fields[report_index]

    _add_item_states(m, e, "FANOUT", pointer_r, readback_index, FANOUT_TABLE_WORDS, readback_end, pointer_word)


def _add_item_states(m, e: SimpleNamespace, name: str, port, address, item_words: int, last_item, word_of,
                     also_on_issue=()) -> None:
    """Add ``{name}_ISSUE`` and ``{name}_WORDS``: read item ``readback_index``, send its words.

    ``{name}_ISSUE`` waits for FIFO room for the item's ``item_words`` words, reads
    ``address`` on the memory ``port`` and advances ``readback_index`` (plus the
    ``also_on_issue`` statements). ``{name}_WORDS`` sends ``word_of(final)`` for word
    ``report_index`` (``final``: it is the item's last word), then goes back to
    ``{name}_ISSUE`` for the next item, or to ``RECEIVE`` after the item ``last_item``
    (the last word of that one ends the packet).
    """
    report_index, readback_index = e.report_index, e.readback_index

    with m.State(f"{name}_ISSUE"):
        with m.If(e.fifo_has_room(item_words)):
            m.d.comb += [port.en.eq(1), port.addr.eq(address)]
            m.d.sync += list(also_on_issue)
            m.d.sync += [report_index.eq(0), readback_index.eq(readback_index + 1)]
            m.next = f"{name}_WORDS"

    with m.State(f"{name}_WORDS"):
        m.d.sync += report_index.eq(report_index + 1)
        final = report_index == item_words - 1
        e.emit(word_of(final), final & (readback_index == last_item))
        with m.If(final & (readback_index == last_item)):
            m.next = "RECEIVE"
        with m.Elif(final):
            m.next = f"{name}_ISSUE"
