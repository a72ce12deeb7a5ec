"""Architectures the core supports, built as a :class:`Network` plus a float initialisation.

Every architecture is a chain ``input -> hidden_0 -> ... -> output`` of populations with
extra synapse groups:

``feedforward``
    the chain only.
``self_recurrent``
    each hidden neuron feeds back to itself (a diagonal ``hidden_k -> hidden_k`` group).
``skip``
    the chain plus connections between non-adjacent layers (``input -> hidden_k`` for
    ``k >= 1``, ``hidden_k -> output`` for ``k < last``).
``recurrent``
    each hidden population is fully connected to itself.

Every group delivers one step after the spike (the core's rule), whatever it connects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import DECAY_UNITY, CoreConfig
from ..network import INPUT, Decision, DecisionMode, Network, Population, ResetMode, SynapseGroup
from .choices import Architecture, is_finite_number, is_whole_number
from .net import SpikingNetwork, Trainable

__all__ = ["Architecture", "ArchitectureConfig", "build_network", "build_model"]


def _decay_of(time_constant: float) -> int:
    """Loihi decay (fraction of 4096 removed per step) of a time constant in steps."""
    return int(min(DECAY_UNITY - 1, max(0, round(DECAY_UNITY / max(time_constant, 1.0)))))


def _current_decay_of(tau_syn: float) -> int:
    """The stored ``du`` of a synaptic time constant: the core removes ``du + 1`` of 4096, so
    ``tau_syn <= 1`` stores 4095 and the whole current goes every step (no dynamic synapse)."""
    return int(min(DECAY_UNITY, max(1, round(DECAY_UNITY / max(tau_syn, 1.0))))) - 1


@dataclass(frozen=True)
class ArchitectureConfig:
    """Everything that fixes the shape and neuron model of a network to train.

    Parameters
    ----------
    architecture : Architecture
    hidden : tuple of int
        Sizes of the hidden populations (at least one, each >= 1; a list is stored as a tuple).
    decision : DecisionMode
        The core's decision rule; the loss is chosen to match it.
    tau_mem, tau_syn : float
        Initial membrane and synaptic-current time constants (steps): ``tau_mem >= 1``,
        ``tau_syn >= 0``. ``tau_syn <= 1`` gives an instantaneous current (stored ``du =
        4095``, all of it removed per step: no dynamic synapse).
    adaptation : int
        Threshold jump per spike of the hidden neurons in latent units * 1/16 (0: off).
    adapt_tau : float
        Adaptation time constant (steps, >= 1).
    refractory : int
        Refractory steps of the hidden neurons.
    reset : ResetMode
    early_exit : bool
        First-spike decisions stop the sample at the first output spike.
    weight_gain : float
        Initial weight standard deviation times sqrt(fan-in), in thresholds (> 0).
    unit : int
        State units of threshold 1.0 (power of two).
    """

    architecture: Architecture = Architecture.FEEDFORWARD
    hidden: tuple[int, ...] = (64,)
    decision: DecisionMode = DecisionMode.SPIKE_COUNT
    tau_mem: float = 8.0
    tau_syn: float = 2.0
    adaptation: int = 0
    adapt_tau: float = 20.0
    refractory: int = 0
    reset: ResetMode = ResetMode.SUBTRACT
    early_exit: bool = False
    weight_gain: float = 0.5
    unit: int = 4096
    trainable: Trainable = field(default_factory=Trainable)

    def __post_init__(self) -> None:
        for name, kind in (("architecture", Architecture), ("decision", DecisionMode), ("reset", ResetMode)):
            if not isinstance(getattr(self, name), kind):
                object.__setattr__(self, name, kind(getattr(self, name)))
        if (not isinstance(self.hidden, (tuple, list)) or not self.hidden
                or not all(is_whole_number(size) and size >= 1 for size in self.hidden)):
            raise ValueError(f"hidden = {self.hidden!r}, expected a non-empty tuple of whole numbers >= 1 (the sizes "
                             f"of the hidden populations)")
        object.__setattr__(self, "hidden", tuple(int(size) for size in self.hidden))
        # Below one step a time constant would ask for more than the whole state to decay per
        # step; the core's largest decay is 4095/4096, what tau = 1 already gives (_decay_of).
        for name in ("tau_mem", "adapt_tau"):
            if not is_finite_number(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)!r}, expected a finite number of steps >= 1")
        if not is_finite_number(self.tau_syn) or self.tau_syn < 0:
            raise ValueError(f"tau_syn = {self.tau_syn!r}, expected a finite number of steps >= 0 (<= 1: no "
                             f"synaptic current filter)")
        for name in ("adaptation", "refractory"):
            if not is_whole_number(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}, expected a whole number >= 0 (0: off)")
        if not is_finite_number(self.weight_gain) or self.weight_gain <= 0:
            raise ValueError(f"weight_gain = {self.weight_gain!r}, expected a finite number > 0")
        if not is_whole_number(self.unit) or self.unit <= 0 or self.unit & (self.unit - 1):
            raise ValueError(f"unit = {self.unit!r}, expected a power of two (state units of threshold 1.0)")


def _pairs(config: ArchitectureConfig, names: list[str]) -> list[tuple[str, str, str]]:
    """``(source, target, kind)`` of every group; kind is dense or diagonal."""
    chain = [INPUT] + names
    pairs = [(chain[k], chain[k + 1], "dense") for k in range(len(chain) - 1)]
    hidden = names[:-1]
    if config.architecture is Architecture.SELF_RECURRENT:
        pairs += [(h, h, "diagonal") for h in hidden]
    elif config.architecture is Architecture.RECURRENT:
        pairs += [(h, h, "dense") for h in hidden]
    elif config.architecture is Architecture.SKIP:
        pairs += [(INPUT, h, "dense") for h in hidden[1:]] + [(INPUT, names[-1], "dense")]
        pairs += [(h, names[-1], "dense") for h in hidden[:-1]]
    return pairs


def build_network(config: ArchitectureConfig, n_inputs: int, n_classes: int, timesteps: int,
                  core: CoreConfig) -> Network:
    """Return the integer skeleton of the architecture (all weights zero)."""
    names = [f"hidden{k}" for k in range(len(config.hidden))] + ["output"]
    sizes = list(config.hidden) + [n_classes]
    threshold = config.unit
    populations = []
    for name, size in zip(names, sizes):
        is_output = name == "output"
        kwargs = dict(threshold=threshold, current_decay=_current_decay_of(config.tau_syn),
                      voltage_decay=_decay_of(config.tau_mem), reset=config.reset)
        if is_output and config.decision is DecisionMode.MAX_POTENTIAL:
            # Deciding by the final voltage: output neurons integrate and never spike.
            kwargs.update(threshold=core.state_max, voltage_decay=0)
        if is_output and config.decision is DecisionMode.FIRST_SPIKE:
            kwargs.update(single_spike=core.ttfs)
        if not is_output:
            if config.adaptation:
                kwargs.update(adapt_increment=config.adaptation * config.unit // 16,
                              adapt_decay=_decay_of(config.adapt_tau))
            if config.refractory:
                kwargs.update(refractory=config.refractory)
        populations.append(Population(name, size, **kwargs))
    groups = []
    size_of = dict(zip(names, sizes), **{INPUT: n_inputs})
    for source, target, kind in _pairs(config, names):
        shape = (size_of[source], size_of[target])
        mask = np.eye(shape[0], dtype=bool) if kind == "diagonal" else np.ones(shape, bool)
        groups.append(SynapseGroup(source, target, np.zeros(shape, np.int64), mask))
    decision = Decision(config.decision, early_exit=config.early_exit and config.decision is DecisionMode.FIRST_SPIKE)
    network = Network(n_inputs, populations, groups, timesteps, "output", decision)
    network.check_fits(core)
    return network


def build_model(config: ArchitectureConfig, n_inputs: int, n_classes: int, timesteps: int, core: CoreConfig,
                generator: torch.Generator) -> SpikingNetwork:
    """Build the architecture and draw its float initial weights from ``generator``."""
    network = build_network(config, n_inputs, n_classes, timesteps, core)
    model = SpikingNetwork(network, core, unit=config.unit, trainable=config.trainable, exponents="auto")
    fan_in = {g.target: 0 for g in network.groups}
    for g in network.groups:
        fan_in[g.target] += int(g.mask.sum(axis=0).max())
    with torch.no_grad():
        for index, group in enumerate(network.groups):
            std = config.weight_gain / np.sqrt(max(fan_in[group.target], 1))
            if group.source == group.target:
                std *= 0.5  # recurrence starts weaker than the feedforward drive
            latent = torch.randn(group.weights.shape, generator=generator, dtype=torch.float64) * std
            model.weights[index].copy_(latent * torch.tensor(np.array(group.mask)))
    return model
