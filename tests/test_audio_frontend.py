"""The numpy front end: WAV/SPHERE I/O, resampling, mel filterbank, alignment, normalisation, config."""

import json

import numpy as np
import pytest

from spikestream.model.audio import FrontendConfig, TimeAlignment, log_mel_features
from spikestream.model.audio.features import (align_frames, band_powers, hz_to_mel, mel_filterbank, mel_to_hz,
                                              speech_bounds)
from spikestream.model.audio.wavio import read_audio, read_sphere, read_wav, resample, write_sphere, write_wav

RATE = 16000


def tone(frequency_hz, seconds=0.5, rate=RATE, amplitude=0.5):
    return amplitude * np.sin(2 * np.pi * frequency_hz * np.arange(int(seconds * rate)) / rate)


def test_wav_round_trip_is_exact_to_16_bits(tmp_path):
    samples = tone(440)
    write_wav(tmp_path / "a.wav", samples, RATE)
    read, rate = read_wav(tmp_path / "a.wav")
    assert rate == RATE
    assert np.max(np.abs(read - samples)) <= 1 / 32767


@pytest.mark.parametrize("big_endian", [False, True])
def test_sphere_round_trip_both_byte_orders(tmp_path, big_endian):
    samples = tone(300, rate=12500)
    write_sphere(tmp_path / "a.sph", samples, 12500, big_endian=big_endian, extra_fields={"speaker_id": "f1"})
    read, rate = read_audio(tmp_path / "a.sph")
    assert rate == 12500
    assert np.max(np.abs(read - samples)) <= 1 / 32767


def test_compressed_sphere_is_reported(tmp_path):
    header = "NIST_1A\n   1024\nsample_rate -i 16000\nsample_coding -s26 pcm,embedded-shorten-v2.00\nend_head\n"
    (tmp_path / "c.sph").write_bytes(header.encode().ljust(1024, b" ") + b"\0" * 10)
    with pytest.raises(ValueError, match="compressed"):
        read_sphere(tmp_path / "c.sph")


def test_unknown_audio_format_is_reported(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"OggS" + b"\0" * 40)
    with pytest.raises(ValueError, match="not a WAV"):
        read_audio(tmp_path / "x.wav")


def test_resample_keeps_the_frequency_of_a_tone():
    samples = tone(1000, seconds=1.0, rate=22050)
    out = resample(samples, 22050, RATE)
    assert out.size == RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins for one second
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=0.02)


