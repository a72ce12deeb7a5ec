"""The filterbank front end: waveform to normalised log-mel features (numpy only).

Pipeline (every parameter is a field of :class:`~.config.FrontendConfig`):

1. resample to ``sample_rate`` (FFT, band-limited) and pre-emphasise;
2. short-time power spectrum: Hann window of ``frame_ms``, hop ``hop_ms``, ``fft_size``
   points (the signal is zero-padded so the last partial frame is analysed);
3. ``bands`` triangular mel filters (HTK mel scale ``2595 log10(1 + f/700)``, unit peak,
   edges evenly spaced in mel between ``f_min`` and ``f_max``) give band powers;
4. speech detection: the first and last analysis frames whose energy is within
   ``vad_threshold_db`` of the loudest frame and ``vad_noise_margin_db`` above the
   noise floor (10th percentile of frame energies; halfway from floor to peak if that
   is less) delimit the utterance; the end then moves back over a long quiet ending
   (``vad_tail_threshold_db`` / ``vad_tail_min_ms``: a trailing run of frames far
   below the peak that outlasts a hangover) and, optionally, to the frame by which
   ``vad_end_energy_fraction`` of the segment's energy has been spoken;
5. time alignment to ``frames`` frames (:class:`~.config.TimeAlignment`): band powers
   are averaged over the analysis hops each output frame covers;
6. log compression and per-utterance normalisation to [0, 1]:
   ``x = clip(1 + (10 log10(p) - peak dB) / dynamic_range_db, 0, 1)``.

The output ``float64 [frames, bands]`` in [0, 1] is what the encoders turn into spikes.
"""

from __future__ import annotations

import functools

import numpy as np

from .config import FrontendConfig, TimeAlignment
from .wavio import resample

__all__ = ["mel_filterbank", "power_spectrogram", "band_powers", "speech_bounds", "align_frames",
           "normalise_log", "log_mel_features", "hz_to_mel", "mel_to_hz"]

#: Power floor (relative to full scale) below which a band counts as silent.
_POWER_FLOOR = 1e-12


