"""Encoders: TTFS per frame (the core's code), delta up/down, deterministic rate; events."""

import numpy as np
import pytest

from spikestream.model.audio import EncoderKind, FrontendConfig, audio_to_events, audio_to_raster, encode_features
from spikestream.model.audio.encoders import encode_delta, encode_rate, encode_rate_delta, encode_ttfs
from spikestream.model.encoding import events_to_raster, ttfs_latency

RNG = np.random.default_rng(5)


def random_features(frames=12, bands=7):
    features = RNG.uniform(0, 1, (frames, bands))
    features[RNG.uniform(size=features.shape) < 0.2] = 0.0  # some silent band-frames
    return features


def test_ttfs_is_the_core_code_frame_by_frame():
    features = random_features()
    steps = 5
    raster = encode_ttfs(features, steps)
    assert raster.shape == (features.shape[0] * steps, features.shape[1])
    for frame in range(features.shape[0]):
        block = raster[frame * steps:(frame + 1) * steps]
        latency = ttfs_latency(features[frame], steps)
        fired = block.any(axis=0)
        np.testing.assert_array_equal(fired, latency >= 0)
        np.testing.assert_array_equal(block.argmax(axis=0)[fired], latency[fired])
        assert block.sum(axis=0).max() <= 1


def test_delta_spikes_track_the_level_within_one_threshold():
    features = random_features(frames=30, bands=5)
    threshold, steps = 0.1, 11  # a change of at most 1.0 is 10 crossings: none is clipped
    raster = encode_delta(features, steps, threshold)
    assert raster.shape == (30 * steps, 10)
    counts = raster.reshape(30, steps, 10).sum(axis=1)
    level = np.cumsum(counts[:, :5] - counts[:, 5:], axis=0) * threshold
    assert np.max(np.abs(level - features)) < threshold + 1e-9
    assert not np.any(raster[:, :5] & raster[:, 5:])  # never up and down at once


def test_delta_clips_large_jumps_to_the_frame_steps():
    raster = encode_delta(np.array([[1.0]]), 2, 0.1)
    assert raster[:, 0].sum() == 2


def test_rate_gives_rounded_counts_spread_over_the_frame():
    features = random_features()
    steps = 6
    raster = encode_rate(features, steps)
    counts = raster.reshape(features.shape[0], steps, -1).sum(axis=1)
    np.testing.assert_array_equal(counts, np.rint(features * steps))
    half = encode_rate(np.array([[0.5]]), 6)[:, 0]
    assert half.tolist() == [False, True, False, True, False, True]


def test_rate_delta_is_the_rate_raster_then_the_delta_raster():
    features = random_features(frames=10, bands=6)
    raster = encode_rate_delta(features, 4, 0.15)
    assert raster.shape == (40, 18)
    np.testing.assert_array_equal(raster[:, :6], encode_rate(features, 4))
    np.testing.assert_array_equal(raster[:, 6:], encode_delta(features, 4, 0.15))
    assert FrontendConfig(bands=6, encoder="rate_delta").channels == 18


@pytest.mark.parametrize("kind", list(EncoderKind))
def test_every_encoder_matches_the_configured_shape(kind):
    config = FrontendConfig(bands=12, frames=9, steps_per_frame=3, encoder=kind)
    raster = encode_features(random_features(9, 12), config)
    assert raster.dtype == bool
    assert raster.shape == (config.timesteps, config.channels)


def test_audio_to_events_is_the_raster_as_core_events():
    config = FrontendConfig()
    rate = 16000
    t = np.arange(rate // 2) / rate
    chirp = np.sin(2 * np.pi * (200 + 3000 * t) * t) * np.hanning(t.size)
    raster = audio_to_raster(chirp, rate, config)
    events = audio_to_events(chirp, rate, config)
    assert events.dtype == np.int64 and events.shape[1] == 2
    np.testing.assert_array_equal(events_to_raster(events, config.timesteps, config.channels), raster)
    # A rising chirp: the loudest band (earliest spike of its frame) moves up over time.
    first_spikes = raster.reshape(config.frames, config.steps_per_frame, config.bands)[:, 0, :]
    centre = [np.flatnonzero(row).mean() for row in first_spikes if row.any()]
    assert centre[-1] > centre[0] + 5


def test_the_board_side_front_end_imports_numpy_only():
    import subprocess
    import sys
    code = ("import sys, spikestream.model.audio, spikestream.model.audio.encoders, spikestream.model.audio.wavio;"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'scipy', 'torch', 'h5py', 'matplotlib', 'pyroomacoustics'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_features_and_audio_outside_their_ranges_are_errors():
    """NaN, infinity or values outside [0, 1] would be clipped or lose spikes silently."""
    from spikestream.model.audio import FrontendConfig, audio_to_raster
    from spikestream.model.audio.encoders import encode_delta, encode_rate, encode_ttfs

    for features in ([[np.nan, 0.5]], [[2.0, 0.5]], [[-0.1, 0.5]], [[np.inf, 0.0]]):
        for encode in (lambda f: encode_rate(f, 4), lambda f: encode_delta(f, 4, 0.1), lambda f: encode_ttfs(f, 4)):
            with pytest.raises(ValueError, match=r"is outside \[0, 1\]"):
                encode(np.array(features))
    with pytest.raises(ValueError, match="steps_per_frame = 0 must be a whole number >= 1"):
        encode_rate(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match=r"delta threshold 0 is outside \(0, 1\]"):
        encode_delta(np.zeros((2, 3)), 4, 0)
    tone = np.sin(2 * np.pi * 1000 * np.arange(8000) / 16000)
    tone[100] = np.nan
    for encoder in ("rate", "rate_delta", "delta", "ttfs"):
        with pytest.raises(ValueError, match="audio sample 100 is nan; expected finite values"):
            audio_to_raster(tone, 16000, FrontendConfig(encoder=encoder))
    with pytest.raises(ValueError, match="sample rate 0 must be a number of samples per second > 0"):
        audio_to_raster(np.zeros(800), 0, FrontendConfig())


def test_encoder_settings_of_the_wrong_kind_are_refused():
    features = np.array([[0.5], [0.1]])
    for threshold in (None, True, "0.2", float("nan"), 0.0):
        with pytest.raises(ValueError, match=r"delta threshold .* is outside \(0, 1\]"):
            encode_delta(features, 2, threshold)
    for steps in (True, 1.5, 0):
        with pytest.raises(ValueError, match=r"steps_per_frame = .* must be a whole number >= 1"):
            encode_ttfs(features, steps)
