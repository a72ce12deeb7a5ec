"""The network description: what one core runs.

A :class:`Network` is input channels, neuron populations with per-neuron parameters,
synapse groups between them (any source to any target: feedforward, skip, recurrent
and self-recurrent), per-group learning and pruning rules, and the decision rule of
the output population. Its meaning is defined in :mod:`spikestream.model.golden`.

Numbering (used by every view): neurons are numbered ``0 .. n_neurons-1``, populations
concatenated in order. A *source* is an input channel ``c`` (source id ``c``) or a
neuron ``k`` (source id ``n_inputs + k``).

The canonical synapse order (storage order in the core) is by source id, then group
index, then target neuron id. Learning visits plastic groups in group-index order and,
within a group, its synapses in canonical order; that is the order of LFSR draws.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .config import DECAY_UNITY, ConfigError, CoreConfig

__all__ = [
    "INPUT",
    "ResetMode",
    "LearningKind",
    "DecisionMode",
    "Population",
    "LearningRule",
    "PruningRule",
    "SynapseGroup",
    "Decision",
    "Network",
    "NetworkError",
    "NetworkDoesNotFit",
    "remove_dead_neurons",
    "leave_out_unused_inputs",
    "queue_can_drop",
    "neurons_that_matter",
    "unused_inputs",
]

#: The name of the input channels when used as a synapse group source.
INPUT = "input"


class NetworkError(ConfigError):
    """A network description is malformed."""


class NetworkDoesNotFit(ConfigError):
    """A valid network does not fit a core configuration."""

    def __init__(self, reasons: Sequence[str]):
        self.reasons = list(reasons)
        super().__init__("network does not fit the core configuration: " + "; ".join(self.reasons))


class ResetMode(enum.Enum):
    """What a spike does to the voltage."""

    ZERO = "zero"  #: v <- 0 (Loihi)
    SUBTRACT = "subtract"  #: v <- v - effective threshold


class LearningKind(enum.Enum):
    """On-chip learning rule of a synapse group (see :mod:`spikestream.model.golden`)."""

    PAIR = "pair"  #: pair-based STDP with pre/post traces, applied every timestep
    TTFS = "ttfs"  #: single-spike rule on first-spike times, applied at the end of a sample


class DecisionMode(enum.Enum):
    """How the output population's activity becomes a class decision."""

    FIRST_SPIKE = "first_spike"
    SPIKE_COUNT = "spike_count"
    MAX_POTENTIAL = "max_potential"


#: Values an int64 holds: larger integers are refused, not wrapped.
_INT64_RANGE = (-(1 << 63), (1 << 63) - 1)


def _int_array(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object:  # Python integers beyond int64 (or anything else)
        bad = [v for v in array.flat if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
        if bad:
            raise NetworkError(f"{name} must hold integers, got {bad[0]!r}")
    elif array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array))):
            raise NetworkError(f"{name} must hold integers, got dtype {array.dtype}")
    # One range check for every kind (object ints, whole floats, uint64): refused, not wrapped by the cast.
    outside = [v for v in ((array.min(), array.max()) if array.size else ())
               if not _INT64_RANGE[0] <= v <= _INT64_RANGE[1]]
    if outside:
        raise NetworkError(f"{name} holds {outside[0]}, far outside any core's range")
    try:
        return np.broadcast_to(array.astype(np.int64), shape).copy()
    except ValueError:
        raise NetworkError(f"{name} has shape {array.shape}, expected a scalar or shape {shape}") from None


def _check_array_range(name: str, array: np.ndarray, low: int, high: int) -> None:
    bad = np.flatnonzero((array < low) | (array > high))
    if bad.size:
        index = np.unravel_index(bad[0], array.shape)
        where = index[0] if len(index) == 1 else tuple(int(i) for i in index)
        raise NetworkError(
            f"{name}[{where}] = {int(array[index])} is outside the allowed range [{low}, {high}]"
            + (f" ({bad.size} values out of range)" if bad.size > 1 else "")
        )


