"""Random networks and stimuli for differential testing (golden model vs RTL, float model).

Every draw comes from the ``numpy.random.Generator`` passed in, so a seed reproduces a
case exactly. The networks exercise every feature the core has: all connection kinds
(feedforward, skip, recurrent, self-recurrent), dense and sparse groups, all neuron
options, learning and pruning rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import DECAY_UNITY, CoreConfig
from .network import (INPUT, Decision, DecisionMode, LearningKind, LearningRule, Network, Population, PruningRule,
                      ResetMode, SynapseGroup)

__all__ = ["RandomNetworkOptions", "random_network", "random_inputs", "normal_weights"]


#: Largest group exponent drawn usually (weights << 8 already span the state of the cores tested);
#: a group is drawn with any exponent the core allows with probability EXTREME_SHARE.
GROUP_EXPONENT_MAX = 8
#: Chance that a population or group is drawn over the whole range the core allows (saturation).
EXTREME_SHARE = 0.15


@dataclass(frozen=True)
class RandomNetworkOptions:
    """What :func:`random_network` may use."""

    max_populations: int = 3
    max_population_size: int = 12
    max_inputs: int = 12
    timesteps: tuple[int, int] = (4, 24)
    recurrent: bool = True
    learning: bool = False
    pruning: bool = False
    neuron_options: bool = True
    #: Draw some populations and groups over the core's whole range, where its arithmetic saturates
    #: (off for comparisons with models that do not saturate).
    extremes: bool = True
    #: Use the whole core, where address and count widths are at their limits: every input,
    #: neuron and population it holds, as many groups as its populations can pair (up to
    #: ``max_groups``), ``max_synapses`` stored synapses (as many as the drawn groups can hold,
    #: when that is fewer) and ``max_timesteps`` steps. The size options and ``recurrent``
    #: above are then ignored (recurrent pairs are needed to reach the group count).
    fill: bool = False


def _population(rng: np.random.Generator, core: CoreConfig, name: str, size: int, options: RandomNetworkOptions,
                output: bool) -> Population:
    # Thresholds a few synapses can reach: a core with narrow weights and small exponents (one
    # synapse adds at most weight_max << exponent) would otherwise never see a spike.
    reach = core.weight_max << min(GROUP_EXPONENT_MAX, core.max_weight_exponent)
    threshold_max = min(core.state_max, 1 << 14, max(65, 2 * reach))
    # Now and then a population spans the whole state range (threshold 0, bias and adaptation up to
    # the state's limits), where the core's arithmetic saturates.
    extreme = options.extremes and rng.random() < EXTREME_SHARE
    kwargs = dict(
        threshold=rng.integers(0 if extreme else 64, (core.state_max + 1) if extreme else threshold_max, size),
        current_decay=rng.integers(0, DECAY_UNITY, size),
        voltage_decay=rng.integers(0, DECAY_UNITY, size),
        bias=(rng.integers(core.state_min, core.state_max + 1, size) if extreme
              else rng.integers(-(1 << 8), 1 << 9, size)) * rng.integers(0, 2),
    )
    if options.neuron_options:
        if core.adaptation and rng.random() < 0.5:
            increment = rng.integers(0, (core.state_max + 1) if extreme else 1 << 12, size)
            kwargs.update(adapt_increment=increment, adapt_decay=rng.integers(0, DECAY_UNITY, size))
        if core.refractory and rng.random() < 0.5:
            kwargs.update(refractory=rng.integers(0, core.refractory_max + 1, size))
        kwargs.update(reset=ResetMode.SUBTRACT if rng.random() < 0.3 else ResetMode.ZERO)
        kwargs.update(single_spike=bool(core.ttfs and rng.random() < (0.5 if output else 0.25)))
    return Population(name, size, **kwargs)


def _learning(rng: np.random.Generator, core: CoreConfig, kind: LearningKind, target_is_output: bool) -> LearningRule:
    w_min = int(rng.integers(core.weight_min, 1))
    w_max = int(rng.integers(max(w_min, 1), core.weight_max + 1))
    return LearningRule(kind=kind, a_plus=int(rng.integers(0, 256)), a_minus=int(rng.integers(0, 256)),
                        shift=int(rng.integers(0, 12)), soft_bound=bool(rng.random() < 0.5), w_min=w_min, w_max=w_max,
                        pre_increment=int(rng.integers(0, core.trace_max + 1)),
                        post_increment=int(rng.integers(0, core.trace_max + 1)),
                        trace_decay_shift=int(rng.integers(1, core.trace_bits + 1)),
                        stochastic_rounding=bool(rng.random() < 0.5), reward_modulated=bool(rng.random() < 0.3),
                        winner_only=bool(kind is LearningKind.TTFS and target_is_output and rng.random() < 0.3))


def random_network(rng: np.random.Generator, core: CoreConfig,
                   options: RandomNetworkOptions = RandomNetworkOptions()) -> Network:
    """Draw a network that fits ``core``."""
    if options.fill:
        n_inputs = core.max_inputs
        sizes, pairs = _filling_layout(rng, core)
    else:
        n_inputs = int(rng.integers(1, min(options.max_inputs, core.max_inputs) + 1))
        sizes = _population_sizes(rng, core, options)
    names = [f"p{k}" for k in range(len(sizes))]
    output = names[-1]
    populations = [_population(rng, core, name, size, options, name == output) for name, size in zip(names, sizes)]
    if not options.fill:
        pairs = _pairs(rng, len(sizes), core.max_groups, options.recurrent, share=0.3)
    groups = []
    synapse_budget = core.max_synapses
    for source, target in pairs:
        n_source = n_inputs if source == INPUT else sizes[source]
        n_target = sizes[target]
        source, target = (INPUT if source == INPUT else names[source]), names[target]
        density = float(rng.choice([1.0, rng.uniform(0.1, 0.9)]))
        mask = rng.random((n_source, n_target)) < density
        excitatory = 0.7 if source == INPUT else 0.55
        # Inhibitory weights reach weight_min (-128 for int8), one below -weight_max.
        weights = np.where(rng.random((n_source, n_target)) < excitatory,
                           rng.integers(0, core.weight_max + 1, (n_source, n_target)),
                           rng.integers(core.weight_min, 1, (n_source, n_target)))
        learning = pruning = None
        if options.learning and core.learning and rng.random() < 0.6:
            kind = LearningKind.TTFS if rng.random() < 0.4 else LearningKind.PAIR
            learning = _learning(rng, core, kind, target == output)
            weights = np.clip(weights, learning.w_min, learning.w_max)
            if options.pruning and core.pruning and rng.random() < 0.7:
                pruning = PruningRule(threshold=int(rng.integers(0, min(32, core.weight_max) + 1)),
                                      patience=int(rng.integers(1, min(4, core.prune_patience_max) + 1)))
        largest_exponent = core.max_weight_exponent if options.extremes and rng.random() < EXTREME_SHARE else min(
            GROUP_EXPONENT_MAX, core.max_weight_exponent)
        group = SynapseGroup(source, target, weights, mask, int(rng.integers(0, largest_exponent + 1)),
                             learning, pruning)
        stored = int(group.stored_mask.sum())
        if stored > synapse_budget and not options.fill:
            continue
        synapse_budget -= stored
        groups.append(group)
    if options.fill:
        groups = _fill_synapses(rng, groups, core.max_synapses)
    mode = DecisionMode(rng.choice([m.value for m in DecisionMode]))
    decision = Decision(mode, early_exit=bool(mode is DecisionMode.FIRST_SPIKE and rng.random() < 0.5))
    timesteps = core.max_timesteps if options.fill else int(
        rng.integers(options.timesteps[0], min(options.timesteps[1], core.max_timesteps) + 1))
    network = Network(n_inputs, populations, groups, timesteps, output, decision)
    network.check_fits(core)
    return network


def _population_sizes(rng: np.random.Generator, core: CoreConfig, options: RandomNetworkOptions) -> list[int]:
    # The feedforward chain needs one group per population.
    n_populations = int(rng.integers(1, min(options.max_populations, core.max_populations, core.max_groups) + 1))
    budget = core.max_neurons
    sizes = []
    for _ in range(n_populations):
        size = int(rng.integers(1, max(2, min(options.max_population_size, budget - (n_populations - len(sizes) - 1)) + 1)))
        size = max(1, min(size, budget - (n_populations - len(sizes) - 1)))
        sizes.append(size)
        budget -= size
    return sizes


def _pairs(rng: np.random.Generator, n_populations: int, max_groups: int, recurrent: bool,
           share: float) -> list[tuple]:
    """Source/target pairs (population indices, or INPUT): the feedforward chain, then others.

    Each other pair is taken with probability ``share`` while fewer than ``max_groups``
    are taken (``share`` 1: in random order until the core's groups are used up).
    """
    pairs = [(INPUT, 0)] + [(k - 1, k) for k in range(1, n_populations)]
    candidates = [(INPUT, b) for b in range(1, n_populations)] + [
        (a, b) for a in range(n_populations) for b in range(n_populations) if (a, b) not in pairs]
    if not recurrent:
        candidates = [(a, b) for a, b in candidates if a == INPUT or a < b]
    if share >= 1:
        candidates = [candidates[k] for k in rng.permutation(len(candidates))]
    for pair in candidates:
        if len(pairs) < max_groups and (share >= 1 or rng.random() < share):
            pairs.append(pair)
    return pairs


#: Draws of a filling network's layout tried for one whose groups can hold ``max_synapses``.
FILL_TRIES = 50


def _filling_layout(rng: np.random.Generator, core: CoreConfig) -> tuple[list[int], list[tuple]]:
    """Population sizes using every neuron and pairs using every group, able to hold the most synapses.

    Layouts are drawn until the pairs' dense matrices hold ``max_synapses`` (at most
    FILL_TRIES; otherwise the largest drawn, as on a core with more synapse storage
    than any network of its neurons can use).
    """
    n_populations = min(core.max_populations, core.max_groups, core.max_neurons)
    best, best_room = None, -1
    for _ in range(FILL_TRIES):
        cuts = np.sort(rng.choice(np.arange(1, core.max_neurons), n_populations - 1, replace=False))
        sizes = np.diff(np.concatenate([[0], cuts, [core.max_neurons]])).astype(int).tolist()
        pairs = _pairs(rng, n_populations, core.max_groups, recurrent=True, share=1.0)
        room = sum((core.max_inputs if a == INPUT else sizes[a]) * sizes[b] for a, b in pairs)
        if room > best_room:
            best, best_room = (sizes, pairs), room
        if room >= core.max_synapses:
            break
    return best


def _fill_synapses(rng: np.random.Generator, groups: list[SynapseGroup], count: int) -> list[SynapseGroup]:
    """Give the groups ``count`` synapses at random places (all places, when fewer), every one stored.

    A zero weight of a non-learning group is not stored, and a group may be made plastic
    later (random_learning_case), so every zero becomes +-1 (within the group's learning
    clamp, if it has one).
    """
    sizes = [group.weights.size for group in groups]
    chosen = np.zeros(sum(sizes), bool)
    chosen[rng.choice(chosen.size, min(count, chosen.size), replace=False)] = True
    filled, start = [], 0
    for group, size in zip(groups, sizes):
        mask = chosen[start:start + size].reshape(group.weights.shape)
        start += size
        negative_allowed = group.learning is None or group.learning.w_min <= -1
        sign = np.where((rng.random(mask.shape) < 0.5) & negative_allowed, -1, 1)
        weights = np.where(group.weights == 0, sign, group.weights)
        filled.append(dataclasses.replace(group, weights=weights, mask=mask))
    return filled


def random_inputs(rng: np.random.Generator, network: Network, batch: int, rate: float | None = None) -> np.ndarray:
    """Draw input spike rasters ``bool [batch, timesteps, n_inputs]``."""
    rate = float(rng.uniform(0.05, 0.5)) if rate is None else rate
    return rng.random((batch, network.timesteps, network.n_inputs)) < rate


def normal_weights(rng: np.random.Generator, shape: tuple[int, ...], scale: float, mean: float = 0.0,
                   core: CoreConfig = CoreConfig()) -> np.ndarray:
    """Draw normal weights, rounded half to even and clipped to the core's weight range (int64)."""
    return np.clip(np.rint(rng.normal(mean, scale, shape)), core.weight_min, core.weight_max).astype(np.int64)
