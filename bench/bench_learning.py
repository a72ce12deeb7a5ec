"""Benchmark on-chip learning and pruning (issue 4) on spoken digits; print (and write) JSON.

Three demonstrations (:mod:`spikestream.model.learning_demos`), all computed with the
golden model (the specification, bit-exact with the core) and the exact cycle model
(:mod:`spikestream.model.cycles`):

``a`` unsupervised
    Pair STDP of a 32 -> ``stdp_hidden`` layer on TTFS-encoded digits, pruning on and off:
    live synapses after every learning sample, exact core cycles of every learning
    sample (goal: >= 4x fewer by the end with pruning), and a readout (nearest centroid,
    logistic regression) of the learned hidden spikes.
``b`` reward
    A network trained by backpropagation (``spikestream.model.train``, rate coding,
    max-potential readout), turned into a first-spike decider
    (:func:`~spikestream.model.learning_demos.first_spike_readout`), adapts its output layer
    with reward-modulated STDP to an engine it never heard (the corpus's ``holdout``
    split: festival voices); half of those speakers adapt, the other half measure.
``c`` pruned inference
    A network trained with ``spikestream demo``'s settings (``pruned_hidden`` hidden
    neurons) against magnitude-pruned versions and networks pruned during training,
    each scored as pruned and as deployed (dead neurons removed): connectivity cut
    within 1 accuracy point (goal >= 90 %) and the inference speed-up from exact cycles
    (goal >= 5x), on ``test`` and ``holdout``, on the default core and on one with 16
    neuron lanes (``wide_update_core``); ``--rtl-samples N`` runs the best deployed
    network on the RTL too.

Trained networks are cached under ``<cache>/bench-learning`` (``.spkn`` files), keyed by
their settings, so a second run skips training.

Usage::

    python bench/bench_learning.py --out bench-learning.json            # small (minutes)
    python bench/bench_learning.py --full --out bench-learning-full.json
    python bench/bench_learning.py --only a                             # one demonstration
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from typing import NamedTuple

# One BLAS thread: the golden model's matrix products are small (see bench/README.md).
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from spikestream.model import learning_demos  # noqa: E402
from spikestream.model.audio import FrontendConfig  # noqa: E402
from spikestream.model.audio.datasets import load_dataset  # noqa: E402

#: Sizes of the two runs. ``stdp_samples``: learning samples of demo a; ``readout_samples``:
#: training rasters its readout is fitted on; ``hidden``: trained network's hidden layer;
#: ``prune_targets`` / ``seed_study_targets``: kept fractions of demo c per :data:`PRUNINGS` family.
SETTINGS = {
    "small": dict(stdp_samples=150, stdp_hidden=64, readout_samples=400, hidden=64, float_epochs=20,
                  quant_epochs=4, rounds=3, pruned_demo="quick", pruned_hidden=48,
                  prune_targets={"useful": (0.1,)}, seed_study_targets={}, seed_study_seeds=()),
    "full": dict(stdp_samples=900, stdp_hidden=256, readout_samples=900, hidden=256, float_epochs=30,
                 quant_epochs=6, rounds=4, pruned_demo="full", pruned_hidden=256,
                 prune_targets={"magnitude": (0.2, 0.15, 0.14, 0.13, 0.12, 0.1, 0.096, 0.08),
                                "useful": (0.095, 0.08), "activity": (0.095,), "activity0.25": (0.095,),
                                "rewire": (0.1,), "channels": (0.095,)},
                 seed_study_targets={"magnitude": (0.15, 0.1, 0.096), "useful": (0.095, 0.08), "activity": (0.095,),
                                     "activity0.25": (0.095,), "rewire": (0.1,), "channels": (0.095,)},
                 seed_study_seeds=(1, 2, 3, 4)),
}


class PruningFamily(NamedTuple):
    """How the rows of one family of demo c are pruned in training, and how they are named."""

    config: dict  #: :class:`~spikestream.model.train.prune.PruningConfig` arguments besides the target
    key_suffix: str  #: marks the family in cache keys
    row_prefix: str  #: starts its row names in the JSON


#: Demo c's families: ``magnitude``, every live synapse competes (the rows of sessions 2 to 6,
#: unmarked in the cache so their networks stay found); ``useful``, only synapses that can
#: reach the outputs; ``activity``, ``activity0.25``, the same with each synapse scored ``|w|``
#: times its source's spikes per sample to the power 1 or 0.25; ``rewire``, gradient
#: rewiring, the connectivity at the target from the first step.
PRUNINGS = {
    "magnitude": PruningFamily(dict(method="magnitude", useful_only=False), "", "pruned_in_training"),
    "useful": PruningFamily(dict(method="magnitude", useful_only=True), "-useful", "pruned_useful"),
    "activity": PruningFamily(dict(method="magnitude", useful_only=True, activity_exponent=1.0), "-activity",
                              "pruned_activity"),
    "activity0.25": PruningFamily(dict(method="magnitude", useful_only=True, activity_exponent=0.25),
                                  "-activity0.25", "pruned_activity0.25"),
    "rewire": PruningFamily(dict(method="rewire"), "-rewire", "pruned_rewire"),
    "channels": PruningFamily(dict(method="magnitude", useful_only=True, activity_exponent=1.0,
                                   input_channels=80 / 96), "-channels80", "pruned_channels"),
}
#: The family of a network pruned in training when none is named (``--train-pruned``).
DEFAULT_PRUNING = "useful"


#: The default core with 16 neuron lanes (the widest the configuration allows).
WIDE_UPDATE_CORE = dataclasses.replace(learning_demos.LEARNING_CORE, neuron_lanes=16)


def _cached_network(key: str, train) -> tuple:
    """The network cached under ``key`` (for the default core), or ``train()``'s, then cached.

    ``train() -> (network, training_seconds)``. Returns ``(network, info)`` with ``info``
    saying where it came from.
    """
    from spikestream.model.audio.corpus import cache_root
    from spikestream.model.config import CoreConfig
    from spikestream.model.fileformat import load_network, save_network

    core = CoreConfig()
    path = cache_root() / "bench-learning" / f"{key}.spkn"
    if path.exists():
        network, stored_core = load_network(path)
        if stored_core == core:
            return network, {"cached": str(path), "training_seconds": None}
    network, seconds = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_network(path, network, core)
    return network, {"cached": None, "training_seconds": round(seconds, 1)}


def _trained_network(splits, hidden: int, float_epochs: int, quant_epochs: int, seed: int):
    """Train (or load from the cache) a rate-coded max-potential network on the training voices."""
    import torch

    from spikestream.model.audio.corpus import CORPUS_VERSION
    from spikestream.model.config import CoreConfig
    from spikestream.model.network import DecisionMode
    from spikestream.model.train.layers import ArchitectureConfig, build_model
    from spikestream.model.train.trainer import Dataset, TrainConfig, train

    # The front end is part of the key: a network trained on other rasters is not reused.
    # ("-p1", unpruned: the key from when this function could also prune, so cached networks stay found.)
    frontend = splits["train"].frontend.fingerprint()[:12]
    key = f"digits-v{CORPUS_VERSION}-rate-{frontend}-h{hidden}-e{float_epochs}+{quant_epochs}-p1-s{seed}"

    def fit():
        torch.set_num_threads(1)
        architecture = ArchitectureConfig(hidden=(hidden,), decision=DecisionMode.MAX_POTENTIAL)
        training = TrainConfig(float_epochs=float_epochs, quant_epochs=quant_epochs, seed=seed, threads=1,
                               input_dropout=0.15)
        model = build_model(architecture, splits["train"].X.shape[2], len(splits["train"].classes),
                            splits["train"].X.shape[1], CoreConfig(), torch.Generator().manual_seed(seed))
        began = time.monotonic()
        train(model, Dataset(splits["train"].X, splits["train"].y), Dataset(splits["val"].X, splits["val"].y),
              training, progress=False)
        return model.cpu().to_network(), time.monotonic() - began

    return _cached_network(key, fit)


def demo_unsupervised(settings: dict, seed: int) -> dict:
    """Demo a on TTFS-encoded digits: learn ``stdp_samples`` training utterances, score on ``test``."""
    frontend = FrontendConfig()  # TTFS, the core's coding
    train = load_dataset("digits", frontend, split="train")
    test = load_dataset("digits", frontend, split="test")
    order = np.random.default_rng(seed).permutation(len(train))[:settings["readout_samples"]]
    return learning_demos.unsupervised_stdp(train.X[order], train.y[order], test.X, test.y,
                                            learning_samples=settings["stdp_samples"],
                                            hidden=settings["stdp_hidden"], seed=seed)


def _rate_splits() -> dict:
    """The rate-coded digit splits the trained networks use (rate coding trained best, docs/training.md)."""
    frontend = FrontendConfig(encoder="rate")
    return {name: load_dataset("digits", frontend, split=name) for name in ("train", "val", "test", "holdout")}


def demo_reward(settings: dict, seed: int, splits: dict) -> dict:
    """Demo b: first-spike readout of the trained network, adapted with rewards to half the holdout speakers."""
    from spikestream.model.config import CoreConfig

    core = CoreConfig()
    dense, training = _trained_network(splits, settings["hidden"], settings["float_epochs"],
                                       settings["quant_epochs"], seed)
    train = splits["train"]
    calibration = np.random.default_rng(seed).permutation(len(train))[:300]
    network, calibrated = learning_demos.first_spike_readout(dense, core, train.X[calibration], train.y[calibration])
    holdout = splits["holdout"]
    adapt, evaluate = learning_demos.split_by_speaker(holdout.speakers, seed)
    result = learning_demos.reward_adaptation(network, core, holdout.X[adapt], holdout.y[adapt], holdout.X[evaluate],
                                              holdout.y[evaluate], rounds=settings["rounds"],
                                              retain=(splits["test"].X, splits["test"].y), seed=seed)
    result["adapt_speakers"] = sorted(set(holdout.speakers[adapt].tolist()))
    result["eval_speakers"] = sorted(set(holdout.speakers[evaluate].tolist()))
    result["threshold_calibration"] = calibrated["calibration"]
    result["training"] = training
    # The trained network with its own (max-potential) readout, for reference.
    result["max_potential_accuracy"] = {
        "holdout_eval": learning_demos.inference_cost(dense, core, holdout.X[evaluate],
                                                      holdout.y[evaluate])["accuracy"],
        "test": learning_demos.inference_cost(dense, core, splits["test"].X, splits["test"].y)["accuracy"]}
    # Bulky per-sample lists stay out of the report; the digest identifies the learned weights.
    result.pop("orders")
    result["rewards_per_round"] = [int(np.sum(np.array(r) == 1)) for r in result.pop("rewards")]
    return result


def _targets(settings: dict, key: str) -> list[tuple[str, float]]:
    """``(pruning, kept fraction)`` of the networks of ``settings[key]`` (``prune_targets``, ``seed_study_targets``)."""
    unknown = set(settings[key]) - set(PRUNINGS)
    if unknown:
        raise ValueError(f"{key} names pruning families {sorted(unknown)}; expected some of {sorted(PRUNINGS)}")
    return [(pruning, target) for pruning, targets in settings[key].items() for target in targets]


def _pruned_demo_settings(settings: dict) -> dict:
    """The training settings of demo c: ``spikestream demo``'s, with the hidden layer of ``settings``."""
    stray = set(_targets(settings, "seed_study_targets")) - set(_targets(settings, "prune_targets"))
    if stray:  # the seed study compares other seeds with the main row of the same target
        raise ValueError(f"seed_study_targets {sorted(stray)} are not among prune_targets {settings['prune_targets']}")
    from spikestream.model.train.demo import DEMO_SETTINGS

    return dict(DEMO_SETTINGS[settings["pruned_demo"]], hidden=(settings["pruned_hidden"],))


