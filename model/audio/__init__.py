"""Spoken words to spikes: corpus synthesis, loaders, augmentation, front end, encoders.

Modules
-------
:mod:`.config`
    :class:`FrontendConfig`, every parameter from waveform to raster; saved as JSON with
    each trained network so the board encodes exactly as training did.
:mod:`.wavio`, :mod:`.features`, :mod:`.encoders`
    The front end, numpy only (it runs on the board): WAV / NIST SPHERE input, FFT
    resampling, mel filterbank, speech detection, time alignment, log normalisation,
    and the TTFS / delta / rate / rate_delta encoders (the demo trains on rate_delta:
    level and change of each band, 96 channels). ``audio_to_raster`` gives
    ``bool [timesteps, channels]``, ``audio_to_events`` the core's ``(timestep, channel)`` rows.
:mod:`.corpus`
    The built-in TI46-style corpus (digits and letters) synthesized with espeak-ng,
    flite and festival; splits by voice family plus a held-out engine.
:mod:`.datasets`
    ``load_dataset(source, frontend, split)`` for the built-in corpus, any folder with a
    ``metadata.csv``, TI46, Spiking Heidelberg Digits and N-TIDIGITS; cached.
:mod:`.augment`
    Speed perturbation, room reverberation, noise at an SNR, band limiting.
:mod:`.plots`
    Waveform, spectrogram, features and spike raster of one utterance.

Default front end: 32 mel bands (100-7000 Hz), 25 ms / 10 ms analysis, each word
stretched to 16 frames, 45 dB range, TTFS with 4 steps per frame: 64 timesteps x 32
input channels, about 400 input spikes per word -- small enough for a compact network
on the core (``max_inputs`` 128) and fast to simulate.

Command line: ``spikestream data build --subset digits|letters|all``, ``spikestream data
info DATASET``, ``spikestream data plot FILE.wav --out x.png``. Corpus synthesis needs
the Debian engines (``make system-deps``); augmentation, HDF5 loaders and plots need
the ``data`` extra.
"""

from .config import EncoderKind, FrontendConfig, TimeAlignment
from .encoders import audio_to_events, audio_to_raster, encode_features
from .features import log_mel_features
from .wavio import read_audio, read_wav, resample, write_wav

__all__ = ["EncoderKind", "FrontendConfig", "TimeAlignment", "audio_to_events", "audio_to_raster",
           "encode_features", "log_mel_features", "read_audio", "read_wav", "resample", "write_wav"]
