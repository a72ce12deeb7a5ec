"""Augmentation: speed perturbation, noise at an SNR, band limiting, room reverberation."""

import numpy as np
import pytest

from spikestream.model.audio.augment import (Augmenter, active_power, add_noise, band_limit, reverberate,
                                             room_impulse_response, speed_perturb)

RATE = 16000


def tone(frequency_hz, seconds=0.5):
    return 0.5 * np.sin(2 * np.pi * frequency_hz * np.arange(int(seconds * RATE)) / RATE)


def peak_frequency(samples):
    return np.argmax(np.abs(np.fft.rfft(samples))) * RATE / samples.size


def test_speed_perturbation_scales_duration_and_pitch():
    faster = speed_perturb(tone(500), 1.25)
    assert faster.size == 6400
    assert peak_frequency(faster) == pytest.approx(625, abs=5)
    with pytest.raises(ValueError, match="positive"):
        speed_perturb(tone(500), 0.0)


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [0.0, 12.5])
def test_noise_is_added_at_the_requested_snr(snr_db, color):
    speech = np.concatenate([np.zeros(RATE // 4), tone(700), np.zeros(RATE // 4)])  # silence does not count
    noisy = add_noise(speech, RATE, snr_db, np.random.default_rng(1), color=color)
    measured = 10 * np.log10(active_power(speech, RATE) / np.mean((noisy - speech) ** 2))
    assert measured == pytest.approx(snr_db, abs=1e-9)


def test_pink_noise_has_more_power_at_low_frequencies():
    noise = add_noise(np.full(RATE, 0.1), RATE, 0.0, np.random.default_rng(2), color="pink") - 0.1
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    assert spectrum[50:500].mean() > 10 * spectrum[5000:7500].mean()


def test_band_limit_passes_the_band_and_cuts_outside():
    pytest.importorskip("scipy")
    inside, below, above = tone(1000), tone(80), tone(6000)
    out = band_limit(inside + below + above, RATE, 300, 3400)
    spectrum = np.abs(np.fft.rfft(out[RATE // 10:]))  # skip the filter's start-up transient
    bins = {f: int(round(f * (out.size - RATE // 10) / RATE)) for f in (80, 1000, 6000)}
    assert spectrum[bins[1000]] > 30 * spectrum[bins[80]]
    assert spectrum[bins[1000]] > 30 * spectrum[bins[6000]]


def test_room_impulse_response_decays_and_reverb_lengthens():
    pytest.importorskip("pyroomacoustics")
    rir = room_impulse_response(RATE, 0.4, (6.0, 4.0, 3.0), np.random.default_rng(3))
    energy = rir**2
    direct = int(np.argmax(np.abs(rir)))
    early = energy[direct: direct + RATE // 20].sum()
    late = energy[direct + RATE // 10: direct + RATE // 5].sum()
    assert late < early / 10
    wet = reverberate(tone(500, 0.2), rir)
    assert wet.size == 3200 + rir.size - 1
    assert np.max(np.abs(wet)) == pytest.approx(0.5)
    assert np.abs(wet[3200:]).max() > 0.01  # the room rings on after the sound stops


def test_augmenter_is_reproducible_from_its_generator():
    pytest.importorskip("pyroomacoustics")
    augmenter = Augmenter(reverb_probability=1.0, band_probability=1.0, noise_probability=1.0, rir_bank=2)
    speech = tone(440)
    first = augmenter(speech, RATE, np.random.default_rng(7))
    again = augmenter(speech, RATE, np.random.default_rng(7))
    other = augmenter(speech, RATE, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.allclose(first, other)
    assert augmenter.to_dict()["rir_bank"] == 2