def _demo_network(splits, demo: dict, prune_target: float | None, seed: int, data_seed: int | None = None,
                  pruning: str = DEFAULT_PRUNING):
    """Train (or load from the cache) a network with ``spikestream demo``'s settings ``demo``.

    ``seed`` seeds the training; ``data_seed`` (default ``seed``) is the seed ``splits``
    were loaded with (it draws the augmented copies), part of the cache key when it differs.
    ``pruning`` (a :data:`PRUNINGS` key) says how a ``prune_target`` is reached.
    """
    from spikestream.model.audio.corpus import CORPUS_VERSION
    from spikestream.model.config import CoreConfig
    from spikestream.model.train.demo import MASK_SETTINGS, train_demo_network
    from spikestream.model.train.prune import PruningConfig

    frontend = splits.frontend.fingerprint()[:12]
    schedule = "-".join(str(demo[k]) for k in ("float_epochs", "quant_epochs", "augment_copies", "input_dropout",
                                                "cosine"))
    # Masks are absent from the keys of the networks trained without them.
    masks = "".join(f"-{name}{demo[name]}" for name in MASK_SETTINGS if demo.get(name))
    key = (f"digits-v{CORPUS_VERSION}-demo-{frontend}-h{'-'.join(map(str, demo['hidden']))}-e{schedule}{masks}"
           f"-p{prune_target or 1}" + (PRUNINGS[pruning].key_suffix if prune_target else "")
           + f"-s{seed}" + ("" if data_seed in (None, seed) else f"-d{data_seed}"))

    def fit():
        config = None if prune_target is None else PruningConfig(target=prune_target, **PRUNINGS[pruning].config)
        model, _, _, result = train_demo_network(splits, demo, CoreConfig(), seed, threads=1, pruning=config,
                                                 progress=False)
        return model.cpu().to_network(), result.seconds

    return _cached_network(key, fit)


