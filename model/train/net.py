"""A torch mirror of a :class:`~spikestream.model.network.Network` that can be trained.

:class:`SpikingNetwork` holds one float latent per integer the core stores (weights,
thresholds, decays, biases) and runs the golden model's timestep (see the docstring of
:mod:`spikestream.model.golden`; it is not restated here) in one of two modes:

``exact=True`` (hardware-exact, quantization-aware)
    every latent is quantized to the integer the core will hold (straight-through
    rounding), states are truncated and saturated as in the core. The spikes, voltages
    and decisions are identical to :func:`spikestream.model.golden.run` on
    :meth:`SpikingNetwork.to_network`.
``exact=False`` (float)
    the same equations without rounding or truncation: the float model.

Latent units: weights, thresholds and biases are stored divided by ``unit`` (state
units per "1.0", a power of two so that the conversion is exact); decays are stored as
fractions of 4096. Per-group weight exponents are either those of the source network
(``exponents="fixed"``) or chosen on every forward pass as the smallest shift that
lets the largest weight of the group fit the int8 mantissa (``exponents="auto"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .. import golden
from ..config import DECAY_UNITY, CoreConfig
from ..network import Network, Population, ResetMode, SynapseGroup, queue_can_drop
from .quant import decay, quantize, spike_fn

__all__ = ["Trainable", "Run", "SpikingNetwork", "decide"]

DTYPE = torch.float64


@dataclass(frozen=True)
class Trainable:
    """Which intrinsic parameters backpropagation changes (weights always train)."""

    threshold: bool = True
    voltage_decay: bool = True
    current_decay: bool = True
    bias: bool = False


class Run(NamedTuple):
    """What a forward pass produced (shapes ``[B, ...]``; ``N`` = all neurons)."""

    spikes: torch.Tensor  #: [B, T, N] 0/1 with surrogate gradient
    u: torch.Tensor  #: [B, N] final current
    v: torch.Tensor  #: [B, N] final voltage
    theta: torch.Tensor  #: [B, N] final adaptation
    first_spike_step: torch.Tensor  #: [B, N] int64, -1 for none
    first_spike_voltage: torch.Tensor  #: [B, N] voltage before reset at the first spike
    spike_count: torch.Tensor  #: [B, N] (differentiable)
    steps_run: torch.Tensor  #: [B] int64


class SpikingNetwork(nn.Module):
    """Trainable torch view of ``network`` (structure, rules and decision are kept).

    Parameters
    ----------
    network : Network
        Structure and initial integer values.
    core : CoreConfig
        The core the network must fit (bit widths, ranges).
    unit : int
        State units per latent 1.0 (a power of two).
    trainable : Trainable
        Which neuron parameters get gradients.
    exponents : {"auto", "fixed"}
        Group exponents chosen from the weights, or kept from ``network``.
    """

    def __init__(self, network: Network, core: CoreConfig, unit: int = 4096, trainable: Trainable = Trainable(),
                 exponents: str = "auto"):
        super().__init__()
        if unit <= 0 or unit & (unit - 1):
            raise ValueError(f"unit = {unit} must be a power of two (so that latents convert exactly)")
        if exponents not in ("auto", "fixed"):
            raise ValueError(f"exponents = {exponents!r}, expected 'auto' or 'fixed'")
        network.check_fits(core)
        if queue_can_drop(network, core):
            # A busy step on such a core drops events (golden.queue_admit), which this mirror does not model.
            raise ValueError(f"the core's event queue holds {core.event_queue_depth} events per step, fewer than the "
                             f"network's {network.n_sources} sources ({network.n_inputs} inputs + {network.n_neurons} "
                             f"neurons): busy steps would drop events, which training does not model; build the core "
                             f"with event_queue_depth >= {network.n_sources}")
        self.template = network
        self.core = core
        self.unit = unit
        self.exponent_mode = exponents
        #: Dormant synapses get gradients (gradient rewiring); set by the pruner.
        self.dense_gradient = False

        def param(values, scale, trains):
            return nn.Parameter(torch.tensor(np.asarray(values, np.float64) / scale, dtype=DTYPE), requires_grad=trains)

        self.threshold = param(network.neuron_parameter("threshold"), unit, trainable.threshold)
        self.current_decay = param(network.neuron_parameter("current_decay"), DECAY_UNITY, trainable.current_decay)
        self.voltage_decay = param(network.neuron_parameter("voltage_decay"), DECAY_UNITY, trainable.voltage_decay)
        self.bias = param(network.neuron_parameter("bias"), unit, trainable.bias)
        for name in ("adapt_increment", "adapt_decay", "refractory"):
            self.register_buffer(name, torch.tensor(network.neuron_parameter(name), dtype=DTYPE))
        self.register_buffer("reset_subtract", torch.tensor(np.concatenate(
            [np.full(p.size, p.reset is ResetMode.SUBTRACT) for p in network.populations])))
        self.register_buffer("single_spike", torch.tensor(np.concatenate(
            [np.full(p.size, p.single_spike) for p in network.populations])))
        self.weights = nn.ParameterList()
        self.fixed_exponents = [g.exponent for g in network.groups]
        for index, group in enumerate(network.groups):
            self.weights.append(param(group.weights * float(1 << group.exponent), unit, True))
            self.register_buffer(f"structure_mask_{index}", torch.tensor(group.mask))
            self.register_buffer(f"prune_mask_{index}", torch.ones(group.mask.shape, dtype=torch.bool))
        self.output_slice = slice(network.neuron_offset(network.output),
                                  network.neuron_offset(network.output) + network.population(network.output).size)

    # ---- quantized parameters ------------------------------------------------------------
    @property
    def n_groups(self) -> int:
        return len(self.template.groups)

    def structure_mask(self, index: int) -> torch.Tensor:
        return getattr(self, f"structure_mask_{index}")

    def prune_mask(self, index: int) -> torch.Tensor:
        return getattr(self, f"prune_mask_{index}")

    def set_prune_mask(self, index: int, mask: torch.Tensor) -> None:
        self.prune_mask(index).copy_(mask)

    def live_mask(self, index: int) -> torch.Tensor:
        """Synapses that exist: the structure's and not pruned."""
        return self.structure_mask(index) & self.prune_mask(index)

    def group_exponent(self, index: int) -> int:
        """The weight exponent of group ``index`` (chosen from the weights in ``auto`` mode)."""
        if self.exponent_mode == "fixed":
            return self.fixed_exponents[index]
        with torch.no_grad():
            live = self.live_mask(index)
            largest = float((self.weights[index].abs() * live).max()) * self.unit if live.any() else 0.0
        # Largest |w| must round into the mantissa: |w| / 2**e <= weight_max + 0.5.
        exponent = math.ceil(math.log2(largest / (self.core.weight_max + 0.5))) if largest > 0 else 0
        return int(min(max(exponent, 0), self.core.max_weight_exponent))

    def group_weight(self, index: int, exact: bool) -> tuple[torch.Tensor, int]:
        """Effective weights ``w << e`` of group ``index`` in state units, and ``e``."""
        latent = self.weights[index]
        live = self.live_mask(index).to(DTYPE)
        if self.dense_gradient:
            # Forward: live synapses only; backward: every synapse (gradient rewiring).
            masked = latent * live + (latent - latent.detach()) * (1 - live)
        else:
            masked = latent * live
        exponent = self.group_exponent(index)
        if not exact:
            return masked * self.unit, exponent
        step = float(1 << exponent)
        # A learning group's weights live in its clamp (the golden model refuses others), which check_fits
        # keeps inside the core's weight range.
        rule = self.template.groups[index].learning
        low, high = (rule.w_min, rule.w_max) if rule is not None else (self.core.weight_min, self.core.weight_max)
        mantissa = quantize(masked * (self.unit / step), low, high, True)
        return mantissa * step, exponent

    def neuron_parameters(self, exact: bool) -> dict[str, torch.Tensor]:
        """Per-neuron integers (``exact``) or floats in state units."""
        limit = float(self.core.state_max)
        return {
            "threshold": quantize(self.threshold * self.unit, 0.0, limit, exact),
            "current_decay": quantize(self.current_decay * DECAY_UNITY, 0.0, DECAY_UNITY - 1.0, exact),
            "voltage_decay": quantize(self.voltage_decay * DECAY_UNITY, 0.0, DECAY_UNITY - 1.0, exact),
            "bias": quantize(self.bias * self.unit, -limit, limit, exact),
        }

    def source_offset(self, name: str) -> int:
        return self.template.source_offset(name)

    def weight_matrix(self, exact: bool) -> torch.Tensor:
        """Dense ``[n_sources, n_neurons]`` effective weight matrix (state units)."""
        network = self.template
        blocks = torch.zeros(network.n_sources, network.n_neurons, dtype=DTYPE, device=self.threshold.device)
        for index, group in enumerate(network.groups):
            weight, _ = self.group_weight(index, exact)
            src = network.source_offset(group.source)
            tgt = network.neuron_offset(group.target)
            blocks = blocks.index_put((torch.arange(src, src + weight.shape[0], device=blocks.device)[:, None],
                                       torch.arange(tgt, tgt + weight.shape[1], device=blocks.device)[None, :]),
                                      weight, accumulate=True)
        return blocks

    # ---- the timestep loop -----------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, exact: bool = True) -> Run:
        """Run a batch of input rasters ``[B, T, n_inputs]`` (0/1, ``T`` the network's timesteps) through it."""
        network = self.template
        if inputs.ndim != 3 or tuple(inputs.shape[1:]) != (network.timesteps, network.n_inputs):
            raise ValueError(f"inputs have shape {tuple(inputs.shape)}, expected [batch, timesteps, channels] = "
                             f"[B, {network.timesteps}, {network.n_inputs}] (the network's)")
        if inputs.dtype != torch.bool:  # a bool raster is spikes: no check (and no device sync) per training batch
            spikes = (inputs == 0) | (inputs == 1)
            if not bool(spikes.all()):
                raise ValueError(f"input spike value {inputs[~spikes].flatten()[0].item()} is not 0 or 1 (a channel "
                                 f"spikes at most once per step)")
        device = self.threshold.device
        inputs = inputs.to(device=device, dtype=DTYPE)
        batch, steps = inputs.shape[0], inputs.shape[1]
        n = network.n_neurons
        limit = float(self.core.state_max)
        weights = self.weight_matrix(exact)
        p = self.neuron_parameters(exact)
        current_decay = p["current_decay"] + 1.0  # Loihi ds_offset = 1
        early_exit = network.decision.early_exit
        out = self.output_slice

        zeros = torch.zeros(batch, n, dtype=DTYPE, device=device)
        # Features a network does not use cost nothing: their state stays zero.
        uses_refractory = bool((self.refractory > 0).any())
        uses_adaptation = bool((self.adapt_increment > 0).any())
        uses_single_spike = bool(self.single_spike.any())
        uses_subtract = bool(self.reset_subtract.any())
        n_inputs = network.n_inputs
        # Input events are known in advance: deliver all of them in one product.
        # Events tagged t-1 arrive at step t (nothing at t = 0, tag T-1 never arrives).
        input_drive = torch.zeros(batch, steps, n, dtype=DTYPE, device=device)
        if steps > 1:
            input_drive[:, 1:] = inputs[:, :-1] @ weights[:n_inputs]
        recurrent_weights = weights[n_inputs:]
        u, v, theta = zeros, zeros, zeros
        refractory_left = zeros
        fired = torch.zeros(batch, n, dtype=torch.bool, device=device)
        first_step = torch.full((batch, n), -1, dtype=torch.int64, device=device)
        first_voltage = zeros
        count = zeros
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        steps_run = torch.zeros(batch, dtype=torch.int64, device=device)
        previous_spikes = None
        spikes_out = []
        for t in range(steps):
            if early_exit:
                active = ~done
                if not bool(active.any()):
                    spikes_out.extend([zeros] * (steps - t))
                    break
                keep = active[:, None]
                # A finished sample's inputs are dropped too (the core stops it).
                drive = input_drive[:, t] * keep
            else:
                drive = input_drive[:, t]
            synaptic_input = drive if previous_spikes is None else drive + previous_spikes @ recurrent_weights
            new_u = torch.clamp(decay(u, current_decay, exact) + synaptic_input, -limit, limit)
            new_v = torch.clamp(decay(v, p["voltage_decay"], exact) + new_u + p["bias"], -limit, limit)
            if uses_refractory:
                hold = refractory_left > 0
                new_v = torch.where(hold, v, new_v)
            if uses_adaptation:
                new_theta = decay(theta, self.adapt_decay, exact)
                threshold = p["threshold"] + new_theta
            else:
                threshold = p["threshold"]
            spikes = spike_fn(new_v, threshold, self.unit)
            blocked = None
            if uses_refractory:
                blocked = hold
            if uses_single_spike:
                blocked = (self.single_spike & fired) if blocked is None else blocked | (self.single_spike & fired)
            if early_exit:
                blocked = ~keep if blocked is None else blocked | ~keep
            if blocked is not None:
                spikes = spikes * (~blocked).to(DTYPE)
            spiked = spikes.detach() > 0
            # The reset does not carry gradient (the usual choice; it stabilises BPTT).
            if uses_subtract:
                reset_value = torch.where(self.reset_subtract, new_v - threshold.detach(), torch.zeros_like(new_v))
                after = torch.where(spiked, reset_value, new_v)
            else:
                after = new_v * (~spiked).to(DTYPE)
            if uses_adaptation:
                new_theta = torch.where(spiked, torch.clamp(new_theta + self.adapt_increment, max=limit), new_theta)
            if uses_refractory:
                new_refractory = torch.where(spiked, self.refractory.expand_as(refractory_left),
                                             torch.clamp(refractory_left - 1, min=0))
            if early_exit:
                u = torch.where(keep, new_u, u)
                v = torch.where(keep, after, v)
                if uses_adaptation:
                    theta = torch.where(keep, new_theta, theta)
                if uses_refractory:
                    refractory_left = torch.where(keep, new_refractory, refractory_left)
                steps_run = steps_run + active.to(torch.int64)
            else:
                u, v = new_u, after
                if uses_adaptation:
                    theta = new_theta
                if uses_refractory:
                    refractory_left = new_refractory
                steps_run = steps_run + 1
            first = spiked & (first_step < 0)
            fired = fired | spiked
            first_step = torch.where(first, t, first_step)
            first_voltage = torch.where(first, new_v, first_voltage)
            count = count + spikes
            spikes_out.append(spikes)
            previous_spikes = spikes
            if early_exit:
                done = done | spiked[:, out].any(dim=1)
        return Run(torch.stack(spikes_out, dim=1), u, v, theta, first_step, first_voltage, count, steps_run)

    # ---- export --------------------------------------------------------------------------------
    @torch.no_grad()
    def to_network(self) -> Network:
        """Return the integer network the core runs (what ``forward(exact=True)`` computes)."""
        template = self.template
        p = {k: t.cpu().numpy().astype(np.int64) for k, t in self.neuron_parameters(True).items()}
        populations = []
        offset = 0
        for population in template.populations:
            part = slice(offset, offset + population.size)
            offset += population.size
            populations.append(Population(
                population.name, population.size, threshold=p["threshold"][part],
                current_decay=p["current_decay"][part], voltage_decay=p["voltage_decay"][part],
                bias=p["bias"][part], adapt_increment=population.adapt_increment,
                adapt_decay=population.adapt_decay, refractory=population.refractory, reset=population.reset,
                single_spike=population.single_spike))
        groups = []
        for index, group in enumerate(template.groups):
            weight, exponent = self.group_weight(index, True)
            mantissa = (weight.cpu().numpy() / float(1 << exponent)).round().astype(np.int64)
            mask = self.live_mask(index).cpu().numpy()
            groups.append(SynapseGroup(group.source, group.target, np.where(mask, mantissa, 0), mask, exponent,
                                       group.learning, group.pruning))
        network = Network(template.n_inputs, populations, groups, template.timesteps, template.output,
                          template.decision)
        network.check_fits(self.core)
        return network

    def connectivity(self) -> dict[str, tuple[int, int]]:
        """Live and possible synapses per group name."""
        return {g.name: (int(self.live_mask(i).sum()), int(self.structure_mask(i).sum()))
                for i, g in enumerate(self.template.groups)}


def decide(model: SpikingNetwork, run: Run) -> np.ndarray:
    """Apply the core's decision rule (:func:`spikestream.model.golden.decide`) to a torch run."""
    network = model.template
    # decide() reads only the output slice and the sample length of the parameters.
    params = golden.Params(**{name: None for name in golden.Params._fields})._replace(
        output_slice=model.output_slice, timesteps=network.timesteps)
    state = golden.NeuronState(
        u=None, v=run.v.detach().cpu().numpy().astype(np.int64) if _integral(run.v) else run.v.detach().cpu().numpy(),
        theta=None, refractory_left=None, fired=None, pending=None,
        first_spike_step=run.first_spike_step.cpu().numpy(),
        first_spike_voltage=run.first_spike_voltage.detach().cpu().numpy(),
        spike_count=run.spike_count.detach().cpu().numpy().round().astype(np.int64), done=None)
    decision, _ = golden.decide(params, network.decision.mode, state)
    return decision


def _integral(x: torch.Tensor) -> bool:
    return bool(torch.all(x == torch.round(x)))
