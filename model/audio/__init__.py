"""Spoken words to spikes: corpus synthesis, loaders, augmentation, front end, encoders.

The front end (:mod:`.config`, :mod:`.features`, :mod:`.encoders`, :mod:`.wavio`) needs
numpy only and runs on the board; corpus synthesis, augmentation, HDF5 loaders and plots
need the ``data`` extra and are imported from their modules.
"""

from .config import EncoderKind, FrontendConfig, TimeAlignment
from .encoders import audio_to_events, audio_to_raster, encode_features
from .features import log_mel_features
from .wavio import read_audio, read_wav, resample, write_wav

__all__ = ["EncoderKind", "FrontendConfig", "TimeAlignment", "audio_to_events", "audio_to_raster",
           "encode_features", "log_mel_features", "read_audio", "read_wav", "resample", "write_wav"]
