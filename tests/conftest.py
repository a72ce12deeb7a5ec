"""Shared fixtures of the test suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


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
