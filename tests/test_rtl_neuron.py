"""NeuronUpdate in the Amaranth simulator against the golden model's neuron_step."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikestream.model import golden
from spikestream.model.config import DECAY_UNITY, CoreConfig
from spikestream.rtl.neuron import NEURON_LATENCY, NeuronUpdate, accumulator_bits


def _random_neurons(rng: np.random.Generator, core: CoreConfig, count: int) -> dict:
    """States and parameters spanning the whole ranges, saturation included."""
    limit = core.state_max
    big = rng.random(count) < 0.3

    def state_values():
        return np.where(big, rng.integers(-limit, limit + 1, count), rng.integers(-2000, 2000, count))

    theta = np.where(big, rng.integers(0, limit + 1, count), rng.integers(0, 3000, count))
    if not core.adaptation:
        theta = np.zeros(count, np.int64)
    refractory_max = core.refractory_max if core.refractory else 0
    acc_limit = (1 << (accumulator_bits(core) - 1)) - 1
    return dict(
        u=state_values(), v=state_values(), theta=theta,
        refractory_left=rng.integers(0, refractory_max + 1, count),
        fired=rng.random(count) < 0.3,
        threshold=np.where(big, rng.integers(0, limit + 1, count), rng.integers(0, 2000, count)),
        current_decay=rng.integers(0, DECAY_UNITY, count), voltage_decay=rng.integers(0, DECAY_UNITY, count),
        adapt_decay=rng.integers(0, DECAY_UNITY, count),
        bias=rng.integers(-limit, limit + 1, count) * (rng.random(count) < 0.5),
        adapt_increment=rng.integers(0, limit + 1, count) if core.adaptation else np.zeros(count, np.int64),
        refractory=rng.integers(0, refractory_max + 1, count),
        reset_subtract=rng.random(count) < 0.5, single_spike=(rng.random(count) < 0.5) & core.ttfs,
        synaptic_input=np.where(big, rng.integers(-acc_limit, acc_limit + 1, count),
                                rng.integers(-5000, 5000, count)),
    )


def _golden_step(core: CoreConfig, n: dict, step: int):
    count = n["u"].size
    params = golden.Params(
        n_inputs=1, n_neurons=count, timesteps=step + 1, threshold=n["threshold"],
        current_decay=n["current_decay"] + 1, voltage_decay=n["voltage_decay"], bias=n["bias"],
        adapt_increment=n["adapt_increment"], adapt_decay=n["adapt_decay"], refractory=n["refractory"],
        reset_subtract=n["reset_subtract"], single_spike=n["single_spike"], output_slice=slice(0, 1),
        synapse_source=np.zeros(0, np.int64), synapse_target=np.zeros(0, np.int64),
        synapse_group=np.zeros(0, np.int64), group_exponent=np.zeros(0, np.int64), state_max=core.state_max,
        trace_max=core.trace_max, eligibility_max=core.eligibility_max)
    state = golden.initial_neuron_state(params, 1)
    state = state._replace(u=n["u"][None], v=n["v"][None], theta=n["theta"][None],
                           refractory_left=n["refractory_left"][None], fired=n["fired"][None],
                           first_spike_step=np.where(n["fired"], 0, -1)[None])
    new, spikes = golden.neuron_step(params, state, n["synaptic_input"][None], step)
    return new, spikes[0]


@pytest.mark.parametrize("core", [
    CoreConfig(max_neurons=64, max_inputs=16, max_synapses=256),
    CoreConfig(max_neurons=32, max_inputs=8, max_synapses=64, state_bits=16, adaptation=False, refractory=False,
               ttfs=False, learning=False, pruning=False, refractory_bits=0),
], ids=["all-features", "lean"])
def test_neuron_update_matches_golden(core):
    rng = np.random.default_rng(7)
    count = 300
    n = _random_neurons(rng, core, count)
    step = 3
    # Every fourth neuron sits exactly at (or one above) its threshold: the strict comparison.
    edge = np.arange(count) % 4 == 0
    v_edge = rng.integers(1, 5000, count)
    for name, value in (("u", 0), ("synaptic_input", 0), ("voltage_decay", 0), ("bias", 0), ("theta", 0),
                        ("refractory_left", 0), ("fired", False)):
        n[name] = np.where(edge, value, n[name])
    n["v"] = np.where(edge, v_edge, n["v"])
    n["threshold"] = np.where(edge, v_edge - (np.arange(count) % 8 == 0), n["threshold"])
    expected, expected_spikes = _golden_step(core, n, step)
    assert expected_spikes[edge].any() and not expected_spikes[edge].all()
    dut = NeuronUpdate(core)
    keep = {"current_keep": DECAY_UNITY - 1 - n["current_decay"], "voltage_keep": DECAY_UNITY - n["voltage_decay"],
            "adapt_keep": DECAY_UNITY - n["adapt_decay"]}
    observed = {}

    async def testbench(ctx):
        for k in range(count + NEURON_LATENCY + 1):
            if k < count:
                ctx.set(dut.in_valid, 1)
                ctx.set(dut.in_index, k % core.max_neurons)
                for name in ("u", "v", "theta", "refractory_left", "fired"):
                    ctx.set(getattr(dut.in_state, name), int(n[name][k]))
                ctx.set(dut.in_state.first_step, 0)
                for name in ("threshold", "bias", "adapt_increment", "refractory"):
                    ctx.set(getattr(dut.in_params, name), int(n[name][k]))
                for name, values in keep.items():
                    ctx.set(getattr(dut.in_params, name), int(values[k]))
                ctx.set(dut.in_params.reset_subtract, int(n["reset_subtract"][k]))
                ctx.set(dut.in_params.single_spike, int(n["single_spike"][k]))
                ctx.set(dut.in_synaptic_input, int(n["synaptic_input"][k]))
                ctx.set(dut.in_step, step)
            else:
                ctx.set(dut.in_valid, 0)
            await ctx.tick()
            if ctx.get(dut.out_valid):
                index = len(observed)
                state = dut.out_state
                observed[index] = (ctx.get(state.u), ctx.get(state.v), ctx.get(state.theta),
                                   ctx.get(state.refractory_left), ctx.get(dut.out_spike), ctx.get(state.first_step),
                                   ctx.get(state.spike_count))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert len(observed) == count
    for k in range(count):
        u, v, theta, refractory_left, spike, first_step, spike_count = observed[k]
        want = (expected.u[0, k], expected.v[0, k], expected.theta[0, k], expected.refractory_left[0, k],
                bool(expected_spikes[k]))
        got = (u, v, theta, refractory_left if core.refractory else 0, bool(spike))
        assert got == tuple(int(x) if not isinstance(x, (bool, np.bool_)) else bool(x) for x in want), (
            f"neuron {k}: (u, v, theta, r, spike) = {got}, golden {want}; inputs "
            f"{ {name: int(values[k]) for name, values in n.items()} }")
        if spike and not n["fired"][k]:
            assert first_step == step
        assert spike_count == int(spike)
