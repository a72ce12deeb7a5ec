"""Small synthetic spike-pattern classification tasks (tests, smoke runs, CLI ``--data synthetic``).

Each class is a random spatio-temporal prototype (one spike time per active channel);
a sample jitters every spike time, drops some spikes and adds noise spikes, so the task
needs the temporal pattern, not only which channels fire.
"""

from __future__ import annotations

import numpy as np

from .trainer import Dataset

__all__ = ["synthetic_dataset"]


def synthetic_dataset(classes: int = 4, per_class: int = 32, channels: int = 16, timesteps: int = 24,
                      jitter: int = 1, drop: float = 0.1, noise: float = 0.01, seed: int = 0) -> Dataset:
    """Draw ``classes * per_class`` rasters ``bool [timesteps, channels]`` (shuffled)."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, timesteps - 2 * jitter - 1, (classes, channels)) + jitter
    active = rng.random((classes, channels)) < 0.6
    labels = np.repeat(np.arange(classes), per_class)
    n = labels.size
    times = prototypes[labels] + rng.integers(-jitter, jitter + 1, (n, channels))
    keep = active[labels] & (rng.random((n, channels)) >= drop)
    inputs = np.zeros((n, timesteps, channels), bool)
    sample, channel = np.nonzero(keep)
    inputs[sample, times[sample, channel], channel] = True
    inputs |= rng.random(inputs.shape) < noise
    order = rng.permutation(n)
    return Dataset(inputs[order], labels[order].astype(np.int64))
