"""Pictures of one utterance: waveform, spectrogram, mel features and the spike raster (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..encoding import raster_to_events
from .config import EncoderKind, FrontendConfig
from .encoders import encode_features
from .features import align_frames, band_powers, normalise_log, power_spectrogram, speech_bounds
from .wavio import read_audio, resample

__all__ = ["plot_utterance"]


def plot_utterance(audio_path: str | Path, frontend: FrontendConfig, out_path: str | Path) -> None:
    """Write a PNG with the waveform, spectrogram, normalised mel features and spike raster."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install -e '.[data]'") from None
    samples, rate = read_audio(audio_path)
    samples16 = resample(samples, rate, frontend.sample_rate)
    spectrum_db = 10 * np.log10(power_spectrogram(samples16, frontend) + 1e-12)
    powers = band_powers(samples, rate, frontend)
    first, stop = speech_bounds(powers, frontend)
    features = normalise_log(align_frames(powers, frontend), frontend)
    raster = encode_features(features, frontend)
    events = raster_to_events(raster)
    hop_s = frontend.hop_ms / 1000

    figure, axes = plt.subplots(4, 1, figsize=(8, 9.5), gridspec_kw={"height_ratios": [1, 2, 2, 2.4]})
    figure.suptitle(f"{Path(audio_path).name}: {frontend.encoder.value} code, {raster.shape[0]} timesteps x "
                    f"{raster.shape[1]} channels, {len(events)} spikes", fontsize=11)
    time_axis = np.arange(samples16.size) / frontend.sample_rate
    axes[0].plot(time_axis, samples16, linewidth=0.5, color="0.2")
    axes[0].set_xlim(0, time_axis[-1] if time_axis.size else 1)
    axes[0].set_ylabel("amplitude")
    axes[0].set_title("waveform (shaded: detected speech)", fontsize=9)

    top = spectrum_db.max()
    axes[1].imshow(spectrum_db.T, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                   extent=(0, spectrum_db.shape[0] * hop_s, 0, frontend.sample_rate / 2000))
    axes[1].set_ylabel("frequency (kHz)")
    axes[1].set_xlabel("time (s)")
    axes[1].set_title(f"power spectrogram ({frontend.frame_ms:g} ms Hann, hop {frontend.hop_ms:g} ms, dB)", fontsize=9)
    for axis in axes[:2]:
        axis.axvspan(first * hop_s, stop * hop_s, color="tab:cyan", alpha=0.12)
    axes[0].sharex(axes[1])

    axes[2].imshow(features.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   extent=(-0.5, features.shape[0] - 0.5, -0.5, features.shape[1] - 0.5), interpolation="nearest")
    axes[2].set_ylabel("mel band")
    axes[2].set_xlabel("frame")
    axes[2].set_title(f"normalised log-mel features ({frontend.bands} bands {frontend.f_min:g}-{frontend.f_max:g} Hz, "
                      f"{frontend.frames} frames, {frontend.alignment.value}, range {frontend.dynamic_range_db:g} dB)",
                      fontsize=9)

    if frontend.encoder is EncoderKind.DELTA:
        up = events[:, 1] < frontend.bands
        axes[3].scatter(events[up, 0], events[up, 1], s=6, marker="|", color="tab:red", label="up")
        axes[3].scatter(events[~up, 0], events[~up, 1], s=6, marker="|", color="tab:blue", label="down")
        axes[3].legend(loc="upper right", fontsize=8)
    else:
        axes[3].scatter(events[:, 0], events[:, 1], s=8, marker="|", color="black")
    for boundary in range(0, raster.shape[0] + 1, frontend.steps_per_frame):
        axes[3].axvline(boundary - 0.5, color="0.85", linewidth=0.5, zorder=0)
    axes[3].set_xlim(-0.5, raster.shape[0] - 0.5)
    axes[3].set_ylim(-0.5, raster.shape[1] - 0.5)
    axes[3].set_xlabel(f"timestep ({frontend.steps_per_frame} per frame)")
    axes[3].set_ylabel("input channel")
    axes[3].set_title("spike raster (the core's input events)", fontsize=9)
    figure.tight_layout()
    figure.savefig(out_path, dpi=110)
    plt.close(figure)
