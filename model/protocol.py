"""The AXI4-Stream packet format of the core, declared once (numpy only).

The host driver, the cocotb testbench and the RTL parser all read the constants and
packings below; nothing else types an opcode or a bit position.

Packets
-------
Both streams carry 32-bit words. A *packet* is one header word followed by its payload
words; ``tlast`` is set on the packet's last word (the header itself for a packet without
payload). Header: ``opcode`` in bits ``[31:24]``, a 24-bit ``argument`` in ``[23:0]``.

Host to core (``s_axis``):

==============  ============  =========================================================
opcode          argument      payload
==============  ============  =========================================================
CONFIG          0             ``n_inputs, n_neurons, timesteps, output_start,
                              output_size, decision`` then one exponent per group
RULES           first group   :data:`RULE_WORDS` words per group (:func:`pack_rules`): the
                              learning and pruning rule, source and target ranges and
                              trace bases (cores built with ``learning`` only)
NEURONS         first neuron  :data:`NEURON_WORDS` words per neuron (:func:`pack_neurons`)
FANOUT          first source  2 words per source: first synapse row, synapse count
SYNAPSES        first row     ``lanes`` words per row (:func:`pack_synapse`), padding 0
EVENTS          step ``t``    one input channel per word (spikes of step ``t``)
END_STEP        step ``t``    none: the events of step ``t`` are complete; run step ``t``
END_SAMPLE      0             none: decide, report (unless the sample ended early), start a
                              new sample
REWARD          reward        none: the reward (two's complement, -1, 0 or +1) of the sample
                              whose SUMMARY was sent (see *Learning* below)
READ_NEURONS    0             none: read back the state of every neuron
READ_SYNAPSES   first row     one word: number of rows to read back
READ_FANOUT     first source  one word: number of sources whose pointers to read back
==============  ============  =========================================================

Events of step ``t`` are sent after ``END_STEP(t-1)`` and before ``END_STEP(t)``. Input
events tagged ``t`` and neuron spikes of step ``t`` are delivered in step ``t+1`` (the
golden model's timing).

Core to host (``m_axis``):

==============  ============  =========================================================
STEP            step ``t``    neuron ids that spiked in step ``t`` (ascending), then the
                              trailer ``events, synaptic_ops, spikes, learning_updates,
                              synapses_skipped, cycles``
SUMMARY         0             ``decision, decision_step, steps_run, cycles``
NEURON_STATE    0             per neuron ``u, v, theta, refractory_left``
SYNAPSE_ROWS    first row     ``lanes`` words per row, packed as in SYNAPSES
FANOUT_TABLE    first source  :data:`FANOUT_TABLE_WORDS` words per source: first row, live
                              synapse count (as in FANOUT), synapses pruned since the load
LEARNED         0             ``updates, pruned, live_synapses, cycles`` of the end of a
                              learning sample (see *Learning*)
==============  ============  =========================================================

Signed values travel as 32-bit two's complement.

Within one step a channel spikes at most once: an event for a channel already sent for
the same step (in the same or an earlier EVENTS packet) is dropped and flagged
(:attr:`ErrorFlag.DUPLICATE_EVENT`); the step runs with the first one.

Early exit: with ``early_exit`` the sample ends with the step in which an output neuron
first spikes (the deciding step). The core sends that step's STEP packet and, right
after it, the SUMMARY, without waiting for END_SAMPLE, so the host sees the decision as
soon as it is made. It then ignores the sample's remaining EVENTS and END_STEP packets
(no STEP packet, no error, no counted event) until END_SAMPLE, which only starts the
next sample (no second SUMMARY). A sample without an early exit gets its SUMMARY at
END_SAMPLE. Either way each sample gets exactly one SUMMARY, after its last STEP packet.

Learning
--------
The register ``learning_enable`` (bit ``g``: group ``g`` learns; all 0: inference) is
latched when a sample's step 0 runs; groups without a rule never learn. A sample with
an enabled plastic group is a *learning sample* (golden :func:`~spikestream.model.golden.learn`):
after every step the core applies the PAIR rule (weights change within the sample, the
STEP trailer counts the updates), and at the end of the sample, after its SUMMARY, it
runs the TTFS rule and the reward, then sends LEARNED. When an enabled group is reward
modulated, that end walk waits for the host's REWARD packet (sent after the SUMMARY,
after END_SAMPLE); any other packet meanwhile is dropped and flagged MALFORMED. A
learning sample's end (LEARNED) comes after END_SAMPLE even with early exit.
Pruned synapses are removed from the synaptic memory (each source's fan-out is
compacted in place, its pointer count shrinks): they cost no cycle from then on. The
register ``lfsr`` holds the stochastic-rounding LFSR (written to save / restore it; a
CONFIG resets it to ``LFSR_SEED``). ``live_synapses`` / ``pruned_synapses`` /
``learning_updates`` count since the last CONFIG.

Synaptic memory layout
----------------------
Synapses are stored in canonical order (:class:`~spikestream.model.network.SynapseTable`),
each source's fan-out starting on a fresh row of ``lanes`` synapses, so the core reads
one row (``lanes`` synapses) per cycle. A source without synapses has count 0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from .config import DECAY_BITS, DECAY_UNITY, RULE_RANGE_BITS, WORD_BITS, WORD_MASK, CoreConfig
from .encoding import bool_values, spike_values
from .network import DecisionMode, LearningKind, Network, ResetMode

__all__ = [
    "WORD_BITS", "OPCODE_SHIFT", "OPCODE_BITS", "ARGUMENT_BITS", "NEURON_WORDS", "CONFIG_WORDS", "STEP_TRAILER_WORDS",
    "SUMMARY_WORDS", "STATE_WORDS", "FANOUT_WORDS", "FANOUT_TABLE_WORDS", "RULE_WORDS", "LEARNED_WORDS", "LOAD_PAYLOAD_WORDS",
    "RULE_FLAGS", "RULE_FIELDS", "RULE_SIGNED_FIELDS", "pack_rules", "pack_rule_fields", "unpack_rule_fields",
    "trace_layout", "unpack_synapses",
    "TraceLayout", "Learned", "decode_fanout_rows", "InOpcode", "OutOpcode", "DECISION_CODES", "SynapseFormat",
    "synapse_format", "synapse_rows", "header", "parse_header", "ProtocolError",
    "SynapseLayout", "synapse_layout", "encode_load", "encode_sample", "decode_packets",
    "StepReport", "Summary", "decode_output", "decode_neuron_state", "decode_synapse_rows", "decode_fanout_table",
    "decode_learned", "to_signed",
]

#: A header word: the opcode above a 24-bit argument.
ARGUMENT_BITS = 24
OPCODE_SHIFT = ARGUMENT_BITS
OPCODE_BITS = WORD_BITS - OPCODE_SHIFT
NEURON_WORDS = 5
CONFIG_WORDS = 6  #: fixed words before the per-group exponents
STEP_TRAILER_WORDS = 6  #: events, synaptic_ops, spikes, learning_updates, synapses_skipped, cycles
SUMMARY_WORDS = 4
STATE_WORDS = 4
FANOUT_WORDS = 2  #: per source in FANOUT: first synapse row, synapse count
FANOUT_TABLE_WORDS = 3  #: per source in FANOUT_TABLE: first synapse row, live count, pruned count
RULE_WORDS = 8  #: per group in RULES (see pack_rules)
LEARNED_WORDS = 4  #: updates, pruned, live_synapses, cycles
#: Default longest payload of a load packet (:func:`encode_load` splits longer tables).
LOAD_PAYLOAD_WORDS = 256
#: Bit positions of the flags in RULES word 0 (bits 24 and up).
RULE_FLAGS = {"plastic": 24, "ttfs": 25, "soft_bound": 26, "stochastic_rounding": 27, "reward_modulated": 28,
              "winner_only": 29, "pruning": 30}
#: The fields of a group's RULES words: ``name: (word, lowest bit, bits)``; ``w_min`` and
#: ``w_max`` are two's complement. The packer, the golden emulation and the RTL read this.
RULE_FIELDS = {
    "a_plus": (0, 0, 8), "a_minus": (0, 8, 8), "shift": (0, 16, 5),
    "w_min": (1, 0, 16), "w_max": (1, 16, 16),
    "pre_increment": (2, 0, 16), "post_increment": (2, 16, 16),
    "prune_threshold": (3, 0, 16), "patience": (3, 16, 16),
    "source_first": (4, 0, RULE_RANGE_BITS), "source_count": (4, 16, RULE_RANGE_BITS),
    "target_first": (5, 0, RULE_RANGE_BITS), "target_count": (5, 16, RULE_RANGE_BITS),
    "pre_trace_base": (6, 0, 16), "post_trace_base": (6, 16, 16),
    "trace_decay_shift": (7, 0, 32),  # the whole word: the core refuses any value above trace_bits
}
#: RULES fields holding two's complement numbers.
RULE_SIGNED_FIELDS = ("w_min", "w_max")

# Bit positions inside the packed neuron words 3 and 4 (see pack_neurons).
_KEEP_BITS = DECAY_BITS + 1  #: 4096 - decay, 1 .. 4096 (current: 4095 - du, 0 .. 4095)
_RESET_SUBTRACT_BIT = 2 * _KEEP_BITS  #: above the two keep fields of word 3
_SINGLE_SPIKE_BIT = _RESET_SUBTRACT_BIT + 1
_DECISION_EARLY_EXIT_BIT = 2


class ProtocolError(ValueError):
    """A stream does not follow the packet format."""


class InOpcode(enum.IntEnum):
    """Opcodes of host-to-core packets."""

    CONFIG = 0x01
    RULES = 0x05
    NEURONS = 0x02
    FANOUT = 0x03
    SYNAPSES = 0x04
    EVENTS = 0x10
    END_STEP = 0x11
    END_SAMPLE = 0x12
    REWARD = 0x13
    READ_NEURONS = 0x20
    READ_SYNAPSES = 0x21
    READ_FANOUT = 0x22


class OutOpcode(enum.IntEnum):
    """Opcodes of core-to-host packets."""

    STEP = 0x80
    SUMMARY = 0x81
    NEURON_STATE = 0x82
    SYNAPSE_ROWS = 0x83
    FANOUT_TABLE = 0x84
    LEARNED = 0x85


#: Decision rule codes (low two bits of the CONFIG ``decision`` word).
DECISION_CODES = {DecisionMode.FIRST_SPIKE: 0, DecisionMode.SPIKE_COUNT: 1, DecisionMode.MAX_POTENTIAL: 2}


def header(opcode: int, argument: int = 0) -> int:
    """Return a header word; the argument must fit 24 bits (two's complement allowed).

    >>> hex(header(InOpcode.END_STEP, 5))
    '0x11000005'
    >>> parse_header(header(InOpcode.EVENTS, 7)) == (InOpcode.EVENTS, 7)
    True
    """
    if not -(1 << (ARGUMENT_BITS - 1)) <= argument < (1 << ARGUMENT_BITS):
        raise ProtocolError(f"header argument {argument} does not fit {ARGUMENT_BITS} bits")
    return (int(opcode) << OPCODE_SHIFT) | (argument & ((1 << ARGUMENT_BITS) - 1))


def parse_header(word: int) -> tuple[int, int]:
    """Split a header word into ``(opcode, argument)``."""
    return (word >> OPCODE_SHIFT) & ((1 << OPCODE_BITS) - 1), word & ((1 << ARGUMENT_BITS) - 1)


def to_signed(word: int, bits: int = WORD_BITS) -> int:
    """Interpret the low ``bits`` of ``word`` as two's complement."""
    word &= (1 << bits) - 1
    return word - (1 << bits) if word >> (bits - 1) else word


@dataclass(frozen=True)
class SynapseFormat:
    """Bit fields of one stored synapse: target neuron, weight mantissa, group, pruning counter.

    The pruning counter (``count_bits``, 0 on cores built without ``pruning``) is the
    golden model's ``SynapseState.prune_count``.
    """

    target_bits: int
    weight_bits: int
    group_bits: int
    count_bits: int = 0

    @property
    def width(self) -> int:
        return self.target_bits + self.weight_bits + self.group_bits + self.count_bits

    @property
    def count_shift(self) -> int:
        return self.target_bits + self.weight_bits + self.group_bits

    @property
    def weight_shift(self) -> int:
        return self.target_bits

    @property
    def group_shift(self) -> int:
        return self.target_bits + self.weight_bits


def synapse_format(core: CoreConfig) -> SynapseFormat:
    """Return the packing of one synapse word for ``core`` (CoreConfig makes sure it fits one word)."""
    return SynapseFormat(*core.synapse_field_bits)


def synapse_rows(core: CoreConfig) -> int:
    """Rows of the synaptic memory: every network that fits ``core`` fits them.

    Each source with synapses wastes less than one row to padding, so the rows of
    ``max_synapses`` synapses plus one per possible source are always enough.
    """
    return -(-core.max_synapses // core.lanes) + min(core.num_sources, core.max_synapses)


def pack_synapse(fmt: SynapseFormat, target: np.ndarray, weight: np.ndarray, group: np.ndarray,
                 prune_count: np.ndarray | int = 0) -> np.ndarray:
    """Pack synapse fields into words (weight as ``weight_bits`` two's complement)."""
    weight_field = np.asarray(weight, np.int64) & ((1 << fmt.weight_bits) - 1)
    count = np.asarray(prune_count, np.int64)
    if fmt.count_bits == 0 and np.any(count != 0):
        raise ProtocolError("pruning counters given for a core built without pruning")
    if np.any((count < 0) | (count >> max(fmt.count_bits, 0) != 0)):
        raise ProtocolError(f"a pruning counter is outside {fmt.count_bits} bits")
    return (np.asarray(target, np.int64) | (weight_field << fmt.weight_shift)
            | (np.asarray(group, np.int64) << fmt.group_shift) | (count << fmt.count_shift)).astype(np.int64)


class SynapseLayout(NamedTuple):
    """Where each source's fan-out lives in the synaptic memory."""

    first_row: np.ndarray  #: int64 [n_sources]
    count: np.ndarray  #: int64 [n_sources], live synapses
    rows: np.ndarray  #: int64 [n_rows, lanes] packed synapse words (0 pads)


def synapse_layout(network: Network, core: CoreConfig, live: np.ndarray | None = None,
                   weight: np.ndarray | None = None, prune_count: np.ndarray | None = None) -> SynapseLayout:
    """Lay the live synapses of ``network`` out in rows of ``core.lanes``, canonical order.

    ``live`` / ``weight`` / ``prune_count`` (canonical order) override the network's, e.g.
    after learning (a :class:`~spikestream.model.golden.SynapseState`).
    """
    table = network.synapses()
    live = np.ones(table.count, bool) if live is None else bool_values(live, "live")
    weight = table.weight if weight is None else np.asarray(weight, np.int64)
    count_field = np.zeros(table.count, np.int64) if prune_count is None else np.asarray(prune_count, np.int64)
    fmt = synapse_format(core)
    lanes = core.lanes
    source, target, group, weight = table.source[live], table.target[live], table.group[live], weight[live]
    count_field = count_field[live]
    count = np.bincount(source, minlength=network.n_sources).astype(np.int64)
    rows_per_source = -(-count // lanes)
    first_row = np.concatenate([[0], np.cumsum(rows_per_source)[:-1]]).astype(np.int64)
    n_rows = int(rows_per_source.sum())
    if n_rows > synapse_rows(core):
        raise ProtocolError(f"the synapses need {n_rows} rows, the core has {synapse_rows(core)}")
    rows = np.zeros(n_rows * lanes, np.int64)
    rank = np.arange(source.size) - np.concatenate([[0], np.cumsum(count)[:-1]])[source]
    rows[first_row[source] * lanes + rank] = pack_synapse(fmt, target, weight, group, count_field)
    return SynapseLayout(first_row, count, rows.reshape(n_rows, lanes))


class TraceLayout(NamedTuple):
    """Where each PAIR group keeps its STDP traces in the core's trace memories."""

    pre_base: np.ndarray  #: int64 [n_groups], first entry of the group's pre traces (one per source)
    post_base: np.ndarray  #: int64 [n_groups], first entry of its post traces (one per target neuron)
    pre_entries: int  #: entries used in the pre-trace memory
    post_entries: int  #: entries used in the post-trace memory


def trace_layout(network: Network, core: CoreConfig) -> TraceLayout:
    """Allocate trace entries to the PAIR groups in group order (others get base 0).

    Each group starts at a multiple of ``core.trace_lanes`` (a trace-memory word), so
    the trace walk handles ``trace_lanes`` of its entries per cycle. Raises
    :class:`ProtocolError` when they exceed ``core.trace_entries``.
    """
    pre_base = np.zeros(len(network.groups), np.int64)
    post_base = np.zeros(len(network.groups), np.int64)
    pre = post = 0
    per_word = core.trace_lanes
    for index, group in enumerate(network.groups):
        if group.learning is not None and group.learning.kind is LearningKind.PAIR:
            pre_base[index], post_base[index] = pre, post
            pre += -(-network.source_size(group.source) // per_word) * per_word
            post += -(-network.population(group.target).size // per_word) * per_word
    limit = core.trace_entries
    if pre > limit or post > limit:
        raise ProtocolError(f"the PAIR groups need {pre} pre-trace and {post} post-trace entries (each group "
                            f"from a multiple of trace_lanes = {per_word}), the core has {limit} of each "
                            "(CoreConfig.trace_entries)")
    return TraceLayout(pre_base, post_base, pre, post)


def pack_rules(network: Network, core: CoreConfig) -> np.ndarray:
    """Return the RULES payload words ``int64 [n_groups, RULE_WORDS]``.

    Each group's words hold the fields of :data:`RULE_FIELDS` (the rule's amplitudes,
    shift, clamp, trace increments and decay, the pruning threshold and patience, the
    group's source and target ranges and its trace bases from :func:`trace_layout`) and
    the flags of :data:`RULE_FLAGS` in word 0. A group without a learning rule has only
    its ranges set.
    """
    traces = trace_layout(network, core)
    words = np.zeros((len(network.groups), RULE_WORDS), np.int64)
    for index, group in enumerate(network.groups):
        # A learning CoreConfig keeps max_inputs + max_neurons within RULE_RANGE_BITS: the ranges never wrap.
        fields = {"source_first": network.source_offset(group.source),
                  "source_count": network.source_size(group.source),
                  "target_first": network.neuron_offset(group.target),
                  "target_count": network.population(group.target).size}
        rule = group.learning
        if rule is not None:
            flags = {"plastic": True, "ttfs": rule.kind is LearningKind.TTFS, "soft_bound": rule.soft_bound,
                     "stochastic_rounding": rule.stochastic_rounding, "reward_modulated": rule.reward_modulated,
                     "winner_only": rule.winner_only, "pruning": group.pruning is not None}
            fields.update(a_plus=rule.a_plus, a_minus=rule.a_minus, shift=rule.shift, w_min=rule.w_min,
                          w_max=rule.w_max, pre_increment=rule.pre_increment, post_increment=rule.post_increment,
                          pre_trace_base=int(traces.pre_base[index]), post_trace_base=int(traces.post_base[index]),
                          trace_decay_shift=rule.trace_decay_shift)
            if group.pruning is not None:
                fields.update(prune_threshold=group.pruning.threshold, patience=group.pruning.patience)
            fields.update(flags)
        words[index] = pack_rule_fields(fields)  # ranges checked by Network.fit_problems
    return words


def pack_rule_fields(fields: dict[str, int]) -> list[int]:
    """One group's RULES words from ``{field or flag: value}`` (:data:`RULE_FIELDS`, :data:`RULE_FLAGS`;
    the others 0): the inverse of :func:`unpack_rule_fields`. A value its field cannot hold
    raises :class:`ProtocolError` (cut to the width, it would arrive as another value)."""
    words = [0] * RULE_WORDS
    for name, value in fields.items():
        if name not in RULE_FIELDS and name not in RULE_FLAGS:
            raise ProtocolError(f"RULES has no field {name!r}; fields are {list(RULE_FIELDS)}, flags {list(RULE_FLAGS)}")
        word, low, bits = RULE_FIELDS[name] if name in RULE_FIELDS else (0, RULE_FLAGS[name], 1)
        value = int(value)
        lowest = -(1 << (bits - 1)) if name in RULE_SIGNED_FIELDS else 0
        highest = (1 << (bits - 1 if name in RULE_SIGNED_FIELDS else bits)) - 1
        if not lowest <= value <= highest:
            raise ProtocolError(f"RULES field {name} = {value} does not fit its {bits} bits [{lowest}, {highest}]")
        words[word] |= (value & ((1 << bits) - 1)) << low
    return words


def unpack_rule_fields(words: Sequence[int]) -> dict[str, int]:
    """Decode one group's RULES words into ``{field: value}`` (:data:`RULE_FIELDS`, flags as bools)."""
    values = {}
    for name, (word, low, bits) in RULE_FIELDS.items():
        value = int(words[word]) >> low & ((1 << bits) - 1)
        values[name] = value - (1 << bits) if name in RULE_SIGNED_FIELDS and value >> (bits - 1) else value
    values.update({name: bool(int(words[0]) >> bit & 1) for name, bit in RULE_FLAGS.items()})
    return values


def pack_neurons(network: Network) -> np.ndarray:
    """Return the NEURONS payload words ``[n_neurons, NEURON_WORDS]``.

    Words: ``threshold``, ``bias``, ``adapt_increment``, then
    ``current_keep | voltage_keep << 13 | reset_subtract << 26 | single_spike << 27`` and
    ``adapt_keep | refractory << 13``, where ``current_keep = 4096 - (du + 1)``,
    ``voltage_keep = 4096 - dv``, ``adapt_keep = 4096 - dth`` are the decay multipliers.
    """
    subtract = np.concatenate([np.full(p.size, p.reset is ResetMode.SUBTRACT) for p in network.populations])
    single = np.concatenate([np.full(p.size, p.single_spike) for p in network.populations])
    words = np.zeros((network.n_neurons, NEURON_WORDS), np.int64)
    words[:, 0] = network.neuron_parameter("threshold")
    words[:, 1] = network.neuron_parameter("bias") & WORD_MASK
    words[:, 2] = network.neuron_parameter("adapt_increment")
    words[:, 3] = ((DECAY_UNITY - 1 - network.neuron_parameter("current_decay"))
                   | ((DECAY_UNITY - network.neuron_parameter("voltage_decay")) << _KEEP_BITS)
                   | (subtract.astype(np.int64) << _RESET_SUBTRACT_BIT) | (single.astype(np.int64) << _SINGLE_SPIKE_BIT))
    words[:, 4] = (DECAY_UNITY - network.neuron_parameter("adapt_decay")) | (network.neuron_parameter("refractory")
                                                                               << _KEEP_BITS)
    return words


#: Field positions of the packed neuron words, for the RTL parser.
NEURON_FIELDS = {
    "threshold": (0, 0), "bias": (1, 0), "adapt_increment": (2, 0),
    "current_keep": (3, 0), "voltage_keep": (3, _KEEP_BITS), "reset_subtract": (3, _RESET_SUBTRACT_BIT),
    "single_spike": (3, _SINGLE_SPIKE_BIT), "adapt_keep": (4, 0), "refractory": (4, _KEEP_BITS),
}
KEEP_BITS = _KEEP_BITS
DECISION_EARLY_EXIT_BIT = _DECISION_EARLY_EXIT_BIT
__all__ += ["NEURON_FIELDS", "KEEP_BITS", "DECISION_EARLY_EXIT_BIT", "pack_neurons", "pack_synapse"]


def _packet(opcode: int, argument: int, payload: Sequence[int] = ()) -> list[int]:
    return [header(opcode, argument)] + [int(w) & WORD_MASK for w in payload]


def encode_load(network: Network, core: CoreConfig, max_payload: int = LOAD_PAYLOAD_WORDS, live: np.ndarray | None = None,
                weight: np.ndarray | None = None, prune_count: np.ndarray | None = None) -> list[list[int]]:
    """Return the packets that load ``network`` into the core (CONFIG first, then RULES on learning cores).

    Long tables are split into packets of at most ``max_payload`` payload words (or one
    entry, when an entry is longer).
    ``live`` / ``weight`` / ``prune_count`` load a learned synapse state (canonical order).
    """
    network.check_fits(core)
    output_start = network.neuron_offset(network.output)
    decision = DECISION_CODES[network.decision.mode] | (int(network.decision.early_exit) << _DECISION_EARLY_EXIT_BIT)
    packets = [_packet(InOpcode.CONFIG, 0, [network.n_inputs, network.n_neurons, network.timesteps, output_start,
                                            network.population(network.output).size, decision]
                       + [g.exponent for g in network.groups])]
    if core.learning and network.groups:
        rules = pack_rules(network, core)
        per = max(1, max_payload // RULE_WORDS)
        for first in range(0, len(network.groups), per):
            packets.append(_packet(InOpcode.RULES, first, rules[first:first + per].ravel()))
    neurons = pack_neurons(network)
    per = max(1, max_payload // NEURON_WORDS)
    for first in range(0, network.n_neurons, per):
        packets.append(_packet(InOpcode.NEURONS, first, neurons[first:first + per].ravel()))
    layout = synapse_layout(network, core, live, weight, prune_count)
    fanout = np.stack([layout.first_row, layout.count], axis=1)
    per = max(1, max_payload // FANOUT_WORDS)
    for first in range(0, network.n_sources, per):
        packets.append(_packet(InOpcode.FANOUT, first, fanout[first:first + per].ravel()))
    per = max(1, max_payload // core.lanes)
    for first in range(0, layout.rows.shape[0], per):
        packets.append(_packet(InOpcode.SYNAPSES, first, layout.rows[first:first + per].ravel()))
    return packets


def encode_sample(inputs: np.ndarray) -> list[list[int]]:
    """Return the packets of one sample: per step its EVENTS (if any) and END_STEP, then END_SAMPLE.

    ``inputs`` is a raster ``bool [timesteps, channels]``.

    >>> [[hex(w) for w in p] for p in encode_sample(np.array([[False, True], [False, False]]))]
    [['0x10000000', '0x1'], ['0x11000000'], ['0x11000001'], ['0x12000000']]
    """
    inputs = spike_values(inputs)
    if inputs.ndim != 2:
        raise ValueError(f"a sample's raster has shape {inputs.shape}, expected [timesteps, channels]")
    packets = []
    for step in range(inputs.shape[0]):
        channels = np.flatnonzero(inputs[step])
        if channels.size:
            packets.append(_packet(InOpcode.EVENTS, step, channels))
        packets.append(_packet(InOpcode.END_STEP, step))
    packets.append(_packet(InOpcode.END_SAMPLE, 0))
    return packets


def decode_packets(words: Sequence[int], lasts: Sequence[bool]) -> list[list[int]]:
    """Split a word stream into packets at ``tlast``."""
    packets, current = [], []
    for word, last in zip(words, lasts):
        current.append(int(word))
        if last:
            packets.append(current)
            current = []
    if current:
        raise ProtocolError(f"stream ends inside a packet ({len(current)} words without tlast)")
    return packets


class StepReport(NamedTuple):
    """What the core reported for one timestep."""

    step: int
    spikes: list  #: neuron ids, ascending
    events: int
    synaptic_ops: int
    spike_count: int
    learning_updates: int
    synapses_skipped: int
    cycles: int


class Learned(NamedTuple):
    """What the core reported at the end of a learning sample (LEARNED packet)."""

    updates: int  #: synapse updates of the end-of-sample walk (TTFS rule, reward)
    pruned: int  #: synapses pruned by that walk
    live_synapses: int  #: live synapses after it (the ``live_synapses`` register)
    cycles: int  #: counted cycles of the walk and the LEARNED packet


class Summary(NamedTuple):
    """What the core reported at the end of a sample."""

    decision: int
    decision_step: int
    steps_run: int
    cycles: int


def decode_output(packets: Sequence[Sequence[int]]) -> tuple[list[StepReport], list[Summary], list[np.ndarray]]:
    """Sort output packets into step reports, summaries and neuron-state readbacks."""
    steps, summaries, states = [], [], []
    for packet in packets:
        opcode, argument = parse_header(packet[0])
        payload = list(packet[1:])
        if opcode == OutOpcode.STEP:
            if len(payload) < STEP_TRAILER_WORDS:
                raise ProtocolError(f"STEP packet of {len(payload)} payload words, expected >= {STEP_TRAILER_WORDS}")
            steps.append(StepReport(argument, payload[:-STEP_TRAILER_WORDS], *payload[-STEP_TRAILER_WORDS:]))
        elif opcode == OutOpcode.SUMMARY:
            if len(payload) != SUMMARY_WORDS:
                raise ProtocolError(f"SUMMARY packet of {len(payload)} payload words, expected {SUMMARY_WORDS}")
            summaries.append(Summary(payload[0], to_signed(payload[1]), payload[2], payload[3]))
        elif opcode == OutOpcode.NEURON_STATE:
            states.append(decode_neuron_state(payload))
        elif opcode in (OutOpcode.SYNAPSE_ROWS, OutOpcode.FANOUT_TABLE, OutOpcode.LEARNED):
            continue  # see decode_synapse_rows, decode_fanout_table, decode_learned
        else:
            raise ProtocolError(f"unknown output opcode {opcode:#04x} in header {packet[0]:#010x}")
    return steps, summaries, states


def decode_synapse_rows(packet: Sequence[int], lanes: int) -> tuple[int, np.ndarray]:
    """Return ``(first_row, rows int64 [n_rows, lanes])`` of a SYNAPSE_ROWS packet."""
    opcode, first_row = parse_header(packet[0])
    if opcode != OutOpcode.SYNAPSE_ROWS or (len(packet) - 1) % lanes:
        raise ProtocolError(f"not a SYNAPSE_ROWS packet of whole {lanes}-lane rows: header {packet[0]:#010x}, "
                            f"{len(packet) - 1} payload words")
    return first_row, np.array(packet[1:], np.int64).reshape(-1, lanes)


def decode_fanout_table(packet: Sequence[int]) -> tuple[int, np.ndarray]:
    """Return ``(first_source, int64 [n_sources, 3])`` (first row, live count, pruned) of a FANOUT_TABLE packet."""
    opcode, first_source = parse_header(packet[0])
    if opcode != OutOpcode.FANOUT_TABLE or (len(packet) - 1) % FANOUT_TABLE_WORDS:
        raise ProtocolError(f"not a FANOUT_TABLE packet of {FANOUT_TABLE_WORDS}-word entries: header "
                            f"{packet[0]:#010x}, {len(packet) - 1} payload words")
    return first_source, np.array(packet[1:], np.int64).reshape(-1, FANOUT_TABLE_WORDS)


def decode_learned(packet: Sequence[int]) -> Learned:
    """Return the :class:`Learned` report of a LEARNED packet."""
    opcode, _ = parse_header(packet[0])
    if opcode != OutOpcode.LEARNED or len(packet) - 1 != LEARNED_WORDS:
        raise ProtocolError(f"not a LEARNED packet of {LEARNED_WORDS} words: header {packet[0]:#010x}, "
                            f"{len(packet) - 1} payload words")
    return Learned(*packet[1:])


def decode_fanout_rows(fmt: SynapseFormat, table: np.ndarray, rows: np.ndarray) -> dict:
    """Unpack the live synapses held by a fan-out table and synapse rows (what the core stores).

    ``table`` is ``int64 [n_sources, >= 2]`` (first row, count, ...) from
    :func:`decode_fanout_table`, ``rows`` the SYNAPSE_ROWS from row 0. Returns int64
    arrays ``source, target, weight, group, prune_count`` in storage (canonical) order;
    padding lanes and rows beyond each source's count are ignored.
    """
    lanes = rows.shape[1] if rows.ndim == 2 else 1
    flat = np.asarray(rows, np.int64).reshape(-1)
    sources, words = [], []
    for source, (first_row, count) in enumerate(np.asarray(table, np.int64)[:, :2]):
        packed = flat[first_row * lanes:first_row * lanes + count]
        if packed.size != count:
            raise ProtocolError(f"source {source}: {count} synapses from row {first_row} lie beyond the "
                                f"{flat.size // lanes} rows read back")
        sources.append(np.full(count, source, np.int64))
        words.append(packed)
    empty = np.zeros(0, np.int64)
    return {"source": np.concatenate(sources) if sources else empty,
            **unpack_synapses(fmt, np.concatenate(words) if words else empty)}


def unpack_synapses(fmt: SynapseFormat, packed: np.ndarray) -> dict:
    """Split synapse words into int64 ``target, weight, group, prune_count`` (the inverse of
    :func:`pack_synapse`; bits beyond the fields are ignored)."""
    packed = np.asarray(packed, np.int64)

    def field(shift: int, bits: int) -> np.ndarray:
        return packed >> shift & ((1 << bits) - 1) if bits else np.zeros(packed.shape, np.int64)

    weight = field(fmt.weight_shift, fmt.weight_bits)
    return {"target": field(0, fmt.target_bits),
            "weight": np.where(weight >> (fmt.weight_bits - 1), weight - (1 << fmt.weight_bits), weight),
            "group": field(fmt.group_shift, fmt.group_bits), "prune_count": field(fmt.count_shift, fmt.count_bits)}


def decode_neuron_state(payload: Sequence[int]) -> np.ndarray:
    """Return ``int64 [n_neurons, 4]`` columns ``u, v, theta, refractory_left``."""
    if len(payload) % STATE_WORDS:
        raise ProtocolError(f"NEURON_STATE payload of {len(payload)} words is not a multiple of {STATE_WORDS}")
    return np.array([to_signed(w) for w in payload], np.int64).reshape(-1, STATE_WORDS)


class ErrorFlag(enum.IntEnum):
    """Bits of the core's error register (sticky, write one to clear).

    Each error drops the offending data (an event, a table entry, or the rest of the
    packet), counts one dropped packet, and leaves the core's state otherwise intact.
    A neuron spike that finds the event queue full during the update is still reported
    in its STEP packet but not delivered in the next step; each such spike counts as
    one dropped packet (it belongs to no input packet).
    """

    MALFORMED = 0  #: unknown opcode, wrong payload length, marker with payload, not configured
    INDEX_RANGE = 1  #: neuron, source, row, channel, target or group index out of range; bad value
    STEP_ORDER = 2  #: events or END_STEP for a step other than the current one (past or future)
    TOO_LARGE = 3  #: CONFIG describes a network larger than the core
    QUEUE_OVERFLOW = 4  #: more events in one step than ``event_queue_depth`` (input events or spikes)
    DUPLICATE_EVENT = 5  #: an input event for a channel already sent for the same step


__all__.append("ErrorFlag")
