"""Random differential-test cases: core configurations, networks and inputs, by seed.

A case is reproduced from ``(core, seed)`` alone, so a failing seed printed by
``spikestream verify`` is a complete reproducer.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from spikestream.model.config import CoreConfig
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.model.network import LearningRule, Network, PruningRule

__all__ = ["Case", "LearningCase", "random_case", "random_learning_case", "random_core", "SMALL_CORE"]

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


def random_case(core: CoreConfig, seed: int, samples: int = 2, fill: bool = False) -> Case:
    """Draw a network that fits ``core`` and ``samples`` input rasters from ``seed``.

    ``fill``: the network uses the whole core (see ``RandomNetworkOptions.fill``).
    """
    rng = np.random.default_rng(seed)
    options = RandomNetworkOptions(max_populations=min(3, core.max_populations),
                                   max_population_size=max(1, core.max_neurons // 3),
                                   max_inputs=core.max_inputs, timesteps=(4, min(16, core.max_timesteps)), fill=fill)
    network = random_network(rng, core, options)
    inputs = random_inputs(rng, network, samples)
    return Case(seed, network, inputs)


class LearningCase(NamedTuple):
    seed: int
    network: Network
    inputs: np.ndarray  #: bool [samples, T, n_inputs]
    enabled: list  #: per sample, one flag per group
    rewards: list  #: per sample, the reward the host sends (when an enabled group is reward modulated)


def random_learning_case(core: CoreConfig, seed: int, samples: int = 4, fill: bool = False) -> LearningCase:
    """Draw a network with learning and pruning, inputs, rewards, and per-sample group enables.

    The rules are the random generator's (PAIR and TTFS, reward modulated or not, with
    soft bounds, stochastic rounding, winner_only); pruning rules are made eager
    (patience 1 or 2) so that synapses are pruned within a few samples. Every
    third sample or so disables a random group (learning switched off mid-run); the last
    sample of a case with several samples runs with all learning off (inference after
    learning). ``fill``: the network uses the whole core (see ``RandomNetworkOptions.fill``).
    """
    rng = np.random.default_rng(seed)
    options = RandomNetworkOptions(max_populations=min(3, core.max_populations),
                                   max_population_size=max(1, core.max_neurons // 3), max_inputs=core.max_inputs,
                                   timesteps=(3, min(10, core.max_timesteps)), learning=True, pruning=core.pruning,
                                   fill=fill)
    network = random_network(rng, core, options)
    groups = []
    for group in network.groups:
        rule, pruning = group.learning, group.pruning
        if rule is None and rng.random() < 0.5:  # more plastic groups than the generator draws
            low = int(group.weights.min(initial=0))
            high = int(group.weights.max(initial=0))
            rule = dataclasses.replace(_default_rule(core), w_min=min(low, 0), w_max=max(high, 1))
        if rule is not None:
            if core.pruning and (pruning is not None or rng.random() < 0.5):
                pruning = PruningRule(threshold=int(rng.integers(0, min(48, core.weight_max) + 1)),
                                      patience=int(rng.integers(1, min(2, core.prune_patience_max) + 1)))
        groups.append(dataclasses.replace(group, learning=rule, pruning=pruning))
    network = network.with_groups(groups)
    network.check_fits(core)
    inputs = random_inputs(rng, network, samples)
    enabled = []
    for b in range(samples):
        flags = [True] * len(network.groups)
        if rng.random() < 0.3 and flags:
            flags[int(rng.integers(0, len(flags)))] = False
        if samples > 2 and b == samples - 1:
            flags = [False] * len(network.groups)
        enabled.append(flags)
    rewards = rng.integers(-1, 2, samples).tolist()
    return LearningCase(seed, network, inputs, enabled, rewards)


def _default_rule(core: CoreConfig) -> LearningRule:
    return LearningRule(a_plus=32, a_minus=48, shift=4, trace_decay_shift=1, pre_increment=min(64, core.trace_max),
                        post_increment=min(64, core.trace_max), stochastic_rounding=True)
