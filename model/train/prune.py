"""Pruning during training to a target connectivity; the result is exported as group masks.

Two methods, chosen by :class:`PruningConfig`:

``magnitude`` (Zhu & Gupta 2017, "To prune, or not to prune")
    between ``start`` and ``end`` (fractions of the training steps) the kept fraction of
    each prunable group follows ``target + (1 - target) * (1 - progress)**3``; at every
    update the smallest ``|w|`` of the live synapses are removed for good.
``rewire`` (gradient rewiring, Chen et al. 2021, in the manner of Deep R)
    every synapse keeps the sign it was initialised with; a synapse is live when its
    latent weight has that sign and is among the ``target`` fraction largest in that
    direction. Dormant synapses still receive gradients, so they can grow back and
    replace live ones whose weight shrinks through zero: connectivity stays at the
    target from the first step while *which* synapses exist keeps changing.

Masks live in :class:`~spikestream.model.train.net.SpikingNetwork` (``prune_mask_g``);
the forward pass honours them and :meth:`SpikingNetwork.to_network` writes them as the
group masks, so pruned synapses are not stored in the core.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .choices import PruningMethod
from .net import SpikingNetwork

__all__ = ["PruningMethod", "PruningConfig", "Pruner"]


@dataclass(frozen=True)
class PruningConfig:
    """Which groups are pruned, how, and to what connectivity.

    Parameters
    ----------
    method : PruningMethod
    target : float
        Fraction of each prunable group's synapses kept at the end (0 < target <= 1).
    start, end : float
        Magnitude schedule window, as fractions of all training steps.
    min_synapses : int
        Groups with fewer possible synapses (e.g. diagonal self-recurrence) are not pruned.
    """

    method: PruningMethod = PruningMethod.NONE
    target: float = 1.0
    start: float = 0.1
    end: float = 0.6
    min_synapses: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.method, PruningMethod):
            object.__setattr__(self, "method", PruningMethod(self.method))
        if not 0.0 < self.target <= 1.0:
            raise ValueError(f"pruning target {self.target} is outside (0, 1] (fraction of synapses kept)")
        if not 0.0 <= self.start <= self.end <= 1.0:
            raise ValueError(f"pruning window start={self.start}, end={self.end} must satisfy 0 <= start <= end <= 1")


class Pruner:
    """Apply a :class:`PruningConfig` to a model after every optimiser step."""

    def __init__(self, model: SpikingNetwork, config: PruningConfig, total_steps: int, seed: int = 0):
        self.config = config
        self.total_steps = max(1, total_steps)
        self.steps = 0
        self.groups = [i for i in range(model.n_groups) if int(model.structure_mask(i).sum()) >= config.min_synapses]
        self.signs = {}
        if config.method is PruningMethod.REWIRE:
            model.dense_gradient = True
            for i in self.groups:
                latent = model.weights[i].detach()
                sign = torch.sign(latent)
                generator = torch.Generator().manual_seed(seed + i)
                random_sign = torch.where(torch.rand(latent.shape, generator=generator, dtype=latent.dtype) < 0.5,
                                          -1.0, 1.0).to(latent.device)
                self.signs[i] = torch.where(sign == 0, random_sign, sign)
            self._rewire(model)

    def kept_fraction(self) -> float:
        """Fraction of each pruned group to keep at the current step."""
        c = self.config
        if c.method is PruningMethod.NONE:
            return 1.0
        if c.method is PruningMethod.REWIRE:
            return c.target
        progress = (self.steps / self.total_steps - c.start) / max(c.end - c.start, 1e-9)
        progress = min(max(progress, 0.0), 1.0)
        return c.target + (1.0 - c.target) * (1.0 - progress) ** 3

    @staticmethod
    def _keep_count(model: SpikingNetwork, index: int, fraction: float) -> int:
        return max(1, int(round(fraction * int(model.structure_mask(index).sum()))))

    @torch.no_grad()
    def _magnitude(self, model: SpikingNetwork, fraction: float) -> None:
        for i in self.groups:
            live = model.live_mask(i)
            keep = self._keep_count(model, i, fraction)
            if int(live.sum()) <= keep:
                continue
            score = torch.where(live, model.weights[i].abs(), torch.full_like(model.weights[i], -1.0))
            chosen = torch.topk(score.flatten(), keep).indices
            mask = torch.zeros(live.numel(), dtype=torch.bool, device=live.device)
            mask[chosen] = True
            model.set_prune_mask(i, mask.view_as(live) & live)

    @torch.no_grad()
    def _rewire(self, model: SpikingNetwork) -> None:
        for i in self.groups:
            structure = model.structure_mask(i)
            aligned = self.signs[i] * model.weights[i]
            score = torch.where(structure & (aligned > 0), aligned, torch.full_like(aligned, -1.0))
            keep = self._keep_count(model, i, self.config.target)
            chosen = torch.topk(score.flatten(), keep).indices
            mask = torch.zeros(structure.numel(), dtype=torch.bool, device=structure.device)
            mask[chosen] = True
            model.set_prune_mask(i, mask.view_as(structure) & (score > 0))

    def step(self, model: SpikingNetwork) -> None:
        """Update the masks after one optimiser step."""
        self.steps += 1
        if self.config.method is PruningMethod.MAGNITUDE:
            self._magnitude(model, self.kept_fraction())
        elif self.config.method is PruningMethod.REWIRE:
            self._rewire(model)

    def finish(self, model: SpikingNetwork) -> None:
        """Reach the target exactly at the end of training; stop gradient rewiring."""
        if self.config.method is PruningMethod.MAGNITUDE:
            self._magnitude(model, self.config.target)
        elif self.config.method is PruningMethod.REWIRE:
            self._rewire(model)
        model.dense_gradient = False

    def connectivity(self, model: SpikingNetwork) -> float:
        """Live fraction of the synapses of the pruned groups (1.0 when none are pruned)."""
        if not self.groups:
            return 1.0
        live = sum(int(model.live_mask(i).sum()) for i in self.groups)
        possible = sum(int(model.structure_mask(i).sum()) for i in self.groups)
        return live / possible

    def state_dict(self) -> dict:
        return {"steps": self.steps, "signs": {k: v.cpu() for k, v in self.signs.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"]
        self.signs = {k: v for k, v in state["signs"].items()}
