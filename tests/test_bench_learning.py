"""bench/bench_learning.py demo c helpers: the seed study and the rows it reads (no training here)."""

from __future__ import annotations

import numpy as np
import pytest

from spikestream.model import INPUT, CoreConfig, Decision, DecisionMode, Network, Population, SynapseGroup
from spikestream.model import golden, learning_demos

CORE = CoreConfig()


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_learning")


def _network(rng, keep: float) -> Network:
    """input(6) -> hidden(12) -> out(3), with ``keep`` of the synapses drawn at random."""
    groups = []
    for source, target, shape in ((INPUT, "hidden", (6, 12)), ("hidden", "out", (12, 3))):
        weights = rng.integers(-40, 90, shape)
        groups.append(SynapseGroup(source, target, weights, rng.random(shape) < keep))
    return Network(6, [Population("hidden", 12, threshold=60, voltage_decay=400),
                       Population("out", 3, threshold=10 ** 6)], groups, 10, "out", Decision(DecisionMode.MAX_POTENTIAL))


def _with_junk(rng, keep_junk: float) -> Network:
    """input(6) -> hidden(8) -> out(3) plus a "junk" population fed by the inputs that reaches nothing.

    Removing junk synapses cuts connectivity without changing a decision.
    """
    hidden = rng.integers(-40, 90, (6, 8))
    readout = rng.integers(-40, 90, (8, 3))
    junk = rng.integers(1, 90, (6, 20))
    groups = [SynapseGroup(INPUT, "hidden", hidden), SynapseGroup("hidden", "out", readout),
              SynapseGroup(INPUT, "junk", junk, rng.random(junk.shape) < keep_junk)]
    return Network(6, [Population("hidden", 8, threshold=60, voltage_decay=400), Population("junk", 20, threshold=50),
                       Population("out", 3, threshold=10 ** 6)], groups, 10, "out", Decision(DecisionMode.MAX_POTENTIAL))


def test_demo_pruned_keeps_the_seed_study_out_of_the_best_choice(bench, monkeypatch):
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    dense = _with_junk(np.random.default_rng(9), 1.0)
    inputs = rng.random((12, 10, 6)) < 0.3
    labels = golden.run(dense, CORE, inputs).decision  # the dense network is right on every sample
    part = SimpleNamespace(inputs=inputs, labels=labels)
    # Every candidate decides as the dense network does; the seed-study ones cut the most.
    # The dense network of training seed 1 is another network: a third of the samples right.
    networks = {(None, 0): dense, (0.5, 0): _with_junk(np.random.default_rng(9), 0.5),
                (0.5, 1): _with_junk(np.random.default_rng(9), 0.0), (0.5, 2): _with_junk(np.random.default_rng(9), 0.1),
                (None, 1): _with_junk(np.random.default_rng(1), 1.0), (None, 2): dense}
    validation = SimpleNamespace(inputs=inputs[:6], labels=labels[:6])
    monkeypatch.setattr(bench, "_pruned_demo_splits", lambda settings, seed: SimpleNamespace(
        test=part, holdout=part, validation=validation))
    monkeypatch.setattr(bench, "_pruned_demo_settings", lambda settings: {"hidden": (8,)})
    monkeypatch.setattr(bench, "_demo_network", lambda splits, demo, target, seed, data_seed=None, pruning="useful": (
        networks[(target, seed)], {"cached": "test", "training_seconds": None}))
    settings = {"prune_targets": {"useful": (0.5,)}, "seed_study_targets": {"useful": (0.5,)},
                "seed_study_seeds": (1, 2)}
    result = bench.demo_pruned(settings, 0)
    for split in ("test", "holdout"):
        # The seed-study rows cut the most at no loss, yet are never the best: they are scored apart.
        assert result[split]["summary"]["best"] in result[split]["candidates"]
        assert not set(result[split]["candidates"]) & set(result[split]["seed_study_candidates"])
        assert set(result[split]["seed_study_candidates"]) == {"pruned_useful_0.5_seed+1",
                                                              "pruned_useful_0.5_seed+2"}
    study = result["seed_study"]["useful_0.5"]
    rows = [result["test"]["candidates"]["pruned_useful_0.5"]] + [
        result["test"]["seed_study_candidates"][f"pruned_useful_0.5_seed+{k}"] for k in (1, 2)]
    assert study["connectivity_cut"] == [r["connectivity_cut"] for r in rows]
    assert study["deployed_connectivity_cut"] == [r["deployed"]["connectivity_cut"] for r in rows]
    assert study["connectivity_cut"][1] > study["connectivity_cut"][0]
    assert study["test"]["accuracy_loss_points"] == [0.0, 0.0, 0.0] and study["test"]["within_1_point"] == 3
    # Against the dense run of the same seed: seed 1's dense network is another one.
    other_dense = float(np.mean(golden.run(networks[(None, 1)], CORE, inputs).decision == labels))
    assert other_dense < 1.0
    assert study["test"]["dense_accuracy"] == [1.0, other_dense, 1.0]
    assert study["test"]["loss_against_same_seed_dense"] == pytest.approx([0.0, 100.0 * (other_dense - 1.0), 0.0])
    paired = study["test"]["loss_against_same_seed_dense"]
    assert study["test"]["standard_error_against_same_seed_dense"] == pytest.approx(
        np.std(paired, ddof=1) / np.sqrt(3)) and study["test"]["standard_error_against_same_seed_dense"] > 0
    assert result["training"]["dense_seed+1"] == {"cached": "test", "training_seconds": None}
    assert study["test"]["speedup"] == [r["speedup"] for r in rows]
    assert study["test"]["synaptic_ops"] == [r["synaptic_ops"] for r in rows]
    # Within a point on the mean (seed 1's dense network is the worse one), but nothing is cut as deployed.
    assert study["test"]["goals_on_seed_means"] == {"loss_within": True, "goal_cut_90": False,
                                                    "goal_speedup_5x": False}
    # The junk population is dead in every network, the dense one included: deployed, all are the
    # same network (speed-up exactly 1), while as pruned the cut junk synapses look like a gain.
    assert all(r["speedup"] == 1.0 for r in rows)
    assert all(r["speedup_as_pruned"] > 1.0 for r in rows[1:])
    assert result["test"]["dense"]["deployed"]["neurons"] == dense.n_neurons - 20
    # Chosen on val (six samples): no candidate here is 5x faster, so none is chosen; the main-table
    # rows are scored, the seed-study ones are not.
    assert result["chosen_on_val"]["chosen"] is None and result["chosen_on_val"]["val_samples"] == 6
    assert "pruned_useful_0.5" in result["chosen_on_val"]["val"]
    assert not set(result["chosen_on_val"]["val"]) & set(result["test"]["seed_study_candidates"])


