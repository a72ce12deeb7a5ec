"""Read and write audio files with numpy and the standard library only (runs on the board).

Samples are ``float64`` in ``[-1, 1]``, mono. WAV files are PCM (8, 16, 24 or 32 bit);
NIST SPHERE files (TI46, TIMIT, TIDIGITS) are uncompressed PCM. Resampling is by FFT
(band-limited, exact for the whole utterance), adequate for isolated words.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ..config import is_finite_number

__all__ = ["read_wav", "write_wav", "read_sphere", "write_sphere", "read_audio", "resample"]


def _pcm_to_float(raw: bytes, sample_width: int, channels: int, big_endian: bool = False) -> np.ndarray:
    """Decode interleaved integer PCM bytes to mono float64 in [-1, 1] (channels averaged)."""
    if sample_width == 1:  # 8-bit WAV is unsigned with a 128 offset
        samples = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif sample_width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        if big_endian:
            bytes3 = bytes3[:, ::-1]
        padded = np.zeros((bytes3.shape[0], 4), np.uint8)
        padded[:, 1:] = bytes3  # shift into the top three bytes, keeps the sign
        samples = padded.view("<i4").ravel().astype(np.float64) / 2.0**31
    elif sample_width in (2, 4):
        dtype = np.dtype(f"{'>' if big_endian else '<'}i{sample_width}")
        samples = np.frombuffer(raw, dtype).astype(np.float64) / 2.0 ** (8 * sample_width - 1)
    else:
        raise ValueError(f"sample width {sample_width} bytes is not supported, expected 1, 2, 3 or 4")
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels).mean(axis=1)
    return samples


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as mono float64 samples in [-1, 1] and its sample rate."""
    try:
        with wave.open(str(path), "rb") as handle:
            rate = handle.getframerate()
            channels = handle.getnchannels()
            width = handle.getsampwidth()
            raw = handle.readframes(handle.getnframes())
    except (EOFError, wave.Error) as error:
        raise ValueError(f"{path}: not a readable PCM WAV file ({error or 'it ends inside its header'})") from None
    return _pcm_to_float(raw, width, channels), rate


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono samples in [-1, 1] as a 16-bit PCM WAV file (values beyond are clipped)."""
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 1:
        raise ValueError(f"samples have shape {samples.shape}, expected one mono channel")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"sample {samples[~np.isfinite(samples)][0]} is not a finite number")
    _check_rate(sample_rate, "sample_rate", whole=True)
    # Round to nearest and saturate: a clipped peak is better than a wrapped one.
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())


def _parse_sphere_header(header: bytes, path: str | Path) -> dict[str, object]:
    lines = header.decode("ascii", errors="replace").splitlines()
    if len(lines) < 2 or lines[0].strip() != "NIST_1A":
        raise ValueError(f"{path}: not a NIST SPHERE file (first line {lines[0]!r} is not 'NIST_1A')")
    fields: dict[str, object] = {}
    for line in lines[2:]:
        line = line.strip()
        if line == "end_head":
            break
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        name, kind, value = parts
        if kind == "-i":
            fields[name] = int(value)
        elif kind == "-r":
            fields[name] = float(value)
        else:  # "-sN": a string of N characters
            length = int(kind[2:]) if kind[2:].isdigit() else len(value)
            fields[name] = value[:length]
    return fields


def read_sphere(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an uncompressed NIST SPHERE file (``NIST_1A`` header) as mono float64 samples.

    Supports ``sample_coding`` ``pcm`` (1-4 bytes, byte order ``01`` little or ``10`` big
    endian) and ``ulaw``. Shorten-compressed files (``pcm,embedded-shorten-...``) must be
    decompressed first (e.g. with ``sph2pipe``); they are reported as such.
    """
    data = Path(path).read_bytes()
    if len(data) < 16:
        raise ValueError(f"{path}: file of {len(data)} bytes is too short for a SPHERE header")
    try:
        header_size = int(data[8:16].decode("ascii").strip())
    except ValueError:
        raise ValueError(f"{path}: second header line {data[8:16]!r} is not the header size") from None
    fields = _parse_sphere_header(data[:header_size], path)
    coding = str(fields.get("sample_coding", "pcm"))
    if "shorten" in coding or "wavpack" in coding:
        raise ValueError(f"{path}: sample_coding {coding!r} is compressed; decompress it first (sph2pipe)")
    rate = int(fields.get("sample_rate", 0))
    if rate <= 0:
        raise ValueError(f"{path}: header has no positive sample_rate")
    channels = int(fields.get("channel_count", 1))
    width = int(fields.get("sample_n_bytes", 2))
    count = int(fields.get("sample_count", (len(data) - header_size) // (width * channels)))
    body = data[header_size: header_size + count * width * channels]
    if coding.startswith("ulaw") or coding.startswith("mu-law"):
        return _ulaw_to_float(np.frombuffer(body, np.uint8), channels), rate
    if not coding.startswith("pcm"):
        raise ValueError(f"{path}: sample_coding {coding!r} is not supported, expected pcm or ulaw")
    byte_format = str(fields.get("sample_byte_format", "01"))
    return _pcm_to_float(body, width, channels, big_endian=(byte_format == "10")), rate


def _ulaw_to_float(codes: np.ndarray, channels: int) -> np.ndarray:
    """Decode G.711 mu-law bytes to float64 in [-1, 1]."""
    inverted = ~codes.astype(np.int32) & 0xFF
    sign = inverted & 0x80
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    samples = np.where(sign != 0, -magnitude, magnitude).astype(np.float64) / 32768.0
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels).mean(axis=1)
    return samples


def write_sphere(path: str | Path, samples: np.ndarray, sample_rate: int, big_endian: bool = False,
                 extra_fields: dict[str, str | int] | None = None) -> None:
    """Write mono samples as an uncompressed 16-bit NIST SPHERE file (1024-byte header)."""
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32767.0), -32768, 32767)
    pcm = pcm.astype(">i2" if big_endian else "<i2")
    lines = ["NIST_1A", "   1024",
             f"sample_count -i {pcm.size}", f"sample_rate -i {int(sample_rate)}", "channel_count -i 1",
             "sample_n_bytes -i 2", f"sample_byte_format -s2 {'10' if big_endian else '01'}",
             "sample_coding -s3 pcm", "sample_sig_bits -i 16"]
    for name, value in (extra_fields or {}).items():
        lines.append(f"{name} -i {value}" if isinstance(value, int) else f"{name} -s{len(value)} {value}")
    lines.append("end_head")
    header = ("\n".join(lines) + "\n").encode("ascii")
    if len(header) > 1024:
        raise ValueError(f"SPHERE header of {len(header)} bytes does not fit in 1024")
    Path(path).write_bytes(header.ljust(1024, b" ") + pcm.tobytes())


