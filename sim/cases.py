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

__all__ = ["Case", "LearningCase", "random_case", "random_learning_case", "random_core", "bad_input_packets",
           "network_size", "core_capacity", "SMALL_CORE"]

#: A small core that builds quickly and exercises every feature (lanes > 1, tiny queue).
SMALL_CORE = CoreConfig(max_neurons=48, max_inputs=16, max_synapses=1024, max_groups=8, max_populations=4, lanes=4,
                        timestep_bits=6, event_queue_depth=64)
#: The small core with an event queue shorter than its sources: busy steps drop events.
SHORT_QUEUE_CORE = dataclasses.replace(SMALL_CORE, event_queue_depth=12)


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


def network_size(network: Network) -> dict:
    """How much of a core ``network`` uses: inputs, neurons, stored synapses, timesteps."""
    return {"inputs": network.n_inputs, "neurons": network.n_neurons, "synapses": network.synapses().count,
            "timesteps": network.timesteps}


def core_capacity(core: CoreConfig) -> dict:
    """What :func:`network_size` reaches on ``core`` when a network fills it."""
    return {"inputs": core.max_inputs, "neurons": core.max_neurons, "synapses": core.max_synapses,
            "timesteps": core.max_timesteps}


def bad_input_packets(network: Network, core: CoreConfig) -> list[tuple[list[int], frozenset]]:
    """Packets the core must refuse in the middle of a sample of ``network`` (after its END_STEP 0),
    each with the error flags it raises; none changes the network or the sample.

    The RTL testbench (``core_tb.bad_input``) and the protocol emulation's tests send the same
    list, so the two flag every packet alike. Each packet counts one dropped packet.
    """
    from spikestream.model.network import DecisionMode
    from spikestream.model.protocol import (DECISION_CODES, DECISION_EARLY_EXIT_BIT, WORD_BITS, ErrorFlag, InOpcode,
                                            ProtocolError, header, pack_rule_fields, synapse_format, synapse_rows)

    steps, n_inputs, n_neurons = network.timesteps, network.n_inputs, network.n_neurons
    fmt, rows = synapse_format(core), synapse_rows(core)
    future = min(steps - 1, 1) + 1
    config = [n_inputs, n_neurons, steps, 0, 1, DECISION_CODES[DecisionMode.SPIKE_COUNT]]
    malformed, index_range, too_large = ErrorFlag.MALFORMED, ErrorFlag.INDEX_RANGE, ErrorFlag.TOO_LARGE

    def config_with(**changes) -> list[int]:
        words = dict(zip(("inputs", "neurons", "steps", "start", "size", "decision"), config), **changes)
        return [header(InOpcode.CONFIG, 0), *words.values()]

    bad = [
        ([header(0x7F, 0), 1, 2, 3], {malformed}),  # unknown opcode
        ([header(InOpcode.END_STEP, 1), 5], {malformed}),  # marker with payload
        ([header(InOpcode.EVENTS, 1 if steps > 1 else 0)] + (n_inputs + np.arange(3)).tolist(), {index_range}),
        # Loading: an item out of range is dropped alone, a partial item at the end too.
        ([header(InOpcode.NEURONS, core.max_neurons), 1, 0, 0, 0, 0], {index_range}),
        ([header(InOpcode.NEURONS, 0), core.state_max + 1, 0, 0, 0, 0], {index_range}),  # threshold too large
        ([header(InOpcode.NEURONS, 0), 1, 2], {malformed}),  # partial neuron
        ([header(InOpcode.FANOUT, core.num_sources), 0, 0], {index_range}),
        ([header(InOpcode.FANOUT, 0), 0, core.max_neurons + 1], {index_range}),  # more synapses than neurons
        ([header(InOpcode.SYNAPSES, rows)] + [0] * core.lanes, {index_range}),  # beyond the synaptic memory
        # CONFIG: sizes of 0 or beyond the core, exponents too large (TOO_LARGE, word by word), then
        # words that contradict each other (MALFORMED).
        (config_with(neurons=core.max_neurons + 1), {too_large}),
        (config_with(inputs=0), {too_large}),
        (config_with(steps=0), {too_large}),
        (config_with() + [core.max_weight_exponent + 1], {too_large}),
        ([header(InOpcode.CONFIG, 0), n_inputs, 1, steps], {malformed}),  # too short
        ([header(InOpcode.CONFIG, 0), n_inputs, core.max_neurons + 1], {too_large}),  # short, but a word is bad first
        (config_with(start=n_neurons), {malformed}),  # output population beyond the neurons
        (config_with(size=0), {malformed}),
        (config_with(decision=DECISION_CODES[DecisionMode.SPIKE_COUNT] | 1 << DECISION_EARLY_EXIT_BIT), {malformed}),
        (config_with(decision=1 << (DECISION_EARLY_EXIT_BIT + 1)), {malformed}),  # reserved bits
        ([header(InOpcode.READ_SYNAPSES, 0), rows + 1], {index_range}),
        ([header(InOpcode.READ_SYNAPSES, 0)], {malformed}),  # no row count
        ([header(InOpcode.READ_FANOUT, core.num_sources - 1), 2], {index_range}),
        ([header(InOpcode.RULES, 0)], {malformed}),  # no rule words (or no learning engine)
    ]
    # RULES the learning engine refuses, every group's words checked (a core without one: MALFORMED).
    refused = {index_range} if core.learning else {malformed}

    def rule(fields: dict) -> list[int] | None:
        """The RULES words of ``fields``, or None where a field cannot carry the value (the core never sees it:
        16-bit weights have no w_max above theirs in a 16-bit field)."""
        try:
            return pack_rule_fields(fields)
        except ProtocolError:
            return None

    wide_clamp = rule({"w_max": core.weight_max + 1})
    too_many_targets = rule({"target_count": core.max_neurons + 1})
    bad += [
        ([header(InOpcode.RULES, core.max_groups)] + pack_rule_fields({}), refused),  # no such group
        ([header(InOpcode.RULES, 0)] + pack_rule_fields({"trace_decay_shift": core.trace_bits + 1}), refused),
    ]
    if wide_clamp is not None:
        bad += [([header(InOpcode.RULES, 0)] + wide_clamp, refused),  # clamp beyond the core's weights
                ([header(InOpcode.RULES, 0)] + wide_clamp + [0, 0], refused | {malformed})]  # and a partial rule
    if too_many_targets is not None:
        bad.append(([header(InOpcode.RULES, 0)] + too_many_targets, refused))
    if fmt.width < WORD_BITS:  # a synapse word with bits beyond its fields, alone: a partial row too
        bad.append(([header(InOpcode.SYNAPSES, 0), 1 << fmt.width], {index_range, malformed} if core.lanes > 1
                    else {index_range}))
    if steps > 1:  # the past / future step cases need a step 1 to run in
        bad += [([header(InOpcode.EVENTS, 0), 0], {ErrorFlag.STEP_ORDER}),  # events for a past step
                ([header(InOpcode.EVENTS, future), 0], {ErrorFlag.STEP_ORDER}),  # events for a future step
                ([header(InOpcode.END_STEP, future)], {ErrorFlag.STEP_ORDER})]  # running a future step
    return [(packet, frozenset(flags)) for packet, flags in bad]

