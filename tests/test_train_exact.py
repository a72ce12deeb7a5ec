"""The torch network in hardware-exact mode computes what the golden model computes, bit for bit."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.model.train.net import SpikingNetwork, decide

CORE = CoreConfig()


def _compare(network, core, inputs, model):
    reference = golden.run(network, core, inputs)
    run = model(torch.as_tensor(inputs), exact=True)
    np.testing.assert_array_equal(run.spikes.detach().numpy().astype(bool), reference.spikes)
    for field in ("u", "v", "theta", "first_spike_step", "first_spike_voltage", "spike_count"):
        np.testing.assert_array_equal(getattr(run, field).detach().numpy(), getattr(reference.state, field),
                                      err_msg=field)
    np.testing.assert_array_equal(run.steps_run.numpy(), reference.steps_run)
    np.testing.assert_array_equal(decide(model, run), reference.decision)


@pytest.mark.parametrize("seed", range(40))
def test_random_network_matches_golden(seed):
    rng = np.random.default_rng(seed)
    network = random_network(rng, CORE, RandomNetworkOptions(max_population_size=16))
    inputs = random_inputs(rng, network, 6)
    model = SpikingNetwork(network, CORE, exponents="fixed")
    _compare(network, CORE, inputs, model)
    assert model.to_network() == network


@pytest.mark.parametrize("seed", range(6))
def test_small_state_core_saturates_like_golden(seed):
    # 14-bit states saturate all the time: the clamps must match too.
    core = CoreConfig(state_bits=14, max_weight_exponent=6)
    rng = np.random.default_rng(100 + seed)
    network = random_network(rng, core)
    inputs = random_inputs(rng, network, 4, rate=0.5)
    _compare(network, core, inputs, SpikingNetwork(network, core, unit=256, exponents="fixed"))


@pytest.mark.parametrize("seed", range(6))
def test_perturbed_latents_export_to_what_torch_runs(seed):
    # Float latents anywhere (as after training): the exported integers run identically on golden.
    rng = np.random.default_rng(200 + seed)
    network = random_network(rng, CORE, RandomNetworkOptions(neuron_options=False))
    model = SpikingNetwork(network, CORE, exponents="auto")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1 + 0.3 * torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype))
    exported = model.to_network()
    inputs = random_inputs(rng, network, 6)
    _compare(exported, CORE, inputs, model)


@pytest.mark.parametrize("seed", range(8))
def test_perturbed_latents_with_every_neuron_option_on_random_widths(seed):
    """As above on cores of random state and weight widths, with adaptation, refractory, both resets,
    single-spike, early exit and every decision rule drawn: torch's exact run is the golden model's."""
    rng = np.random.default_rng(500 + seed)
    state_bits, weight_bits = int(rng.choice([12, 16, 24, 32])), int(rng.choice([4, 8, 12, 16]))
    core = CoreConfig(state_bits=state_bits, weight_bits=weight_bits, max_weight_exponent=int(rng.integers(4, 16)),
                      max_neurons=64, max_inputs=16, learning=False, pruning=False)
    network = random_network(rng, core, RandomNetworkOptions(max_population_size=8))
    model = SpikingNetwork(network, core, unit=1 << int(rng.integers(4, state_bits - 4)), exponents="auto")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1 + 0.5 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    exported = model.to_network()
    _compare(exported, core, random_inputs(rng, network, 4, rate=float(rng.choice([0.1, 0.5, 0.9]))), model)


def test_inputs_of_other_timesteps_or_channels_are_refused():
    # A raster of 7 steps through a 10-step network would train a network the core runs for 10.
    rng = np.random.default_rng(300)
    network = random_network(rng, CORE)
    inputs = random_inputs(rng, network, 2)
    model = SpikingNetwork(network, CORE, exponents="fixed")
    steps, channels = network.timesteps, network.n_inputs
    for bad in (inputs[:, :-1], np.concatenate([inputs, inputs[:, :1]], axis=1), inputs[:, :, :-1]):
        with pytest.raises(ValueError, match=rf"inputs have shape \({2}, {bad.shape[1]}, {bad.shape[2]}\), expected "
                                             rf"\[batch, timesteps, channels\] = \[B, {steps}, {channels}\]"):
            model(torch.as_tensor(bad))


def test_a_core_whose_event_queue_can_drop_events_is_refused():
    # On such a core a busy step drops events (golden.queue_admit), which the mirror does not model:
    # "exact" would no longer be true.
    rng = np.random.default_rng(301)
    network = random_network(rng, CORE, RandomNetworkOptions(max_population_size=16))
    short = CoreConfig(event_queue_depth=network.n_sources - 1)
    with pytest.raises(ValueError, match=rf"the core's event queue holds {network.n_sources - 1} events per step, "
                                         rf"fewer than the network's {network.n_sources} sources .*"
                                         rf"event_queue_depth >= {network.n_sources}"):
        SpikingNetwork(network, short)
    SpikingNetwork(network, CoreConfig(event_queue_depth=network.n_sources))


@pytest.mark.parametrize("seed", range(8))
def test_networks_that_fill_random_cores_match_golden(seed):
    # Every neuron, synapse and timestep of a random core (its own widths, lanes and features;
    # its queue long enough for every source, which the mirror requires).
    import dataclasses

    from spikestream.sim.cases import random_core

    core = random_core(np.random.default_rng(1000 + seed))
    core = dataclasses.replace(core, event_queue_depth=max(core.event_queue_depth, core.num_sources))
    rng = np.random.default_rng(seed)
    network = random_network(rng, core, RandomNetworkOptions(fill=True))
    inputs = random_inputs(rng, network, 2)
    unit = 1 << min(12, core.state_bits - 12)  # latents in units that the core's states can hold
    _compare(network, core, inputs, SpikingNetwork(network, core, unit=unit, exponents="fixed"))


def test_a_learning_groups_weights_stay_in_its_clamp_and_inputs_are_spikes():
    """Torch runs only what the golden model runs: a plastic group's weights in [w_min, w_max] (beyond it
    the export would be refused), and 0/1 input rasters (a 2 would count twice)."""
    from spikestream.model.network import Decision, DecisionMode, LearningRule, Network, Population, SynapseGroup

    rule = LearningRule(w_min=-20, w_max=20)
    network = Network(2, [Population("out", 2, threshold=100)],
                      [SynapseGroup("input", "out", np.array([[10, -5], [3, 20]]), learning=rule)], 5, "out",
                      Decision(DecisionMode.SPIKE_COUNT))
    model = SpikingNetwork(network, CORE, unit=64, exponents="fixed")
    with torch.no_grad():
        model.weights[0].mul_(3.0)  # as optimiser steps could: 30, -15, 9, 60
    exported = model.to_network()
    assert exported.groups[0].weights.tolist() == [[20, -15], [9, 20]]
    inputs = np.ones((1, 5, 2), bool)
    run = model(torch.as_tensor(inputs), exact=True)
    result = golden.run(exported, CORE, inputs)
    assert run.spike_count[0].tolist() == result.spikes[0].sum(axis=0).tolist()
    assert run.u[0].tolist() == result.state.u[0].tolist()
    with pytest.raises(ValueError, match="input spike value 2.0 is not 0 or 1"):
        model(torch.full((1, 5, 2), 2.0), exact=True)
