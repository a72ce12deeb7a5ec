"""Enumerations of the training options (torch-free, so the command line parses without torch)."""

from __future__ import annotations

import enum

__all__ = ["Architecture", "PruningMethod"]


class Architecture(enum.Enum):
    """Connection pattern between the layers (see :mod:`spikestream.model.train.layers`)."""

    FEEDFORWARD = "feedforward"
    SELF_RECURRENT = "self_recurrent"
    SKIP = "skip"
    RECURRENT = "recurrent"


class PruningMethod(enum.Enum):
    """How synapses are removed during training (see :mod:`spikestream.model.train.prune`)."""

    NONE = "none"
    MAGNITUDE = "magnitude"
    REWIRE = "rewire"
