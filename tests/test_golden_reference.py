"""Cross-check of the golden model against the independent float64 model (reference_float).

Tolerances (derived in :mod:`spikestream.model.reference_float`):

- While the two models spike identically (and nothing saturates; no adaptation), the
  golden ``u`` and ``v`` differ from the float ones by at most ``E_u(t)``, ``E_v(t)`` of
  :func:`~spikestream.model.reference_float.error_bound`: every truncating decay loses
  less than 1, and that loss decays like the state itself. This is a proof, so the test
  allows no slack beyond float64 rounding (1e-6).
- Spike trains can only differ where a voltage comes within ``E_v`` of the threshold. On
  networks scaled as lava scales them (weights and thresholds ``<< 6``), the measured
  spike agreement (|both| / |either|, over all samples, steps and neurons) is 0.9978
  (6734 / 6749 spikes, 20 networks) and 0.9995 with adaptation, refractory, subtractive
  reset and single-spike mode on (5736 / 5739); the tests require 0.98.
"""

import dataclasses

import numpy as np
import pytest

from spikestream.model import CoreConfig, Decision, Network, SynapseGroup
from spikestream.model import golden
from spikestream.model import reference_float
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network

CORE = CoreConfig(max_neurons=64, max_inputs=16)
FLOAT_SLACK = 1e-6


def golden_trace(network: Network, inputs: np.ndarray):
    """Step the golden model and return ``u, v`` ``[B, T, N]`` and the spikes (no early exit)."""
    params = golden.compile_network(network, CORE)
    weights = golden.effective_weights(params, golden.initial_synapse_state(network))
    batch = inputs.shape[0]
    state = golden.initial_neuron_state(params, batch)
    u, v, spikes = (np.zeros((batch, network.timesteps, network.n_neurons), dtype) for dtype in (int, int, bool))
    for step in range(network.timesteps):
        state, spikes[:, step] = golden.neuron_step(params, state, golden.deliver(weights, state.pending), step)
        u[:, step], v[:, step] = state.u, state.v
        state = state._replace(pending=np.concatenate([inputs[:, step], spikes[:, step]], axis=1))
    return u, v, spikes


def lava_scaled(network: Network, rng: np.random.Generator, adaptation: bool = False) -> Network:
    """Weights ``<< 6`` and thresholds ``(16 .. 255) << 6``, as lava scales its CUBA neurons."""
    populations = []
    for p in network.populations:
        changes = dict(threshold=rng.integers(16, 256, p.size) << 6, bias=p.bias * 8)
        if not adaptation:
            changes.update(adapt_increment=0, adapt_decay=0)
        populations.append(dataclasses.replace(p, **changes))
    groups = [SynapseGroup(g.source, g.target, g.weights, g.mask, 6) for g in network.groups]
    return Network(network.n_inputs, populations, groups, network.timesteps, network.output, Decision(network.decision.mode))


def draw(seed: int, **options):
    rng = np.random.default_rng(seed)
    # The float reference does not saturate: the cases stay inside the state range.
    network = random_network(rng, CORE, RandomNetworkOptions(timesteps=(30, 60), extremes=False, **options))
    return rng, network


@pytest.mark.parametrize("seed", range(8))
def test_membrane_traces_stay_within_the_truncation_bound_without_spikes(seed):
    rng, network = draw(seed)
    # No neuron can spike (v > state_max is impossible) and exponents stay small enough not to saturate.
    populations = [dataclasses.replace(p, threshold=CORE.state_max, adapt_increment=0) for p in network.populations]
    groups = [SynapseGroup(g.source, g.target, g.weights, g.mask, min(g.exponent, 4)) for g in network.groups]
    network = Network(network.n_inputs, populations, groups, network.timesteps, network.output)
    inputs = random_inputs(rng, network, 4, rate=0.4)
    u, v, spikes = golden_trace(network, inputs)
    reference = reference_float.simulate(network, inputs)
    assert not spikes.any() and not reference.spikes.any()
    assert np.abs(reference.v).max() < CORE.state_max / 2  # saturation out of play
    bound_u, bound_v = reference_float.error_bound(network, network.timesteps)
    assert np.all(np.abs(u - reference.u) <= bound_u + FLOAT_SLACK)
    assert np.all(np.abs(v - reference.v) <= bound_v + FLOAT_SLACK)
    assert np.abs(v - reference.v).max() > 0  # truncation is really there (the bound is not vacuous)


def first_divergence(a: np.ndarray, b: np.ndarray) -> int:
    """First step at which two ``[T, N]`` spike rasters differ (T if never)."""
    differs = np.flatnonzero((a != b).any(axis=1))
    return int(differs[0]) if differs.size else a.shape[0]


def test_spiking_networks_agree_with_the_float_model():
    both = either = compared_steps = 0
    for seed in range(20):
        rng, network = draw(seed)
        network = lava_scaled(network, rng)
        inputs = random_inputs(rng, network, 4, rate=0.3)
        u, v, spikes = golden_trace(network, inputs)
        reference = reference_float.simulate(network, inputs)
        both += int((spikes & reference.spikes).sum())
        either += int((spikes | reference.spikes).sum())
        bound_u, bound_v = reference_float.error_bound(network, network.timesteps)
        for b in range(inputs.shape[0]):
            # Up to the first step where the spikes differ, the states obey the bound (reset to zero clears
            # the voltage error, subtraction carries it: both stay under the growing bound).
            stop = first_divergence(spikes[b], reference.spikes[b])
            assert np.all(np.abs(u[b, :stop] - reference.u[b, :stop]) <= bound_u[:stop] + FLOAT_SLACK)
            assert np.all(np.abs(v[b, :stop] - reference.v[b, :stop]) <= bound_v[:stop] + FLOAT_SLACK)
            compared_steps += stop
    assert either > 2000, "the networks should be active enough to make the comparison meaningful"
    assert both / either >= 0.98
    assert compared_steps > 0


def test_all_neuron_options_agree_with_the_float_model():
    # Adaptation, refractory, subtractive reset and single-spike mode; no bound on states, spikes only.
    both = either = 0
    for seed in range(20, 40):
        rng, network = draw(seed)
        network = lava_scaled(network, rng, adaptation=True)
        inputs = random_inputs(rng, network, 4, rate=0.3)
        _, _, spikes = golden_trace(network, inputs)
        reference = reference_float.simulate(network, inputs)
        both += int((spikes & reference.spikes).sum())
        either += int((spikes | reference.spikes).sum())
    assert either > 2000
    assert both / either >= 0.98


def test_run_matches_the_stepped_trace():
    # golden_trace above re-implements the run loop from public functions; make sure it is the same thing.
    rng, network = draw(99)
    inputs = random_inputs(rng, network, 3)
    network = Network(network.n_inputs, network.populations, network.groups, network.timesteps, network.output)
    _, v, spikes = golden_trace(network, inputs)
    result = golden.run(network, CORE, inputs)
    assert np.array_equal(result.spikes, spikes)
    assert np.array_equal(result.state.v, v[:, -1])