def _enum(kind: type[enum.Enum], value, name: str):
    """``kind(value)``, with a :class:`NetworkError` that lists the choices."""
    try:
        return kind(value)
    except ValueError:
        raise NetworkError(f"{name} {value!r} is not one of {[member.value for member in kind]}") from None


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NetworkError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise NetworkError(f"{name} = {value} is outside the allowed range [{low}, {high}]")


@dataclass(frozen=True, eq=False)
class Population:
    """A group of neurons sharing a reset mode and TTFS mode, with per-neuron parameters.

    Scalars broadcast to every neuron. Units are those of the state (see golden model).

    Parameters
    ----------
    threshold : int or array
        Spike when ``v > threshold + adaptation`` (strict), ``0 .. state_max``.
    current_decay, voltage_decay : int or array
        Fraction of 4096 removed per step (Loihi ``du``/``dv``), ``0 .. 4095``.
    bias : int or array
        Constant added to ``v`` every step, ``state_min .. state_max``.
    adapt_increment, adapt_decay : int or array
        Threshold adaptation: jump on a spike, fraction of 4096 removed per step.
    refractory : int or array
        Steps after a spike during which ``v`` is held and no spike is possible.
    reset : ResetMode
        Voltage reset on a spike.
    single_spike : bool
        TTFS mode: each neuron fires at most once per sample.
    """

    name: str
    size: int
    threshold: np.ndarray = 0
    current_decay: np.ndarray = 0
    voltage_decay: np.ndarray = 0
    bias: np.ndarray = 0
    adapt_increment: np.ndarray = 0
    adapt_decay: np.ndarray = 0
    refractory: np.ndarray = 0
    reset: ResetMode = ResetMode.ZERO
    single_spike: bool = False

    PARAMETERS = ("threshold", "current_decay", "voltage_decay", "bias", "adapt_increment", "adapt_decay", "refractory")

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name == INPUT:
            raise NetworkError(f"population name {self.name!r} must be an identifier other than {INPUT!r}")
        _check_int(f"population {self.name!r} size", self.size, 1, 1 << 20)
        for parameter in self.PARAMETERS:
            array = _int_array(f"{self.name}.{parameter}", getattr(self, parameter), (self.size,))
            array.flags.writeable = False
            object.__setattr__(self, parameter, array)
        if not isinstance(self.reset, ResetMode):
            object.__setattr__(self, "reset", _enum(ResetMode, self.reset, f"{self.name}.reset"))
        if not isinstance(self.single_spike, (bool, np.bool_)):
            raise NetworkError(f"{self.name}.single_spike must be a bool, got {self.single_spike!r}")
        object.__setattr__(self, "single_spike", bool(self.single_spike))
        for parameter in ("current_decay", "voltage_decay", "adapt_decay"):
            _check_array_range(f"{self.name}.{parameter}", getattr(self, parameter), 0, DECAY_UNITY - 1)
        for parameter in ("threshold", "adapt_increment", "refractory"):
            _check_array_range(f"{self.name}.{parameter}", getattr(self, parameter), 0, np.iinfo(np.int64).max)

    def __eq__(self, other) -> bool:
        return isinstance(other, Population) and _fields_equal(self, other)


