"""Feature intensities to spike rasters: TTFS per frame, delta (threshold crossing), rate.

Every encoder maps features ``float [frames, bands]`` in [0, 1] to a raster
``bool [frames * steps_per_frame, channels]``: frame ``k`` owns timesteps
``k * steps_per_frame .. (k + 1) * steps_per_frame - 1``. numpy only (runs on the board).

TTFS
    The core's coding, :func:`spikestream.model.encoding.ttfs_encode` applied to each
    frame with a window of ``steps_per_frame``: one spike per band and frame, louder is
    earlier, silence (x = 0) never spikes.
DELTA
    A send-on-delta (threshold-crossing) code per band: a reference level starts at 0;
    whenever the feature differs from it by ``n`` whole ``delta_threshold`` steps the
    reference moves by those steps and ``n`` spikes (at most ``steps_per_frame``) go out on
    the band's ``up`` channel (``c``) or ``down`` channel (``bands + c``) at the first steps
    of the frame. Channels: ``2 * bands``.
RATE
    ``n = round(x * steps_per_frame)`` spikes per band and frame, spread evenly over the
    frame's steps (deterministic, so training and board agree spike for spike).
RATE_DELTA
    The ``RATE`` raster (channels ``0 .. bands - 1``) next to the ``DELTA`` raster
    (``bands .. 3 bands - 1``): level and change of every band. Channels: ``3 * bands``.
"""

from __future__ import annotations

import numpy as np

from ..config import is_finite_number, is_whole_number
from ..encoding import raster_to_events, ttfs_encode
from .config import EncoderKind, FrontendConfig
from .features import log_mel_features

__all__ = ["encode_ttfs", "encode_delta", "encode_rate", "encode_rate_delta", "encode_features", "audio_to_raster", "audio_to_events"]


def _check_features(features: np.ndarray, steps_per_frame: int) -> np.ndarray:
    """Features ``[frames, bands]`` in [0, 1] (NaN or 1.5 is an error, not a clipped or lost spike train)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
        raise ValueError(f"features have shape {features.shape}, expected [frames, bands]")
    outside = ~np.isfinite(features) | (features < 0.0) | (features > 1.0)
    if outside.any():
        frame, band = np.argwhere(outside)[0]
        raise ValueError(f"feature {features[frame, band]} (frame {frame}, band {band}) is outside [0, 1]; "
                         "normalise the features first")
    if not (is_whole_number(steps_per_frame) and steps_per_frame >= 1):
        raise ValueError(f"steps_per_frame = {steps_per_frame!r} must be a whole number >= 1")
    return features


def encode_ttfs(features: np.ndarray, steps_per_frame: int) -> np.ndarray:
    """Encode each frame with the core's TTFS code (one spike per band and frame).

    >>> encode_ttfs(np.array([[1.0, 0.3], [0.0, 0.6]]), 2).astype(int).tolist()
    [[1, 0], [0, 1], [0, 1], [0, 0]]
    """
    features = _check_features(features, steps_per_frame)
    per_frame = ttfs_encode(features, steps_per_frame)  # [frames, steps, bands]
    return per_frame.reshape(-1, features.shape[1])


def encode_delta(features: np.ndarray, steps_per_frame: int, threshold: float) -> np.ndarray:
    """Encode level changes as up / down spikes (channels ``[up bands, down bands]``).

    >>> encode_delta(np.array([[0.5], [0.5], [0.1]]), 2, 0.2).astype(int).tolist()
    [[1, 0], [1, 0], [0, 0], [0, 0], [0, 1], [0, 0]]
    """
    features = _check_features(features, steps_per_frame)
    if not (is_finite_number(threshold) and 0 < threshold <= 1):
        raise ValueError(f"delta threshold {threshold} is outside (0, 1] (a step of the normalised level)")
    frames, bands = features.shape
    reference = np.zeros(bands)
    raster = np.zeros((frames, steps_per_frame, 2 * bands), bool)
    steps = np.arange(steps_per_frame)[:, None]
    for frame in range(frames):
        # The small epsilon keeps exact multiples of the threshold from being lost to
        # floating-point rounding (0.3 / 0.1 = 2.9999...).
        crossings = np.trunc((features[frame] - reference) / threshold + 1e-9 * np.sign(features[frame] - reference))
        crossings = np.clip(crossings, -steps_per_frame, steps_per_frame)
        reference = reference + crossings * threshold
        raster[frame, :, :bands] = steps < np.maximum(crossings, 0)[None, :]
        raster[frame, :, bands:] = steps < np.maximum(-crossings, 0)[None, :]
    return raster.reshape(frames * steps_per_frame, 2 * bands)


def encode_rate(features: np.ndarray, steps_per_frame: int) -> np.ndarray:
    """Encode each intensity as ``round(x * steps)`` evenly spaced spikes in its frame.

    >>> encode_rate(np.array([[1.0, 0.5, 0.0]]), 4).astype(int).T.tolist()
    [[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0]]
    """
    features = _check_features(features, steps_per_frame)
    counts = np.rint(features * steps_per_frame).astype(np.int64)  # round half to even
    step = np.arange(steps_per_frame)[None, :, None]
    # Step s fires when the running count floor((s + 1) n / S) increases there.
    fires = (step + 1) * counts[:, None, :] // steps_per_frame - step * counts[:, None, :] // steps_per_frame
    return (fires > 0).reshape(-1, features.shape[1])


def encode_rate_delta(features: np.ndarray, steps_per_frame: int, threshold: float) -> np.ndarray:
    """Encode level (rate) and change (delta up / down): channels ``[rate bands, up bands, down bands]``.

    >>> encode_rate_delta(np.array([[0.5], [0.5], [0.1]]), 2, 0.2).astype(int).tolist()
    [[0, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]]
    """
    return np.concatenate([encode_rate(features, steps_per_frame),
                           encode_delta(features, steps_per_frame, threshold)], axis=1)


def encode_features(features: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """Encode features ``[frames, bands]`` with ``config.encoder``: ``bool [timesteps, channels]``."""
    if config.encoder is EncoderKind.TTFS:
        return encode_ttfs(features, config.steps_per_frame)
    if config.encoder is EncoderKind.DELTA:
        return encode_delta(features, config.steps_per_frame, config.delta_threshold)
    if config.encoder is EncoderKind.RATE:
        return encode_rate(features, config.steps_per_frame)
    if config.encoder is EncoderKind.RATE_DELTA:
        return encode_rate_delta(features, config.steps_per_frame, config.delta_threshold)
    raise AssertionError(config.encoder)


def audio_to_raster(samples: np.ndarray, sample_rate: int, config: FrontendConfig) -> np.ndarray:
    """Turn one utterance into the raster the network sees: ``bool [config.timesteps, config.channels]``."""
    return encode_features(log_mel_features(samples, sample_rate, config), config)


def audio_to_events(samples: np.ndarray, sample_rate: int, config: FrontendConfig) -> np.ndarray:
    """Turn one utterance into the core's input events ``int64 [n, 2]`` of ``(timestep, channel)``."""
    return raster_to_events(audio_to_raster(samples, sample_rate, config))