def _pruned_demo_splits(demo: dict, seed: int):
    """The digit splits a network of demo c's settings ``demo`` trains and is scored on."""
    from spikestream.model.train.data import load_splits
    from spikestream.model.train.demo import demo_frontend

    return load_splits("digits", demo_frontend(demo), None, seed, demo["augment_copies"])


def _dense_name(other_seed: int) -> str:
    """The name of the dense network of training seed ``--seed + other_seed`` (seed study)."""
    return f"dense_seed+{other_seed}"


def _pruned_name(pruning: str, target: float, other_seed: int = 0) -> str:
    """The row name of a network pruned in training to ``target`` (``other_seed``: a seed-study run)."""
    return f"{PRUNINGS[pruning].row_prefix}_{target:g}" + (f"_seed+{other_seed}" if other_seed else "")


def demo_pruned(settings: dict, seed: int, rtl_samples: int = 0) -> dict:
    """Demo c: a network trained with the demo's settings against pruned versions of it, on two cores.

    With ``rtl_samples``, the best candidate as deployed (dead neurons removed) also runs
    that many test samples on the RTL (Verilator): its decisions and cycles must equal the
    golden and cycle models'.
    """
    from spikestream.model.config import CoreConfig

    demo = _pruned_demo_settings(settings)
    splits = _pruned_demo_splits(demo, seed)
    core = CoreConfig()
    dense, training = _demo_network(splits, demo, None, seed)
    candidates, trainings = {}, {"dense": training}
    for pruning, target in _targets(settings, "prune_targets"):
        network, info = _demo_network(splits, demo, target, seed, pruning=pruning)
        candidates[_pruned_name(pruning, target)] = network
        trainings[_pruned_name(pruning, target)] = info
    # Training noise: the same targets pruned with other training seeds (same data), scored apart so
    # that the best candidate is never picked among seeds, and the dense network trained with those
    # seeds too, so that each pruned run can also be compared with the dense run of its own seed.
    study, dense_seeds = {}, {}
    if settings["seed_study_targets"]:
        for other in settings["seed_study_seeds"]:
            dense_seeds[other], trainings[_dense_name(other)] = _demo_network(splits, demo, None, seed + other,
                                                                              data_seed=seed)
    for pruning, target in _targets(settings, "seed_study_targets"):
        for other in settings["seed_study_seeds"]:
            network, info = _demo_network(splits, demo, target, seed + other, data_seed=seed, pruning=pruning)
            study[_pruned_name(pruning, target, other)] = network
            trainings[_pruned_name(pruning, target, other)] = info
    result = {}
    parts = [("test", splits.test)] + ([("holdout", splits.holdout)] if splits.holdout is not None else [])
    for name, part in parts:
        scored = learning_demos.pruned_inference(dense, core, part.inputs, part.labels, candidates)
        # The same networks on a core that updates 16 neurons per cycle instead of 4: the update
        # phase is the fixed cost of every step that pruning cannot remove (see bench/README.md).
        wide = learning_demos.pruned_inference(dense, WIDE_UPDATE_CORE, part.inputs, part.labels, candidates)
        scored["wide_update_core"] = {"neuron_lanes": WIDE_UPDATE_CORE.neuron_lanes, "dense": wide["dense"],
                                      "candidates": wide["candidates"], "summary": wide["summary"]}
        if study:
            scored["seed_study_candidates"] = learning_demos.pruned_inference(dense, core, part.inputs, part.labels,
                                                                              study, keep_fractions=())["candidates"]
            scored["seed_study_dense"] = {_dense_name(other): learning_demos.inference_cost(
                network, core, part.inputs, part.labels) for other, network in dense_seeds.items()}
        result[name] = scored
    result["seed_study"] = _seed_study(result, settings)
    result["seed_study_events"] = _events_and_loss(result["seed_study"])
    if getattr(splits, "validation", None) is not None and splits.validation is not splits.test:
        result["chosen_on_val"] = _chosen_on_val(dense, core, splits.validation, candidates, result)
    best = result["test"]["summary"]["best"]
    if rtl_samples and best is not None:
        result["rtl"] = _rtl_check(_row_network(dense, candidates, best), core, splits.test.inputs[:rtl_samples])
    result["training"] = trainings
    result["network"] = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in demo.items()},
                         "neurons": dense.n_neurons, "stored_synapses": dense.synapses().count}
    result["evaluated_on"] = {"test": f"{len(splits.test.labels)} utterances of unseen espeak-ng and flite voices"}
    if splits.holdout is not None:
        result["evaluated_on"]["holdout"] = f"{len(splits.holdout.labels)} utterances of an unseen engine (festival)"
    return result


