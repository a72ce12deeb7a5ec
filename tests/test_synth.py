"""Tests of the synthesis report (spikestream.rtl.synth)."""

from __future__ import annotations

import json
import os

import pytest
from amaranth.back import verilog

from spikestream.cli import build_parser
from spikestream.cli import main as cli_main
from spikestream.model.config import CoreConfig
from spikestream.rtl.synth import XC7Z020, SynthReport, count_resources, synthesize
from spikestream.sim.tb_axi import StreamLoopback

#: A small core: enough of every block to synthesize in well under a minute.
SMALL_CORE = {"max_neurons": 32, "max_inputs": 16, "max_synapses": 256, "lanes": 2, "event_queue_depth": 32}


def test_count_resources_follows_the_counting_rules():
    cells = {"LUT1": 2, "LUT6": 10, "INV": 1, "RAM64M": 3, "SRLC32E": 2, "MUXF7": 5, "CARRY4": 4,
             "FDRE": 20, "FDSE": 3, "FDCE": 1, "RAMB36E1": 2, "RAMB18E1": 3, "DSP48E1": 7, "IBUF": 9}
    assert count_resources(cells) == {"lut": 2 + 10 + 1 + 12 + 2, "ff": 24, "ramb36": 2, "ramb18": 3, "dsp": 7}


def test_report_utilization_and_fit():
    report = SynthReport(toplevel="x", lut=26_600, ff=10, ramb36=139, ramb18=4, dsp=0, seconds=1.0,
                         verilog_hash="0", cells={})
    utilization = report.utilization()
    assert utilization["LUT"] == {"used": 26_600, "available": XC7Z020["LUT"], "percent": 50.0}
    assert report.bram36 == 141 and not report.fits()
    assert "fits xc7z020: NO" in report.table()
    assert json.loads(json.dumps(report.to_json()))["fits_xc7z020"] is False


def test_synthesize_counts_a_stream_fifo_and_caches_it():
    design = verilog.convert(StreamLoopback(fifo_depth=8), name="stream_loopback", emit_src=False)
    report = synthesize(design, "stream_loopback")
    # 3 x 33-bit registers in the two skid buffers + FIFO control: some hundred flops;
    # the 8 x 33-bit FIFO storage maps to distributed RAM (RAM32M: 6 data bits each).
    assert 100 <= report.ff <= 400, report.cells
    assert report.cells.get("RAM32M", 0) >= 6 and report.lut >= 24, report.cells
    assert report.dsp == 0 and report.bram36 == 0
    again = synthesize(design, "stream_loopback")
    assert again == report, "the cached report differs from the fresh one"
    # The cache is what answers (a marked report comes back), and use_cache=False synthesizes again.
    from spikestream.sim.runner import cache_dir

    path = cache_dir("synth") / f"stream_loopback-{report.verilog_hash}" / "report.json"
    marked = json.loads(path.read_text())
    marked["seconds"] = -1.0
    path.write_text(json.dumps(marked))
    assert synthesize(design, "stream_loopback").seconds == -1.0
    fresh = synthesize(design, "stream_loopback", use_cache=False)
    assert fresh.seconds > 0 and fresh.lut == report.lut and fresh.cells == report.cells
    assert json.loads(path.read_text())["seconds"] == fresh.seconds


def test_cli_synth_json_for_a_small_core(capsys):
    overrides = [item for name, value in SMALL_CORE.items() for item in ("--set", f"{name}={value}")]
    status = cli_main(["synth", "--json", *overrides])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["fits_xc7z020"]
    assert data["core"]["lanes"] == 2 and data["core_hash"] == f"0x{CoreConfig(**SMALL_CORE).hash32():08x}"
    assert data["lut"] > 500 and data["ff"] > 200 and data["utilization"]["LUT"]["available"] == 53_200


# Measured on the 2-core development machine under load: 237 s wall, 115 s CPU (Yosys
# 0.70 via yowasp). CI always runs it; locally it runs on request (cached by Verilog hash).
@pytest.mark.skipif(not (os.environ.get("SPIKESTREAM_SYNTH_DEFAULT") or os.environ.get("CI")),
                    reason="synthesizing the default core takes several minutes: it runs in CI (CI=true) "
                           "or with SPIKESTREAM_SYNTH_DEFAULT=1")
def test_default_core_fits_the_pynq_z2_goals(capsys):
    status = cli_main(["synth", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0, "the default core does not fit the xc7z020"
    utilization = data["utilization"]
    # The goals: <= 50 % LUT, <= 80 % BRAM, <= 40 % DSP.
    assert utilization["LUT"]["percent"] <= 50, utilization
    assert utilization["BRAM36"]["percent"] <= 80, utilization
    assert utilization["DSP"]["percent"] <= 40, utilization


@pytest.mark.parametrize("arguments, message", [
    (["--config", "nofile.json"], "argument --config: cannot read nofile.json: No such file or directory"),
    (["--config", "[1, 2]"], "argument --config: cannot read [1, 2]"),
    (["--set", "bogus=1"], "argument --set: 'bogus' is not a CoreConfig field; expected one of ["),
    (["--set", "lanes"], "argument --set: expected FIELD=VALUE, got 'lanes'"),
    (["--set", "lanes=four"], "argument --set: lanes: value 'four' is not a number or true/false"),
])
def test_synth_refuses_unreadable_options(cli_refusal, capsys, arguments, message):
    error = cli_refusal(["synth", *arguments])
    assert message in error and "Traceback" not in error


@pytest.mark.parametrize("arguments, message", [
    (["--set", "lanes=0"], "--set: lanes = 0 is outside the allowed range [1, 64]"),
    (["--config", '{"bogus": 1}'], "--config: unknown core configuration fields ['bogus']"),
    # Fields are checked together: learning off needs pruning off as well.
    (["--config", '{"learning": false}', "--set", "lanes=2"], "--config and --set: pruning = True needs learning"),
])
def test_synth_refuses_an_invalid_core_before_synthesizing(capsys, arguments, message):
    assert cli_main(["synth", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_synth_config_reads_json_text_or_files(cli_refusal, capsys, tmp_path):
    good, bad = tmp_path / "core.json", tmp_path / "bad.json"
    good.write_text(json.dumps(SMALL_CORE))
    bad.write_text("{lanes: 2}")
    assert build_parser().parse_args(["synth", "--config", str(good)]).config == SMALL_CORE
    assert build_parser().parse_args(["synth", "--config", json.dumps(SMALL_CORE)]).config == SMALL_CORE
    assert f"argument --config: {bad} is not valid JSON" in cli_refusal(["synth", "--config", str(bad)])
