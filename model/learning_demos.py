"""Demonstrations of on-chip learning and pruning (issue 4), computed exactly (numpy only).

Each demonstration is one function returning a JSON-able dict; ``bench/bench_learning.py``
runs them at benchmark size and the board notebook
(``boards/pynq_z2/notebooks/on_chip_learning.ipynb``) at notebook size. The learning is the
golden model's :func:`~spikestream.model.golden.learn` (the specification, bit-exact with the
core), the cycle counts are the exact cycle model's (:mod:`spikestream.model.cycles`).
Passing ``chip`` (a :class:`spikestream.host.driver.SpikeCore`: the board, the RTL
simulation or the golden emulation) sends the same learning samples and rewards to that
backend too and checks, chunk by chunk, that it learnt the same weights and connectivity,
made the same decisions and counted the same cycles as the golden and cycle models: the
figures then hold for that backend.

:func:`unsupervised_stdp`
    Pair STDP on encoded spoken words into a hidden layer, pruning on and off:
    connectivity over the samples, cycles per learning sample, and the accuracy of a
    simple readout (:func:`readout_accuracy`) of the learned hidden spikes.
:func:`reward_adaptation`
    Reward-modulated STDP (TTFS rule, ``winner_only``) on the output layer of a network
    deciding by first spike; the host sends +1 / -1 after each decision. Accuracy on
    held-out samples of voices the network never saw, before and after adaptation.
:func:`pruned_inference`
    Accuracy and exact inference cycles of pruned versions of a network against the
    dense one: the largest connectivity cut within an accuracy budget, and its speed-up.

Nothing here imports torch: the pre-trained networks come from
:mod:`spikestream.model.train` (in the benchmark) or from a network file.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Sequence

import numpy as np

from . import cycles, golden
from .config import CoreConfig
from .encoding import check_spike_batch, spike_values
from .network import (INPUT, Decision, DecisionMode, LearningKind, LearningRule, Network, Population, PruningRule,
                      SynapseGroup, leave_out_unused_inputs, remove_dead_neurons, unused_inputs)

__all__ = [
    "loss_within",
    "meets_goals",
    "LEARNING_CORE",
    "STDP_RULE",
    "STDP_PRUNING",
    "REWARD_RULE",
    "spike_features",
    "readout_accuracy",
    "stdp_network",
    "stdp_learning",
    "unsupervised_stdp",
    "split_by_speaker",
    "first_spike_readout",
    "reward_adaptation",
    "inference_cost",
    "magnitude_prune",
    "deployed_network",
    "pruned_inference",
]

#: The core the demonstrations run on: the default configuration (8 synapse lanes, 4
#: neuron lanes, learning and pruning built in).
LEARNING_CORE = CoreConfig()

#: Unsupervised pair STDP of the input -> hidden synapses: excitatory weights in [0, 127],
#: depression slightly stronger than potentiation, so inputs that do not predict a hidden
#: spike weaken (and are pruned) while those that do strengthen.
STDP_RULE = LearningRule(kind=LearningKind.PAIR, a_plus=3, a_minus=5, shift=6, w_min=0, w_max=127,
                         pre_increment=64, post_increment=64, trace_decay_shift=2)
#: Remove a synapse whose weight stayed at or below 32 (a quarter of the clamp) for 4 updates
#: in a row. Measured on 900 digits learnt by a 32 -> 256 layer (threshold: live synapses,
#: cycles per learning sample at the end, logistic / centroid readout): 10: 18.7 %, 24 846,
#: 60.0 / 55.7 %; 16: 17.0 %, 23 437, 62.6 / 59.6 %; 24: 15.2 %, 22 094, 67.4 / 55.2 %;
#: 32: 13.0 %, 19 952, 71.7 / 56.5 %: inputs that do not predict a neuron's spike are
#: removed sooner, and the remaining features are no worse.
STDP_PRUNING = PruningRule(threshold=32, patience=4)
#: Reward-modulated first-spike rule for the output layer: after each decision the winner's
#: synapses from inputs that spiked no later than it move by ``+reward`` weight steps, the others
#: by ``-reward``, each with probability 1/8 (stochastic rounding of 1/8: a small learning rate
#: on int8 weights; whole steps made the accuracy swing from round to round).
REWARD_RULE = LearningRule(kind=LearningKind.TTFS, a_plus=1, a_minus=1, shift=3, stochastic_rounding=True,
                           reward_modulated=True, winner_only=True)


# ---- helpers -----------------------------------------------------------------------------

def _check_batch(inputs, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    inputs = spike_values(inputs, f"{what}: input spike")
    labels = np.asarray(labels, np.int64)
    if inputs.ndim != 3 or labels.shape != (inputs.shape[0],):
        raise ValueError(f"{what}: expected rasters bool [n, timesteps, channels] and labels [n], got shapes "
                         f"{inputs.shape} and {labels.shape}")
    return inputs, labels


def _digest(synapses: golden.SynapseState) -> str:
    """Fingerprint of the live weights and the connectivity (to compare two runs cheaply)."""
    hasher = hashlib.sha256()
    hasher.update(np.ascontiguousarray(synapses.live).tobytes())
    hasher.update(np.ascontiguousarray(np.where(synapses.live, synapses.weight, 0).astype(np.int64)).tobytes())
    return hasher.hexdigest()[:16]


def _counted_cycles(learning: cycles.LearningCycles) -> int:
    """The cycles the core reports for a learning sample: STEP trailers, SUMMARY, LEARNED."""
    return int(learning.steps.sum()) + int(learning.end) + int(learning.learned)


def _check_backend(chip, network: Network, synapses: golden.SynapseState, decisions: np.ndarray, batch,
                   counted: Sequence[int], where: str) -> None:
    """Raise if the backend decided, learnt (weights, connectivity) or counted cycles otherwise than golden."""
    reported = batch.decisions
    if not np.array_equal(decisions, reported):
        sample = int(np.flatnonzero(decisions != reported)[0])
        raise RuntimeError(f"{chip.transport.name} backend decided {int(reported[sample])} at {where} sample "
                           f"{sample}, the golden model {int(decisions[sample])}")
    if not np.array_equal(np.asarray(counted), batch.sample_cycles):
        sample = int(np.flatnonzero(np.asarray(counted) != batch.sample_cycles)[0])
        raise RuntimeError(f"{chip.transport.name} backend counted {int(batch.sample_cycles[sample])} cycles in "
                           f"{where} sample {sample}, the cycle model {int(counted[sample])}")
    held = chip.synapses()
    if not np.array_equal(held.live, synapses.live):
        k = int(np.flatnonzero(held.live != synapses.live)[0])
        raise RuntimeError(f"{chip.transport.name} backend connectivity differs from the golden model after {where}: "
                           f"synapse {k} live={bool(held.live[k])}, golden live={bool(synapses.live[k])}")
    live = synapses.live
    if not np.array_equal(held.weight[live], synapses.weight[live]):
        k = int(np.flatnonzero(live)[np.flatnonzero(held.weight[live] != synapses.weight[live])[0]])
        raise RuntimeError(f"{chip.transport.name} backend weight of synapse {k} is {int(held.weight[k])} after "
                           f"{where}, the golden model's {int(synapses.weight[k])}")
    if held.lfsr != synapses.lfsr:
        raise RuntimeError(f"{chip.transport.name} backend LFSR is {held.lfsr:#06x} after {where}, the golden "
                           f"model's {synapses.lfsr:#06x}")


def spike_features(network: Network, core: CoreConfig, inputs: np.ndarray, synapses: golden.SynapseState | None = None,
                   population: str | None = None, bins: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spike counts of ``population`` in ``bins`` time bins, with each sample's exact cycles.

    Runs inference (no learning) on the network with ``synapses`` (learned weights and
    connectivity; pruned synapses are not stored, so they cost no cycle).

    Returns
    -------
    features : float64 [n, size * bins]
    cycles : int64 [n]
        :func:`spikestream.model.cycles.sample_cycles` of every sample.
    decisions : int64 [n]
    """
    stored = network if synapses is None else golden.network_with_synapses(network, synapses)
    result = golden.run(stored, core, inputs)
    name = population or network.output
    start = stored.neuron_offset(name)
    spikes = result.spikes[:, :, start:start + stored.population(name).size]
    edges = np.linspace(0, stored.timesteps, bins + 1).astype(int)
    features = np.concatenate([spikes[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    return features.astype(np.float64), cycles.sample_cycles(stored, core, inputs, result), result.decision


def readout_accuracy(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                     test_labels: np.ndarray, iterations: int = 400, l2: float = 1e-3) -> dict:
    """Accuracy of two simple readouts trained on ``train_features``: nearest centroid and logistic regression.

    Features are standardised with the training statistics (constant features drop out).
    The logistic regression is a softmax fitted by full-batch gradient descent with L2
    penalty ``l2``; both are deterministic.
    """
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    mean = train_features.mean(axis=0)
    scale = train_features.std(axis=0)
    scale[scale == 0] = 1.0
    x_train = (train_features - mean) / scale
    x_test = (test_features - mean) / scale
    centroids = np.stack([x_train[train_labels == k].mean(axis=0) if np.any(train_labels == k)
                          else np.full(x_train.shape[1], np.inf) for k in range(classes)])
    distances = ((x_test[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    centroid_accuracy = float(np.mean(np.argmin(np.nan_to_num(distances, nan=np.inf), axis=1) == test_labels))
    weights = np.zeros((x_train.shape[1], classes))
    bias = np.zeros(classes)
    onehot = np.eye(classes)[train_labels]
    rate = 0.5
    for _ in range(iterations):
        logits = x_train @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probability = np.exp(logits)
        probability /= probability.sum(axis=1, keepdims=True)
        error = (probability - onehot) / len(train_labels)
        weights -= rate * (x_train.T @ error + l2 * weights)
        bias -= rate * error.sum(axis=0)
    logistic_accuracy = float(np.mean(np.argmax(x_test @ weights + bias, axis=1) == test_labels))
    train_accuracy = float(np.mean(np.argmax(x_train @ weights + bias, axis=1) == train_labels))
    return {"nearest_centroid": centroid_accuracy, "logistic": logistic_accuracy,
            "logistic_train": train_accuracy, "chance": 1.0 / classes}


# ---- a. unsupervised STDP with pruning -----------------------------------------------------

def stdp_network(n_inputs: int, timesteps: int, hidden: int = 64, rule: LearningRule = STDP_RULE,
                 pruning: PruningRule | None = STDP_PRUNING, seed: int = 0, threshold: int = 600,
                 initial_weights: tuple[int, int] = (8, 48)) -> Network:
    """One plastic layer ``input -> hidden`` for unsupervised STDP.

    The hidden neurons integrate (synaptic current without memory, voltage decaying by
    1/8 per step) and adapt their threshold (each spike raises it by ``threshold / 2``,
    decaying by ~2.5 % per step), so a neuron that fires a lot fires less: a form of
    homeostasis that keeps every neuron's spikes informative. Initial weights are uniform
    in ``initial_weights`` (excitatory, inside the rule's clamp).
    """
    rng = np.random.default_rng(seed)
    low, high = initial_weights
    if not rule.w_min <= low <= high <= rule.w_max:
        raise ValueError(f"initial weights [{low}, {high}] must lie inside the rule's clamp "
                         f"[{rule.w_min}, {rule.w_max}]")
    weights = rng.integers(low, high + 1, size=(n_inputs, hidden))
    population = Population("hidden", hidden, threshold=threshold, current_decay=4095, voltage_decay=512,
                            adapt_increment=threshold // 2, adapt_decay=100)
    group = SynapseGroup(INPUT, "hidden", weights, learning=rule, pruning=pruning)
    return Network(n_inputs, [population], [group], timesteps, "hidden", Decision(DecisionMode.SPIKE_COUNT))


def stdp_learning(network: Network, core: CoreConfig, inputs: np.ndarray, readout: tuple | None = None,
                  checkpoints: int = 4, bins: int = 4, chip=None) -> dict:
    """Learn ``inputs`` one sample after another; record connectivity, cost and readout accuracy.

    Parameters
    ----------
    network, core
        A network with plastic groups (e.g. :func:`stdp_network`).
    inputs : bool [n, timesteps, channels]
        The learning samples, in order (no labels: the learning is unsupervised).
    readout : (train_inputs, train_labels, test_inputs, test_labels), optional
        Evaluated at ``checkpoints + 1`` evenly spaced points (before learning, ..., at
        the end): a readout is fitted on the hidden spike features of the training
        inputs and scored on the test inputs (:func:`readout_accuracy`), and the exact
        inference cycles of the test inputs are averaged.
    chip : SpikeCore, optional
        Backend that learns the same samples; its decisions, weights, connectivity and
        reported cycles are checked against the golden and cycle models at every checkpoint.

    Returns
    -------
    dict
        Per learning sample: ``live_synapses`` (after it), ``synaptic_ops`` and
        ``learning_updates`` (golden counters), ``cycles`` (exact core cycles of the
        learning sample: :func:`spikestream.model.cycles.learning_cycles`); per
        checkpoint: ``samples_seen``, ``live_synapses``, readout accuracies,
        ``inference_cycles`` and ``hidden_spikes``; the final ``weight_digest``.
    """
    if checkpoints < 1:
        raise ValueError(f"checkpoints = {checkpoints}: at least 1 (the readout is scored at the end)")
    inputs = check_spike_batch(inputs, network.timesteps, network.n_inputs)
    synapses = golden.initial_synapse_state(network)
    if chip is not None:
        chip.load(network, core)
    marks = sorted({int(round(k * len(inputs) / checkpoints)) for k in range(checkpoints + 1)})
    per_sample = {"live_synapses": [], "synaptic_ops": [], "learning_updates": [], "cycles": []}
    checkpoint_rows = []

    def evaluate(seen: int) -> None:
        row = {"samples_seen": seen, "live_synapses": int(synapses.live.sum())}
        if readout is not None:
            train_inputs, train_labels, test_inputs, test_labels = readout
            train_features, _, _ = spike_features(network, core, train_inputs, synapses, bins=bins)
            test_features, test_cycles, _ = spike_features(network, core, test_inputs, synapses, bins=bins)
            row.update(readout_accuracy(train_features, train_labels, test_features, test_labels))
            row["inference_cycles"] = float(test_cycles.mean())
            row["hidden_spikes"] = float(test_features.sum(axis=1).mean())
        checkpoint_rows.append(row)

    evaluate(0)
    for start, stop in zip(marks[:-1], marks[1:]):
        chunk = inputs[start:stop]
        results, counted = [], []
        for raster in chunk:
            # One sample at a time, to record the connectivity after each.
            (result,), synapses, (sample_cycles,) = cycles.learning_cycles(network, core, raster[None],
                                                                            synapses=synapses)
            results.append(result)
            per_sample["live_synapses"].append(int(synapses.live.sum()))
            per_sample["synaptic_ops"].append(int(result.counters[0, :, golden.Counter.SYNAPTIC_OPS].sum()))
            per_sample["learning_updates"].append(int(result.counters[0, :, golden.Counter.LEARNING_UPDATES].sum()
                                                      + result.end_learning_updates[0]))
            per_sample["cycles"].append(int(sample_cycles.total))
            counted.append(_counted_cycles(sample_cycles))
        if chip is not None:
            batch = chip.learn(chunk)
            _check_backend(chip, network, synapses, np.array([r.decision[0] for r in results]), batch, counted,
                           f"learning samples {start}..{stop - 1}")
        evaluate(stop)
    return {"stored_synapses": int(synapses.live.size), "per_sample": per_sample, "checkpoints": checkpoint_rows,
            "weight_digest": _digest(synapses), "lfsr": int(synapses.lfsr)}


def unsupervised_stdp(train_inputs: np.ndarray, train_labels: np.ndarray, test_inputs: np.ndarray,
                      test_labels: np.ndarray, learning_samples: int | None = None, hidden: int = 64,
                      rule: LearningRule = STDP_RULE, pruning: PruningRule = STDP_PRUNING, checkpoints: int = 4,
                      seed: int = 0, core: CoreConfig = LEARNING_CORE, chip=None, window: float = 0.1) -> dict:
    """Demo a: STDP on spoken words with pruning on and off (module docstring).

    The same network (same initial weights) learns ``learning_samples`` training rasters
    (default all; a seeded random choice and order) twice: with ``pruning`` and without. The readout is fitted on
    the hidden features of all training rasters and scored on the test rasters.

    Returns a dict with both runs (``pruning``, ``no_pruning``: see :func:`stdp_learning`)
    and a ``summary``: connectivity at the end, cycles per learning sample over the first
    and last ``window`` of the samples and their ratios; ``cycles_vs_no_pruning_end``
    (the last window's samples learnt without pruning over the same with pruning) is the
    goal's figure (>= 4x fewer by the end), ``cycles_reduction_bound`` the most any
    pruning could reach (the first window's samples learnt with every synapse pruned),
    inference cycles before and after, and the readout accuracies of both runs.
    """
    train_inputs, train_labels = _check_batch(train_inputs, train_labels, "training set")
    test_inputs, test_labels = _check_batch(test_inputs, test_labels, "test set")
    count = len(train_inputs) if learning_samples is None else min(learning_samples, len(train_inputs))
    order = np.random.default_rng(seed).permutation(len(train_inputs))[:count]
    timesteps, channels = train_inputs.shape[1:]
    runs = {}
    for name, rule_pruning in (("pruning", pruning), ("no_pruning", None)):
        network = stdp_network(channels, timesteps, hidden, rule, rule_pruning, seed)
        runs[name] = stdp_learning(network, core, train_inputs[order], (train_inputs, train_labels, test_inputs,
                                                                         test_labels),
                                   checkpoints, chip=chip if name == "pruning" else None)
    span = max(1, int(round(window * count)))

    def cost(run: dict, key: str, part: slice) -> float:
        return float(np.mean(run["per_sample"][key][part]))

    summary = {"learning_samples": count, "hidden": hidden, "window_samples": span}
    for name, run in runs.items():
        first, last = run["checkpoints"][0], run["checkpoints"][-1]
        entry = {"live_fraction_end": last["live_synapses"] / run["stored_synapses"],
                 "readout_logistic_start": first["logistic"], "readout_logistic_end": last["logistic"],
                 "readout_centroid_start": first["nearest_centroid"], "readout_centroid_end": last["nearest_centroid"],
                 "inference_cycles_start": first["inference_cycles"], "inference_cycles_end": last["inference_cycles"]}
        for key in ("cycles", "synaptic_ops"):
            start_cost, end_cost = cost(run, key, slice(0, span)), cost(run, key, slice(-span, None))
            entry[f"{key}_first_window"] = start_cost
            entry[f"{key}_last_window"] = end_cost
            entry[f"{key}_reduction"] = start_cost / end_cost
        summary[name] = entry
    # The goal compares the end of learning with its start, dense: the last window's samples
    # learnt with pruning against the same samples learnt without (the first window of the
    # pruning run is no dense reference, pruning starts within it).
    pruned = summary["pruning"]
    pruned["cycles_vs_no_pruning_end"] = summary["no_pruning"]["cycles_last_window"] / pruned["cycles_last_window"]
    summary["goal_cycles_4x"] = bool(pruned["cycles_vs_no_pruning_end"] >= 4.0)
    # The bound pruning cannot pass: the first window's samples learnt with every synapse
    # already pruned (trace walks, empty sweeps, neuron updates and input words remain),
    # against the same samples learnt dense.
    network = stdp_network(channels, timesteps, hidden, rule, pruning, seed)
    start = golden.initial_synapse_state(network)
    nothing_left = start._replace(live=np.zeros_like(start.live))
    _, _, floor = cycles.learning_cycles(network, core, train_inputs[order[:span]], synapses=nothing_left)
    pruned["cycles_all_pruned_first_window"] = float(np.mean([c.total for c in floor]))
    pruned["cycles_reduction_bound"] = (summary["no_pruning"]["cycles_first_window"]
                                        / pruned["cycles_all_pruned_first_window"])
    summary["chance"] = runs["pruning"]["checkpoints"][0]["chance"]
    return {"runs": runs, "summary": summary}


# ---- b. reward-modulated adaptation to unseen voices ---------------------------------------

def split_by_speaker(speakers: Sequence[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split samples into two halves by speaker (each speaker's samples stay together).

    Returns boolean masks ``(first, second)``; speakers alternate after a seeded shuffle.
    """
    speakers = np.asarray(speakers).astype(str)
    names = np.unique(speakers)
    order = np.random.default_rng(seed).permutation(names.size)
    first_names = set(names[order[::2]].tolist())
    first = np.array([s in first_names for s in speakers.tolist()])
    return first, ~first


def first_spike_readout(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray,
                        thresholds: Sequence[int] | None = None) -> tuple[Network, dict]:
    """Make the output population decide by its first spike, calibrating its threshold.

    A network trained with a max-potential readout (output neurons that integrate and
    never spike) becomes a first-spike network: output neurons fire once (TTFS), the
    first one wins, with early exit. A sample where no output neuron fires would fall back
    to the largest potential, which is not a first-spike decision (and gives the TTFS rule
    nothing to learn from), so it counts as wrong here: the threshold chosen is the
    candidate with the most samples of ``inputs`` (training voices) decided right *by a
    spike*. By default the candidates are quantiles of the largest final output voltage
    of each sample. Returns the network and the calibration table.
    """
    output = network.population(network.output)
    if thresholds is None:
        probe = golden.run(network, core, inputs)
        start = network.neuron_offset(network.output)
        top = probe.state.v[:, start:start + output.size].max(axis=1)
        thresholds = sorted({int(max(1, np.quantile(top, q))) for q in np.linspace(0.02, 0.5, 13)})
    table = []
    best = None
    for threshold in thresholds:
        population = replace(output, threshold=np.full(output.size, min(int(threshold), core.state_max)),
                             single_spike=True)
        candidate = Network(network.n_inputs, [population if p.name == output.name else p
                                               for p in network.populations],
                            network.groups, network.timesteps, network.output,
                            Decision(DecisionMode.FIRST_SPIKE, early_exit=True))
        result = golden.run(candidate, core, inputs)
        by_spike = result.decision_step >= 0
        row = {"threshold": int(threshold), "decided_by_spike": float(np.mean(by_spike)),
               "accuracy": float(np.mean(result.decision == labels)),
               "accuracy_by_spike": float(np.mean(by_spike & (result.decision == labels)))}
        table.append(row)
        if best is None or row["accuracy_by_spike"] > best[0]:
            best = (row["accuracy_by_spike"], candidate)
    return best[1], {"calibration": table}


def _plastic_output(network: Network, rule: LearningRule) -> Network:
    """Return ``network`` with ``rule`` on every group that targets the output population."""
    groups = [SynapseGroup(g.source, g.target, g.weights, g.mask, g.exponent, rule, g.pruning)
              if g.target == network.output else g for g in network.groups]
    if all(g.target != network.output for g in network.groups):
        raise ValueError(f"no synapse group targets the output population {network.output!r}")
    return network.with_groups(groups)


def reward_adaptation(network: Network, core: CoreConfig, adapt_inputs: np.ndarray, adapt_labels: np.ndarray,
                      eval_inputs: np.ndarray, eval_labels: np.ndarray, rounds: int = 3,
                      rule: LearningRule = REWARD_RULE, retain: tuple | None = None, seed: int = 0,
                      chip=None) -> dict:
    """Demo b: adapt the output layer to new voices with rewards alone (module docstring).

    ``network`` decides by first spike (e.g. :func:`first_spike_readout` of a trained
    network). Its groups onto the output population get ``rule`` (reward modulated); for
    ``rounds`` passes over the adaptation samples (shuffled per round with ``seed``) the
    host sends, after each sample's decision, +1 if it was the spoken word and -1
    otherwise. Accuracy is measured on ``eval_inputs`` (held-out samples) before and after
    each round, and on ``retain = (inputs, labels)`` (e.g. the training voices' test set)
    before and after, to show what adaptation costs there.

    Returns a JSON-able dict: accuracies, per-round online accuracy (fraction of +1
    rewards), the rewards sent (per round, in the order sent: rerunning
    :func:`golden.learn` with the same samples and rewards reproduces ``weight_digest``),
    updates applied and synapses changed.
    """
    adapt_inputs, adapt_labels = _check_batch(adapt_inputs, adapt_labels, "adaptation set")
    eval_inputs, eval_labels = _check_batch(eval_inputs, eval_labels, "evaluation set")
    if network.decision.mode is not DecisionMode.FIRST_SPIKE:
        raise ValueError(f"reward adaptation needs first-spike decisions, the network decides by "
                         f"{network.decision.mode.value} (see first_spike_readout)")
    plastic = _plastic_output(network, rule)
    synapses = golden.initial_synapse_state(plastic)
    initial_weights = synapses.weight.copy()
    if chip is not None:
        chip.load(plastic, core)

    def accuracy(inputs: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(golden.run(plastic, core, inputs, synapses).decision == labels))

    result = {"adapt_samples": int(len(adapt_labels)), "eval_samples": int(len(eval_labels)), "rounds": rounds,
              "eval_accuracy": [accuracy(eval_inputs, eval_labels)], "online_accuracy": [], "orders": [],
              "rewards": [], "updates": 0}
    if retain is not None:
        retain_inputs, retain_labels = _check_batch(*retain, "retained set")
        result["retain_accuracy_before"] = accuracy(retain_inputs, retain_labels)
    rng = np.random.default_rng(seed)
    learning_sample_cycles = []
    for round_index in range(rounds):
        order = rng.permutation(len(adapt_labels))
        rewards, decisions, counted = [], [], []
        for index in order:
            raster = adapt_inputs[index][None]
            # The decision does not depend on this sample's reward (the rule acts at the sample end).
            decision = int(golden.run(plastic, core, raster, synapses).decision[0])
            reward = 1 if decision == adapt_labels[index] else -1
            (sample,), synapses, (sample_cycles,) = cycles.learning_cycles(plastic, core, raster, [reward], synapses)
            learning_sample_cycles.append(int(sample_cycles.total))
            counted.append(_counted_cycles(sample_cycles))
            rewards.append(reward)
            decisions.append(decision)
            result["updates"] += int(sample.end_learning_updates[0])
        if chip is not None:
            labels = adapt_labels[order]
            batch = chip.learn(adapt_inputs[order], rewards=lambda k, decided: 1 if decided == labels[k] else -1)
            _check_backend(chip, plastic, synapses, np.array(decisions), batch, counted,
                           f"adaptation round {round_index}")
        result["orders"].append(order.tolist())
        result["rewards"].append(rewards)
        result["online_accuracy"].append(float(np.mean(np.array(rewards) == 1)))
        result["eval_accuracy"].append(accuracy(eval_inputs, eval_labels))
    if retain is not None:
        result["retain_accuracy_after"] = accuracy(retain_inputs, retain_labels)
    result["accuracy_before"] = result["eval_accuracy"][0]
    result["accuracy_after"] = result["eval_accuracy"][-1]
    result["synapses_changed"] = int(np.sum(synapses.weight != initial_weights))
    result["plastic_synapses"] = int(sum(int(g.mask.sum()) for g in plastic.groups if g.learning is not None))
    result["weight_digest"] = _digest(synapses)
    result["learning_cycles_per_sample"] = float(np.mean(learning_sample_cycles)) if learning_sample_cycles else None
    result["rule"] = {"kind": rule.kind.value, "a_plus": rule.a_plus, "a_minus": rule.a_minus, "shift": rule.shift,
                      "winner_only": rule.winner_only, "reward_modulated": rule.reward_modulated}
    return result


# ---- c. inference after pruning ----------------------------------------------------------

def inference_cost(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, neurons, stored synapses, synaptic operations and exact cycles per sample of ``network``."""
    return _inference(network, core, inputs, labels)[0]


def _inference(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """:func:`inference_cost` and the decisions it scored."""
    inputs, labels = _check_batch(inputs, labels, "inference set")
    result = golden.run(network, core, inputs)
    sample_cycles = cycles.sample_cycles(network, core, inputs, result)
    return {"accuracy": float(np.mean(result.decision == labels)),
            "neurons": int(network.n_neurons),
            "stored_synapses": int(network.synapses().count),
            "synaptic_ops": float(result.counters[:, :, golden.Counter.SYNAPTIC_OPS].sum(axis=1).mean()),
            "cycles": float(sample_cycles.mean()),
            "samples_per_second": float(core.clock_hz / sample_cycles.mean())}, result.decision


def magnitude_prune(network: Network, keep_fraction: float) -> Network:
    """Keep the ``keep_fraction`` largest-magnitude stored synapses of every group (``|w << e|``).

    Post-training magnitude pruning, in numpy: the others are removed from the group
    masks, so the core does not store them. Ties at the cut are broken by canonical order.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction {keep_fraction} is outside (0, 1]")
    groups = []
    for group in network.groups:
        stored = group.stored_mask
        count = int(stored.sum())
        keep = max(1, int(round(keep_fraction * count))) if count else 0
        magnitude = np.where(stored, np.abs(group.weights), -1).ravel()
        chosen = np.argsort(-magnitude, kind="stable")[:keep]
        mask = np.zeros(magnitude.size, bool)
        mask[chosen] = True
        groups.append(SynapseGroup(group.source, group.target, group.weights, mask.reshape(stored.shape) & stored,
                                   group.exponent, group.learning, group.pruning))
    return network.with_groups(groups)


def deployed_network(network: Network) -> Network:
    """``network`` as deployed for inference: learning rules dropped, then its dead neurons removed.

    Without its rules a group stores no zero weights (they can no longer change); then
    :func:`~spikestream.model.network.remove_dead_neurons`. Decisions are unchanged.
    """
    groups = [replace(group, learning=None, pruning=None) if group.plastic else group for group in network.groups]
    return remove_dead_neurons(network.with_groups(groups))[0]


#: Demo c's goals (issue 4): at most this accuracy loss in points against the dense network,
GOAL_MAX_LOSS_POINTS = 1.0
#: at least this fraction of the dense network's stored synapses removed as deployed,
GOAL_DEPLOYED_CUT = 0.9
#: and at least this inference speed-up as deployed (exact cycles).
GOAL_SPEEDUP = 5.0


def loss_within(points: float, max_points: float = GOAL_MAX_LOSS_POINTS) -> bool:
    """Whether an accuracy loss (points) is within ``max_points``, up to float noise: a mean of whole
    words can land on the line (9 words of 180 over 5 seeds is exactly one point)."""
    return bool(round(float(points), 9) <= max_points)


def meets_goals(row: dict) -> bool:
    """Whether a :func:`pruned_inference` candidate meets demo c's three goals: within
    :data:`GOAL_MAX_LOSS_POINTS`, deployed cut >= :data:`GOAL_DEPLOYED_CUT`, speed-up >= :data:`GOAL_SPEEDUP`."""
    return bool(loss_within(row["accuracy_loss_points"]) and row["deployed"]["connectivity_cut"] >= GOAL_DEPLOYED_CUT
                and row["speedup"] >= GOAL_SPEEDUP)


def pruned_inference(dense: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray,
                     candidates: dict[str, Network] | None = None,
                     keep_fractions: Sequence[float] = (0.7, 0.5, 0.3, 0.2, 0.1, 0.05),
                     max_loss_points: float = GOAL_MAX_LOSS_POINTS) -> dict:
    """Demo c: connectivity cut and inference speed-up of pruned networks against ``dense``.

    Candidates are ``dense`` pruned by magnitude to each of ``keep_fractions``
    (:func:`magnitude_prune`) plus any given ``candidates`` (e.g. networks pruned during
    training, or after on-chip pruning). Each is scored on ``inputs`` with the golden
    model and the exact cycle model twice: as pruned, and as deployed, with its dead
    neurons removed (:func:`deployed_network`, :func:`~spikestream.model.network.remove_dead_neurons`: neurons left
    with no fan-in or no fan-out cost update cycles every step and delivery cycles per
    spike; ``spikestream info NET --remove-dead-neurons OUT`` writes that network, which
    the driver runs as it is). Removal changes no decision, which is checked here sample
    by sample. As deployed, the events of input channels left without synapses are not
    sent (:func:`~spikestream.model.network.leave_out_unused_inputs`, what
    ``SpikeCore.run(..., leave_out_unused_inputs=True)`` does; checked here to change no
    decision either), so a channel that pruning emptied costs no input word and no
    delivery cycle. The connectivity cut is reported both ways:
    ``connectivity_cut`` counts the stored synapses as pruned, ``deployed.connectivity_cut``
    those the core stores once the dead neurons are gone (what deployment keeps), each
    against the dense network counted the same way. The best candidate is the one with
    the largest deployed cut whose accuracy is at most ``max_loss_points`` below the dense
    one; the goals are a deployed cut >= :data:`GOAL_DEPLOYED_CUT` and a speed-up >=
    :data:`GOAL_SPEEDUP` (deployed, against the dense network deployed the same way).
    """
    baseline = inference_cost(dense, core, inputs, labels)
    dense_network = deployed_network(dense)
    dense_deployed = inference_cost(dense_network, core, leave_out_unused_inputs(dense_network, core, inputs), labels)
    rows = {}
    for fraction in keep_fractions:
        rows[f"magnitude_keep_{fraction:g}"] = magnitude_prune(dense, fraction)
    rows.update(candidates or {})
    table = {}
    for name, network in rows.items():
        entry, decisions = _inference(network, core, inputs, labels)
        deployed = deployed_network(network)
        compact, compact_decisions = _inference(deployed, core, leave_out_unused_inputs(deployed, core, inputs), labels)
        mismatches = int(np.sum(decisions != compact_decisions))
        if mismatches:
            raise AssertionError(f"{name}: removing dead neurons and unused input events changed {mismatches} decisions")
        entry["connectivity_cut"] = 1.0 - entry["stored_synapses"] / baseline["stored_synapses"]
        entry["accuracy_loss_points"] = 100.0 * (baseline["accuracy"] - entry["accuracy"])
        entry["speedup_as_pruned"] = baseline["cycles"] / entry["cycles"]
        entry["deployed"] = {"neurons": compact["neurons"], "stored_synapses": compact["stored_synapses"],
                             "connectivity_cut": 1.0 - compact["stored_synapses"] / dense_deployed["stored_synapses"],
                             "unused_input_channels": int(np.sum(unused_inputs(deployed))),
                             "cycles": compact["cycles"], "samples_per_second": compact["samples_per_second"]}
        entry["speedup"] = dense_deployed["cycles"] / compact["cycles"]
        table[name] = entry
    within = {name: e for name, e in table.items() if loss_within(e["accuracy_loss_points"], max_loss_points)}
    best = max(within, key=lambda name: within[name]["deployed"]["connectivity_cut"]) if within else None
    summary = {"best": best, "max_loss_points": max_loss_points}
    if best is not None:
        summary.update({"connectivity_cut": table[best]["connectivity_cut"], "speedup": table[best]["speedup"],
                        "deployed": table[best]["deployed"],
                        "speedup_as_pruned": table[best]["speedup_as_pruned"],
                        "accuracy_loss_points": table[best]["accuracy_loss_points"],
                        "goal_cut_90": bool(table[best]["deployed"]["connectivity_cut"] >= GOAL_DEPLOYED_CUT),
                        "goal_speedup_5x": bool(table[best]["speedup"] >= GOAL_SPEEDUP)})
    baseline["deployed"] = {"neurons": dense_deployed["neurons"], "stored_synapses": dense_deployed["stored_synapses"],
                            "cycles": dense_deployed["cycles"]}
    return {"dense": baseline, "candidates": table, "summary": summary}