@dataclass(frozen=True)
class LearningRule:
    """On-chip learning of one synapse group (semantics in :mod:`spikestream.model.golden`).

    Parameters
    ----------
    kind : LearningKind
        ``PAIR`` (trace STDP every step) or ``TTFS`` (first-spike rule at sample end).
    a_plus, a_minus : int
        Potentiation and depression amplitudes (``0 .. 255``).
    shift : int
        Right shift applied to every update numerator (``0 .. 24``).
    soft_bound : bool
        Multiply potentiation by ``w_max - w`` and depression by ``w - w_min``.
    w_min, w_max : int
        Clamp range of learned weights.
    pre_increment, post_increment : int
        Trace jump on a pre / post spike (``PAIR`` only).
    trace_decay_shift : int
        Traces decay as ``x <- x - (x >> trace_decay_shift)`` every step (``1 .. 16``).
    stochastic_rounding : bool
        Add an LFSR draw below the shifted-out bits before shifting.
    reward_modulated : bool
        Updates are scaled by the reward the host sends at the end of a sample.
    winner_only : bool
        ``TTFS`` only: update only the synapses onto the decision winner.
    """

    kind: LearningKind = LearningKind.PAIR
    a_plus: int = 16
    a_minus: int = 16
    shift: int = 8
    soft_bound: bool = False
    w_min: int = -128
    w_max: int = 127
    pre_increment: int = 64
    post_increment: int = 64
    trace_decay_shift: int = 2
    stochastic_rounding: bool = False
    reward_modulated: bool = False
    winner_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.kind, LearningKind):
            object.__setattr__(self, "kind", _enum(LearningKind, self.kind, "learning.kind"))
        _check_int("learning.a_plus", self.a_plus, 0, 255)
        _check_int("learning.a_minus", self.a_minus, 0, 255)
        _check_int("learning.shift", self.shift, 0, 24)
        _check_int("learning.w_min", self.w_min, -(1 << 15), (1 << 15) - 1)
        _check_int("learning.w_max", self.w_max, self.w_min, (1 << 15) - 1)
        _check_int("learning.pre_increment", self.pre_increment, 0, (1 << 16) - 1)
        _check_int("learning.post_increment", self.post_increment, 0, (1 << 16) - 1)
        _check_int("learning.trace_decay_shift", self.trace_decay_shift, 1, 16)
        for flag in ("soft_bound", "stochastic_rounding", "reward_modulated", "winner_only"):
            if isinstance(getattr(self, flag), np.bool_):
                object.__setattr__(self, flag, bool(getattr(self, flag)))
            if not isinstance(getattr(self, flag), bool):
                raise NetworkError(f"learning.{flag} must be a bool, got {getattr(self, flag)!r}")
        if self.winner_only and self.kind is not LearningKind.TTFS:
            raise NetworkError("learning.winner_only needs kind = ttfs (a per-sample rule)")


@dataclass(frozen=True)
class PruningRule:
    """Remove a plastic synapse whose ``|w| <= threshold`` after ``patience`` updates in a row."""

    threshold: int = 0
    patience: int = 4

    def __post_init__(self) -> None:
        _check_int("pruning.threshold", self.threshold, 0, (1 << 15) - 1)
        _check_int("pruning.patience", self.patience, 1, (1 << 16) - 1)


@dataclass(frozen=True, eq=False)
class SynapseGroup:
    """Synapses from one source (``"input"`` or a population) to one target population.

    ``weights[i, j]`` is the weight from source ``i`` to target ``j``; ``mask[i, j]``
    says whether that synapse exists (dense groups: all True). The synaptic input is
    ``weight << exponent``. Build sparse groups with :meth:`sparse`.
    """

    source: str
    target: str
    weights: np.ndarray
    mask: np.ndarray | None = None
    exponent: int = 0
    learning: LearningRule | None = None
    pruning: PruningRule | None = None

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights)
        if weights.ndim != 2:
            raise NetworkError(f"group {self.name}: weights must be 2-D [source, target], got shape {weights.shape}")
        weights = _int_array(f"group {self.name} weights", weights, weights.shape)
        mask = np.ones(weights.shape, bool) if self.mask is None else np.asarray(self.mask)
        if mask.dtype != bool:
            raise NetworkError(f"group {self.name}: mask must be bool, got dtype {mask.dtype}")
        if mask.shape != weights.shape:
            raise NetworkError(f"group {self.name}: mask shape {mask.shape} differs from weights shape {weights.shape}")
        weights = np.where(mask, weights, 0)
        weights.flags.writeable = False
        mask = mask.copy()
        mask.flags.writeable = False
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "mask", mask)
        _check_int(f"group {self.name} exponent", self.exponent, 0, 64)
        for label, value, kind in (("learning", self.learning, LearningRule), ("pruning", self.pruning, PruningRule)):
            if value is not None and not isinstance(value, kind):
                raise NetworkError(f"group {self.name}: {label} must be a {kind.__name__} or None, got {value!r}")
        if self.pruning is not None and self.learning is None:
            raise NetworkError(f"group {self.name}: pruning needs a learning rule (synapses are pruned while learning)")

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def plastic(self) -> bool:
        return self.learning is not None

    @property
    def stored_mask(self) -> np.ndarray:
        """Synapses the core stores: existing ones, minus zero weights that can never change."""
        return self.mask if self.plastic else self.mask & (self.weights != 0)

    @classmethod
    def sparse(cls, source: str, target: str, shape: tuple[int, int], pre: Iterable[int], post: Iterable[int],
               weight: Iterable[int], **kwargs) -> "SynapseGroup":
        """Build a group from ``(pre, post, weight)`` lists of a ``shape = (n_source, n_target)`` matrix."""
        pre, post, weight = (_int_array(f"group {source}->{target} {label}", list(values), (len(list(values)),))
                             for label, values in (("pre", list(pre)), ("post", list(post)), ("weight", list(weight))))
        if not pre.shape == post.shape == weight.shape:
            raise NetworkError(f"group {source}->{target}: pre, post and weight lists differ in length")
        for label, index, size in (("pre", pre, shape[0]), ("post", post, shape[1])):
            _check_array_range(f"group {source}->{target} {label}", index, 0, size - 1)
        weights = np.zeros(shape, np.int64)
        mask = np.zeros(shape, bool)
        if np.unique(pre * shape[1] + post).size != pre.size:
            raise NetworkError(f"group {source}->{target}: a (pre, post) pair is listed twice")
        weights[pre, post] = weight
        mask[pre, post] = True
        return cls(source, target, weights, mask, **kwargs)

    def __eq__(self, other) -> bool:
        return isinstance(other, SynapseGroup) and _fields_equal(self, other)


