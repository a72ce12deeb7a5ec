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


def test_plot_encoder_option_overrides_the_front_ends(tmp_path, capsys, monkeypatch):
    """--encoder replaces the encoder of --frontend's file and keeps its other fields (the real plot runs)."""
    from spikestream.model.audio import plots

    used = []
    real = plots.plot_utterance
    monkeypatch.setattr(plots, "plot_utterance", lambda audio, frontend, out: used.append(frontend) or
                        real(audio, frontend, out))
    write_wav(tmp_path / "tone.wav", 0.4 * np.sin(np.arange(8000) * 0.2) * np.hanning(8000), 16000)
    FrontendConfig(encoder="delta", bands=24).save(tmp_path / "frontend.json")
    assert main(["data", "plot", str(tmp_path / "tone.wav"), "--out", str(tmp_path / "y.png"),
                 "--frontend", str(tmp_path / "frontend.json"), "--encoder", "rate"]) == 0
    assert used == [FrontendConfig(encoder="rate", bands=24)]
    assert (tmp_path / "y.png").stat().st_size > 1000


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
    # Up to date: reused as it is; --force synthesizes it again.
    manifest = out / "corpus.json"
    written = manifest.stat().st_mtime_ns
    assert main(["data", "build", "--subset", "digits", "--out", str(out), "--max-speakers", "4"]) == 0
    assert manifest.stat().st_mtime_ns == written
    assert main(["data", "build", "--subset", "digits", "--out", str(out), "--max-speakers", "4", "--force"]) == 0
    assert manifest.stat().st_mtime_ns > written
    assert "utterances: 40" in capsys.readouterr().out
