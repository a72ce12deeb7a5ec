"""bench/bench_learning.py demo c helpers: the seed study and the rows it reads (no training here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from spikestream.model import INPUT, CoreConfig, Decision, DecisionMode, Network, Population, SynapseGroup
from spikestream.model import learning_demos

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_learning.py"
CORE = CoreConfig()


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_learning", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_learning"] = module
    spec.loader.exec_module(module)
    return module


def _network(rng, keep: float) -> Network:
    """input(6) -> hidden(12) -> out(3), with ``keep`` of the synapses drawn at random."""
    groups = []
    for source, target, shape in ((INPUT, "hidden", (6, 12)), ("hidden", "out", (12, 3))):
        weights = rng.integers(-40, 90, shape)
        groups.append(SynapseGroup(source, target, weights, rng.random(shape) < keep))
    return Network(6, [Population("hidden", 12, threshold=60, voltage_decay=400),
                       Population("out", 3, threshold=10 ** 6)], groups, 10, "out", Decision(DecisionMode.MAX_POTENTIAL))


def test_seed_study_reads_the_main_and_the_seed_rows(bench):
    rng = np.random.default_rng(3)
    dense = _network(rng, 1.0)
    inputs = rng.random((16, 10, 6)) < 0.3
    labels = rng.integers(0, 3, 16)
    main = {"pruned_in_training_0.3": _network(rng, 0.3)}
    study = {"pruned_in_training_0.3_seed+1": _network(rng, 0.3), "pruned_in_training_0.3_seed+2": _network(rng, 0.3)}
    result = {}
    for split in ("test", "holdout"):
        scored = learning_demos.pruned_inference(dense, CORE, inputs, labels, main, keep_fractions=())
        scored["seed_study_candidates"] = learning_demos.pruned_inference(dense, CORE, inputs, labels, study,
                                                                          keep_fractions=())["candidates"]
        result[split] = scored
    # Seed-study rows are never candidates for the best network.
    assert result["test"]["summary"]["best"] in (None, "pruned_in_training_0.3")
    report = bench._seed_study(result, {"seed_study_targets": (0.3,), "seed_study_seeds": (1, 2)})
    rows = [result["test"]["candidates"]["pruned_in_training_0.3"]] + [
        result["test"]["seed_study_candidates"][f"pruned_in_training_0.3_seed+{k}"] for k in (1, 2)]
    entry = report["0.3"]["test"]
    assert entry["accuracy_loss_points"] == [r["accuracy_loss_points"] for r in rows]
    assert entry["mean_loss_points"] == pytest.approx(np.mean(entry["accuracy_loss_points"]))
    assert entry["within_1_point"] == sum(r["accuracy_loss_points"] <= 1.0 for r in rows)
    assert entry["speedup"] == [r["speedup"] for r in rows]
    assert report["0.3"]["connectivity_cut"] == [r["connectivity_cut"] for r in rows]


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
    assert report["neurons"] < network.n_neurons  # something was removed
    assert report["decisions_equal_golden"] and report["decisions_equal_network_before_removal"]
    assert report["cycles_equal_cycle_model"]