@dataclass(frozen=True)
class Decision:
    """Decision rule over the output population.

    ``FIRST_SPIKE``: the output neuron that spikes first wins; a tie (several neurons
    first spike in the same step) goes to the larger voltage before reset, then to the
    lower index. With ``early_exit`` the sample ends after the step of the first output
    spike. If no output neuron spikes, the decision falls back to ``MAX_POTENTIAL``.
    ``SPIKE_COUNT``: most spikes wins; ties go to the earlier first spike, then to the
    lower index; no spike at all falls back to ``MAX_POTENTIAL``.
    ``MAX_POTENTIAL``: the largest voltage at the end of the sample wins; ties go to the
    lower index.
    """

    mode: DecisionMode = DecisionMode.FIRST_SPIKE
    early_exit: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mode, DecisionMode):
            object.__setattr__(self, "mode", _enum(DecisionMode, self.mode, "decision.mode"))
        if isinstance(self.early_exit, np.bool_):
            object.__setattr__(self, "early_exit", bool(self.early_exit))
        if not isinstance(self.early_exit, bool):
            raise NetworkError(f"decision.early_exit must be a bool, got {self.early_exit!r}")
        if self.early_exit and self.mode is not DecisionMode.FIRST_SPIKE:
            raise NetworkError("decision.early_exit needs mode = first_spike")


