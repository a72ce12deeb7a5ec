"""Smoke test of bench/bench_core.py at tiny size: the JSON's shape and that its figures agree.

The cycle figures are checked against formulas computed here independently of the
cycle model, and, in one simulation of the small reference core, against the RTL's STEP
packets and cycles register.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikestream.model.config import CoreConfig
from spikestream.model.cycles import DELIVER_PIPELINE_CYCLES, REPORT_CYCLES
from spikestream.sim.cases import SMALL_CORE


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_core")


def test_fanout_figures_follow_the_row_formula(bench):
    fanouts, mixed, lane_counts = (8, 5), (9, 3, 1), (1, 2, 4)
    report = bench.fanout_benchmark(sources=3, lane_counts=lane_counts, fanouts=fanouts, mixed=mixed)
    assert set(report["per_lanes"]) == {"1", "2", "4"}
    scenarios = {f"3 sources x fan-out {f}": [f] * 3 for f in fanouts} | {f"mixed fan-outs {list(mixed)}": list(mixed)}
    assert set(report["scenarios"]) == set(scenarios)
    for name, scenario in scenarios.items():
        for lanes, figures in zip(lane_counts, report["scenarios"][name]):
            rows = sum(-(-f // lanes) for f in scenario)
            assert figures["lanes"] == lanes
            assert figures["synaptic_ops"] == sum(scenario)
            assert figures["delivery_cycles"] == DELIVER_PIPELINE_CYCLES + rows
            assert figures["synops_per_cycle_per_lane"] == round(sum(scenario) / (DELIVER_PIPELINE_CYCLES + rows)
                                                                 / lanes, 4)
            assert figures["synops_per_cycle_per_lane"] <= figures["row_rounding_bound"] <= 1.0
            assert figures["step_synops_per_cycle_per_lane"] < figures["synops_per_cycle_per_lane"]
    # One lane never rounds: only the 4 pipeline cycles separate it from 1.0.
    assert report["scenarios"]["3 sources x fan-out 8"][0]["row_rounding_bound"] == 1.0


def test_audio_figures_are_consistent(bench):
    rng = np.random.default_rng(3)
    inputs = rng.random((6, 12, 8)) < 0.2
    network = bench.random_audio_network(rng, inputs, hidden=16, outputs=3)
    core = CoreConfig()
    report = bench.audio_benchmark(network, core, inputs, None, bench.describe(network, "test"), lane_counts=(1, 8))
    json.dumps(report)  # serialisable
    exact = report["default_core"]["first spike, no early exit"]
    early = report["default_core"]["first spike, early exit"]
    for figures in (exact, early):
        assert figures["inferences_per_s"] == pytest.approx(core.clock_hz / figures["sample_cycles_mean"], rel=1e-3)
        assert figures["sample_cycles_mean"] > figures["compute_cycles_mean"] > 0
    assert exact["steps_run_mean"] == network.timesteps
    assert early["steps_run_mean"] <= exact["steps_run_mean"]
    assert early["sample_cycles_mean"] <= exact["sample_cycles_mean"]
    assert exact["input_events_per_sample"] == pytest.approx(inputs.sum(axis=(1, 2)).mean(), abs=0.1)
    sweep = report["lanes_sweep"]["first spike, no early exit"]
    assert [row["lanes"] for row in sweep] == [1, 8]
    assert sweep[1]["sample_cycles_mean"] == exact["sample_cycles_mean"]  # the default core has 8 lanes
    assert sweep[0]["sample_cycles_mean"] >= sweep[1]["sample_cycles_mean"]


def test_simulation_matches_the_cycle_model(bench, tmp_path):
    """The small reference core: the stream player's speed build and the standard build (shared with the RTL tests)."""
    core = SMALL_CORE
    rng = np.random.default_rng(5)
    inputs = rng.random((2, 10, 8)) < 0.25
    network = bench.random_audio_network(rng, inputs, hidden=12, outputs=3)
    audio_jobs = {name: (variant, inputs) for name, variant in bench.audio_networks(network).items()}
    check_jobs = {"burst": bench.burst_network([core.lanes * 2 + 1, core.lanes, 3], core.max_neurons)}
    runs = (("player", 0.0), ("player", 0.3), ("lean", 0.0), ("cocotbext", 0.3))
    report = bench.sim_benchmark(core, audio_jobs, check_jobs, runs=runs)
    json.dumps(report)
    assert report["rtl_matches_model"], report
    assert set(report["rtl_checks"]) == {"burst"} and report["rtl_checks"]["burst"]["harness"] == "player"
    assert [(r["harness"], r["pause"]) for r in report["runs"]] == [run for run in runs for _ in audio_jobs]
    for run in report["runs"]:
        assert run["rtl_matches_model"] and not run["mismatches"]
        assert run["clock_cycles"] >= run["busy_cycles"] > 0
        # wall_s is rounded to milliseconds, the speed is not
        for cycles in ("busy_cycles", "clock_cycles"):
            slowest = run[cycles] / (run["wall_s"] + 5e-4)
            fastest = run[cycles] / max(run["wall_s"] - 5e-4, 1e-9)
            assert slowest <= run[f"{cycles}_per_s"] <= fastest
    # The burst's busy cycles by hand: step 0 delivers nothing, step 1 the rows of 3 sources.
    fanouts = [core.lanes * 2 + 1, core.lanes, 3]
    rows = sum(-(-f // core.lanes) for f in fanouts)
    update = -(-core.max_neurons // core.neuron_lanes) + 5
    step0, step1 = 1 + update + REPORT_CYCLES, DELIVER_PIPELINE_CYCLES + rows + update + REPORT_CYCLES
    end = core.max_neurons + 2 + 5  # decision scan over the (silent) output population, SUMMARY
    assert report["rtl_checks"]["burst"]["busy_cycles"] == (step0 + 1) + (step1 + 1) + (end + 1)
    assert {r["job"] for r in report["runs"]} == set(audio_jobs)


def test_player_runs_alone(bench):
    """Runs of the stream player only (no cocotb harness run, so no run folders) report as the mixed ones do."""
    rng = np.random.default_rng(6)
    inputs = rng.random((2, 10, 8)) < 0.25
    network = bench.random_audio_network(rng, inputs, hidden=12, outputs=3)
    audio_jobs = {name: (variant, inputs) for name, variant in bench.audio_networks(network).items()}
    report = bench.sim_benchmark(SMALL_CORE, audio_jobs, {}, runs=(("player", 0.0), ("player", 0.0)))
    assert report["rtl_matches_model"], report
    assert "run_dirs" not in report
    assert [r["harness"] for r in report["runs"]] == ["player"] * 2 * len(audio_jobs)
