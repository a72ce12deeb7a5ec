"""SpikeSerializer in the Amaranth simulator against a naive queue of spikes."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikestream.model.config import CoreConfig
from spikestream.rtl.spikes import SpikeSerializer


def _naive(inputs: list[tuple[int, int, int]], lanes: int) -> list[tuple[int, int]]:
    """(cycle, neuron) of every spike: each leaves one cycle after its group came in, at
    the earliest, one per cycle, in order."""
    out, free = [], 0
    for cycle, group, mask in inputs:
        for k in range(lanes):
            if mask >> k & 1:
                leave = max(cycle + 1, free)
                out.append((leave, group * lanes + k))
                free = leave + 1
    return out


@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_spikes_leave_in_order_one_per_cycle(lanes):
    core = CoreConfig(max_neurons=64, max_inputs=8, max_synapses=64, neuron_lanes=lanes)
    rng = np.random.default_rng(lanes)
    dut = SpikeSerializer(core)
    groups = -(-core.max_neurons // lanes)
    density = rng.choice([0.05, 0.3, 0.9], groups)
    inputs = []  # (cycle, group, mask): one pass over the groups, some cycles idle
    cycle = 0
    for group in range(groups):
        cycle += int(rng.integers(0, 2))
        mask = sum(1 << k for k in range(lanes) if rng.random() < density[group])
        inputs.append((cycle, group, mask))
        cycle += 1
    observed = []

    async def testbench(ctx):
        schedule = {c: (g, mask) for c, g, mask in inputs}
        for now in range(cycle + core.max_neurons + 4):
            group, mask = schedule.get(now, (0, 0))
            ctx.set(dut.in_valid, now in schedule)
            ctx.set(dut.in_group, group)
            ctx.set(dut.in_mask, mask)
            if ctx.get(dut.out_valid):
                observed.append((now, ctx.get(dut.out_neuron)))
            assert ctx.get(dut.pending) == ctx.get(dut.out_valid)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert observed == _naive(inputs, lanes)