@dataclass(frozen=True, eq=False)
class Network:
    """A complete network: inputs, populations, synapse groups, sample length, decision.

    Parameters
    ----------
    n_inputs : int
        Number of input channels.
    populations : sequence of Population
    groups : sequence of SynapseGroup
    timesteps : int
        Steps per sample (input events carry tags ``0 .. timesteps-1``).
    output : str
        Name of the population whose spikes make the decision.
    decision : Decision
    """

    n_inputs: int
    populations: tuple[Population, ...]
    groups: tuple[SynapseGroup, ...]
    timesteps: int
    output: str
    decision: Decision = field(default_factory=Decision)

    def __post_init__(self) -> None:
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "groups", tuple(self.groups))
        for label, items, kind in (("populations", self.populations, Population), ("groups", self.groups, SynapseGroup)):
            for index, item in enumerate(items):
                if not isinstance(item, kind):
                    raise NetworkError(f"{label}[{index}] must be a {kind.__name__}, got {item!r}")
        if not isinstance(self.decision, Decision):
            raise NetworkError(f"decision must be a Decision (e.g. Decision(DecisionMode.FIRST_SPIKE)), got "
                               f"{self.decision!r}")
        _check_int("n_inputs", self.n_inputs, 1, 1 << 20)
        _check_int("timesteps", self.timesteps, 1, 1 << 24)
        if not self.populations:
            raise NetworkError("a network needs at least one population")
        names = [p.name for p in self.populations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise NetworkError(f"population names must be unique; repeated: {duplicates}")
        if self.output not in names:
            raise NetworkError(f"output population {self.output!r} is not one of {names}")
        pairs = set()
        for index, group in enumerate(self.groups):
            if group.source != INPUT and group.source not in names:
                raise NetworkError(f"groups[{index}] source {group.source!r} is neither {INPUT!r} nor one of {names}")
            if group.target not in names:
                raise NetworkError(f"groups[{index}] target {group.target!r} is not one of {names}")
            expected = (self.source_size(group.source), self.population(group.target).size)
            if group.weights.shape != expected:
                raise NetworkError(f"groups[{index}] ({group.name}) weights have shape {group.weights.shape}, "
                                   f"expected {expected} [source size, target size]")
            if (group.source, group.target) in pairs:
                raise NetworkError(f"groups[{index}] ({group.name}) repeats a source/target pair; merge the groups")
            pairs.add((group.source, group.target))
            if group.learning is not None and group.learning.winner_only and group.target != self.output:
                raise NetworkError(f"groups[{index}] ({group.name}) learns winner_only, so its target must be the "
                                   f"output population {self.output!r}")

    # ---- numbering -------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for population in self.populations:
            if population.name == name:
                return population
        raise NetworkError(f"no population named {name!r}")

    def source_size(self, name: str) -> int:
        return self.n_inputs if name == INPUT else self.population(name).size

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    @property
    def n_sources(self) -> int:
        return self.n_inputs + self.n_neurons

    def neuron_offset(self, name: str) -> int:
        """Index of the first neuron of population ``name``."""
        offset = 0
        for population in self.populations:
            if population.name == name:
                return offset
            offset += population.size
        raise NetworkError(f"no population named {name!r}")

    def source_offset(self, name: str) -> int:
        """Source id of the first source of ``name`` (``"input"`` or a population)."""
        return 0 if name == INPUT else self.n_inputs + self.neuron_offset(name)

    def neuron_parameter(self, parameter: str) -> np.ndarray:
        """Concatenate a per-neuron parameter over all populations (int64)."""
        return np.concatenate([getattr(p, parameter) for p in self.populations]).astype(np.int64)

    def synapses(self) -> "SynapseTable":
        """Flatten the stored synapses of all groups in canonical order."""
        return SynapseTable.from_network(self)

    def with_groups(self, groups: Sequence[SynapseGroup]) -> "Network":
        """Return a copy with other synapse groups (e.g. learned weights)."""
        return Network(self.n_inputs, self.populations, tuple(groups), self.timesteps, self.output, self.decision)

    # ---- fitting a core ----------------------------------------------------------------
    def fit_problems(self, core: CoreConfig) -> list[str]:
        """List every reason the network does not fit ``core`` (empty: it fits)."""
        problems = []

        def over(what: str, value: int, limit: int) -> None:
            if value > limit:
                problems.append(f"{what} = {value} exceeds the core's {limit}")

        over("n_inputs", self.n_inputs, core.max_inputs)
        over("neurons", self.n_neurons, core.max_neurons)
        over("populations", len(self.populations), core.max_populations)
        over("groups", len(self.groups), core.max_groups)
        over("timesteps", self.timesteps, core.max_timesteps)
        over("stored synapses", self.synapses().count, core.max_synapses)
        for p in self.populations:
            for parameter, low, high in (("threshold", 0, core.state_max), ("bias", core.state_min, core.state_max),
                                         ("adapt_increment", 0, core.state_max),
                                         ("refractory", 0, core.refractory_max)):
                values = getattr(p, parameter)
                bad = np.flatnonzero((values < low) | (values > high))
                if bad.size:
                    problems.append(f"{p.name}.{parameter}[{bad[0]}] = {values[bad[0]]} is outside the core's "
                                    f"range [{low}, {high}]")
            if not core.adaptation and np.any(p.adapt_increment != 0):
                problems.append(f"{p.name} uses threshold adaptation, which the core is built without")
            if not core.refractory and np.any(p.refractory != 0):
                problems.append(f"{p.name} uses a refractory period, which the core is built without")
            if not core.ttfs and p.single_spike:
                problems.append(f"{p.name} is single-spike (TTFS), which the core is built without")
        for index, g in enumerate(self.groups):
            bad = np.argwhere(g.mask & ((g.weights < core.weight_min) | (g.weights > core.weight_max)))
            if bad.size:
                i, j = bad[0]
                problems.append(f"groups[{index}] ({g.name}) weight {g.weights[i, j]} at ({i}, {j}) is outside "
                                f"int{core.weight_bits} [{core.weight_min}, {core.weight_max}]")
            over(f"groups[{index}] ({g.name}) exponent", g.exponent, core.max_weight_exponent)
            if g.learning is not None:
                if not core.learning:
                    problems.append(f"groups[{index}] ({g.name}) learns, but the core is built without learning")
                rule = g.learning
                if rule.w_min < core.weight_min or rule.w_max > core.weight_max:
                    problems.append(f"groups[{index}] ({g.name}) learning clamp [{rule.w_min}, {rule.w_max}] is outside "
                                    f"int{core.weight_bits} [{core.weight_min}, {core.weight_max}]")
                over(f"groups[{index}] ({g.name}) learning.pre_increment", rule.pre_increment, core.trace_max)
                over(f"groups[{index}] ({g.name}) learning.post_increment", rule.post_increment, core.trace_max)
                over(f"groups[{index}] ({g.name}) learning.trace_decay_shift", rule.trace_decay_shift, core.trace_bits)
                outside = g.mask & ((g.weights < rule.w_min) | (g.weights > rule.w_max))
                if outside.any():
                    i, j = np.argwhere(outside)[0]
                    problems.append(f"groups[{index}] ({g.name}) weight {g.weights[i, j]} at ({i}, {j}) is outside its "
                                    f"learning clamp [{rule.w_min}, {rule.w_max}]")
            if g.pruning is not None:
                if not core.pruning:
                    problems.append(f"groups[{index}] ({g.name}) prunes, but the core is built without pruning")
                over(f"groups[{index}] ({g.name}) pruning.patience", g.pruning.patience, core.prune_patience_max)
                over(f"groups[{index}] ({g.name}) pruning.threshold", g.pruning.threshold, core.weight_max)
        if core.learning:
            from .protocol import ProtocolError, trace_layout  # protocol builds on this module

            try:  # the PAIR groups' traces must fit the core's trace memories
                trace_layout(self, core)
            except ProtocolError as error:
                problems.append(str(error))
        return problems

    def check_fits(self, core: CoreConfig) -> None:
        """Raise :class:`NetworkDoesNotFit` naming every problem, if the network does not fit."""
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core is a {type(core).__name__}: expected a CoreConfig")
        problems = self.fit_problems(core)
        if problems:
            raise NetworkDoesNotFit(problems)

    def __eq__(self, other) -> bool:
        return isinstance(other, Network) and _fields_equal(self, other)


@dataclass(frozen=True)
class SynapseTable:
    """The stored synapses of a network in canonical order (source, group, target).

    This is the order of the core's synaptic memory (each source's fan-out is one
    contiguous row); learning draws from the LFSR group by group, in this order within a group.
    """

    source: np.ndarray  #: source id (int64)
    target: np.ndarray  #: target neuron id (int64)
    group: np.ndarray  #: group index (int64)
    weight: np.ndarray  #: weight mantissa (int64)

    @classmethod
    def from_network(cls, network: Network) -> "SynapseTable":
        parts = []
        for index, group in enumerate(network.groups):
            pre, post = np.nonzero(group.stored_mask)
            parts.append((pre + network.source_offset(group.source), post + network.neuron_offset(group.target),
                          np.full(pre.size, index), group.weights[pre, post]))
        if not parts:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, empty, empty)
        source, target, group, weight = (np.concatenate([p[k] for p in parts]).astype(np.int64) for k in range(4))
        order = np.lexsort((target, group, source))
        return cls(source[order], target[order], group[order], weight[order])

    @property
    def count(self) -> int:
        return int(self.source.size)


