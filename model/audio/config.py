"""The audio front-end configuration: one frozen object, saved with every trained network.

The board must turn speech into spikes exactly as training did, so every parameter of
the front end (filterbank, time alignment, normalisation, encoder) lives in
:class:`FrontendConfig`, which round-trips through JSON (``to_json`` / ``from_json``).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["TimeAlignment", "EncoderKind", "FrontendConfig"]


class TimeAlignment(enum.Enum):
    """How an utterance of any length becomes ``frames`` feature frames."""

    #: The speech segment (silence trimmed at both ends) is split into ``frames`` equal
    #: parts: every word fills the whole window, whatever its duration.
    STRETCH = "stretch"
    #: A fixed window of ``window_s`` seconds from the speech onset (padded with silence,
    #: or cut): durations are kept, long words are truncated.
    ONSET = "onset"


class EncoderKind(enum.Enum):
    """How feature intensities in [0, 1] become spikes (see :mod:`.encoders`)."""

    #: One spike per band and frame; stronger is earlier within the frame's
    #: ``steps_per_frame`` steps (the core's coding, :func:`~spikestream.model.encoding.ttfs_encode`).
    TTFS = "ttfs"
    #: Threshold crossing of each band's level: ``up`` and ``down`` channels (2 x bands).
    DELTA = "delta"
    #: ``round(x * steps_per_frame)`` spikes per band and frame, evenly spaced (deterministic).
    RATE = "rate"
    #: ``RATE`` channels (the level) followed by ``DELTA``'s up and down channels (its
    #: changes): 3 x bands channels. The change channels give hidden neurons, which see
    #: one timestep at a time, what came just before; on unseen voices this beat
    #: ``RATE`` alone by 4 points (see docs/training.md).
    RATE_DELTA = "rate_delta"


#: Fields added to :class:`FrontendConfig` after networks were first saved with it, and
#: the value that behaves as the front end did before the field existed.
_BEFORE_FIELD_EXISTED: dict[str, object] = {"vad_end_energy_fraction": 1.0, "vad_tail_threshold_db": None}


@dataclasses.dataclass(frozen=True)
class FrontendConfig:
    """Every parameter that turns a waveform into a spike raster ``bool [timesteps, channels]``.

    The defaults suit a compact network: 32 mel bands, 16 frames per word, TTFS with 4
    steps per frame, so 64 timesteps x 32 input channels.

    Parameters
    ----------
    sample_rate : int
        Rate (Hz) the audio is resampled to before analysis.
    frame_ms, hop_ms : float
        Analysis window (Hann) length and hop of the short-time spectrum.
    fft_size : int
        FFT length (>= the frame length in samples).
    bands : int
        Number of mel filters (HTK mel scale, triangular, unit peak) between ``f_min``
        and ``f_max`` (Hz).
    pre_emphasis : float
        First-order pre-emphasis coefficient (``y[n] = x[n] - a x[n-1]``), 0 to disable.
    vad_threshold_db, vad_noise_margin_db : float
        Speech detection: a frame is speech when its energy is within
        ``vad_threshold_db`` of the loudest frame *and* at least ``vad_noise_margin_db``
        above the noise floor (the 10th percentile of frame energies, so background
        noise is not taken for speech; halfway from floor to peak if that is less);
        the first and last speech frames delimit the utterance.
    vad_end_energy_fraction : float
        End-of-word detection, in (0, 1]: the utterance ends at the first frame by which
        this fraction of the energy of the speech segment above has been spoken, which
        drops a long quiet ending (one flite voice follows its words with 100 to 150 ms
        of breath 25 to 35 dB down; reverberation adds decays) that the level threshold
        keeps and time alignment would stretch over the window. 1 (the default, and what
        ``from_dict`` reads for files written before this field existed) keeps the end
        the other criteria give. Measured at 0.999 it also cut the weak release burst
        of "eight" and lost 3 points on the unseen engine (docs/training.md, session 3).
    vad_tail_threshold_db, vad_tail_min_ms : float or None, float
        End-of-word detection by a quiet run with a hangover: when the speech segment
        ends in a run of frames all more than ``vad_tail_threshold_db`` below the
        loudest frame that lasts at least ``vad_tail_min_ms``, the word ends where that
        run begins. A shorter quiet run is kept: a stop closure and its weak release
        burst (the "t" of "eight", 30 dB down) belong to the word. The defaults (20 dB,
        100 ms) raised hardware-exact accuracy on unseen voices and on the unseen engine
        over 5 paired seeds (docs/training.md, session 3). ``None`` keeps the level
        criterion's end, which is what files written before these fields existed used
        (``from_dict`` reads a missing field as ``None``).
    frames : int
        Feature frames per utterance after time alignment (band powers are averaged
        over the analysis hops each frame covers).
    alignment : TimeAlignment
        See :class:`TimeAlignment`; ``window_s`` is used by ``ONSET`` only.
    dynamic_range_db : float
        Log compression and normalisation: ``x = clip(1 + (dB - max dB) / range, 0, 1)``
        where ``max dB`` is the loudest band-frame of the utterance, so the input level
        does not matter and anything ``range`` below the peak is silence (x = 0).
    encoder : EncoderKind
        The spike code; ``steps_per_frame`` timesteps per frame, ``delta_threshold`` is
        the level step (in normalised units) of one ``DELTA`` spike.
    """

    sample_rate: int = 16000
    frame_ms: float = 25.0
    hop_ms: float = 10.0
    fft_size: int = 512
    bands: int = 32
    f_min: float = 100.0
    f_max: float = 7000.0
    pre_emphasis: float = 0.97
    vad_threshold_db: float = 35.0
    vad_noise_margin_db: float = 10.0
    vad_end_energy_fraction: float = 1.0
    vad_tail_threshold_db: float | None = 20.0
    vad_tail_min_ms: float = 100.0
    frames: int = 16
    alignment: TimeAlignment = TimeAlignment.STRETCH
    window_s: float = 1.0
    dynamic_range_db: float = 45.0
    encoder: EncoderKind = EncoderKind.TTFS
    steps_per_frame: int = 4
    delta_threshold: float = 0.15

    def __post_init__(self) -> None:
        if isinstance(self.alignment, str):
            object.__setattr__(self, "alignment", TimeAlignment(self.alignment))
        if isinstance(self.encoder, str):
            object.__setattr__(self, "encoder", EncoderKind(self.encoder))
        for name in ("sample_rate", "fft_size", "bands", "frames", "steps_per_frame"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"FrontendConfig: {name} = {value!r} must be a whole number")
            object.__setattr__(self, name, int(value))  # np.int64 too: the config goes to JSON
        frame_samples = self.frame_samples
        checks = [
            (self.sample_rate >= 4000, f"sample_rate {self.sample_rate} Hz is below 4000"),
            (0 < self.hop_ms <= self.frame_ms, f"hop_ms {self.hop_ms} must be in (0, frame_ms={self.frame_ms}]"),
            (self.fft_size >= frame_samples,
             f"fft_size {self.fft_size} is shorter than the frame ({frame_samples} samples)"),
            (self.bands >= 1, f"bands = {self.bands} must be at least 1"),
            (0 <= self.f_min < self.f_max <= self.sample_rate / 2,
             f"band edges {self.f_min} .. {self.f_max} Hz must satisfy 0 <= f_min < f_max <= "
             f"{self.sample_rate / 2} (Nyquist)"),
            (0 <= self.pre_emphasis < 1, f"pre_emphasis {self.pre_emphasis} is outside [0, 1)"),
            (self.vad_threshold_db > 0, f"vad_threshold_db {self.vad_threshold_db} must be positive"),
            (self.vad_noise_margin_db >= 0, f"vad_noise_margin_db {self.vad_noise_margin_db} must not be negative"),
            (0 < self.vad_end_energy_fraction <= 1,
             f"vad_end_energy_fraction {self.vad_end_energy_fraction} is outside (0, 1]"),
            (self.vad_tail_threshold_db is None or self.vad_tail_threshold_db > 0,
             f"vad_tail_threshold_db {self.vad_tail_threshold_db} must be positive (or None: no tail trimming)"),
            (self.vad_tail_min_ms >= 0, f"vad_tail_min_ms {self.vad_tail_min_ms} must not be negative"),
            (self.frames >= 1, f"frames = {self.frames} must be at least 1"),
            (self.window_s > 0, f"window_s {self.window_s} must be positive"),
            (self.dynamic_range_db > 0, f"dynamic_range_db {self.dynamic_range_db} must be positive"),
            (self.steps_per_frame >= 1, f"steps_per_frame = {self.steps_per_frame} must be at least 1"),
            (0 < self.delta_threshold <= 1, f"delta_threshold {self.delta_threshold} is outside (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"FrontendConfig: {message}")

    @property
    def frame_samples(self) -> int:
        """Analysis window length in samples."""
        return int(round(self.frame_ms * self.sample_rate / 1000.0))

    @property
    def hop_samples(self) -> int:
        """Analysis hop in samples."""
        return int(round(self.hop_ms * self.sample_rate / 1000.0))

    @property
    def timesteps(self) -> int:
        """Timesteps of one encoded utterance (``frames * steps_per_frame``)."""
        return self.frames * self.steps_per_frame

    @property
    def channels(self) -> int:
        """Input channels of the network (``2 * bands`` for ``DELTA``, ``3 * bands`` for ``RATE_DELTA``)."""
        return {EncoderKind.DELTA: 2, EncoderKind.RATE_DELTA: 3}.get(self.encoder, 1) * self.bands

    def replace(self, **changes) -> "FrontendConfig":
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """Return the fields as JSON-ready values (enums by their value)."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "FrontendConfig":
        """Build from :meth:`to_dict` output; unknown keys are an error (a newer format).

        A field added after files were first written and missing from ``data`` takes the
        value that reproduces those files' front end (:data:`_BEFORE_FIELD_EXISTED`), not
        the current default, so a network always hears speech encoded as in its training.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(data, dict):
            raise ValueError(f"FrontendConfig: expected a JSON object of fields {sorted(known)}, got a "
                             f"{type(data).__name__}")
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"FrontendConfig: unknown field(s) {unknown}; known are {sorted(known)}")
        return cls(**{**_BEFORE_FIELD_EXISTED, **data})

    def to_json(self) -> str:
        """Return the configuration as a JSON object (sorted keys, stable text)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FrontendConfig":
        """Inverse of :meth:`to_json`.

        >>> FrontendConfig.from_json(FrontendConfig(bands=40).to_json()) == FrontendConfig(bands=40)
        True
        """
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to a file."""
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "FrontendConfig":
        """Read a file written by :meth:`save`."""
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a front-end configuration (JSON text, as FrontendConfig.save writes): "
                             f"{error}") from None
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def fingerprint(self) -> str:
        """Return a short stable hash of the configuration (used in cache file names)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
