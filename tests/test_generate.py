"""The random generator's networks that fill the core (``RandomNetworkOptions.fill``)."""

from __future__ import annotations

import numpy as np
import pytest

from spikestream.model.config import CoreConfig
from spikestream.model.generate import RandomNetworkOptions, random_network
from spikestream.sim.cases import SMALL_CORE, random_case, random_core, random_learning_case


def _uses_the_whole_core(network, core: CoreConfig) -> None:
    assert network.n_inputs == core.max_inputs
    assert network.n_neurons == core.max_neurons
    assert network.timesteps == core.max_timesteps
    populations = min(core.max_populations, core.max_groups, core.max_neurons)
    assert len(network.populations) == populations
    pairs = populations * (populations + 1)  # sources (inputs and populations) times targets
    assert len(network.groups) == min(core.max_groups, pairs)
    # Every synapse is stored (no zero weight of a fixed group is dropped), up to the storage.
    room = sum(group.weights.size for group in network.groups)
    assert network.synapses().count == sum(int(group.mask.sum()) for group in network.groups)
    assert network.synapses().count == min(core.max_synapses, room)
    network.check_fits(core)


@pytest.mark.parametrize("seed", range(30))
def test_filling_networks_use_every_resource_of_random_cores(seed):
    core = random_core(np.random.default_rng(seed))
    _uses_the_whole_core(random_network(np.random.default_rng(seed), core, RandomNetworkOptions(fill=True)), core)


@pytest.mark.parametrize("core", [SMALL_CORE, CoreConfig()], ids=["small", "default"])
def test_filling_networks_fill_the_synapse_storage(core):
    for seed in range(3):
        network = random_case(core, seed, 1, fill=True).network
        _uses_the_whole_core(network, core)
        assert network.synapses().count == core.max_synapses


def test_filling_learning_cases_keep_every_synapse_stored():
    # random_learning_case makes some fixed groups plastic: their zero weights would be stored
    # too and overflow the storage, so filling draws no zero weight at all.
    for seed in range(5):
        case = random_learning_case(SMALL_CORE, seed, 2, fill=True)
        _uses_the_whole_core(case.network, SMALL_CORE)
        assert any(group.learning is not None for group in case.network.groups)