def _chosen_on_val(dense, core, part, candidates: dict, result: dict) -> dict:
    """The main-table network chosen on ``val``, blind to ``test``, and how it does on the other splits.

    ``summary.best`` is chosen on ``test`` itself among many candidates, so its ``test``
    figures are biased upwards. Here the choice (the rule written down before session 10
    computed any ``val`` figure) sees ``val`` only: among the candidates within
    :data:`learning_demos.GOAL_MAX_LOSS_POINTS` of the dense network on ``val``, with a
    deployed cut >= ``GOAL_DEPLOYED_CUT`` and a speed-up >= ``GOAL_SPEEDUP`` there, the
    largest deployed cut (ties: the higher ``val`` accuracy); none if no candidate qualifies.
    ``goals_met`` says whether the chosen network meets all three goals on each other split.
    """
    scored = learning_demos.pruned_inference(dense, core, part.inputs, part.labels, candidates)["candidates"]
    qualifying = [name for name, row in scored.items() if learning_demos.meets_goals(row)]
    chosen = max(qualifying, key=lambda name: (scored[name]["deployed"]["connectivity_cut"], scored[name]["accuracy"]),
                 default=None)
    choice = {"val_samples": int(len(part.labels)), "chosen": chosen,
              "val": {name: {"accuracy_loss_points": row["accuracy_loss_points"],
                             "deployed_connectivity_cut": row["deployed"]["connectivity_cut"],
                             "speedup": row["speedup"]} for name, row in scored.items()}}
    if chosen is not None:
        for split in [name for name in ("test", "holdout") if name in result]:
            row = result[split]["candidates"][chosen]
            choice[split] = {"accuracy_loss_points": row["accuracy_loss_points"],
                             "deployed_connectivity_cut": row["deployed"]["connectivity_cut"],
                             "speedup": row["speedup"], "goals_met": learning_demos.meets_goals(row)}
    return choice