def test_mel_scale_round_trip_and_filter_peaks():
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.1)
    assert float(mel_to_hz(hz_to_mel(3456.0))) == pytest.approx(3456.0)
    config = FrontendConfig(bands=40)
    filters = mel_filterbank(config)
    assert filters.shape == (40, config.fft_size // 2 + 1)
    assert np.all(filters.max(axis=1) > 0)  # no dead band
    peaks_hz = filters.argmax(axis=1) * config.sample_rate / config.fft_size
    assert np.all(np.diff(peaks_hz) >= 0)  # band centres rise with the index
    assert config.f_min <= peaks_hz[0] and peaks_hz[-1] <= config.f_max


def test_a_tone_excites_the_band_around_its_frequency():
    config = FrontendConfig()
    filters = mel_filterbank(config)
    for frequency in (300, 1000, 3000):
        expected = np.argmax(filters[:, int(round(frequency * config.fft_size / config.sample_rate))])
        powers = band_powers(tone(frequency), RATE, config)
        assert np.argmax(powers.mean(axis=0)) == expected


def test_features_do_not_depend_on_level_or_input_rate():
    config = FrontendConfig()
    loud = log_mel_features(tone(800) + tone(2500, amplitude=0.1), RATE, config)
    quiet = log_mel_features(0.01 * (tone(800) + tone(2500, amplitude=0.1)), RATE, config)
    np.testing.assert_allclose(loud, quiet, atol=1e-9)
    at_22k = log_mel_features(tone(800, rate=22050) + tone(2500, amplitude=0.1, rate=22050), 22050, config)
    assert np.max(np.abs(at_22k - loud)) < 0.05
    assert loud.shape == (config.frames, config.bands)
    assert loud.max() == 1.0 and loud.min() >= 0.0


def test_silence_gives_zero_features():
    config = FrontendConfig()
    assert np.all(log_mel_features(np.zeros(8000), RATE, config) == 0)


def test_speech_bounds_trim_silence():
    config = FrontendConfig()
    samples = np.concatenate([np.zeros(RATE // 2), tone(500, seconds=0.3), np.zeros(RATE // 2)])
    first, stop = speech_bounds(band_powers(samples, RATE, config), config)
    hop_s = config.hop_ms / 1000
    assert first * hop_s == pytest.approx(0.5, abs=0.03)
    assert stop * hop_s == pytest.approx(0.8, abs=0.03)


def test_stretch_fills_all_frames_and_onset_keeps_duration():
    short = np.concatenate([np.zeros(4000), tone(500, seconds=0.2), np.zeros(4000)])
    stretch = FrontendConfig(frames=10)
    assert np.all(log_mel_features(short, RATE, stretch).max(axis=1) > 0.9)  # the word spans every frame
    onset = FrontendConfig(frames=10, alignment=TimeAlignment.ONSET, window_s=1.0)
    per_frame = log_mel_features(short, RATE, onset).max(axis=1)
    assert np.all(per_frame[:2] > 0.9) and np.all(per_frame[3:] == 0)  # 0.2 s of a 1 s window


def test_alignment_averages_power_over_each_frame():
    config = FrontendConfig(frames=2, vad_threshold_db=200, vad_noise_margin_db=0)  # every frame is speech
    powers = np.array([[1.0], [3.0], [5.0], [7.0], [1.0], [1.0]])
    np.testing.assert_allclose(align_frames(powers, config), [[3.0], [3.0]])


def test_config_json_round_trip_and_derived_sizes():
    config = FrontendConfig(bands=40, frames=20, encoder="delta", alignment="onset", steps_per_frame=3)
    again = FrontendConfig.from_json(config.to_json())
    assert again == config
    assert again.fingerprint() == config.fingerprint()
    assert json.loads(config.to_json())["encoder"] == "delta"
    assert (config.timesteps, config.channels) == (60, 80)
    assert FrontendConfig().fingerprint() != config.fingerprint()


@pytest.mark.parametrize("changes, message", [
    ({"f_max": 9000.0}, "Nyquist"),
    ({"bands": 0}, "bands"),
    ({"fft_size": 256}, "fft_size"),
    ({"steps_per_frame": 0}, "steps_per_frame"),
    ({"encoder": "morse"}, "morse"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        FrontendConfig(**changes)


def test_config_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown field"):
        FrontendConfig.from_dict({"bands": 32, "colour": "red"})


def test_speech_bounds_hold_in_background_noise():
    config = FrontendConfig()
    rng = np.random.default_rng(0)
    samples = np.concatenate([np.zeros(RATE // 2), tone(2000, seconds=0.3), np.zeros(RATE // 2)])
    noisy = samples + 0.5 / np.sqrt(2) * 10 ** (-10 / 20) * rng.standard_normal(samples.size)  # 10 dB SNR
    first, stop = speech_bounds(band_powers(noisy, RATE, config), config)
    hop_s = config.hop_ms / 1000
    assert first * hop_s == pytest.approx(0.5, abs=0.03)
    assert stop * hop_s == pytest.approx(0.8, abs=0.03)


#: Speech detection by the level threshold alone (the front end before the end-of-word detectors).
LEVEL_ONLY = FrontendConfig(vad_end_energy_fraction=1.0, vad_tail_threshold_db=None)
#: The two end-of-word detectors beyond the level threshold (FrontendConfig's docstring).
END_DETECTORS = {
    "end energy": LEVEL_ONLY.replace(vad_end_energy_fraction=0.995),
    "quiet run": LEVEL_ONLY.replace(vad_tail_threshold_db=20.0, vad_tail_min_ms=100.0),
}


def seconds_of(bounds, config=LEVEL_ONLY):
    """``(first, stop)`` analysis frames in seconds."""
    return tuple(frame * config.hop_ms / 1000 for frame in bounds)


def vowel(seconds, level_db=0.0):
    return 10 ** (level_db / 20) * (tone(300, seconds=seconds) + tone(900, seconds=seconds, amplitude=0.2))


def silence(seconds):
    return np.zeros(int(seconds * RATE))


def word_with_quiet_tail():
    """0.5 s silence, a 0.3 s vowel, 0.4 s of it 30 dB down (a long quiet ending), 0.5 s silence."""
    return np.concatenate([silence(0.5), vowel(0.3), vowel(0.4, -30.0), silence(0.5)])


def test_the_level_threshold_keeps_a_long_quiet_tail():
    bounds = speech_bounds(band_powers(word_with_quiet_tail(), RATE, LEVEL_ONLY), LEVEL_ONLY)
    assert seconds_of(bounds) == pytest.approx((0.5, 1.2), abs=0.03)  # 30 dB down is within 35 dB of the peak


@pytest.mark.parametrize("detector", END_DETECTORS)
def test_end_of_word_detectors_trim_a_long_quiet_tail(detector):
    config = END_DETECTORS[detector]
    bounds = speech_bounds(band_powers(word_with_quiet_tail(), RATE, config), config)
    assert seconds_of(bounds) == pytest.approx((0.5, 0.8), abs=0.03)


def test_the_default_front_end_trims_a_long_quiet_tail():
    config = FrontendConfig()
    bounds = speech_bounds(band_powers(word_with_quiet_tail(), RATE, config), config)
    assert seconds_of(bounds) == pytest.approx((0.5, 0.8), abs=0.03)


def test_end_energy_keeps_the_part_of_the_tail_above_its_fraction():
    # The tail holds 0.4 s x 1e-3 / 0.3 s = 0.13 % of the energy: keeping 99.9 % drops
    # its last 0.1 %, 0.3 of its 0.4 s.
    config = LEVEL_ONLY.replace(vad_end_energy_fraction=0.999)
    bounds = speech_bounds(band_powers(word_with_quiet_tail(), RATE, config), config)
    assert seconds_of(bounds) == pytest.approx((0.5, 0.9), abs=0.03)


def test_quiet_run_keeps_a_stop_closure_and_its_release_burst():
    # "eight": the vowel, 40 ms of closure, a 30 ms noise burst (its frames 23 to 29 dB
    # below the vowel's). The quiet run after the vowel (70 ms of frames) is shorter than
    # the hangover, so the burst stays in the word.
    burst = 0.004 * np.random.default_rng(3).standard_normal(int(0.03 * RATE))
    samples = np.concatenate([silence(0.5), vowel(0.3), silence(0.04), burst, silence(0.5)])
    config = END_DETECTORS["quiet run"]
    powers = band_powers(samples, RATE, config)
    assert speech_bounds(powers, config) == speech_bounds(powers, LEVEL_ONLY)
    assert seconds_of(speech_bounds(powers, config))[1] == pytest.approx(0.87, abs=0.03)
    longer = config.replace(vad_tail_min_ms=50.0)  # a hangover shorter than closure + burst drops both
    assert seconds_of(speech_bounds(powers, longer))[1] == pytest.approx(0.8, abs=0.03)


def test_trimming_the_tail_lets_the_vowel_fill_the_window():
    # Stretched over 16 frames, the kept tail takes the last 9 frames at 1 - 30 / 45 = 0.33.
    samples = word_with_quiet_tail()
    assert np.all(log_mel_features(samples, RATE, LEVEL_ONLY).max(axis=1)[-6:] < 0.5)
    for config in END_DETECTORS.values():
        assert np.all(log_mel_features(samples, RATE, config).max(axis=1) > 0.8)


@pytest.mark.parametrize("detector", END_DETECTORS)
def test_end_of_word_detectors_keep_the_bounds_of_a_steady_word(detector):
    config = END_DETECTORS[detector]
    powers = band_powers(np.concatenate([silence(0.5), tone(500, seconds=0.3), silence(0.5)]), RATE, config)
    assert speech_bounds(powers, config) == speech_bounds(powers, LEVEL_ONLY)


@pytest.mark.parametrize("detector", END_DETECTORS)
def test_end_of_word_detectors_hold_a_word_in_background_noise(detector):
    config = END_DETECTORS[detector]
    samples = np.concatenate([silence(0.5), tone(2000, seconds=0.3), silence(0.5)])
    noisy = samples + 0.5 / np.sqrt(2) * 10 ** (-10 / 20) * np.random.default_rng(0).standard_normal(samples.size)
    assert seconds_of(speech_bounds(band_powers(noisy, RATE, config), config)) == pytest.approx((0.5, 0.8), abs=0.03)


@pytest.mark.parametrize("detector", END_DETECTORS)
def test_end_of_word_detectors_on_noise_alone_give_a_segment_inside_the_input(detector):
    config = END_DETECTORS[detector]
    powers = band_powers(0.1 * np.random.default_rng(2).standard_normal(RATE), RATE, config)
    first, stop = speech_bounds(powers, config)
    assert 0 <= first < stop <= powers.shape[0]
    assert speech_bounds(np.zeros_like(powers), config) == (0, powers.shape[0])  # digital silence: all of it


def test_end_energy_never_empties_a_single_loud_frame():
    powers = np.full((9, 1), 1e-9)
    powers[4] = 1.0
    assert speech_bounds(powers, LEVEL_ONLY.replace(vad_end_energy_fraction=0.5)) == (4, 5)


def test_sidecars_written_before_the_end_of_word_fields_keep_the_level_end():
    stored = END_DETECTORS["quiet run"].replace(vad_end_energy_fraction=0.99).to_dict()
    for field in ("vad_end_energy_fraction", "vad_tail_threshold_db", "vad_tail_min_ms"):
        del stored[field]  # a file written before the fields existed
    old = FrontendConfig.from_dict(stored)
    assert (old.vad_end_energy_fraction, old.vad_tail_threshold_db) == (1.0, None)
    for config in END_DETECTORS.values():
        assert FrontendConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("changes, message", [
    ({"vad_end_energy_fraction": 0.0}, "vad_end_energy_fraction"),
    ({"vad_end_energy_fraction": 1.5}, "vad_end_energy_fraction"),
    ({"vad_tail_threshold_db": -3.0}, "vad_tail_threshold_db"),
    ({"vad_tail_min_ms": -10.0}, "vad_tail_min_ms"),
])
def test_config_rejects_bad_end_of_word_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        FrontendConfig(**changes)


def test_whole_number_fields_refuse_fractions():
    for name in ("steps_per_frame", "frames", "bands"):
        with pytest.raises(ValueError, match=f"FrontendConfig: {name} = 2.5 must be a whole number"):
            FrontendConfig(**{name: 2.5})
    assert FrontendConfig(steps_per_frame=np.int64(2)).to_dict()["steps_per_frame"] == 2


def test_wav_helpers_refuse_what_they_would_garble(tmp_path):
    with pytest.raises(ValueError, match=r"samples have shape \(100, 2\), expected one mono channel"):
        resample(np.zeros((100, 2)), 16000, 8000)
    for rate in (0, -8000, float("nan"), None):
        with pytest.raises(ValueError, match=r"rate_out = .*expected a finite number of samples per second > 0"):
            resample(np.zeros(100), 16000, rate)
    assert resample(np.zeros(100), 16000, 32000).shape == (200,)
    with pytest.raises(ValueError, match=r"sample nan is not a finite number"):
        write_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), 16000)
    with pytest.raises(ValueError, match=r"sample_rate = 16000.7, expected a whole number of samples per second"):
        write_wav(tmp_path / "x.wav", np.zeros(4), 16000.7)
    write_wav(tmp_path / "ok.wav", np.zeros(400), 16000)
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:30])
    with pytest.raises(ValueError, match=r"cut.wav: not a readable PCM WAV file"):
        read_audio(tmp_path / "cut.wav")
