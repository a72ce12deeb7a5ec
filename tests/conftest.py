"""Shared fixtures of the test suite."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"

#: In CI (``CI`` set) a skip is a failure: ``make test`` installs every package and program the
#: tests need, so a test that skips there (a missing tool, an import that broke) hides a feature
#: that went untested while the run looks green.
SKIP_FAILS = bool(os.environ.get("CI"))


def _skip_as_failure(report) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where nothing may be: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if SKIP_FAILS and report.skipped and not hasattr(report, "wasxfail"):
        _skip_as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module-level ``importorskip`` skips at collection."""
    outcome = yield
    report = outcome.get_result()
    if SKIP_FAILS and report.skipped:
        _skip_as_failure(report)


@pytest.fixture
def tone_folder():
    """Write a ``metadata.csv`` dataset of tone "words": ``make(folder, voices, words, takes=1)``.

    ``voices``: ``(split, speaker, shift)``; ``words``: label -> frequency (Hz). Every take
    of a word is a rising glide from its frequency times ``shift`` (a voice's own pitch),
    each take 1 % higher than the one before, 0.4 s at 16 kHz.
    """
    def make(folder: Path, voices, words: dict[str, float], takes: int = 1) -> Path:
        import csv

        import numpy as np

        from spikestream.model.audio.wavio import write_wav

        folder.mkdir()
        t = np.arange(6400) / 16000
        rows = []
        for split, speaker, shift in voices:
            for label, base in words.items():
                for take in range(takes):
                    frequency = base * shift * (1.0 + 0.01 * take) * (1.0 + 0.3 * t)
                    name = f"{speaker}_{label}_{take}.wav"
                    write_wav(folder / name, 0.5 * np.sin(2 * np.pi * np.cumsum(frequency) / 16000)
                              * np.hanning(t.size), 16000)
                    rows.append({"path": name, "label": label, "speaker": speaker, "split": split})
        with open(folder / "metadata.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker", "split"])
            writer.writeheader()
            writer.writerows(rows)
        return folder
    return make


@pytest.fixture
def tiny_rasters(tmp_path):
    """``(source, data)``: 36 synthetic 3-class rasters ``[12 steps, 8 channels]`` saved as a
    training source (``tiny.npz``: 24 train, 6 val, 6 test, classes x / y / z)."""
    import numpy as np

    from spikestream.model.train.data import save_npz
    from spikestream.model.train.synthetic import synthetic_dataset

    data = synthetic_dataset(classes=3, per_class=12, channels=8, timesteps=12, seed=2)
    source = tmp_path / "tiny.npz"
    save_npz(source, data.inputs, data.labels, np.array(["train"] * 24 + ["val"] * 6 + ["test"] * 6), ("x", "y", "z"))
    return source, data


@pytest.fixture(scope="session")
def load_bench():
    """Import a benchmark script of bench/ by name (they are scripts, not package modules)."""
    def load(name: str):
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]
    return load


@pytest.fixture
def cli_refusal(capsys):
    """``cli_refusal(arguments) -> stderr``: run ``spikestream`` on bad options and check argparse's exit code 2."""
    from spikestream.cli import main

    def refuse(arguments: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(arguments)
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    return refuse


@pytest.fixture(scope="session")
def pynq_python() -> Path:
    """The interpreter of the pynq venv (``scripts/install-pynq-venv``, which ``make test`` runs).

    The venv holds pynq and this checkout's spikestream, installed as on the board. A
    missing venv, or one whose spikestream is another checkout's, skips the test (a failure
    in CI, :data:`SKIP_FAILS`: ``make test`` installs the venv).
    """
    import subprocess

    import spikestream.host

    venv = Path(os.environ.get("SPIKESTREAM_PYNQ_VENV", Path(__file__).resolve().parents[1] / ".venv-pynq"))
    python = venv / "bin" / "python"
    problem = None
    if not python.is_file():
        problem = f"no pynq venv at {venv}"
    else:
        found = subprocess.run([str(python), "-c", "import spikestream.host; print(spikestream.host.__file__)"],
                               capture_output=True, text=True, timeout=120)
        tested = Path(spikestream.host.__file__).resolve()
        if found.returncode != 0 or Path(found.stdout.strip()).resolve() != tested:
            problem = (f"the pynq venv at {venv} does not hold the spikestream under test ({tested.parent}): "
                       f"{found.stdout.strip() or found.stderr.strip()[-300:]}")
    if problem:
        pytest.skip(f"{problem}; run scripts/install-pynq-venv (make test does)")
    return python