def _seed_study(result: dict, settings: dict) -> dict:
    """Per seed-study target: cuts (as pruned and deployed); per split, every training seed's losses and speed-ups.

    Losses are against the bench seed's dense network (``accuracy_loss_points``, as in the
    main table) and against the dense network trained with the same seed
    (``loss_against_same_seed_dense``, with the mean's standard error over the seeds);
    ``dense_accuracy`` lists the dense runs by seed.
    """
    study = {}
    seeds = settings["seed_study_seeds"]
    for pruning, target in _targets(settings, "seed_study_targets"):
        names = [_pruned_name(pruning, target)] + [_pruned_name(pruning, target, other) for other in seeds]
        entry = {}
        for split in [name for name in ("test", "holdout") if name in result]:
            every = {**result[split]["candidates"], **result[split].get("seed_study_candidates", {})}
            rows = [every[name] for name in names]
            dense = [result[split]["dense"]["accuracy"]] + [
                result[split]["seed_study_dense"][_dense_name(other)]["accuracy"] for other in seeds]
            entry.setdefault("connectivity_cut", [r["connectivity_cut"] for r in rows])
            entry.setdefault("deployed_connectivity_cut", [r["deployed"]["connectivity_cut"] for r in rows])
            losses = [r["accuracy_loss_points"] for r in rows]
            paired = [100.0 * (d - r["accuracy"]) for d, r in zip(dense, rows)]
            speedups = [r["speedup"] for r in rows]
            entry[split] = {"accuracy_loss_points": losses, "mean_loss_points": float(np.mean(losses)),
                            "within_1_point": int(sum(loss <= 1.0 for loss in losses)),
                            "dense_accuracy": dense, "accuracy": [r["accuracy"] for r in rows],
                            "loss_against_same_seed_dense": paired,
                            "mean_loss_against_same_seed_dense": float(np.mean(paired)),
                            "standard_error_against_same_seed_dense": _standard_error(paired),
                            "speedup": speedups, "synaptic_ops": [r["synaptic_ops"] for r in rows],
                            "goals_on_seed_means": _goals_on_seed_means(paired, entry["deployed_connectivity_cut"],
                                                                        speedups)}
        study[f"{pruning}_{target:g}"] = entry
    return study


