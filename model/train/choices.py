"""Enumerations of the training options and the value checks the configurations share (torch-free, so the
command line parses without torch)."""

from __future__ import annotations

import enum

from ..config import is_finite_number, is_whole_number

__all__ = ["Architecture", "PruningMethod", "is_finite_number", "is_whole_number"]


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