def test_pruning_families_are_rows_of_their_own(bench, monkeypatch):
    """The same kept fraction pruned both ways gives two rows, trained with their own pruning."""
    from types import SimpleNamespace

    rng = np.random.default_rng(6)
    dense = _network(np.random.default_rng(2), 1.0)
    inputs = rng.random((6, 10, 6)) < 0.3
    part = SimpleNamespace(inputs=inputs, labels=golden.run(dense, CORE, inputs).decision)
    asked = []

    def demo_network(splits, demo, target, seed, data_seed=None, pruning="useful"):
        asked.append((pruning, target, seed))
        keep = {None: 1.0, "magnitude": 0.6, "useful": 0.4}[pruning if target else None]
        return _network(np.random.default_rng(2), 1.0) if keep == 1.0 else learning_demos.magnitude_prune(
            dense, keep), {"cached": "test", "training_seconds": None}

    monkeypatch.setattr(bench, "_pruned_demo_splits", lambda settings, seed: SimpleNamespace(test=part, holdout=None))
    monkeypatch.setattr(bench, "_pruned_demo_settings", lambda settings: {"hidden": (12,)})
    monkeypatch.setattr(bench, "_demo_network", demo_network)
    settings = {"prune_targets": {"magnitude": (0.5,), "useful": (0.5,)}, "seed_study_targets": {"useful": (0.5,)},
                "seed_study_seeds": (1,)}
    result = bench.demo_pruned(settings, 0)
    assert {"pruned_in_training_0.5", "pruned_useful_0.5"} <= set(result["test"]["candidates"])
    assert set(result["test"]["seed_study_candidates"]) == {"pruned_useful_0.5_seed+1"}
    assert list(result["seed_study"]) == ["useful_0.5"]
    assert ("magnitude", 0.5, 0) in asked and ("useful", 0.5, 0) in asked and ("useful", 0.5, 1) in asked