def remove_dead_neurons(network: Network, core: CoreConfig | None = None) -> tuple[Network, np.ndarray]:
    """Remove the neurons that cannot change the outputs; return the network and the kept neuron ids.

    After pruning, many hidden neurons are dead: every synapse into them is gone (they
    can never spike) or every synapse out of them is (their spikes reach nothing). The
    core still updates every neuron every step (``ceil(n / neuron_lanes)`` cycles), and
    delivers the spikes of neurons with no fan-out (one cycle each), so removing them
    is what makes pruning pay in the update phase too.

    A neuron *can spike* if its bias is positive or a stored synapse reaches it from an
    input or from a neuron that can spike (with no input and ``bias <= 0`` the voltage
    never rises above 0, and thresholds are ``>= 0``). A neuron *reaches the outputs*
    if it is an output neuron or has a stored synapse to a neuron that reaches them.
    The kept neurons are the output population (whole: the decision indexes it) and
    every neuron that can spike and reaches the outputs; a population left empty is
    dropped, and so is every group left without stored synapses. Kept neurons keep
    their order, parameters and synapses.

    Exact for inference: every kept neuron receives exactly the synaptic input it had
    (a removed neuron that fed a kept one could never spike), so the kept neurons'
    spikes and states, and the decision, are those of ``network``; only the counters
    and the cycles shrink. That holds on a core whose event queue has room for every
    source (``event_queue_depth >= n_sources``, as the default core's): on a shorter queue
    a removed neuron's spikes took queue slots, so removing it can change which events the
    queue drops. Given the ``core``, such a core is refused. Networks with learning rules
    are refused: removing plastic synapses would change the shared LFSR draws of learning
    (learn on the whole network, then remove the rules with :meth:`SynapseGroup`
    ``learning=None`` to deploy).

    Returns
    -------
    (Network, kept) where ``kept`` (int64, ascending) are the old ids of the new neurons.
    """
    plastic = [group.name for group in network.groups if group.plastic]
    if plastic:
        raise NetworkError(f"remove_dead_neurons is for inference networks, but groups {plastic} have learning "
                           f"rules (removing plastic synapses would change the LFSR draws of learning); "
                           f"build the groups with learning=None and pruning=None first")
    if core is not None and queue_can_drop(network, core):
        raise NetworkError(f"the core's event queue holds {core.event_queue_depth} events, fewer than the network's "
                           f"{network.n_sources} sources: it can drop events, and the spikes of the neurons "
                           f"remove_dead_neurons would remove change which (expected event_queue_depth >= "
                           f"{network.n_sources})")
    table = network.synapses()
    output = np.zeros(network.n_neurons, bool)
    output_offset = network.neuron_offset(network.output)
    output[output_offset:output_offset + network.population(network.output).size] = True
    can_spike, reaches = neurons_that_matter(network.n_inputs, table.source, table.target,
                                             network.neuron_parameter("bias") > 0, output)
    # A neuron that can spike reaches the outputs through neurons that spike too, so this is
    # the outputs and the spiking neurons that reach them.
    keep = reaches & (can_spike | output)
    populations, kept_in = [], {}
    for population in network.populations:
        offset = network.neuron_offset(population.name)
        local = np.flatnonzero(keep[offset:offset + population.size])
        if local.size == 0:
            continue
        kept_in[population.name] = local
        fields = {parameter: getattr(population, parameter)[local] for parameter in Population.PARAMETERS}
        populations.append(Population(population.name, int(local.size), reset=population.reset,
                                      single_spike=population.single_spike, **fields))
    groups = []
    for group in network.groups:
        if group.target not in kept_in or (group.source != INPUT and group.source not in kept_in):
            continue
        rows = np.arange(network.n_inputs) if group.source == INPUT else kept_in[group.source]
        columns = kept_in[group.target]
        mask = group.stored_mask[np.ix_(rows, columns)]
        if mask.any():
            groups.append(SynapseGroup(group.source, group.target, group.weights[np.ix_(rows, columns)], mask,
                                       group.exponent))
    compact = Network(network.n_inputs, populations, groups, network.timesteps, network.output, network.decision)
    return compact, np.flatnonzero(keep).astype(np.int64)