def _events_and_loss(study: dict) -> dict:
    """Per split, over every network of the seed study: do the networks that deliver more events lose less?

    ``correlation``: Pearson's r between a network's synaptic operations per sample and its
    loss against the dense run of its seed, pooled over all families, targets and seeds
    (``networks`` of them); absent where there are fewer than 3 networks or either is constant.
    Accuracy per stored synapse and cycles per sample pull a pruning rule in opposite
    directions when accuracy follows the delivered events (bench/README.md, demo c).
    """
    pooled = {}
    for entry in study.values():
        for split in ("test", "holdout"):
            if split in entry:
                ops, losses = pooled.setdefault(split, ([], []))
                ops.extend(entry[split]["synaptic_ops"])
                losses.extend(entry[split]["loss_against_same_seed_dense"])
    return {split: {"networks": len(ops), "correlation": float(np.corrcoef(ops, losses)[0, 1])}
            for split, (ops, losses) in pooled.items()
            if len(ops) >= 3 and np.ptp(ops) > 0 and np.ptp(losses) > 0}


def _goals_on_seed_means(paired: list[float], deployed_cuts: list[float], speedups: list[float]) -> dict:
    """Demo c's goals read on a seed study (the rule written down before session 8's and 9's runs).

    ``loss_within``: the mean paired loss is at most :data:`learning_demos.GOAL_MAX_LOSS_POINTS`;
    ``goal_cut_90``: that, and every seed's deployed cut at least ``GOAL_DEPLOYED_CUT``;
    ``goal_speedup_5x``: that, and the mean speed-up at least ``GOAL_SPEEDUP``.
    """
    within = learning_demos.loss_within(np.mean(paired))
    return {"loss_within": within,
            "goal_cut_90": within and bool(min(deployed_cuts) >= learning_demos.GOAL_DEPLOYED_CUT),
            "goal_speedup_5x": within and bool(np.mean(speedups) >= learning_demos.GOAL_SPEEDUP)}


