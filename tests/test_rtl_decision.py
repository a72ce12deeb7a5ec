"""DecisionScan in the Amaranth simulator against the golden model's decide()."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.network import DecisionMode
from spikestream.model.protocol import DECISION_CODES, to_signed
from spikestream.rtl.decision import DecisionScan

CORE = CoreConfig(max_neurons=32, max_inputs=8, max_synapses=64, timestep_bits=5)


def _random_outputs(rng: np.random.Generator, size: int, timesteps: int) -> golden.NeuronState:
    """Final states of one sample's output population, with many ties."""
    fired = rng.random(size) < rng.choice([0.0, 0.3, 0.8])
    first = np.where(fired, rng.integers(0, 3, size), -1)  # few distinct steps: ties
    count = np.where(fired, rng.integers(1, 3, size), 0)
    voltage = rng.integers(-3, 3, size) * rng.choice([1, 1000])  # few distinct voltages: ties
    first_voltage = np.where(fired, rng.integers(0, 3, size), 0)
    zeros = np.zeros((1, size), np.int64)
    return golden.NeuronState(u=zeros, v=voltage[None], theta=zeros, refractory_left=zeros, fired=fired[None],
                              pending=np.zeros((1, 1), bool), first_spike_step=first[None],
                              first_spike_voltage=first_voltage[None], spike_count=count[None],
                              done=np.zeros(1, bool))


def _params(size: int, timesteps: int) -> golden.Params:
    empty = np.zeros(0, np.int64)
    return golden.Params(n_inputs=1, n_neurons=size, timesteps=timesteps, threshold=empty, current_decay=empty,
                         voltage_decay=empty, bias=empty, adapt_increment=empty, adapt_decay=empty,
                         refractory=empty, reset_subtract=empty, single_spike=empty, output_slice=slice(0, size),
                         synapse_source=empty, synapse_target=empty, synapse_group=empty, group_exponent=empty,
                         state_max=CORE.state_max, trace_max=CORE.trace_max, eligibility_max=CORE.eligibility_max)


@pytest.mark.parametrize("mode", list(DecisionMode))
def test_decision_scan_matches_golden(mode):
    rng = np.random.default_rng(11)
    timesteps = 9
    cases = [_random_outputs(rng, int(rng.integers(1, 12)), timesteps) for _ in range(60)]
    dut = DecisionScan(CORE)
    observed = []

    async def testbench(ctx):
        ctx.set(dut.mode, DECISION_CODES[mode])
        ctx.set(dut.timesteps, timesteps)
        for state in cases:
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            for index in range(state.v.shape[1]):
                ctx.set(dut.valid, 1)
                ctx.set(dut.index, index)
                ctx.set(dut.state.v, int(state.v[0, index]))
                ctx.set(dut.state.fired, int(state.fired[0, index]))
                ctx.set(dut.state.first_step, max(0, int(state.first_spike_step[0, index])))
                ctx.set(dut.state.first_voltage, int(state.first_spike_voltage[0, index]))
                ctx.set(dut.state.spike_count, int(state.spike_count[0, index]))
                await ctx.tick()
            ctx.set(dut.valid, 0)
            await ctx.tick()
            observed.append((ctx.get(dut.decision), to_signed(ctx.get(dut.decision_step))))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    for k, state in enumerate(cases):
        decision, step = golden.decide(_params(state.v.shape[1], timesteps), mode, state)
        assert observed[k] == (int(decision[0]), int(step[0])), (
            f"case {k}: scan gave {observed[k]}, golden {(int(decision[0]), int(step[0]))}; v {state.v[0]}, "
            f"first {state.first_spike_step[0]}, first_v {state.first_spike_voltage[0]}, count {state.spike_count[0]}")