def neurons_that_matter(n_inputs: int, source: np.ndarray, target: np.ndarray, positive_bias: np.ndarray,
                        output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two properties of :func:`remove_dead_neurons`: ``(can_spike, reaches)``, ``bool [n_neurons]`` each.

    ``source[k] -> target[k]`` are the synapses (source ids, inputs first, as in
    :class:`SynapseTable`; target neuron ids); ``positive_bias`` and ``output`` mark the
    neurons with a bias > 0 and those of the output population. A neuron *can spike* if
    its bias is positive or a synapse reaches it from an input or a neuron that can spike;
    it *reaches the outputs* if it is an output neuron or has a synapse to a neuron that
    reaches them. Training's pruning (:func:`~spikestream.model.train.prune.useful_synapses`)
    judges the synapses it may keep by the same two properties.
    """
    from_neuron = source >= n_inputs
    pre, post = source[from_neuron] - n_inputs, target[from_neuron]  # neuron-to-neuron synapses
    can_spike = positive_bias.copy()
    can_spike[target[~from_neuron]] = True
    can_spike = _closure(can_spike, pre, post)  # spikes need a spiking source
    return can_spike, _closure(output, post, pre)


def _closure(marked: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``marked`` grown along the edges ``source[k] -> target[k]`` until nothing changes (a copy)."""
    while True:
        grown = marked.copy()
        grown[target[marked[source]]] = True
        if np.array_equal(grown, marked):
            return marked
        marked = grown


def unused_inputs(network: Network) -> np.ndarray:
    """Input channels without a stored synapse (``bool [n_inputs]``).

    In inference their events change nothing, yet each costs an input word and a
    delivery cycle; a host may leave them out of the stream
    (:func:`leave_out_unused_inputs`). In a learning sample they still drive the
    pre-synaptic traces, and on a core whose event queue is shorter than the network's
    sources (``event_queue_depth < n_sources``) they take queue slots, so leaving them out
    can change which events a full queue drops.
    """
    table = network.synapses()
    return np.bincount(table.source, minlength=network.n_sources)[:network.n_inputs] == 0


def queue_can_drop(network: Network, core: CoreConfig) -> bool:
    """Whether a step of ``network`` can find ``core``'s event queue full (it holds fewer events than the
    network has sources): only then does the core drop events (:func:`~spikestream.model.golden.queue_admit`)."""
    return core.event_queue_depth < network.n_sources


def leave_out_unused_inputs(network: Network, core: CoreConfig, inputs) -> np.ndarray:
    """``inputs`` (``bool [..., timesteps, n_inputs]``) without the events of :func:`unused_inputs` (a copy).

    For inference: the decisions, spikes and states are those of the whole stream, and the
    input words, delivery cycles and ``EVENTS`` counts are those of the events that reach a
    synapse. A core whose event queue is shorter than the network's sources is refused (a
    left-out event could have taken the slot of one that the core then drops).
    """
    from .encoding import spike_values

    if queue_can_drop(network, core):
        raise NetworkError(f"the core's event queue holds {core.event_queue_depth} events, fewer than the network's "
                           f"{network.n_sources} sources: leaving events out could change which ones it drops "
                           f"(expected event_queue_depth >= {network.n_sources})")
    inputs = spike_values(inputs).copy()
    if inputs.ndim < 2 or inputs.shape[-1] != network.n_inputs:
        raise ValueError(f"inputs have shape {inputs.shape}, expected [..., timesteps, {network.n_inputs}]")
    inputs[..., unused_inputs(network)] = False
    return inputs


def _fields_equal(a, b) -> bool:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape
                    and np.array_equal(x, y)):
                return False
        elif isinstance(x, tuple):
            if len(x) != len(y) or not all(p == q for p, q in zip(x, y)):
                return False
        elif x != y:
            return False
    return True
