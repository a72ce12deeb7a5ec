"""Pruning during training to a target connectivity; the result is exported as group masks.

Two methods, chosen by :class:`PruningConfig`:

``magnitude`` (Zhu & Gupta 2017, "To prune, or not to prune")
    between ``start`` and ``end`` (fractions of the training steps) the kept fraction of
    each prunable group follows ``target + (1 - target) * (1 - progress)**3``; at every
    update the smallest ``|w|`` of the live synapses are removed for good. With
    ``useful_only`` (the default) a group's budget goes to *useful* synapses only: from an
    input or a neuron that can spike to a neuron that reaches the outputs, the rule of
    :func:`~spikestream.model.network.remove_dead_neurons`. Without it, once pruning has
    taken every synapse out of a hidden neuron, the synapses into it still count against
    the budget though deployment removes them with the neuron (25-31 % of the input
    synapses of bench demo c's network at 9.6-10 % kept); with it they are pruned and the
    budget is spent on synapses into neurons that are heard, so the trained network is
    the deployed one and the target bounds the connectivity the core stores (it is
    reached unless too few useful synapses are left: a final filter drops what the rounds
    of choice left useless and does not refill it, 0-1.4 % of a group in bench demo c). As
    accurate per stored synapse as the plain rule, within the seed noise (bench/README.md,
    demo c). Groups too small to prune (``min_synapses``) keep their synapses, useful or not.
    With ``activity_exponent`` ``p > 0`` a synapse scores ``|w| * a**p`` instead of ``|w|``,
    ``a`` being its source's spikes per sample (an exponential average over the training
    batches, :meth:`Pruner.observe`): a synapse changes its target's potential by ``w`` at
    every spike of its source, so ``|w| * a`` is what it adds per sample, while the core
    spends a delivery cycle per row of a spiking source's synapses, so ``|w|`` alone is
    what it adds per cycle. ``p = 1`` keeps the synapses that do the most per stored
    synapse (most accurate at a given connectivity, but the busiest sources stay connected
    and the network is slower); ``p = 0`` is the plain magnitude score (bench/README.md, demo c).
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

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..network import INPUT, neurons_that_matter
from .choices import PruningMethod
from .net import SpikingNetwork

__all__ = ["PruningMethod", "PruningConfig", "Pruner", "useful_synapses"]


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
    useful_only : bool
        ``magnitude``: keep only synapses that can change the outputs (module docstring).
    activity_exponent : float
        ``magnitude``: score ``|w| * a**activity_exponent``, ``a`` the source's spikes per
        sample (module docstring); 0 (the default) scores ``|w|``.
    input_channels : float
        ``magnitude``: fraction of the input channels that keep synapses at the end (1, the
        default: no channel budget). Input channels are removed whole, on the same schedule,
        lowest live weight mass per event first (module docstring).
    """

    method: PruningMethod = PruningMethod.NONE
    target: float = 1.0
    start: float = 0.1
    end: float = 0.6
    min_synapses: int = 64
    useful_only: bool = True
    activity_exponent: float = 0.0
    input_channels: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.method, PruningMethod):
            object.__setattr__(self, "method", PruningMethod(self.method))
        if not 0.0 < self.target <= 1.0:
            raise ValueError(f"pruning target {self.target} is outside (0, 1] (fraction of synapses kept)")
        if not 0.0 <= self.start <= self.end <= 1.0:
            raise ValueError(f"pruning window start={self.start}, end={self.end} must satisfy 0 <= start <= end <= 1")
        if not math.isfinite(self.activity_exponent) or self.activity_exponent < 0:
            raise ValueError(f"activity exponent {self.activity_exponent} must be a finite number >= 0")
        if not 0.0 < self.input_channels <= 1.0:
            raise ValueError(f"input channel fraction {self.input_channels} is outside (0, 1]")
        if self.input_channels < 1.0 and self.method is not PruningMethod.MAGNITUDE:
            raise ValueError(f"input channel fraction {self.input_channels} is a magnitude-pruning budget; pruning "
                             f"method is {self.method.value}, expected magnitude")
        if self.activity_exponent and self.method is not PruningMethod.MAGNITUDE:
            raise ValueError(f"activity exponent {self.activity_exponent} weighs the magnitude score; pruning method "
                             f"is {self.method.value}, expected magnitude")


#: Weight of the past in the average spikes per sample of each source (:meth:`Pruner.observe`).
ACTIVITY_MEMORY = 0.9

#: Most rounds of choosing the largest useful synapses; the final filter keeps the result valid wherever they stop.
USEFUL_ROUNDS = 4


