"""``spikestream verify`` end to end on the small core (its Verilator build is shared with test_rtl_core)."""

from __future__ import annotations

import json

from spikestream.cli import main
from spikestream.sim.cases import SMALL_CORE


def test_verify_prints_a_clean_summary(capsys):
    status = main(["verify", "--cases", "2", "--seed", "40", "--samples", "1", "--core", SMALL_CORE.to_json()])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0, summary
    assert summary["cases"] == 2 and summary["mismatches"] == 0 and summary["first_failing_seed"] is None
    assert summary["reproducer"] is None and summary["errors"] == []


def test_verify_learning_prints_a_clean_summary(capsys):
    status = main(["verify", "--learning", "--cases", "2", "--seed", "4", "--samples", "3", "--core",
                   SMALL_CORE.to_json()])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0, summary
    assert summary["cases"] == 2 and summary["mismatches"] == 0 and summary["errors"] == []