def _standard_error(values: list[float]) -> float | None:
    """Standard error of the mean of ``values`` (sample standard deviation / sqrt(n)); None below two values.

    The seed study's paired losses are one per training seed; with 230 test words a seed
    moves a network by whole words (0.43 points each), so a mean is read with its error.
    """
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def _row_network(dense, candidates: dict, name: str):
    """The network of a row of :func:`learning_demos.pruned_inference` (magnitude rows are recomputed)."""
    if name in candidates:
        return candidates[name]
    return learning_demos.magnitude_prune(dense, float(name.removeprefix("magnitude_keep_")))


#: The equalities :func:`_rtl_check` reports; the benchmark fails when one does not hold.
RTL_CHECKS = ("decisions_equal_golden", "decisions_equal_network_before_removal", "cycles_equal_cycle_model")


def _rtl_check(network, core, inputs) -> dict:
    """Run ``network`` as deployed (:func:`learning_demos.deployed_network`, events of unused input channels
    left out) on the RTL (Verilator).

    Its decisions must equal the golden model's and those of ``network``, its cycles the cycle model's.
    """
    from spikestream.model import cycles, golden, leave_out_unused_inputs
    from spikestream.model.train.evaluate import RtlUnavailable, _run_rtl

    deployed = learning_demos.deployed_network(network)
    sent = leave_out_unused_inputs(deployed, core, inputs)  # as deployed: no events of channels without synapses
    began = time.monotonic()
    try:
        rtl = _run_rtl(deployed, core, sent)
    except RtlUnavailable as error:
        return {"skipped": str(error)}
    expected = golden.run(deployed, core, sent)
    whole = golden.run(network, core, inputs)
    equal = (np.array_equal(rtl["decision"], expected.decision), np.array_equal(rtl["decision"], whole.decision),
             np.array_equal(rtl["cycles"], cycles.sample_cycles(deployed, core, sent, expected)))
    return {"samples": int(inputs.shape[0]), "neurons": int(deployed.n_neurons),
            **{name: bool(holds) for name, holds in zip(RTL_CHECKS, equal)},
            "rtl_cycles_per_sample": float(rtl["cycles"].mean()), "seconds": round(time.monotonic() - began, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="benchmark size (tens of minutes on 1 core)")
    parser.add_argument("--only", default="abc", help="which demonstrations: any of a, b, c (default abc)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stdp-hidden", type=int, help="hidden neurons of demonstration a (default: the size's)")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--rtl-samples", type=int, default=0, metavar="N",
                        help="demonstration c: also run N test samples of the best pruned network, as deployed, "
                             "on the RTL (Verilator)")
    parser.add_argument("--families", metavar="NAMES",
                        help="demonstration c: only these pruning families, comma separated (of "
                             f"{', '.join(PRUNINGS)}; default all), so a study of one family trains only its "
                             "networks and the dense ones")
    parser.add_argument("--train-pruned", metavar="[PRUNING:]TARGET[+SEED]",
                        help="only train one network of demonstration c into the cache (TARGET: 'dense' or a kept "
                             f"fraction; PRUNING: one of {', '.join(PRUNINGS)}, default {DEFAULT_PRUNING}; +SEED: "
                             "a seed-study network, training seed --seed + SEED), so that several can train in "
                             "parallel processes before the benchmark runs")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set("abc")
    if unknown:
        parser.error(f"--only takes letters among a, b, c; got {''.join(sorted(unknown))}")
    size = "full" if args.full else "small"
    settings = dict(SETTINGS[size])
    if args.train_pruned:
        spec, _, other = args.train_pruned.partition("+")
        pruning, target = spec.split(":", 1) if ":" in spec else (DEFAULT_PRUNING, spec)
        if pruning not in PRUNINGS:
            parser.error(f"--train-pruned {args.train_pruned}: pruning {pruning!r} is not one of {sorted(PRUNINGS)}")
        try:
            target = None if target == "dense" else float(target)
            other = int(other or 0)
        except ValueError:
            parser.error(f"--train-pruned {args.train_pruned}: expected 'dense' or a kept fraction, then "
                         f"optionally +SEED (e.g. 0.1, magnitude:0.1 or 0.1+2)")
        if target is not None and not 0.0 < target <= 1.0:
            parser.error(f"--train-pruned {args.train_pruned}: the kept fraction must be in (0, 1]")
        demo = _pruned_demo_settings(settings)
        _, info = _demo_network(_pruned_demo_splits(demo, args.seed), demo, target, args.seed + other,
                                data_seed=args.seed, pruning=pruning)
        print(json.dumps(info))
        return 0
    if args.families:
        chosen = [name.strip() for name in args.families.split(",")]
        unknown = sorted(set(chosen) - set(PRUNINGS))
        if unknown:
            parser.error(f"--families {args.families}: {unknown} are not pruning families; expected some of "
                         f"{sorted(PRUNINGS)}")
        for key in ("prune_targets", "seed_study_targets"):
            settings[key] = {name: targets for name, targets in settings[key].items() if name in chosen}
        if not settings["prune_targets"]:
            parser.error(f"--families {args.families}: the {size} settings train none of them"
                         + ("" if args.full else " (the families are in --full)"))
    if args.stdp_hidden is not None:
        if args.stdp_hidden < 1:
            parser.error(f"--stdp-hidden {args.stdp_hidden}: at least 1 neuron")
        settings["stdp_hidden"] = args.stdp_hidden
    report = {"benchmark": "on-chip learning and pruning (issue 4)",
              "command": "python bench/bench_learning.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "size": size, "settings": settings, "seed": args.seed,
              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                          "load_average_1min": round(os.getloadavg()[0], 2)},
              "core": learning_demos.LEARNING_CORE.to_dict()}
    seconds = {}
    splits = _rate_splits() if "b" in args.only else None
    for letter, name, run in (("a", "unsupervised_stdp", lambda: demo_unsupervised(settings, args.seed)),
                              ("b", "reward_adaptation", lambda: demo_reward(settings, args.seed, splits)),
                              ("c", "pruned_inference", lambda: demo_pruned(settings, args.seed, args.rtl_samples))):
        if letter not in args.only:
            continue
        began = time.monotonic()
        print(f"[{letter}] {name} ...", file=sys.stderr, flush=True)
        report[name] = run()
        seconds[name] = round(time.monotonic() - began, 1)
    report["seconds"] = seconds
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    rtl = report.get("pruned_inference", {}).get("rtl", {})
    failed = [name for name in RTL_CHECKS if rtl.get(name) is False]
    if failed:
        print(f"RTL check of demonstration c failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