@torch.no_grad()
def useful_synapses(model: SpikingNetwork, masks: dict[int, torch.Tensor],
                    positive_bias: np.ndarray | None = None) -> dict[int, torch.Tensor]:
    """Per group: which synapses could change the outputs if ``masks`` were the live synapses.

    A synapse is useful when its source is an input or a neuron that can spike and its
    target reaches the outputs (:func:`~spikestream.model.network.neurons_that_matter`, the
    rule of :func:`~spikestream.model.network.remove_dead_neurons`, with the exported biases).
    Reaching is judged without spiking: a synapse not in ``masks`` may be what would make
    its target spike. ``positive_bias`` (:func:`_positive_bias`, default: computed here)
    lets a caller that asks for several ``masks`` of the same weights compute it once.
    """
    network = model.template
    sources, targets = [], []
    for index, group in enumerate(network.groups):
        pre, post = (ids.cpu().numpy() for ids in torch.nonzero(masks[index], as_tuple=True))
        sources.append(pre + network.source_offset(group.source))
        targets.append(post + network.neuron_offset(group.target))
    if positive_bias is None:
        positive_bias = _positive_bias(model)
    output = np.zeros(network.n_neurons, bool)
    output[model.output_slice] = True
    can_spike, reaches = neurons_that_matter(network.n_inputs, np.concatenate(sources), np.concatenate(targets),
                                             positive_bias, output)
    device = masks[0].device
    useful = {}
    for index, group in enumerate(network.groups):
        target = network.neuron_offset(group.target)
        heard = reaches[target:target + masks[index].shape[1]]
        if group.source == INPUT:
            spiking = np.ones(masks[index].shape[0], bool)
        else:
            offset = network.neuron_offset(group.source)
            spiking = can_spike[offset:offset + masks[index].shape[0]]
        useful[index] = torch.as_tensor(spiking[:, None] & heard[None, :], device=device)
    return useful


def _positive_bias(model: SpikingNetwork) -> np.ndarray:
    """Which neurons have an exported bias > 0 (they can spike without input)."""
    return model.neuron_parameters(True)["bias"].detach().cpu().numpy() > 0


def _hops_to_output(network) -> dict[str, float]:
    """Per population: the fewest groups its spikes cross to reach the output population (inf: never)."""
    hops = {p.name: math.inf for p in network.populations}
    hops[network.output] = 0
    for _ in network.populations:
        for group in network.groups:
            if group.source != INPUT:
                hops[group.source] = min(hops[group.source], hops[group.target] + 1)
    return hops


