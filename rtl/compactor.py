"""Pruning by compaction: pack the surviving synapses of a source's rows, one row write per cycle.

A walk reads a source's fan-out rows in order (``lanes`` synapses each), the learning
engine marks some of them pruned, and :class:`RowCompactor` writes the survivors back
packed from the source's first row, so that the source's live fan-out is again
contiguous and ``ceil(live / lanes)`` rows long: a pruned synapse costs no cycle and no
lane afterwards. The write cursor never passes the read cursor, so the walk compacts in
place.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RowCompactor"]


def _popcount(bits, width: int):
    return sum((bits[k] for k in range(width)), Const(0, 1))


class RowCompactor(wiring.Component):
    """Pack the kept lanes of a stream of rows; write each output row once it changes.

    Ports
    -----
    in_valid, in_end : In(1)
        A row this cycle (``in_end = 0``), or the source's end token (``in_end = 1``; its
        ``in_keep`` and ``in_lanes`` are ignored). Every source ends with one end token.
    in_keep : In(lanes)
        The lanes of the row that survive (padding lanes and pruned synapses are 0).
    in_lanes : In(ArrayLayout(lane_shape, lanes))
        The row's lanes (a survivor's new contents).
    in_first_row : In(row_bits)
        The source's first row (held for all its tokens).
    write_en, write_address, write_row : Out
        Combinational: write ``write_row`` (all lanes) at ``write_address`` this cycle.
        On a row, the current output row (the survivors so far that do not fill a whole
        earlier row, then this row's survivors, then zeros); lanes that overflow it are
        kept and written with the next row or, on the end token, alone (zero padded).
    fill : Out(range(lanes))
        Survivors waiting in the current output row (0 after an end token).

    The current output row is rewritten on every row that adds to it, so after a
    source's end token its survivors lie packed from ``in_first_row``, the last row
    zero padded; rows after them keep their old words.
    """

    def __init__(self, lane_shape, lanes: int, row_bits: int):
        self.lanes = lanes
        self.row_layout = data.ArrayLayout(lane_shape, lanes)
        super().__init__({
            "in_valid": In(1), "in_end": In(1), "in_keep": In(lanes), "in_lanes": In(self.row_layout),
            "in_first_row": In(row_bits),
            "write_en": Out(1), "write_address": Out(row_bits), "write_row": Out(self.row_layout),
            "fill": Out(range(max(2, lanes))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes = self.lanes
        offset = Signal.like(self.in_first_row)  # output rows completed for this source
        buffer = Signal(self.row_layout)  # lanes [0, fill) of the current output row
        fill = self.fill
        keep = self.in_keep

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
        current = Signal(self.row_layout)
        flushed = Signal(self.row_layout)
        for o in range(lanes):
            m.d.comb += [current[o].eq(Mux(below_fill(o), buffer[o], Mux(o < total, rotated[o], 0))),
                         flushed[o].eq(Mux(below_fill(o), buffer[o], 0))]
        m.d.comb += self.write_address.eq(self.in_first_row + offset)
        with m.If(self.in_valid & ~self.in_end):
            m.d.comb += [self.write_en.eq(total > 0), self.write_row.eq(current)]
            with m.If(total >= lanes):
                m.d.sync += [offset.eq(offset + 1), fill.eq(total - lanes), buffer.eq(rotated)]
            with m.Else():
                m.d.sync += [fill.eq(total), buffer.eq(current)]
        with m.If(self.in_valid & self.in_end):
            m.d.comb += [self.write_en.eq(fill > 0), self.write_row.eq(flushed)]
            m.d.sync += [fill.eq(0), offset.eq(0)]
        return m
