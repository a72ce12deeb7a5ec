"""The core configuration: the parameters of the hardware, declared once.

Every view of the core reads this one frozen object: the Amaranth generator sizes its
memories and datapaths from it, the golden model takes its bit widths from it, the
driver compares its hash with the bitstream's identification register and the board
build writes it next to the bitstream as JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass

__all__ = ["CoreConfig", "ConfigError", "DECAY_BITS", "DECAY_UNITY", "LEARNING_GROUPS", "RULE_RANGE_BITS", "WORD_BITS",
           "WORD_MASK", "bits_for", "is_finite_number", "is_whole_number"]

#: Decay constants are 12-bit fractions of 4096, as in Loihi (lava ``decay_shift``).
DECAY_BITS = 12
DECAY_UNITY = 1 << DECAY_BITS
#: Width of a stream word (AXI4-Stream TDATA) and of a register: one stored synapse fits one word.
WORD_BITS = 32
#: The values a word holds: ``0 .. WORD_MASK``.
WORD_MASK = (1 << WORD_BITS) - 1
#: Synapse groups a learning core can name: the ``learning_enable`` register is one word, a bit per group.
LEARNING_GROUPS = WORD_BITS
#: Width of the source and target range fields of a group's RULES words (protocol.RULE_FIELDS).
RULE_RANGE_BITS = 16


def is_finite_number(value) -> bool:
    """A real number, not NaN or infinite (bools are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_whole_number(value) -> bool:
    """An integer (Python's or numpy's; a bool is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def bits_for(count: int) -> int:
    """Bits to number ``count`` things (at least 1)."""
    return max(1, (count - 1).bit_length())


class ConfigError(ValueError):
    """A core configuration or network field is outside its allowed range."""


def _check_range(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} = {value} is outside the allowed range [{low}, {high}]")


@dataclass(frozen=True)
class CoreConfig:
    """Parameters of one spiking core (capacity, parallelism, bit widths, features).

    Parameters
    ----------
    max_neurons : int
        Neuron capacity (all populations together).
    max_inputs : int
        Number of input channels the core accepts.
    max_synapses : int
        Synaptic storage capacity (live synapses of all groups together).
    max_groups, max_populations : int
        Capacity of the group and population tables.
    lanes : int
        Synapses processed in parallel per cycle (1 to 64).
    neuron_lanes : int
        Neurons updated in parallel per cycle (a power of two, 1 to 16).
    state_bits : int
        Signed width of current ``u``, voltage ``v``, bias, threshold and adaptation.
    weight_bits : int
        Signed width of a weight mantissa (8: int8).
    max_weight_exponent : int
        Largest per-group left shift applied to a weight.
    timestep_bits : int
        Width of a timestep tag; a sample has at most ``2**timestep_bits - 1`` steps.
    refractory_bits : int
        Width of the refractory counter (0 disables the feature in hardware).
    trace_bits : int
        Unsigned width of STDP traces.
    eligibility_bits : int
        Signed width of the reward-modulated STDP eligibility per synapse.
    prune_counter_bits : int
        Width of the per-synapse pruning counter (patience up to ``2**bits - 1``).
    event_queue_depth : int
        Spike events the core can hold for one timestep.
    trace_entries : int
        Capacity of each STDP trace memory (learning cores): the PAIR groups together
        need one pre-trace entry per source and one post-trace entry per target neuron,
        each group's entries starting at a multiple of ``trace_lanes``.
    trace_lanes : int
        Trace entries per trace-memory word (a power of two dividing ``trace_entries``):
        the trace walk after each learning step decays and bumps that many per cycle.
    adaptation, refractory, learning, pruning, ttfs : bool
        Feature switches; a network using a switched-off feature does not fit.
    clock_hz : int
        Design clock (used for predicted throughput only).
    """

    max_neurons: int = 512
    max_inputs: int = 128
    max_synapses: int = 32768
    max_groups: int = 16
    max_populations: int = 8
    lanes: int = 8
    neuron_lanes: int = 4
    state_bits: int = 24
    weight_bits: int = 8
    max_weight_exponent: int = 15
    timestep_bits: int = 16
    refractory_bits: int = 4
    trace_bits: int = 8
    eligibility_bits: int = 16
    prune_counter_bits: int = 4
    event_queue_depth: int = 1024
    trace_entries: int = 1024
    trace_lanes: int = 8
    adaptation: bool = True
    refractory: bool = True
    learning: bool = True
    pruning: bool = True
    ttfs: bool = True
    clock_hz: int = 100_000_000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # numpy scalars (np.int64, np.bool_) become the Python values they hold
            value = getattr(self, field.name)
            if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
                object.__setattr__(self, field.name, value.item())
        _check_range("max_neurons", self.max_neurons, 1, 1 << 16)
        _check_range("max_inputs", self.max_inputs, 1, 1 << 16)
        _check_range("max_synapses", self.max_synapses, 1, 1 << 24)
        _check_range("max_groups", self.max_groups, 1, 256)
        _check_range("max_populations", self.max_populations, 1, 256)
        _check_range("lanes", self.lanes, 1, 64)
        _check_range("neuron_lanes", self.neuron_lanes, 1, 16)
        if self.neuron_lanes & (self.neuron_lanes - 1):
            raise ConfigError(f"neuron_lanes = {self.neuron_lanes} must be a power of two")
        _check_range("state_bits", self.state_bits, 8, 32)
        _check_range("weight_bits", self.weight_bits, 2, 16)
        _check_range("max_weight_exponent", self.max_weight_exponent, 0, 24)
        _check_range("timestep_bits", self.timestep_bits, 2, 24)
        _check_range("refractory_bits", self.refractory_bits, 0, 16)
        _check_range("trace_bits", self.trace_bits, 2, 16)
        _check_range("eligibility_bits", self.eligibility_bits, 4, 32)
        _check_range("prune_counter_bits", self.prune_counter_bits, 1, 16)
        _check_range("event_queue_depth", self.event_queue_depth, 1, 1 << 20)
        _check_range("trace_entries", self.trace_entries, 1, 1 << 16)
        _check_range("trace_lanes", self.trace_lanes, 1, 64)
        if self.trace_lanes & (self.trace_lanes - 1) or self.trace_entries % self.trace_lanes:
            raise ConfigError(f"trace_lanes = {self.trace_lanes} must be a power of two that divides "
                              f"trace_entries = {self.trace_entries}")
        _check_range("clock_hz", self.clock_hz, 1, 10**10)
        for name in ("adaptation", "refractory", "learning", "pruning", "ttfs"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.pruning and not self.learning:
            raise ConfigError("pruning = True needs learning = True: synapses are pruned by learning")
        range_max = (1 << RULE_RANGE_BITS) - 1
        if self.learning and self.max_inputs + self.max_neurons > range_max:
            raise ConfigError(f"max_inputs + max_neurons = {self.max_inputs + self.max_neurons}: a learning core "
                              f"names its groups' source and target ranges in {RULE_RANGE_BITS}-bit fields (RULES "
                              f"packet), so it must be <= {range_max} (or learning = False)")
        if sum(self.synapse_field_bits) > WORD_BITS:
            target, weight, group, count = self.synapse_field_bits
            raise ConfigError(f"a stored synapse needs {sum(self.synapse_field_bits)} bits (target {target} for "
                              f"max_neurons = {self.max_neurons} + weight {weight} + group {group} for max_groups = "
                              f"{self.max_groups} + pruning counter {count}), more than one {WORD_BITS}-bit word: "
                              "fewer neurons, groups or weight or counter bits")
        if self.learning and self.max_groups > LEARNING_GROUPS:
            raise ConfigError(f"max_groups = {self.max_groups}: a learning core enables its groups through the "
                              f"{LEARNING_GROUPS}-bit learning_enable register, so max_groups must be <= "
                              f"{LEARNING_GROUPS} (or learning = False)")

    # Derived ranges: everything below is computed, never typed twice.
    @property
    def synapse_field_bits(self) -> tuple[int, int, int, int]:
        """Widths of a stored synapse's fields: target neuron, weight, group, pruning counter (0 without pruning)."""
        return (bits_for(self.max_neurons), self.weight_bits, bits_for(self.max_groups),
                self.prune_counter_bits if self.pruning else 0)

    @property
    def num_sources(self) -> int:
        """Size of the source address space: input channels, then neurons."""
        return self.max_inputs + self.max_neurons

    @property
    def state_max(self) -> int:
        """Largest value of a saturating signed state (``2**(state_bits-1) - 1``)."""
        return (1 << (self.state_bits - 1)) - 1

    @property
    def state_min(self) -> int:
        """Smallest value of a saturating signed state (symmetric: ``-state_max``)."""
        return -self.state_max

    @property
    def weight_max(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def weight_min(self) -> int:
        return -(1 << (self.weight_bits - 1))

    @property
    def max_timesteps(self) -> int:
        return (1 << self.timestep_bits) - 1

    @property
    def refractory_max(self) -> int:
        return (1 << self.refractory_bits) - 1

    @property
    def trace_max(self) -> int:
        return (1 << self.trace_bits) - 1

    @property
    def eligibility_max(self) -> int:
        return (1 << (self.eligibility_bits - 1)) - 1

    @property
    def prune_patience_max(self) -> int:
        return (1 << self.prune_counter_bits) - 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CoreConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown core configuration fields {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def hash32(self) -> int:
        """Return a 32-bit hash of the configuration (the bitstream's ID register)."""
        digest = hashlib.sha256(self.to_json().encode()).digest()
        return int.from_bytes(digest[:4], "little")

    def differences(self, other: "CoreConfig") -> list[str]:
        """List the fields that differ, as ``"name: self != other"`` strings."""
        return [
            f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


#: The default configuration for PYNQ-Z2 is the dataclass default; kept as a name
#: so that the board build and docs can refer to it.
PYNQ_Z2 = CoreConfig()
__all__.append("PYNQ_Z2")
