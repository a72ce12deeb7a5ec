"""``spikestream verify`` end to end on the small core (its Verilator build is shared with test_rtl_core)."""

from __future__ import annotations

import json

import pytest

from spikestream.cli import build_parser, main
from spikestream.model.config import CoreConfig
from spikestream.sim.cases import SMALL_CORE, core_capacity
from spikestream.sim.verify import core_configurations


def _clean_summary(capsys, arguments: list[str]) -> dict:
    """Run ``spikestream verify ARGUMENTS``; return its JSON summary after the checks every run must pass."""
    status = main(["verify", *arguments])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0, summary
    assert summary["mismatches"] == 0 and summary["errors"] == []
    assert summary["golden_spikes"] > 0, "the cases gave the checks nothing to compare"
    return summary


def test_verify_prints_a_clean_summary(capsys):
    summary = _clean_summary(capsys, ["--cases", "2", "--seed", "40", "--samples", "1", "--core", SMALL_CORE.to_json()])
    assert summary["cases"] == 2 and summary["first_failing_seed"] is None and summary["reproducer"] is None


def test_verify_learning_prints_a_clean_summary(capsys):
    summary = _clean_summary(capsys, ["--learning", "--cases", "2", "--seed", "4", "--samples", "3", "--core",
                                      SMALL_CORE.to_json()])
    assert summary["cases"] == 2


def test_verify_fill_runs_cases_that_use_the_whole_core(capsys):
    summary = _clean_summary(capsys, ["--fill", "--cases", "1", "--seed", "301", "--samples", "1", "--core",
                                      SMALL_CORE.to_json()])
    assert summary["cases"] == 1
    # What the simulation ran: seed 301 drawn to fill the core (all 1024 synapses, 63 steps).
    assert summary["largest_case"] == core_capacity(SMALL_CORE)


@pytest.mark.parametrize("arguments", [
    # Seed 8 runs on the random core seed 7 draws: 16 lanes, 8 neuron lanes, 23 inputs, 1 864
    # synapses, 16-bit states, 6-bit weights (no core of the other RTL tests has 16 lanes).
    ["--fill", "--cases", "2", "--seed", "7", "--configs", "2", "--samples", "1"],
    # Seed 12 learns on the random learning core seed 11 draws.
    ["--learning", "--fill", "--cases", "2", "--seed", "11", "--configs", "2", "--samples", "2"],
], ids=["random-core", "random-learning-core"])
def test_verify_draws_random_cores(capsys, arguments):
    summary = _clean_summary(capsys, arguments)
    assert summary["configurations"] == 2
    # The second case ran on the random core and filled its inputs.
    random_core = core_configurations(int(arguments[arguments.index("--seed") + 1]), 2, "--learning" in arguments)[1]
    assert random_core != SMALL_CORE
    assert summary["largest_case"]["inputs"] == max(random_core.max_inputs, SMALL_CORE.max_inputs)


@pytest.mark.parametrize("arguments, message", [
    # A regression that tests nothing must not look like a pass.
    (["--cases", "0"], "argument --cases: expected a whole number >= 1, got 0"),
    (["--cases=-5", "--pause", "7", "--samples=-2"], "argument --cases: expected a whole number >= 1, got -5"),
    (["--samples=-2"], "argument --samples: expected a whole number >= 1, got -2"),
    (["--configs", "0"], "argument --configs: expected a whole number >= 1, got 0"),
    (["--seed=-1"], "argument --seed: expected a whole number >= 0, got -1"),
    (["--pause", "7"], "argument --pause: expected a probability in [0, 1), got 7.0"),
    (["--pause", "1"], "argument --pause: expected a probability in [0, 1), got 1.0"),
    (["--core", "lanes=4"], "argument --core: cannot read lanes=4: No such file or directory; expected CoreConfig "
                            "fields as JSON text"),
    (["--core", '{"lanes": 0}'], "argument --core: the JSON text: lanes = 0 is outside the allowed range [1, 64]"),
    (["--core", '{"bogus": 1}'], "unknown core configuration fields ['bogus']"),
    (["--core", SMALL_CORE.to_json(), "--configs", "3"], "argument --configs: not allowed with argument --core"),
    (["--core", SMALL_CORE.to_json(), "--configs", "2"], "argument --configs: not allowed with argument --core"),
])
def test_verify_refuses_bad_options(cli_refusal, capsys, arguments, message):
    error = cli_refusal(["verify", *arguments])
    assert message in error and "Traceback" not in error


def test_verify_core_reads_json_files(cli_refusal, capsys, tmp_path):
    good, bad = tmp_path / "core.json", tmp_path / "bad.json"
    good.write_text(SMALL_CORE.to_json())
    bad.write_text("lanes=4")
    assert build_parser().parse_args(["verify", "--core", str(good)]).core == SMALL_CORE
    assert f"argument --core: {bad} is not valid JSON" in cli_refusal(["verify", "--core", str(bad)])


class _ShortQueueCore(CoreConfig):
    """Broken on purpose: built with an 8-event queue while its config_hash says it is the core it
    replaces, so the testbench's identity check passes and only the comparison can catch it."""

    def hash32(self) -> int:
        return SMALL_CORE.hash32()


def test_verify_catches_a_broken_core_and_prints_a_reproducer(capsys, monkeypatch):
    """A regression that cannot fail proves nothing: on a core that drops events the golden model
    keeps, verify exits 1, names the failing seed and its first mismatches, and its reproducer
    command fails again the same way."""
    import dataclasses
    import shlex

    from spikestream.rtl import top

    real = top.generate_verilog
    monkeypatch.setattr(top, "generate_verilog", lambda core: real(_ShortQueueCore(
        **dataclasses.asdict(dataclasses.replace(core, event_queue_depth=8)))))
    arguments = ["verify", "--fill", "--cases", "1", "--seed", "301", "--samples", "1", "--core", SMALL_CORE.to_json()]
    assert main(arguments) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["failing_seeds"] == [301] and summary["failing_cases"] == 1 and summary["mismatches"] > 0
    assert summary["first_mismatches"] and all(line.startswith("seed 301") for line in summary["first_mismatches"])
    reproducer = shlex.split(summary["reproducer"])
    assert reproducer[:6] == ["spikestream", "verify", "--cases", "1", "--seed", "301"] and "--fill" in reproducer
    assert main(reproducer[1:]) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["failing_seeds"] == [301] and again["first_mismatches"] == summary["first_mismatches"]