def test_pruning_families_are_checked(bench):
    with pytest.raises(ValueError, match=r"pruning families \['random'\]"):
        bench._targets({"prune_targets": {"random": (0.1,)}}, "prune_targets")
    stray = {"prune_targets": {"magnitude": (0.1,)}, "seed_study_targets": {"useful": (0.1,)}}
    with pytest.raises(ValueError, match="not among prune_targets"):
        bench._pruned_demo_settings(stray)
    with pytest.raises(SystemExit):
        bench.main(["--train-pruned", "random:0.1"])
    with pytest.raises(SystemExit):
        bench.main(["--families", "channels,random"])
    with pytest.raises(SystemExit):
        bench.main(["--only", "c", "--families", "channels"])  # the small settings have no 'channels' row


def test_families_option_keeps_only_the_named_families(bench, monkeypatch):
    seen = {}
    monkeypatch.setattr(bench, "demo_pruned", lambda settings, seed, rtl: seen.update(settings) or {})
    assert bench.main(["--full", "--only", "c", "--families", "channels,activity"]) == 0
    assert set(seen["prune_targets"]) == set(seen["seed_study_targets"]) == {"channels", "activity"}
    assert seen["prune_targets"]["channels"] == (0.095,)


def test_best_candidate_is_chosen_by_the_cut_as_deployed():
    """A network that only dropped dead synapses cuts more as pruned, but nothing as deployed."""
    rng = np.random.default_rng(9)
    dense = _with_junk(rng, 1.0)
    junk_gone = _with_junk(np.random.default_rng(9), 0.0)  # the 120 dead junk synapses removed
    groups = list(dense.groups)
    readout = groups[1]
    mask = readout.stored_mask.copy()
    mask[:2] = False  # 6 live readout synapses removed (hidden neurons 0 and 1 reach nothing now)
    groups[1] = SynapseGroup(readout.source, readout.target, readout.weights, mask)
    thinner = dense.with_groups(groups)
    inputs = np.random.default_rng(3).random((8, 10, 6)) < 0.3
    labels = golden.run(dense, CORE, inputs).decision
    result = learning_demos.pruned_inference(dense, CORE, inputs, labels, {"junk_gone": junk_gone, "thinner": thinner},
                                             keep_fractions=(), max_loss_points=100.0)
    rows = result["candidates"]
    assert rows["junk_gone"]["connectivity_cut"] > rows["thinner"]["connectivity_cut"]
    assert rows["junk_gone"]["deployed"]["connectivity_cut"] == 0.0 < rows["thinner"]["deployed"]["connectivity_cut"]
    assert result["summary"]["best"] == "thinner"
    assert result["summary"]["deployed"]["connectivity_cut"] == rows["thinner"]["deployed"]["connectivity_cut"]


def test_deployed_rows_send_no_events_of_channels_without_synapses():
    """A candidate whose input channel 0 lost all its synapses: as deployed its events are not sent, so it
    runs in fewer cycles than the same network streamed whole, with the same decisions."""
    from spikestream.model import cycles

    dense = _with_junk(np.random.default_rng(9), 1.0)
    groups = [SynapseGroup(g.source, g.target, g.weights, np.where(np.arange(6)[:, None] == 0, False, g.stored_mask))
              if g.source == INPUT else g for g in dense.groups]
    silent = dense.with_groups(groups)
    inputs = np.random.default_rng(3).random((8, 10, 6)) < 0.3
    inputs[:, :, 0] = True
    labels = golden.run(dense, CORE, inputs).decision
    row = learning_demos.pruned_inference(dense, CORE, inputs, labels, {"silent": silent}, keep_fractions=(),
                                          max_loss_points=100.0)["candidates"]["silent"]
    deployed = learning_demos.deployed_network(silent)
    whole = cycles.sample_cycles(deployed, CORE, inputs, golden.run(deployed, CORE, inputs)).mean()
    assert row["deployed"]["unused_input_channels"] == 1
    assert row["deployed"]["cycles"] < whole - 8 * 10 / 8  # at least a word and a row per left-out event
    assert row["accuracy"] == float(np.mean(golden.run(silent, CORE, inputs).decision == labels))


