"""Spike encodings shared by every view: TTFS latencies and event lists (numpy only).

A spike train is either a raster ``bool [timesteps, channels]`` or an event list
``int64 [n_events, 2]`` of ``(timestep, channel)`` rows sorted by timestep then channel
(the order the core receives them in). A channel spikes at most once per step.
"""

from __future__ import annotations

import numpy as np

from .config import is_whole_number

__all__ = ["ttfs_encode", "ttfs_latency", "raster_to_events", "events_to_raster", "check_spike_batch",
           "spike_values", "bool_values"]


def ttfs_latency(intensity: np.ndarray, window: int) -> np.ndarray:
    """Return the first-spike step of each intensity in ``[0, 1]`` (-1 for silence).

    Stronger is earlier: ``t = min(floor((1 - x) * window), window - 1)`` for ``x > 0``;
    ``x <= 0`` never spikes. Intensities above 1 are an error, not clipped silently.

    >>> ttfs_latency(np.array([1.0, 0.5, 0.01, 0.0]), 10).tolist()
    [0, 5, 9, -1]
    """
    x = np.asarray(intensity, np.float64)
    if not is_whole_number(window) or window < 1:
        raise ValueError(f"window = {window!r} must be a whole number of steps >= 1")
    if np.any(~np.isfinite(x)) or np.any(x > 1.0) or np.any(x < 0.0):
        bad = x[~np.isfinite(x) | (x > 1.0) | (x < 0.0)].flat[0]
        raise ValueError(f"intensity {bad} is outside [0, 1]; normalise the input first")
    latency = np.minimum(np.floor((1.0 - x) * window), window - 1).astype(np.int64)
    return np.where(x > 0.0, latency, -1)


def ttfs_encode(intensity: np.ndarray, window: int) -> np.ndarray:
    """Encode intensities ``[..., channels]`` in ``[0, 1]`` as one spike per channel.

    Returns a raster ``bool [..., window, channels]`` with at most one spike per channel.

    >>> ttfs_encode(np.array([1.0, 0.0, 0.5]), 4).astype(int).tolist()
    [[1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]]
    """
    latency = ttfs_latency(intensity, window)
    if latency.ndim == 0:
        raise ValueError("intensity is a scalar, expected an array [..., channels]")
    steps = np.arange(window).reshape((window, 1))
    return latency[..., None, :] == steps


def raster_to_events(raster: np.ndarray) -> np.ndarray:
    """Convert ``bool [timesteps, channels]`` to sorted ``(timestep, channel)`` rows."""
    raster = spike_values(raster, "raster")
    if raster.ndim != 2:
        raise ValueError(f"raster has shape {raster.shape}, expected [timesteps, channels]")
    return np.argwhere(raster).astype(np.int64)


def events_to_raster(events: np.ndarray, timesteps: int, channels: int) -> np.ndarray:
    """Convert ``(timestep, channel)`` rows to ``bool [timesteps, channels]``.

    Events outside the window or the channel range are an error; a repeated event is an
    error too (a channel spikes at most once per step).
    """
    events = np.asarray(events)
    if events.size == 0:
        events = events.reshape(0, 2)
    if events.ndim != 2 or events.shape[1] != 2:
        raise ValueError(f"events have shape {events.shape}, expected [n_events, 2] rows of (timestep, channel)")
    if not np.issubdtype(events.dtype, np.integer):
        if not (np.issubdtype(events.dtype, np.number) and np.all(np.isfinite(events)) and np.all(events == np.round(events))):
            raise ValueError(f"events must hold whole numbers (timestep, channel), got dtype {events.dtype}")
    events = events.astype(np.int64)
    for column, limit, label in ((0, timesteps, "timestep"), (1, channels, "channel")):
        bad = np.flatnonzero((events[:, column] < 0) | (events[:, column] >= limit))
        if bad.size:
            raise ValueError(f"event {bad[0]} has {label} {events[bad[0], column]}, expected 0 .. {limit - 1}")
    raster = np.zeros((timesteps, channels), bool)
    flat = events[:, 0] * channels + events[:, 1]
    unique, counts = np.unique(flat, return_counts=True)
    if (counts > 1).any():
        timestep, channel = divmod(int(unique[counts > 1][0]), channels)
        raise ValueError(f"an event (timestep, channel) is repeated: ({timestep}, {channel}); "
                         "a channel spikes at most once per step")
    raster[events[:, 0], events[:, 1]] = True
    return raster


def bool_values(values, what: str) -> np.ndarray:
    """Return ``values`` (any shape) as bool, or raise if one is not 0 or 1 (2 or 0.5 is not cast to True).

    >>> bool_values([1, 0], "mask").tolist()
    [True, False]
    """
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    valid = np.isin(values, (0, 1))
    if not valid.all():
        raise ValueError(f"{what} value {values[~valid].flat[0]} is not 0 or 1")
    return values.astype(bool)


def spike_values(spikes, what: str = "input spike") -> np.ndarray:
    """Return ``spikes`` (any shape) as bool, or raise if a value is not 0 or 1 (no silent cast of 2 or 0.5).

    >>> spike_values([[0, 1], [1, 0]]).tolist()
    [[False, True], [True, False]]
    >>> spike_values([0, 2])
    Traceback (most recent call last):
    ...
    ValueError: input spike value 2 is not 0 or 1 (a channel spikes at most once per step)
    """
    try:
        return bool_values(spikes, what)
    except ValueError as error:
        raise ValueError(f"{error} (a channel spikes at most once per step)") from None


def check_spike_batch(inputs, timesteps: int, channels: int) -> np.ndarray:
    """Return ``inputs`` as a batch of rasters ``bool [B, timesteps, channels]``, or raise.

    A single raster ``[timesteps, channels]`` is a batch of one. Values other than
    0 and 1 are an error (a channel spikes at most once per step); a bool array is
    returned as it is, without a copy.

    >>> check_spike_batch([[1, 0, 0], [0, 1, 1]], 2, 3).shape
    (1, 2, 3)
    >>> check_spike_batch(np.zeros((4, 2, 5)), 2, 3)
    Traceback (most recent call last):
    ...
    ValueError: input spikes have shape (4, 2, 5), expected [batch, timesteps, channels] = [B, 2, 3]
    """
    inputs = np.asarray(inputs)
    if inputs.ndim == 2:
        inputs = inputs[None]
    if inputs.ndim != 3 or inputs.shape[1:] != (timesteps, channels):
        raise ValueError(f"input spikes have shape {inputs.shape}, expected [batch, timesteps, channels] = "
                         f"[B, {timesteps}, {channels}]")
    return spike_values(inputs)