def _check_rate(rate, name: str, whole: bool = False) -> None:
    if not is_finite_number(rate) or rate <= 0 or (whole and rate != int(rate)):
        kind = "a whole number of samples per second" if whole else "a finite number of samples per second"
        raise ValueError(f"{name} = {rate!r}, expected {kind} > 0")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV or NIST SPHERE file (detected from its first bytes), mono float64."""
    with open(path, "rb") as handle:
        magic = handle.read(7)
    if magic == b"NIST_1A":
        return read_sphere(path)
    if magic[:4] == b"RIFF":
        return read_wav(path)
    raise ValueError(f"{path}: not a WAV (RIFF) or NIST SPHERE file (starts with {magic!r})")


def resample(samples: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """Resample by FFT to ``rate_out`` (band-limited: content above the new Nyquist is cut).

    Only the ratio of the rates matters: ``resample(x, x.size, n)`` returns ``n`` samples.

    >>> resample(np.zeros(22050), 22050, 16000).shape
    (16000,)
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 1:
        raise ValueError(f"samples have shape {samples.shape}, expected one mono channel")
    if samples.size == 0:  # nothing to resample (resample(x, x.size, n) of an empty clip has rate_in 0)
        return samples.copy()
    _check_rate(rate_in, "rate_in")
    _check_rate(rate_out, "rate_out")
    if rate_in == rate_out:
        return samples.copy()
    n_out = int(round(samples.size * rate_out / rate_in))
    spectrum = np.fft.rfft(samples)
    bins_out = n_out // 2 + 1
    if bins_out <= spectrum.size:
        spectrum = spectrum[:bins_out]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins_out - spectrum.size, spectrum.dtype)])
    return np.fft.irfft(spectrum, n_out) * (n_out / samples.size)
