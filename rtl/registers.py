"""The core's AXI4-Lite registers, declared once (offsets come from the declaration order).

The map is exported as JSON (:func:`register_map_json`) for the host driver, the
testbench and the board build; nothing else types an offset.
"""

from __future__ import annotations

from spikestream.model.config import LEARNING_GROUPS, CoreConfig
from spikestream.model.golden import LFSR_BITS, LFSR_SEED
from spikestream.model.protocol import ErrorFlag

from .csr import DATA_WIDTH, Access, Register, RegisterMap

__all__ = ["LEARNING_GROUPS", "CORE_VERSION", "VERSION_MAGIC", "STATUS_BITS", "CONTROL_BITS", "REGISTERS", "version_word",
           "register_map_json", "reset_values"]

#: Bumped whenever the packet format, register map or cycle model changes.
CORE_VERSION = 4  #: 4: trace walk `trace_lanes` entries per cycle, sweep sources back to back (cycle model);
#: 3: on-chip learning (RULES, LEARNED, 6-word STEP trailer, 3-word FANOUT_TABLE, pruning
#: counter in the synapse word, learning registers); 2: early-exit SUMMARY after the deciding step, DUPLICATE_EVENT
# ``learning_enable`` names the groups of a learning core (CoreConfig checks max_groups <= LEARNING_GROUPS).
assert LEARNING_GROUPS <= DATA_WIDTH, "learning_enable is one register"
#: High half of the version register: "SS" (spikestream).
VERSION_MAGIC = 0x5353

#: Bit positions of the status register (the step counter fills bits 8 and up).
STATUS_BITS = {"busy": 0, "configured": 1, "sample_done": 2, "step": 8}
#: Bit positions of the control register (write 1 to act; reads return 0).
CONTROL_BITS = {"clear_counters": 0}


def version_word() -> int:
    return (VERSION_MAGIC << 16) | CORE_VERSION


REGISTERS = RegisterMap([
    Register("version", Access.RO, DATA_WIDTH, reset=version_word(),
             doc=f"{VERSION_MAGIC:#x} << 16 | core version"),
    Register("config_hash", Access.RO, DATA_WIDTH, doc="CoreConfig.hash32() of the configuration the core was built from"),
    Register("control", Access.RW, len(CONTROL_BITS),
             doc=f"bit {CONTROL_BITS['clear_counters']}: write 1 to zero the activity counters"),
    Register("status", Access.RO, DATA_WIDTH,
             doc=f"bit {STATUS_BITS['busy']} busy, bit {STATUS_BITS['configured']} configured, "
                 f"bit {STATUS_BITS['sample_done']} sample ended early (SUMMARY sent, END_SAMPLE awaited), "
                 f"bits {STATUS_BITS['step']}+: next step of the sample"),
    Register("errors", Access.W1C, len(ErrorFlag),
             doc="sticky error flags (" + ", ".join(f"bit {e.value} {e.name}" for e in ErrorFlag)
             + "); write 1 to clear"),
    Register("cycles", Access.RO, DATA_WIDTH, doc="busy cycles (not waiting for input), wrapping"),
    Register("synaptic_ops", Access.RO, DATA_WIDTH, doc="synapses traversed, wrapping"),
    Register("events_in", Access.RO, DATA_WIDTH, doc="input events accepted, wrapping"),
    Register("events_out", Access.RO, DATA_WIDTH, doc="neuron spikes emitted, wrapping"),
    Register("dropped_packets", Access.RO, DATA_WIDTH, doc="packets in which data was dropped for an error, wrapping"),
    Register("learning_updates", Access.RO, DATA_WIDTH, doc="synapse weight updates applied by learning, wrapping"),
    Register("live_synapses", Access.RO, DATA_WIDTH,
             doc="synapses stored (loaded FANOUT counts since the last CONFIG, minus those pruned)"),
    Register("pruned_synapses", Access.RO, DATA_WIDTH, doc="synapses pruned since the last CONFIG"),
    Register("learning_enable", Access.RW, LEARNING_GROUPS,
             doc="bit g: synapse group g learns (latched when a sample's step 0 runs); 0: inference"),
    Register("lfsr", Access.RW, LFSR_BITS, reset=LFSR_SEED,
             doc="stochastic-rounding LFSR state (save / restore it with the weights; CONFIG resets it; a core built "
                 "without learning keeps the seed and ignores writes)"),
])


def register_map_json() -> dict:
    """Return the register map as exported for drivers and tests."""
    return REGISTERS.to_json()


def reset_values(core: CoreConfig) -> dict[str, int]:
    """Each register's value after reset on a core built from ``core``: the declared resets, and
    ``config_hash``, which the build fixes (``CoreConfig.hash32``) rather than the declaration."""
    values = {register.name: register.reset for register in REGISTERS}
    values["config_hash"] = core.hash32()
    return values
