"""Waveform augmentation: speed perturbation, room reverberation, noise at an SNR, band limiting.

Each function is deterministic given its arguments (randomness comes in through an
explicit ``numpy.random.Generator``). :class:`Augmenter` draws a random chain of them
per utterance. Speed and noise are numpy only; band limiting uses ``scipy.signal``;
room impulse responses come from ``pyroomacoustics`` (image-source method in a
shoebox room), all in the ``data`` extra.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .wavio import resample

__all__ = ["speed_perturb", "add_noise", "active_power", "band_limit", "room_impulse_response", "reverberate",
           "Augmenter"]


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster: duration / factor, pitch and formants x factor (Kaldi-style).

    >>> speed_perturb(np.zeros(1000), 1.25).shape
    (800,)
    """
    if factor <= 0:
        raise ValueError(f"speed factor {factor} must be positive")
    samples = np.asarray(samples, np.float64)
    return resample(samples, samples.size, max(1, int(round(samples.size / factor))))


def active_power(samples: np.ndarray, sample_rate: int, floor_db: float = 40.0) -> float:
    """Mean power over the 10 ms frames within ``floor_db`` of the loudest (speech, not silence)."""
    samples = np.asarray(samples, np.float64)
    frame = max(1, sample_rate // 100)
    usable = samples[: samples.size - samples.size % frame].reshape(-1, frame) if samples.size >= frame \
        else samples.reshape(1, -1)
    powers = (usable**2).mean(axis=1)
    if powers.max() <= 0:
        return 0.0
    return float(powers[powers >= powers.max() * 10 ** (-floor_db / 10)].mean())


def add_noise(samples: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator,
              color: str = "white") -> np.ndarray:
    """Add Gaussian noise so that speech power / noise power is ``snr_db`` (speech = :func:`active_power`).

    ``color`` is ``white`` (flat) or ``pink`` (1/f power, more like rooms and fans).
    """
    samples = np.asarray(samples, np.float64)
    noise = rng.standard_normal(samples.size)
    if color == "pink":
        spectrum = np.fft.rfft(noise)
        frequency = np.fft.rfftfreq(samples.size)
        spectrum[1:] /= np.sqrt(frequency[1:] / frequency[1])
        spectrum[0] = 0.0
        noise = np.fft.irfft(spectrum, samples.size)
    elif color != "white":
        raise ValueError(f"noise color {color!r} is not 'white' or 'pink'")
    speech = active_power(samples, sample_rate)
    noise_power = float(np.mean(noise**2))
    if speech == 0.0 or noise_power == 0.0:
        return samples.copy()
    return samples + noise * np.sqrt(speech / noise_power / 10 ** (snr_db / 10))


def band_limit(samples: np.ndarray, sample_rate: int, low_hz: float, high_hz: float, order: int = 4) -> np.ndarray:
    """Pass only ``low_hz`` .. ``high_hz`` (Butterworth, causal like a real channel; telephone: 300-3400)."""
    from scipy import signal
    nyquist = sample_rate / 2
    if not 0 <= low_hz < high_hz:
        raise ValueError(f"band {low_hz} .. {high_hz} Hz is empty")
    if high_hz >= nyquist and low_hz <= 0:
        return np.asarray(samples, np.float64).copy()
    if high_hz >= nyquist:
        sos = signal.butter(order, low_hz, btype="highpass", fs=sample_rate, output="sos")
    elif low_hz <= 0:
        sos = signal.butter(order, high_hz, btype="lowpass", fs=sample_rate, output="sos")
    else:
        sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, np.asarray(samples, np.float64))


def room_impulse_response(sample_rate: int, rt60_s: float, room_m: tuple[float, float, float],
                          rng: np.random.Generator, max_order: int = 12) -> np.ndarray:
    """Simulate a shoebox room's impulse response (pyroomacoustics image sources).

    Wall absorption follows Sabine's formula for ``rt60_s``; source and microphone are
    at random places at least 0.5 m from the walls. ``max_order`` caps the reflection
    order (the late tail of long RT60s is shortened, which keeps this fast).
    """
    try:
        import pyroomacoustics as pra
    except ImportError:
        raise ImportError("reverberation needs pyroomacoustics: pip install -e '.[data]'") from None
    room_m = tuple(float(d) for d in room_m)
    absorption, sabine_order = pra.inverse_sabine(rt60_s, room_m)
    room = pra.ShoeBox(room_m, fs=sample_rate, materials=pra.Material(absorption),
                       max_order=min(sabine_order, max_order))
    margin = 0.5
    position = lambda: [float(rng.uniform(margin, d - margin)) for d in room_m]  # noqa: E731
    room.add_source(position())
    room.add_microphone(position())
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], np.float64)
    return rir / np.abs(rir).max()


def reverberate(samples: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response, keep the original length plus the tail, same peak."""
    samples = np.asarray(samples, np.float64)
    size = samples.size + impulse_response.size - 1
    fft_size = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(samples, fft_size) * np.fft.rfft(impulse_response, fft_size), fft_size)[:size]
    peak = np.abs(wet).max()
    return wet * (np.abs(samples).max() / peak) if peak > 0 else wet


@dataclasses.dataclass(frozen=True)
class Augmenter:
    """A random chain of perturbations, each applied with its probability.

    Order: speed, reverberation, band limiting, noise (noise last: it is added at the
    microphone). Impulse responses come from a bank of ``rir_bank`` rooms drawn once
    (from ``rir_seed``) so reverberating thousands of words stays fast.
    """

    speed_probability: float = 0.8
    speed_range: tuple[float, float] = (0.88, 1.12)
    reverb_probability: float = 0.3
    rt60_range_s: tuple[float, float] = (0.15, 0.6)
    rir_bank: int = 16
    rir_seed: int = 0
    band_probability: float = 0.2
    low_cut_range_hz: tuple[float, float] = (100.0, 400.0)
    high_cut_range_hz: tuple[float, float] = (3000.0, 6000.0)
    noise_probability: float = 0.5
    snr_range_db: tuple[float, float] = (5.0, 30.0)

    def to_dict(self) -> dict[str, object]:
        """Return the fields (for cache keys and run records)."""
        return dataclasses.asdict(self)

    def impulse_responses(self, sample_rate: int) -> list[np.ndarray]:
        """Return the bank of room impulse responses (computed once per sample rate)."""
        cache = self.__dict__.setdefault("_rir_cache", {})
        if sample_rate not in cache:
            rng = np.random.default_rng(self.rir_seed)
            bank = []
            for _ in range(self.rir_bank):
                room = (rng.uniform(3, 9), rng.uniform(3, 7), rng.uniform(2.4, 3.5))
                bank.append(room_impulse_response(sample_rate, float(rng.uniform(*self.rt60_range_s)), room, rng))
            cache[sample_rate] = bank
        return cache[sample_rate]

    def __call__(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """Return a perturbed copy of one utterance."""
        samples = np.asarray(samples, np.float64)
        if rng.random() < self.speed_probability:
            samples = speed_perturb(samples, float(rng.uniform(*self.speed_range)))
        if rng.random() < self.reverb_probability:
            bank = self.impulse_responses(sample_rate)
            samples = reverberate(samples, bank[int(rng.integers(len(bank)))])
        if rng.random() < self.band_probability:
            samples = band_limit(samples, sample_rate, float(rng.uniform(*self.low_cut_range_hz)),
                                 float(rng.uniform(*self.high_cut_range_hz)))
        if rng.random() < self.noise_probability:
            samples = add_noise(samples, sample_rate, float(rng.uniform(*self.snr_range_db)), rng,
                                color="pink" if rng.random() < 0.5 else "white")
        return samples