def test_cache_keys_keep_the_plain_networks_and_mark_the_other_families(bench, monkeypatch):
    from types import SimpleNamespace

    from spikestream.model.audio.corpus import CORPUS_VERSION
    from spikestream.model.train import demo as demo_module
    from spikestream.model.train.prune import PruningConfig, PruningMethod

    keys, configs = [], []
    monkeypatch.setattr(bench, "_cached_network", lambda key, train: keys.append(key) or (train(), {}))
    trained = SimpleNamespace(cpu=lambda: SimpleNamespace(to_network=lambda: None))
    monkeypatch.setattr(demo_module, "train_demo_network", lambda splits, demo, core, seed, pruning, **_: (
        configs.append(pruning) or (trained, None, None, SimpleNamespace(seconds=1.0))))
    splits = SimpleNamespace(frontend=SimpleNamespace(fingerprint=lambda: "58bab45c954a" + "0" * 20))
    demo = {"hidden": (256,), "float_epochs": 24, "quant_epochs": 6, "augment_copies": 4, "input_dropout": 0.15,
            "cosine": True}
    bench._demo_network(splits, demo, None, 0)
    bench._demo_network(splits, demo, 0.1, 1, data_seed=0, pruning="magnitude")
    bench._demo_network(splits, demo, 0.095, 2, data_seed=0, pruning="useful")
    bench._demo_network(splits, demo, 0.1, 3, data_seed=0, pruning="rewire")
    bench._demo_network(splits, demo, 0.095, 0, pruning="activity")
    stem = f"digits-v{CORPUS_VERSION}-demo-58bab45c954a-h256-e24-6-4-0.15-True"
    # The first two are the names of the networks cached before useful-only pruning existed.
    assert keys == [f"{stem}-p1-s0", f"{stem}-p0.1-s1-d0", f"{stem}-p0.095-useful-s2-d0", f"{stem}-p0.1-rewire-s3-d0",
                    f"{stem}-p0.095-activity-s0"]
    assert configs == [None, PruningConfig(PruningMethod.MAGNITUDE, target=0.1, useful_only=False),
                       PruningConfig(PruningMethod.MAGNITUDE, target=0.095, useful_only=True),
                       PruningConfig(PruningMethod.REWIRE, target=0.1),
                       PruningConfig(PruningMethod.MAGNITUDE, target=0.095, useful_only=True, activity_exponent=1.0)]


def test_row_network_recomputes_magnitude_rows(bench):
    dense = _network(np.random.default_rng(4), 1.0)
    candidates = {"pruned_in_training_0.1": dense}
    assert bench._row_network(dense, candidates, "pruned_in_training_0.1") is dense
    assert bench._row_network(dense, candidates, "magnitude_keep_0.3") == learning_demos.magnitude_prune(dense, 0.3)


def test_rtl_check_runs_the_deployed_network_on_verilator(bench):
    """The deployed network (dead neurons removed, unused inputs not sent) on the RTL equals the models."""
    from spikestream.sim.cases import SMALL_CORE

    rng = np.random.default_rng(5)
    network = _network(rng, 0.25)
    assert SMALL_CORE.max_inputs >= 6 and SMALL_CORE.max_neurons >= 15
    inputs = rng.random((3, 10, 6)) < 0.4
    report = bench._rtl_check(network, SMALL_CORE, inputs)
    if "skipped" in report:
        pytest.skip(report["skipped"])
    assert report["neurons"] < network.n_neurons  # something was removed
    assert report["decisions_equal_golden"] and report["decisions_equal_network_before_removal"]
    assert report["cycles_equal_cycle_model"]


def test_standard_error_of_the_seed_means(bench):
    assert bench._standard_error([2.0]) is None  # one seed: no spread to measure
    assert bench._standard_error([0.0, 2.0, 4.0]) == pytest.approx(2.0 / np.sqrt(3))
    assert bench._standard_error([1.0, 1.0]) == 0.0


def test_goals_on_seed_means_need_the_mean_loss_within_a_point(bench):
    goals = bench._goals_on_seed_means
    assert goals([0.4, 0.9, -0.9], [0.901, 0.95, 0.92], [5.1, 4.8, 5.4]) == {
        "loss_within": True, "goal_cut_90": True, "goal_speedup_5x": True}  # mean speed-up 5.1
    assert goals([0.4, 0.9, -0.9], [0.899, 0.95, 0.92], [5.1, 4.8, 5.4]) == {
        "loss_within": True, "goal_cut_90": False, "goal_speedup_5x": True}  # one seed below 90 %
    assert goals([0.4, 0.9, -0.9], [0.95] * 3, [5.1, 4.8, 4.9]) == {
        "loss_within": True, "goal_cut_90": True, "goal_speedup_5x": False}  # mean speed-up 4.93
    assert goals([0.4, 2.2, 0.9], [0.95] * 3, [6.0] * 3) == {  # mean 1.17: neither goal, however fast
        "loss_within": False, "goal_cut_90": False, "goal_speedup_5x": False}
    # On the lines: 9 words of 180 over 5 seeds is a mean of exactly one point, up to float noise.
    word = 100 / 180
    assert goals([2 * word, 2 * word, 2 * word, 2 * word, word], [0.9] * 5, [5.0] * 5) == {
        "loss_within": True, "goal_cut_90": True, "goal_speedup_5x": True}


