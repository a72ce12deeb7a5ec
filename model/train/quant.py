"""Integer-exact torch arithmetic of the golden model, with gradients.

The forward functions here compute exactly what :mod:`spikestream.model.golden` computes
(see its docstring for the equations); the backward passes are straight-through
estimators (rounding, truncation) and a surrogate derivative (the spike threshold).

Exactness: every value is held as an integer in a ``float64`` tensor. The largest
product formed is ``|x| * 4096 <= 2**23 * 2**12 = 2**35``, far below ``2**53``, and a
division by ``4096`` is exact in binary floating point, so ``trunc`` sees the true
rational value and rounds it exactly as the golden model's ``>> 12`` does.
"""

from __future__ import annotations

import torch

from ..config import DECAY_UNITY

__all__ = ["round_ste", "trunc_ste", "decay", "spike_fn", "quantize", "SURROGATE_SLOPE"]

#: Steepness of the fast-sigmoid surrogate derivative, per unit of threshold scale.
SURROGATE_SLOPE = 5.0


class _RoundSTE(torch.autograd.Function):
    """Round half to even forward (as ``np.rint``), identity backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _TruncSTE(torch.autograd.Function):
    """Truncate toward zero forward, identity backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.trunc(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer; the gradient passes straight through."""
    return _RoundSTE.apply(x)


def trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Truncate toward zero; the gradient passes straight through."""
    return _TruncSTE.apply(x)


def quantize(x: torch.Tensor, low: float, high: float, exact: bool) -> torch.Tensor:
    """Clamp to ``[low, high]`` and, if ``exact``, round to an integer (straight through)."""
    x = torch.clamp(x, low, high)
    return round_ste(x) if exact else x


def decay(x: torch.Tensor, d: torch.Tensor, exact: bool) -> torch.Tensor:
    """``x * (4096 - d) / 4096``, truncated toward zero when ``exact`` (golden ``decay``)."""
    scaled = x * (DECAY_UNITY - d) / DECAY_UNITY
    return trunc_ste(scaled) if exact else scaled


class _Spike(torch.autograd.Function):
    """Heaviside of ``x > 0`` (strict, as the core) with a fast-sigmoid surrogate derivative.

    ``x`` is ``(v - effective threshold) / scale``; the surrogate is
    ``1 / (1 + slope * |x|)**2`` (Zenke & Ganguli's SuperSpike).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + SURROGATE_SLOPE * x.abs()) ** 2


def spike_fn(v: torch.Tensor, threshold: torch.Tensor, scale: float) -> torch.Tensor:
    """Return ``1.0`` where ``v > threshold`` (strict), with a surrogate gradient.

    ``scale`` (the state units of one threshold) normalises the surrogate's width.
    """
    return _Spike.apply((v - threshold) / scale)
