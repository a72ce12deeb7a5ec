"""Enumerations of the training options and the value checks the configurations share (torch-free, so the
command line parses without torch)."""

from __future__ import annotations

import enum
import math
import numbers

__all__ = ["Architecture", "PruningMethod", "is_finite_number", "is_whole_number"]


def is_finite_number(value) -> bool:
    """A real number, not NaN or infinite (bools are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_whole_number(value) -> bool:
    """An integer (Python's or numpy's; a bool is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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
