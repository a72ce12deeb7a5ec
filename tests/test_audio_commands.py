"""``spikestream data build | info | plot`` through the real command line."""

import json
import shutil

import numpy as np
import pytest

from spikestream.cli import main
from spikestream.model.audio import FrontendConfig
from spikestream.model.audio.wavio import write_wav


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rate = 16000
    t = np.arange(rate // 2) / rate
    write_wav(tmp_path / "chirp.wav", 0.4 * np.sin(2 * np.pi * (300 + 2000 * t) * t) * np.hanning(t.size), rate)
    FrontendConfig(encoder="delta", bands=24).save(tmp_path / "frontend.json")
    assert main(["data", "plot", str(tmp_path / "chirp.wav"), "--out", str(tmp_path / "x.png"),
                 "--frontend", str(tmp_path / "frontend.json")]) == 0
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make system-deps)")
def test_build_then_info(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "digits"
    assert main(["data", "build", "--subset", "digits", "--out", str(out), "--max-speakers", "4", "--encode"]) == 0
    printed = capsys.readouterr().out
    assert "utterances: 40" in printed and "encoded 40 utterances" in printed
    assert main(["data", "info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["utterances"] == 40 and len(summary["classes"]) == 10
    assert sum(split["speakers"] for split in summary["splits"].values()) == 4