def hz_to_mel(hz):
    """HTK mel scale. ``hz_to_mel(1000)`` is about 1000."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cached(bands: int, fft_size: int, sample_rate: int, f_min: float, f_max: float) -> np.ndarray:
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), bands + 2))
    bin_hz = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    # A narrow low band can fall between two FFT bins: give it its nearest bin so that
    # no channel is dead by construction.
    empty = weights.sum(axis=1) == 0
    if np.any(empty):
        nearest = np.abs(bin_hz[None, :] - centre[empty]).argmin(axis=1)
        weights[np.flatnonzero(empty), nearest] = 1.0
    weights.setflags(write=False)
    return weights


def mel_filterbank(config: FrontendConfig) -> np.ndarray:
    """Return the triangular mel filters ``float64 [bands, fft_size // 2 + 1]`` (read-only)."""
    return _mel_filterbank_cached(config.bands, config.fft_size, config.sample_rate,
                                  float(config.f_min), float(config.f_max))


def power_spectrogram(samples: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """Return the short-time power spectrum ``float64 [analysis_frames, fft_size // 2 + 1]``.

    ``samples`` are at ``config.sample_rate``. At least one frame is returned.
    """
    samples = np.asarray(samples, np.float64)
    if config.pre_emphasis:
        samples = np.concatenate([samples[:1], samples[1:] - config.pre_emphasis * samples[:-1]])
    frame, hop = config.frame_samples, config.hop_samples
    count = max(1, int(np.ceil(max(samples.size - frame, 0) / hop)) + 1)
    padded = np.zeros((count - 1) * hop + frame)
    padded[: samples.size] = samples[: padded.size]
    starts = np.arange(count)[:, None] * hop
    frames = padded[starts + np.arange(frame)[None, :]] * np.hanning(frame)[None, :]
    return np.abs(np.fft.rfft(frames, config.fft_size, axis=1)) ** 2


def band_powers(samples: np.ndarray, sample_rate: int, config: FrontendConfig) -> np.ndarray:
    """Return mel band powers ``float64 [analysis_frames, bands]`` of audio at any rate."""
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 1:
        raise ValueError(f"samples have shape {samples.shape}, expected one mono channel")
    if not np.all(np.isfinite(samples)):
        bad = int(np.flatnonzero(~np.isfinite(samples))[0])
        raise ValueError(f"audio sample {bad} is {samples[bad]}; expected finite values")
    if not (isinstance(sample_rate, (int, float, np.integer, np.floating)) and np.isfinite(sample_rate)
            and sample_rate > 0):
        raise ValueError(f"sample rate {sample_rate!r} must be a number of samples per second > 0")
    if sample_rate != config.sample_rate:
        samples = resample(samples, sample_rate, config.sample_rate)
    return power_spectrogram(samples, config) @ mel_filterbank(config).T


def speech_bounds(powers: np.ndarray, config: FrontendConfig) -> tuple[int, int]:
    """Return ``(first, last + 1)`` analysis frames of speech (the whole input if silent).

    Up to three criteria, all level-independent (see :class:`~.config.FrontendConfig`):

    - level: the first and last frames whose energy is within ``vad_threshold_db`` of
      the loudest frame and well above the noise floor;
    - quiet run (when ``vad_tail_threshold_db`` is set): if that segment ends in frames
      all more than ``vad_tail_threshold_db`` below the loudest one, lasting at least
      ``vad_tail_min_ms``, the word ends where they begin; a shorter run (a stop
      closure and its release burst) is kept;
    - end energy (when ``vad_end_energy_fraction`` < 1): the word ends at the first
      frame by which that fraction of the segment's energy has been spoken.

    Both end criteria drop a long quiet ending (breath or aspiration 30 dB down, a
    reverberant decay) that a level threshold tuned to keep weak consonants keeps.
    Time alignment stretches the segment over the window, so a kept tail would squeeze
    the word into the first part of it.

    >>> word, tail = np.full((30, 1), 1.0), np.full((40, 1), 1e-3)  # a 30 dB-down tail: 0.13 % of the energy
    >>> silence = np.full((10, 1), 1e-9)
    >>> powers = np.concatenate([silence, word, tail, silence])
    >>> level_only = FrontendConfig(vad_tail_threshold_db=None)
    >>> [speech_bounds(powers, level_only.replace(vad_end_energy_fraction=f)) for f in (1.0, 0.999, 0.995)]
    [(10, 80), (10, 50), (10, 40)]
    >>> [speech_bounds(powers, FrontendConfig(vad_tail_threshold_db=20, vad_tail_min_ms=ms)) for ms in (300, 500)]
    [(10, 40), (10, 80)]
    """
    frame_energy = powers.sum(axis=1)
    energy_db = 10.0 * np.log10(frame_energy + _POWER_FLOOR)
    noise_floor_db = np.percentile(energy_db, 10)
    peak_db = energy_db.max()
    # In clean audio the peak criterion decides; in noise the floor criterion does, and
    # when speech barely rises above the noise, halfway between floor and peak.
    above_noise_db = min(noise_floor_db + config.vad_noise_margin_db, (noise_floor_db + peak_db) / 2)
    speech = np.flatnonzero(energy_db >= max(peak_db - config.vad_threshold_db, above_noise_db))
    if speech.size == 0 or powers.sum() <= _POWER_FLOOR:
        return 0, powers.shape[0]
    first, stop = int(speech[0]), int(speech[-1]) + 1
    if config.vad_tail_threshold_db is not None:
        quiet = energy_db[first:stop] < peak_db - config.vad_tail_threshold_db
        # Length of the run of quiet frames that ends the segment (the loudest frame
        # is never quiet, so the run never covers the whole segment).
        tail = int(np.argmin(quiet[::-1]))
        if tail * config.hop_ms >= config.vad_tail_min_ms:
            stop -= tail
    if config.vad_end_energy_fraction < 1.0:
        spoken = np.cumsum(frame_energy[first:stop])
        # The first frame by which the fraction has been spoken is the last one kept
        # (at least the first frame, so a segment never becomes empty).
        last = int(np.searchsorted(spoken, config.vad_end_energy_fraction * spoken[-1]))
        stop = first + min(last, stop - first - 1) + 1
    return first, stop


def align_frames(powers: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """Average band powers ``[analysis_frames, bands]`` into ``[frames, bands]`` (see TimeAlignment)."""
    first, stop = speech_bounds(powers, config)
    if config.alignment is TimeAlignment.STRETCH:
        segment = powers[first:stop]
    else:
        window = max(1, int(round(config.window_s * 1000.0 / config.hop_ms)))
        segment = np.zeros((window, powers.shape[1]))
        available = powers[first: first + window]
        segment[: available.shape[0]] = available
    # Output frame k covers analysis frames [edges[k], edges[k+1]); a segment shorter
    # than `frames` repeats frames (each output takes at least its nearest frame).
    edges = np.linspace(0.0, segment.shape[0], config.frames + 1)
    low = np.minimum(np.floor(edges[:-1]).astype(np.int64), segment.shape[0] - 1)
    high = np.maximum(np.ceil(edges[1:]).astype(np.int64), low + 1)
    cumulative = np.concatenate([np.zeros((1, segment.shape[1])), np.cumsum(segment, axis=0)])
    return (cumulative[high] - cumulative[low]) / (high - low)[:, None]


def normalise_log(powers: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """Log-compress and normalise band powers to [0, 1] relative to the utterance peak."""
    decibels = 10.0 * np.log10(np.maximum(powers, _POWER_FLOOR))
    if powers.max() <= _POWER_FLOOR:  # digital silence: no spikes at all
        return np.zeros_like(decibels)
    return np.clip(1.0 + (decibels - decibels.max()) / config.dynamic_range_db, 0.0, 1.0)


def log_mel_features(samples: np.ndarray, sample_rate: int, config: FrontendConfig) -> np.ndarray:
    """Return the normalised log-mel features ``float64 [frames, bands]`` in [0, 1] of one utterance.

    >>> config = FrontendConfig()
    >>> tone = np.sin(2 * np.pi * 1000 * np.arange(8000) / 16000)
    >>> features = log_mel_features(tone, 16000, config)
    >>> features.shape, float(features.max())
    ((16, 32), 1.0)
    """
    return normalise_log(align_frames(band_powers(samples, sample_rate, config), config), config)