class Pruner:
    """Apply a :class:`PruningConfig` to a model after every optimiser step."""

    def __init__(self, model: SpikingNetwork, config: PruningConfig, total_steps: int, seed: int = 0):
        self.config = config
        self.total_steps = max(1, total_steps)
        self.steps = 0
        self.groups = [i for i in range(model.n_groups) if int(model.structure_mask(i).sum()) >= config.min_synapses]
        hops = _hops_to_output(model.template)
        self.order = sorted(self.groups, key=lambda i: hops[model.template.groups[i].target])  # outputs first
        self.signs = {}
        #: Spikes per sample of every source (inputs, then neurons), averaged over batches; None before any.
        self.activity: torch.Tensor | None = None
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

    def kept_fraction(self, target: float | None = None) -> float:
        """Fraction of each pruned group (or of ``target``'s budget, e.g. the input channels) kept at the current step."""
        c = self.config
        target = c.target if target is None else target
        if c.method is PruningMethod.NONE:
            return 1.0
        if c.method is PruningMethod.REWIRE:
            return target
        progress = (self.steps / self.total_steps - c.start) / max(c.end - c.start, 1e-9)
        progress = min(max(progress, 0.0), 1.0)
        return target + (1.0 - target) * (1.0 - progress) ** 3

    @torch.no_grad()
    def _input_channels(self, model: SpikingNetwork, live: dict[int, torch.Tensor], fraction: float) -> dict:
        """Per input group, the live synapses of the input channels kept at ``fraction`` of all channels.

        A channel with a synapse costs each of its events an input word and a delivery row;
        one without costs nothing (the host leaves its events out). Channels are ranked by
        live weight mass per event, ``sum_j |w_cj| / a_c``; a removed channel has no live
        synapse left, so it ranks last from then on and stays removed. A channel that never
        spikes costs nothing and ranks first; input groups too small to prune
        (``min_synapses``) keep their synapses outside the budget.
        """
        network = model.template
        inputs = [i for i in self.groups if network.groups[i].source == INPUT]
        if self.config.input_channels >= 1.0 or self.activity is None or not inputs:
            return {}
        mass = sum(torch.where(live[i], model.weights[i].abs(), torch.zeros_like(model.weights[i])).sum(1)
                   for i in inputs)
        events = self.activity[:network.n_inputs].to(mass).clamp_min(1e-9)
        keep = max(1, int(round(fraction * network.n_inputs)))
        kept = torch.zeros(network.n_inputs, dtype=torch.bool, device=mass.device)
        kept[torch.topk(torch.where(mass > 0, mass / events, torch.full_like(mass, -1.0)), keep).indices] = True
        kept &= mass > 0
        return {i: live[i] & kept[:, None] for i in inputs}

    @staticmethod
    def _keep_count(model: SpikingNetwork, index: int, fraction: float) -> int:
        return max(1, int(round(fraction * int(model.structure_mask(index).sum()))))

    @torch.no_grad()
    def _magnitude(self, model: SpikingNetwork, fraction: float, channel_fraction: float = 1.0) -> None:
        live = {i: model.live_mask(i) for i in range(model.n_groups)}
        live.update(self._input_channels(model, live, channel_fraction))
        if not self.config.useful_only:
            for i in self.groups:
                model.set_prune_mask(i, self._largest(model, i, live[i], fraction))
            return
        # Groups nearest the outputs choose first, so that the groups feeding them spend their
        # budget on the neurons that are heard; the groups not chosen yet count with their live
        # synapses. A neuron chosen for its fan-out may still get no fan-in: later rounds spend
        # that budget again, and the last filter guarantees that no useless synapse is kept.
        masks = dict(live)
        positive_bias = _positive_bias(model)  # the weights do not change during the choice
        for _ in range(USEFUL_ROUNDS):
            settled = True
            for i in self.order:
                chosen = self._largest(model, i, live[i] & useful_synapses(model, masks, positive_bias)[i], fraction)
                settled &= torch.equal(chosen, masks[i])
                masks[i] = chosen
            if settled:
                break
        while True:
            useful = useful_synapses(model, masks, positive_bias)
            kept = {i: masks[i] & useful[i] for i in self.groups}
            if all(torch.equal(kept[i], masks[i]) for i in self.groups):
                break
            masks.update(kept)
        for i in self.groups:
            model.set_prune_mask(i, masks[i])

    def _largest(self, model: SpikingNetwork, index: int, allowed: torch.Tensor, fraction: float) -> torch.Tensor:
        """The ``fraction`` of group ``index``'s possible synapses of largest score among ``allowed``.

        The score is ``|w|``, times the source's activity to the ``activity_exponent`` when that
        is not 0 (before the first :meth:`observe` there is no activity yet: ``|w|``).
        """
        keep = min(self._keep_count(model, index, fraction), int(allowed.sum()))
        magnitude = model.weights[index].abs()
        if self.config.activity_exponent and self.activity is not None:
            offset = model.template.source_offset(model.template.groups[index].source)
            activity = self.activity[offset:offset + magnitude.shape[0]].to(magnitude)[:, None]
            magnitude = magnitude * activity ** self.config.activity_exponent
        score = torch.where(allowed, magnitude, torch.full_like(model.weights[index], -1.0))
        mask = torch.zeros(allowed.numel(), dtype=torch.bool, device=allowed.device)
        mask[torch.topk(score.flatten(), keep).indices] = True
        return mask.view_as(allowed) & allowed

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

    @torch.no_grad()
    def observe(self, inputs: torch.Tensor, spike_count: torch.Tensor) -> None:
        """Average the spikes per sample of every source over the training batches (``activity_exponent`` only).

        ``inputs``: the batch's input rasters ``[B, T, n_inputs]``; ``spike_count``: its
        spikes per neuron ``[B, n_neurons]`` (:class:`~spikestream.model.train.net.Run`).
        """
        if not self.config.activity_exponent and self.config.input_channels >= 1.0:
            return
        # Kept where the batches are (no copy to the host per batch), in float64.
        sample = torch.cat([inputs.detach().double().sum(1).mean(0), spike_count.detach().double().mean(0)])
        self.activity = sample if self.activity is None else (ACTIVITY_MEMORY * self.activity
                                                              + (1 - ACTIVITY_MEMORY) * sample)

    def step(self, model: SpikingNetwork) -> None:
        """Update the masks after one optimiser step."""
        self.steps += 1
        if self.config.method is PruningMethod.MAGNITUDE:
            self._magnitude(model, self.kept_fraction(), self.kept_fraction(self.config.input_channels))
        elif self.config.method is PruningMethod.REWIRE:
            self._rewire(model)

    def finish(self, model: SpikingNetwork) -> None:
        """Reach the target exactly at the end of training; stop gradient rewiring."""
        if self.config.method is PruningMethod.MAGNITUDE:
            self._magnitude(model, self.config.target, self.config.input_channels)
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
        return {"steps": self.steps, "signs": {k: v.cpu() for k, v in self.signs.items()}, "activity": self.activity}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"]
        self.signs = {k: v for k, v in state["signs"].items()}
        activity = state.get("activity")  # absent from checkpoints saved before activity weighting
        # The trainer maps a checkpoint to its device, where observe() goes on averaging in float64.
        self.activity = None if activity is None else activity.detach().double()
