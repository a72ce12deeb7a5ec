"""Pruning by compaction: pack the surviving synapses of a source's rows, one row write per cycle.

A walk reads a source's fan-out rows in order (``lanes`` synapses each), the learning
engine marks some of them pruned, and :class:`RowCompactor` writes the survivors back
packed from the source's first row, so that the source's live fan-out is again
contiguous and ``ceil(live / lanes)`` rows long: a pruned synapse costs no cycle and no
lane afterwards. The write cursor never passes the read cursor, so the walk compacts in
place.

Why one write port is enough with no cycle between sources: a row completes at most one
output row, except a source's last row, which may complete one and leave a partial one
(the *spill*). The spill is held in a one-row buffer and written in the first later
cycle without a direct write. A spill needs survivors waiting from an earlier row of the
same source (``fill > 0``); ``fill`` is 0 when a source starts, and the row after which
survivors first wait had fewer than ``lanes`` of them, so it completed no output row and
its cycle wrote any earlier spill: the buffer is always free when a spill arrives. After
a walk the buffer is written in the walk's first idle cycle.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RowCompactor"]


def _popcount(bits, width: int):
    return sum((bits[k] for k in range(width)), Const(0, 1))


class RowCompactor(wiring.Component):
    """Pack the kept lanes of a stream of rows; write each output row once it is complete.

    Ports
    -----
    in_valid : In(1)
        A row this cycle.
    in_end : In(1)
        The row is its source's last (a source without synapses sends one row with
        ``in_keep = 0`` and ``in_end = 1``).
    in_keep : In(lanes)
        The lanes of the row that survive (padding lanes and pruned synapses are 0).
    in_lanes : In(ArrayLayout(lane_shape, lanes))
        The row's lanes (a survivor's new contents).
    in_first_row : In(row_bits)
        The source's first row (held for all its rows).
    write_en, write_address, write_row : Out
        Combinational: write ``write_row`` (all lanes) at ``write_address`` this cycle:
        an output row completed by this row, the partial last row of a source (zero
        padded), or else the spill buffer.
    fill : Out(range(max(2, lanes)))
        Survivors waiting for the current output row (0 after a source's last row).
    spill_pending : Out(1)
        The spill buffer holds a row not yet written.
    overrun : Out(1)
        A spill arrived while the buffer was full (impossible by the argument in the
        module docstring; a test watches it).

    A source's survivors lie packed from ``in_first_row`` once its last row has passed and
    the spill buffer is empty; rows after them keep their old words.
    """

    def __init__(self, lane_shape, lanes: int, row_bits: int):
        self.lanes = lanes
        self.row_layout = data.ArrayLayout(lane_shape, lanes)
        super().__init__({
            "in_valid": In(1), "in_end": In(1), "in_keep": In(lanes), "in_lanes": In(self.row_layout),
            "in_first_row": In(row_bits),
            "write_en": Out(1), "write_address": Out(row_bits), "write_row": Out(self.row_layout),
            "fill": Out(range(max(2, lanes))), "spill_pending": Out(1), "overrun": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes = self.lanes
        offset = Signal.like(self.in_first_row)  # output rows completed for this source
        buffer = Signal(self.row_layout)  # lanes [0, fill) of the current output row
        fill = self.fill
        keep = self.in_keep
        spill_address = Signal.like(self.in_first_row)
        spill_row = Signal(self.row_layout)

        def below_fill(o):
            """``o < fill`` (fill <= lanes - 1: constant for the last lane)."""
            return (o < fill) if o < lanes - 1 else Const(0, 1)

        # Survivor k goes to lane (fill + survivors before it) mod lanes.
        rotated = Signal(self.row_layout)
        for lane in range(lanes):
            position = Signal(range(2 * lanes), name=f"position{lane}")
            m.d.comb += position.eq(_popcount(keep, lane) + fill)
            wrapped = Mux(position >= lanes, position - lanes, position)
            for o in range(lanes):
                with m.If(keep[lane] & (wrapped == o)):
                    m.d.comb += rotated[o].eq(self.in_lanes[lane])
        kept = Signal(range(lanes + 1))
        total = Signal(range(2 * lanes + 1))
        m.d.comb += [kept.eq(_popcount(keep, lanes)), total.eq(fill + kept)]
        current = Signal(self.row_layout)  # the output row with this row's survivors, zero padded
        overflow = Signal(self.row_layout)  # survivors past a completed row, zero padded
        for o in range(lanes):
            m.d.comb += [current[o].eq(Mux(below_fill(o), buffer[o], Mux(o < total, rotated[o], 0))),
                         overflow[o].eq(Mux(o + lanes < total, rotated[o], 0))]
        direct = Signal()
        m.d.comb += self.write_address.eq(self.in_first_row + offset)
        with m.If(self.in_valid):
            with m.If(total >= lanes):
                m.d.comb += [direct.eq(1), self.write_row.eq(current)]
                m.d.sync += [offset.eq(offset + 1), fill.eq(total - lanes), buffer.eq(rotated)]
            with m.Else():
                m.d.sync += [fill.eq(total), buffer.eq(current)]
            with m.If(self.in_end):
                m.d.sync += [fill.eq(0), offset.eq(0)]
                with m.If((total > 0) & (total < lanes)):
                    m.d.comb += [direct.eq(1), self.write_row.eq(current)]  # the partial last row
                with m.If(total > lanes):
                    m.d.comb += self.overrun.eq(self.spill_pending)
                    m.d.sync += [self.spill_pending.eq(1), spill_address.eq(self.in_first_row + offset + 1),
                                 spill_row.eq(overflow)]
        m.d.comb += self.write_en.eq(direct | self.spill_pending)
        with m.If(~direct & self.spill_pending):
            # (no direct write: this row spills nothing either)
            m.d.comb += [self.write_address.eq(spill_address), self.write_row.eq(spill_row)]
            m.d.sync += self.spill_pending.eq(0)
        return m
