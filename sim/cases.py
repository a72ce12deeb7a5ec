"""Random differential-test cases: core configurations, networks and inputs, by seed.

A case is reproduced from ``(core, seed)`` alone, so a failing seed printed by
``spikestream verify`` is a complete reproducer.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spikestream.model.config import CoreConfig
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.model.network import Network

__all__ = ["Case", "random_case", "random_core", "SMALL_CORE"]

#: A small core that builds quickly and exercises every feature (lanes > 1, tiny queue).
SMALL_CORE = CoreConfig(max_neurons=48, max_inputs=16, max_synapses=1024, max_groups=8, max_populations=4, lanes=4,
                        timestep_bits=6, event_queue_depth=64)


class Case(NamedTuple):
    seed: int
    network: Network
    inputs: np.ndarray  #: bool [samples, T, n_inputs]


def random_core(rng: np.random.Generator) -> CoreConfig:
    """Draw a small core configuration (fast to build, every feature on or off at random)."""
    lanes = int(rng.choice([1, 2, 3, 4, 8, 16]))
    return CoreConfig(
        max_neurons=int(rng.integers(16, 65)), max_inputs=int(rng.integers(4, 33)),
        max_synapses=int(rng.integers(256, 2049)), max_groups=int(rng.integers(2, 9)),
        max_populations=int(rng.integers(1, 5)), lanes=lanes, neuron_lanes=int(rng.choice([1, 2, 4, 8])),
        state_bits=int(rng.choice([16, 20, 24])),
        weight_bits=int(rng.choice([6, 8])), max_weight_exponent=int(rng.integers(0, 9)),
        timestep_bits=int(rng.integers(5, 8)), refractory_bits=int(rng.choice([0, 2, 4])),
        event_queue_depth=int(rng.choice([32, 64, 128])), adaptation=bool(rng.random() < 0.7),
        refractory=bool(rng.random() < 0.7), ttfs=bool(rng.random() < 0.7), learning=False, pruning=False,
    )


def random_case(core: CoreConfig, seed: int, samples: int = 2) -> Case:
    """Draw a network that fits ``core`` and ``samples`` input rasters from ``seed``."""
    rng = np.random.default_rng(seed)
    options = RandomNetworkOptions(max_populations=min(3, core.max_populations),
                                   max_population_size=max(1, core.max_neurons // 3),
                                   max_inputs=core.max_inputs, timesteps=(4, min(16, core.max_timesteps)))
    network = random_network(rng, core, options)
    inputs = random_inputs(rng, network, samples)
    return Case(seed, network, inputs)