def test_events_and_loss_pool_every_seed_study_network(bench):
    def entry(ops, losses, holdout=True):
        split = {"synaptic_ops": ops, "loss_against_same_seed_dense": losses}
        return {"test": split, **({"holdout": split} if holdout else {})}

    # Two families: the more events a network delivers, the less it loses (exactly linear: r = -1).
    study = {"useful_0.1": entry([100.0, 200.0], [3.0, 2.0]), "activity_0.1": entry([300.0, 400.0], [1.0, 0.0])}
    assert bench._events_and_loss(study) == {"test": {"networks": 4, "correlation": pytest.approx(-1.0)},
                                             "holdout": {"networks": 4, "correlation": pytest.approx(-1.0)}}
    mixed = {"useful_0.1": entry([100.0, 200.0, 300.0], [0.0, 2.0, 1.0], holdout=False)}
    assert bench._events_and_loss(mixed) == {"test": {"networks": 3, "correlation": pytest.approx(0.5)}}
    # Too few networks, or nothing that varies: no correlation to report.
    assert bench._events_and_loss({"useful_0.1": entry([100.0, 200.0], [1.0, 0.0])}) == {}
    assert bench._events_and_loss({"useful_0.1": entry([100.0, 200.0, 300.0], [1.0, 1.0, 1.0])}) == {}
    assert bench._events_and_loss({}) == {}


def test_the_network_chosen_on_val_never_sees_test(bench, monkeypatch):
    """The choice reads ``val`` only; ``test`` and ``holdout`` are reported for the chosen row."""
    def row(loss, cut, speedup, accuracy=0.9):
        return {"accuracy_loss_points": loss, "accuracy": accuracy, "speedup": speedup,
                "deployed": {"connectivity_cut": cut}}

    on_val = {"a": row(0.5, 0.95, 6.0), "b": row(0.9, 0.97, 5.5),  # b: the largest cut that qualifies
              "c": row(1.3, 0.99, 9.0),  # more than a point lost
              "d": row(0.0, 0.98, 4.9),  # too slow
              "e": row(0.0, 0.89, 7.0)}  # cut below 90 %
    monkeypatch.setattr(bench.learning_demos, "pruned_inference", lambda *a, **k: {"candidates": on_val})
    result = {"test": {"candidates": {"b": row(1.7, 0.96, 5.4)}},
              "holdout": {"candidates": {"b": row(0.6, 0.96, 5.6)}}}
    part = type("Part", (), {"inputs": None, "labels": np.zeros(80)})()
    choice = bench._chosen_on_val(None, CORE, part, {}, result)
    assert choice["chosen"] == "b" and choice["val_samples"] == 80
    assert choice["test"] == {"accuracy_loss_points": 1.7, "deployed_connectivity_cut": 0.96, "speedup": 5.4,
                              "goals_met": False}
    assert choice["holdout"]["goals_met"] is True
    assert choice["val"]["c"] == {"accuracy_loss_points": 1.3, "deployed_connectivity_cut": 0.99, "speedup": 9.0}
    # Equal cuts: the higher val accuracy; nothing qualifying: nothing chosen, nothing reported.
    on_val.update(f=row(0.9, 0.97, 5.5, accuracy=0.95))
    result["test"]["candidates"]["f"] = result["holdout"]["candidates"]["f"] = row(0.0, 0.97, 5.5)
    assert bench._chosen_on_val(None, CORE, part, {}, result)["chosen"] == "f"
    on_val.clear()
    on_val.update(c=row(1.3, 0.99, 9.0))
    assert bench._chosen_on_val(None, CORE, part, {}, result) == {"val_samples": 80, "chosen": None, "val": {
        "c": {"accuracy_loss_points": 1.3, "deployed_connectivity_cut": 0.99, "speedup": 9.0}}}
