"""Spike serializer: the spikes of a neuron group (up to ``neuron_lanes`` per cycle) leave one per cycle.

The neuron update produces one group of ``neuron_lanes`` neurons per cycle; the event
queue and the output stream take one spike per cycle. Groups with spikes wait as one
entry each (group index and spike mask) in a small FIFO; the head entry's spikes leave
lowest neuron first, and the next entry follows in the next cycle, so spikes leave in
neuron order with no gap while any wait.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from spikestream.model.config import CoreConfig

__all__ = ["SpikeSerializer"]


class SpikeSerializer(wiring.Component):
    """Queue per-group spike masks; emit one spiking neuron per cycle, in order.

    Ports
    -----
    in_valid, in_group, in_mask : In
        A group's spikes (bit ``k`` of the mask: neuron ``group * neuron_lanes + k``);
        taken when ``in_valid`` is high, ignored when the mask is zero. At most one group
        per cycle and at most ``ceil(max_neurons / neuron_lanes)`` waiting groups.
    out_valid, out_neuron : Out
        A spiking neuron, one per cycle; the first spike of a group can leave the cycle
        after the group came in.
    pending : Out(1)
        Spikes are waiting (``out_valid`` is high exactly when ``pending`` is).
    """

    def __init__(self, core: CoreConfig):
        self.core = core
        self.lanes = core.neuron_lanes
        self.slot_bits = (self.lanes - 1).bit_length()
        self.groups = -(-core.max_neurons // self.lanes)
        group_bits = max(1, (self.groups - 1).bit_length())
        neuron_bits = max(1, (core.max_neurons - 1).bit_length())
        super().__init__({
            "in_valid": In(1),
            "in_group": In(group_bits),
            "in_mask": In(self.lanes),
            "out_valid": Out(1),
            "out_neuron": Out(neuron_bits + 1),
            "pending": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes = self.lanes
        group_bits = len(self.in_group)
        m.submodules.entries = entries = SyncFIFO(width=group_bits + lanes, depth=self.groups)
        m.d.comb += [
            entries.w_en.eq(self.in_valid & (self.in_mask != 0)),
            entries.w_data.eq(Cat(self.in_mask, self.in_group)),
        ]
        emitted = Signal(lanes)  # spikes of the head entry already sent
        remaining = Signal(lanes)
        lowest = Signal(lanes)
        slot = Signal(max(1, self.slot_bits))
        m.d.comb += [
            remaining.eq(entries.r_data[:lanes] & ~emitted),
            lowest.eq(remaining & (~remaining + 1)),  # the lowest set bit
        ]
        for k in reversed(range(lanes)):
            with m.If(remaining[k]):
                m.d.comb += slot.eq(k)
        group = entries.r_data[lanes:]
        m.d.comb += [
            self.out_neuron.eq(Cat(slot[:self.slot_bits], group) if self.slot_bits else group),
            self.out_valid.eq(entries.r_rdy),
            self.pending.eq(entries.r_rdy),
        ]
        with m.If(entries.r_rdy):
            with m.If((remaining & ~lowest) == 0):  # the head entry's last spike
                m.d.comb += entries.r_en.eq(1)
                m.d.sync += emitted.eq(0)
            with m.Else():
                m.d.sync += emitted.eq(emitted | lowest)
        return m
