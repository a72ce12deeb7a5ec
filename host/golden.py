"""A protocol-level emulation of the core: packets in, the core's packets out (numpy only).

:class:`GoldenTransport` decodes the host packets of :mod:`spikestream.model.protocol`
into the same tables the core stores (packed neuron words, learning rules, fan-out
pointers, synapse rows), runs every ``END_STEP`` with the golden model's step functions
(:func:`~spikestream.model.golden.deliver`, :func:`~spikestream.model.golden.neuron_step`,
:func:`~spikestream.model.golden.decide`, and in a learning sample the PAIR rule of
``golden.learn``) and answers with the STEP / SUMMARY / LEARNED / NEURON_STATE /
SYNAPSE_ROWS / FANOUT_TABLE packets and register values the core produces, cycle counts
from :mod:`spikestream.model.cycles` included. It knows nothing of the
:class:`~spikestream.model.network.Network` the host loaded: everything comes from the
packets, so a packing bug in the driver shows up here as it would on the chip.

Learning is protocol level, as on the core: the register ``learning_enable`` (latched at
a sample's step 0) makes a learning sample; pruned synapses are compacted out of the
stored rows (rows beyond a source's new end keep their old words, as in the core), and
the end of a learning sample (after the REWARD when an enabled group is reward
modulated) applies the TTFS rule and the reward and sends LEARNED, as the RTL does.

Not emulated (no spikestream host does these): READ_NEURONS before the first step of a
sample (or of a new network) reads what the core's state memory holds, the previous
sample's or network's state, where the emulation answers zeros; RULES in the middle of
a learning sample (the core applies them to the sample under way; the emulation raises
TransportError); RULES words with a shift of 25 to 31, a trace decay shift of 0 or
winner_only on a PAIR rule, which the core takes and no Network can express (the
emulation refuses them, INDEX_RANGE).
"""

from __future__ import annotations

import collections
import logging
from typing import NamedTuple, Sequence

import numpy as np

from spikestream.model import golden
from spikestream.model.config import DECAY_UNITY, WORD_MASK, CoreConfig
from spikestream.model.cycles import (CONFIG_COMMIT_CYCLES, DECIDE_PIPELINE_CYCLES, DELIVER_EMPTY_CYCLES,
                                      DELIVER_PIPELINE_CYCLES, FIFO_WAIT_CYCLES, LEARN_SELECT_CYCLES, LEARNED_CYCLES,
                                      REPORT_CYCLES, SUMMARY_CYCLES, fanout_readback_cycles, neuron_readback_cycles,
                                      synapse_readback_cycles, sweep_cycles, trace_cycles, update_cycles)
from spikestream.model.network import DecisionMode, LearningKind, LearningRule, PruningRule
from spikestream.model.protocol import (ARGUMENT_BITS, CONFIG_WORDS, DECISION_CODES, DECISION_EARLY_EXIT_BIT,
                                        FANOUT_TABLE_WORDS, FANOUT_WORDS, KEEP_BITS, NEURON_FIELDS, NEURON_WORDS,
                                        RULE_WORDS, WORD_BITS, ErrorFlag, InOpcode, OutOpcode, decode_fanout_rows,
                                        header, pack_synapse, parse_header, synapse_format, synapse_rows, to_signed,
                                        unpack_rule_fields, unpack_synapses)
from .regmap import RegisterView
from .transport import TransportError, TransportTimeout

__all__ = ["GoldenTransport"]

log = logging.getLogger("spikestream.host.golden")

_KEEP_MASK = (1 << KEEP_BITS) - 1
_MODES = {code: mode for mode, code in DECISION_CODES.items()}
#: Packets the core takes before its first CONFIG.
_BEFORE_CONFIG = (InOpcode.CONFIG, InOpcode.REWARD, InOpcode.NEURONS, InOpcode.FANOUT, InOpcode.SYNAPSES,
                  InOpcode.READ_SYNAPSES, InOpcode.READ_FANOUT)


def _decision(word: int) -> tuple[int, bool]:
    """A CONFIG decision word: its mode code (:data:`DECISION_CODES`) and its early-exit bit."""
    return word & ((1 << DECISION_EARLY_EXIT_BIT) - 1), bool(word >> DECISION_EARLY_EXIT_BIT & 1)


def _field(words: np.ndarray, name: str, bits: int | None = None) -> np.ndarray:
    """Extract a field of the packed neuron words (``NEURON_FIELDS`` positions)."""
    column, shift = NEURON_FIELDS[name]
    values = words[:, column] >> shift
    return values & ((1 << bits) - 1) if bits is not None else values


class _Rule(NamedTuple):
    """One group's RULES entry, decoded."""

    learning: LearningRule | None
    pruning: PruningRule | None
    source_first: int
    source_count: int
    target_first: int
    target_count: int
    pre_trace_base: int = 0
    post_trace_base: int = 0


class _Group(NamedTuple):
    """What ``golden._pair_step`` / ``golden._end_of_sample`` read of a group."""

    learning: LearningRule | None
    pruning: PruningRule | None


class _Rules(NamedTuple):
    """The stand-in for a Network that the golden learning steps see (``.groups`` only)."""

    groups: list


def _decode_rule(words: Sequence[int]) -> _Rule:
    """Decode the RULE_WORDS of one group (:func:`spikestream.model.protocol.pack_rules`)."""
    f = unpack_rule_fields(words)
    ranges = (f["source_first"], f["source_count"], f["target_first"], f["target_count"], f["pre_trace_base"],
              f["post_trace_base"])
    if not f["plastic"]:
        return _Rule(None, None, *ranges)
    rule = LearningRule(kind=LearningKind.TTFS if f["ttfs"] else LearningKind.PAIR, a_plus=f["a_plus"],
                        a_minus=f["a_minus"], shift=f["shift"], soft_bound=f["soft_bound"], w_min=f["w_min"],
                        w_max=f["w_max"], pre_increment=f["pre_increment"], post_increment=f["post_increment"],
                        trace_decay_shift=f["trace_decay_shift"], stochastic_rounding=f["stochastic_rounding"],
                        reward_modulated=f["reward_modulated"], winner_only=f["winner_only"])
    pruning = PruningRule(threshold=f["prune_threshold"], patience=f["patience"]) if f["pruning"] else None
    return _Rule(rule, pruning, *ranges)


class _Sample(NamedTuple):
    """The learning state of the sample being run."""

    plastic: list  #: golden._Plastic per enabled plastic group
    traces: golden._Traces
    pre_first: np.ndarray


class GoldenTransport:
    """The core emulated at the packet level (a :class:`~spikestream.host.transport.Transport`).

    Parameters
    ----------
    core : CoreConfig
        The configuration of the emulated core (its ``config_hash`` register).
    learning : bool
        False emulates a learning core whose ``learning_enable`` register is never set
        (writes to it are ignored): inference only, whatever the host asks. A core built
        without learning keeps what is written there, as the RTL does, and never learns.
    registers : RegisterView, optional
        The register map (default: this source tree's declaration).
    """

    name = "golden"

    def __init__(self, core: CoreConfig, learning: bool = True, registers: RegisterView | None = None):
        self.core = core
        self._learns = learning and core.learning
        self._format = synapse_format(core)
        self._map = registers if registers is not None else RegisterView.default()
        self._names = {offset: name for name, offset in self._map.offsets.items()}
        self._registers = dict(self._map.resets)
        self._registers["version"] = self._map.version
        self._registers["config_hash"] = core.hash32()
        self._output: collections.deque[list[int]] = collections.deque()
        self._config: list[int] | None = None
        self._neuron_words = np.zeros((core.max_neurons, NEURON_WORDS), np.int64)
        self._fanout = np.zeros((core.num_sources, FANOUT_TABLE_WORDS), np.int64)  # first row, live, pruned
        self._rows = np.zeros((synapse_rows(core), core.lanes), np.int64)
        self._rules: dict[int, _Rule] = {}
        self._compiled = None  # (params, SynapseState in storage order), rebuilt after a load
        self._start_sample()
        self._state = None

    # ---- Transport -------------------------------------------------------------------
    def read(self, offset: int) -> int:
        name = self._register_at(offset)
        if name == "status":
            return self._status()
        return self._registers[name] & WORD_MASK

    def write(self, offset: int, value: int) -> None:
        name = self._register_at(offset)
        if self._map.access[name] == "ro":
            raise TransportError(f"register {name!r} at {offset:#x} is read-only (the core answers SLVERR)")
        if name == "control" and value >> self._map.control_bits["clear_counters"] & 1:
            for counter in self._map.counters:
                self._registers[counter] = 0
        elif name == "errors":
            self._registers["errors"] &= ~value
        elif name == "learning_enable" and (self._learns or not self.core.learning):
            # A core built without learning keeps the word (it reads back) and never learns.
            self._registers[name] = value & WORD_MASK
        elif name == "lfsr" and self.core.learning:  # without learning the LFSR is a constant
            state = value & ((1 << golden.LFSR_BITS) - 1)
            self._registers[name] = state
            if self._compiled is not None:  # the LFSR state the next learning step draws from
                self._compiled = (self._compiled[0], self._compiled[1]._replace(lfsr=state))

    def send(self, words: Sequence[int]) -> None:
        words = [int(w) & WORD_MASK for w in words]
        if not words:
            raise TransportError("cannot send an empty packet")
        opcode, argument = parse_header(words[0])
        payload = words[1:]
        if self._awaiting_reward:
            if opcode == InOpcode.REWARD and not payload:
                self._on_reward(argument, payload)
            else:
                self._error(ErrorFlag.MALFORMED, f"{opcode:#04x} packet while the core waits for REWARD")
            return
        handler = self._HANDLERS.get(opcode)
        if handler is None or (opcode == InOpcode.RULES and not self.core.learning):
            self._error(ErrorFlag.MALFORMED, f"unknown opcode {opcode:#04x}")
            return
        if opcode not in (InOpcode.CONFIG, InOpcode.RULES, InOpcode.NEURONS, InOpcode.FANOUT, InOpcode.SYNAPSES,
                          InOpcode.EVENTS, InOpcode.READ_SYNAPSES, InOpcode.READ_FANOUT) and payload:
            self._error(ErrorFlag.MALFORMED, f"{InOpcode(opcode).name} with {len(payload)} payload words")
            return
        # The tables and their readbacks need no CONFIG (the core writes and reads them as they come).
        if opcode not in _BEFORE_CONFIG and self._config is None:
            self._error(ErrorFlag.MALFORMED, f"{InOpcode(opcode).name} before a CONFIG")
            return
        handler(self, argument, payload)

    def receive(self, timeout: float) -> list[int]:
        if not self._output:
            raise TransportTimeout("the emulated core has no output packet pending (it sends only in answer to "
                                   "END_STEP, END_SAMPLE, REWARD and the READ_* requests)")
        return self._output.popleft()

    def flush(self, timeout: float) -> None:
        """Nothing to wait for: the emulation consumes every packet as it is sent."""

    # ---- registers -------------------------------------------------------------------
    def _register_at(self, offset: int) -> str:
        if offset not in self._names:
            raise TransportError(f"no register at offset {offset:#x} (the core answers SLVERR); registers are at "
                                 f"{sorted(self._names)}")
        return self._names[offset]

    def _status(self) -> int:
        bits = self._map.status_bits
        return ((int(self._config is not None) << bits["configured"])
                | (int(self._sample_done) << bits["sample_done"]) | (self._step << bits["step"]))

    def _error(self, flag: ErrorFlag, what: str) -> None:
        self._errors({flag}, what)

    def _errors(self, flags: set, what: str) -> None:
        """Raise every flag in ``flags`` and count one dropped packet (as the core does per packet)."""
        log.debug("packet dropped (%s): %s", ", ".join(flag.name for flag in sorted(flags)), what)
        for flag in flags:
            self._registers["errors"] |= 1 << flag
        self._registers["dropped_packets"] = (self._registers["dropped_packets"] + 1) & WORD_MASK

    def _count(self, name: str, amount: int) -> None:
        self._registers[name] = (self._registers[name] + int(amount)) & WORD_MASK

    # ---- loading ---------------------------------------------------------------------
    def _on_config(self, argument: int, payload: list[int]) -> None:
        core = self.core
        # As the core: each word is checked as it arrives (a size of 0 or beyond the core, an
        # exponent too large or one too many: TOO_LARGE), then, in a cycle of its own, the words
        # together (too few, or contradicting each other: MALFORMED).
        sizes = zip(payload[:3], (core.max_inputs, core.max_neurons, core.max_timesteps))
        exponents = payload[CONFIG_WORDS:]
        if (any(not 1 <= word <= limit for word, limit in sizes) or len(exponents) > core.max_groups
                or any(e > core.max_weight_exponent for e in exponents)):
            self._error(ErrorFlag.TOO_LARGE, f"CONFIG {payload} exceeds the core")
            return
        if not payload:
            self._error(ErrorFlag.MALFORMED, "CONFIG without words")
            return
        self._count("cycles", CONFIG_COMMIT_CYCLES)
        if len(payload) < CONFIG_WORDS:
            self._error(ErrorFlag.MALFORMED, f"CONFIG of {len(payload)} words, expected >= {CONFIG_WORDS}")
            return
        n_inputs, n_neurons, timesteps, output_start, output_size, decision = payload[:CONFIG_WORDS]
        mode, early_exit = _decision(decision)
        if (output_start + output_size > n_neurons or output_size == 0 or mode not in _MODES
                or (early_exit and _MODES[mode] is not DecisionMode.FIRST_SPIKE)
                or decision >> (DECISION_EARLY_EXIT_BIT + 1)):
            self._error(ErrorFlag.MALFORMED, f"CONFIG {payload} is inconsistent")
            return
        self._config = payload
        self._compiled = None
        self._rules = {}
        for name in ("live_synapses", "pruned_synapses"):
            self._registers[name] = 0
        self._registers["lfsr"] = golden.LFSR_SEED
        self._start_sample()
        self._state = None

    def _trace_problem(self, rule: _Rule) -> str:
        """Why a PAIR rule's trace bases do not fit the trace memories ('' when they do)."""
        if rule.learning is None or rule.learning.kind is not LearningKind.PAIR:
            return ""
        n_inputs = self._config[0]
        if rule.source_first < n_inputs < rule.source_first + rule.source_count:
            return (f"sources {rule.source_first} .. {rule.source_first + rule.source_count - 1} span the "
                    f"{n_inputs} input channels and the neurons: expected one or the other")
        for side, base, count in (("pre", rule.pre_trace_base, rule.source_count),
                                  ("post", rule.post_trace_base, rule.target_count)):
            if base + count > self.core.trace_entries or base % self.core.trace_lanes:
                return (f"{side}-trace entries {base} .. {base + count - 1}: expected within "
                        f"{self.core.trace_entries} entries, starting at a multiple of {self.core.trace_lanes}")
        return ""

    def _rule_problem(self, words: Sequence[int]) -> str:
        """Why the core refuses one group's RULES words ('' when it takes them).

        The checks of ``rtl/learning_walk.parse_rule``, on every group's words (a group
        without learning too); then the rule must be one a Network can express: the core
        also takes a shift of 25 to 31, a trace decay shift of 0 and winner_only on a PAIR
        rule, which no :class:`~spikestream.model.network.LearningRule` holds, and the
        emulation refuses those (no spikestream host sends them).
        """
        core, f = self.core, unpack_rule_fields(words)
        checks = (
            (core.weight_min <= f["w_min"] <= f["w_max"] <= core.weight_max,
             f"clamp [{f['w_min']}, {f['w_max']}] outside the core's weights [{core.weight_min}, {core.weight_max}]"),
            (f["pre_increment"] <= core.trace_max and f["post_increment"] <= core.trace_max,
             f"trace increments {f['pre_increment']}, {f['post_increment']} above {core.trace_max}"),
            (f["trace_decay_shift"] <= core.trace_bits, f"trace decay shift {f['trace_decay_shift']} above "
                                                       f"{core.trace_bits}"),
            (f["prune_threshold"] <= core.weight_max and f["patience"] <= core.prune_patience_max,
             f"pruning threshold {f['prune_threshold']} or patience {f['patience']} beyond the core"),
            (not f["pruning"] or (f["patience"] != 0 and core.pruning), "pruning on a core without it, or patience 0"),
            (f["source_first"] + f["source_count"] <= core.num_sources
             and f["target_first"] + f["target_count"] <= core.max_neurons, "source or target range beyond the core"),
        )
        for ok, problem in checks:
            if not ok:
                return problem
        try:
            return self._trace_problem(_decode_rule(words))
        except ValueError as error:
            return str(error)

    def _on_rules(self, argument: int, payload: list[int]) -> None:
        if not payload:
            self._error(ErrorFlag.MALFORMED, "RULES without rule words")
            return
        if self._learning is not None:
            # The core would apply the new rules to the sample under way; the emulation does not follow.
            raise TransportError("RULES in the middle of a learning sample: not emulated (send RULES between "
                                 "samples)")

        def accept(k: int, words: list[int]) -> bool:
            group = argument + k
            problem = "no such group" if group >= self.core.max_groups else self._rule_problem(words)
            if problem:
                log.debug("RULES of group %d refused: %s", group, problem)
                return False
            self._rules[group] = _decode_rule(words)
            return True

        self._on_items(payload, RULE_WORDS, "RULES", accept)

    def _on_items(self, payload: list[int], words_per_item: int, what: str, accept, whole: int | None = None) -> None:
        """A table packet as the core takes it: item by item, ``accept(k, words)`` writing an item
        in range and returning False for one out of range (flagged INDEX_RANGE, the others written);
        a payload that ends inside a unit of ``whole`` words (default: an item) is MALFORMED, its
        partial item dropped. The packet counts once as dropped."""
        whole = words_per_item if whole is None else whole
        flags, problems = set(), []
        for k in range(len(payload) // words_per_item):
            if not accept(k, payload[k * words_per_item:(k + 1) * words_per_item]):
                flags.add(ErrorFlag.INDEX_RANGE)
                problems.append(f"{what} item {k} out of range")
        if len(payload) % whole:
            flags.add(ErrorFlag.MALFORMED)
            problems.append(f"{what} payload of {len(payload)} words ends inside a unit of {whole}")
        self._compiled = None
        if flags:
            self._errors(flags, "; ".join(problems))

    def _on_neurons(self, argument: int, payload: list[int]) -> None:
        core = self.core

        def accept(k: int, words: list[int]) -> bool:
            neuron = argument + k
            word = np.array([words], np.int64)
            bias = int(to_signed_array(_field(word, "bias", WORD_BITS), WORD_BITS)[0])
            if not (neuron < core.max_neurons and int(_field(word, "threshold")[0]) <= core.state_max
                    and int(_field(word, "adapt_increment")[0]) <= core.state_max
                    and core.state_min <= bias <= core.state_max
                    and int(_field(word, "refractory")[0]) <= core.refractory_max):
                return False
            self._neuron_words[neuron] = words
            return True

        self._on_items(payload, NEURON_WORDS, "NEURONS", accept)

    def _on_fanout(self, argument: int, payload: list[int]) -> None:
        core, rows = self.core, self._rows.shape[0]

        def accept(k: int, words: list[int]) -> bool:
            source, (first_row, count) = argument + k, words
            if not (source < core.num_sources and count <= core.max_neurons
                    and first_row * core.lanes + count <= rows * core.lanes):
                return False
            self._fanout[source] = (first_row, count, 0)
            self._count("live_synapses", count)
            return True

        self._on_items(payload, FANOUT_WORDS, "FANOUT", accept)

    def _on_synapses(self, argument: int, payload: list[int]) -> None:
        # Word by word, as the core writes them: the words of a partial row are written too.
        core, fmt, lanes = self.core, self._format, self.core.lanes
        fields = unpack_synapses(fmt, payload)

        def accept(k: int, words: list[int]) -> bool:
            (word,), row, lane = words, argument + k // lanes, k % lanes
            if not (row < self._rows.shape[0] and fields["target"][k] < core.max_neurons
                    and fields["group"][k] < core.max_groups and word >> fmt.width == 0):
                return False
            self._rows[row, lane] = word
            return True

        self._on_items(payload, 1, "SYNAPSES", accept, whole=lanes)

    def _compile(self):
        """Turn the loaded tables into golden-model parameters and synapses (storage order, cached)."""
        if self._compiled is not None:
            return self._compiled
        n_inputs, n_neurons, timesteps, output_start, output_size, _ = self._config[:CONFIG_WORDS]
        exponents = np.array(self._config[CONFIG_WORDS:], np.int64)
        core = self.core
        words = self._neuron_words[:n_neurons]
        stored = decode_fanout_rows(self._format, self._fanout[:n_inputs + n_neurons], self._rows)
        source, target, group, weight, count = (stored[name] for name in ("source", "target", "group", "weight",
                                                                          "prune_count"))
        params = golden.Params(
            n_inputs=n_inputs, n_neurons=n_neurons, timesteps=timesteps,
            threshold=words[:, NEURON_FIELDS["threshold"][0]].copy(),
            current_decay=DECAY_UNITY - _field(words, "current_keep", KEEP_BITS),  # du + 1
            voltage_decay=DECAY_UNITY - _field(words, "voltage_keep", KEEP_BITS),
            bias=to_signed_array(words[:, NEURON_FIELDS["bias"][0]], 32),
            adapt_increment=words[:, NEURON_FIELDS["adapt_increment"][0]].copy(),
            adapt_decay=DECAY_UNITY - _field(words, "adapt_keep", KEEP_BITS),
            refractory=_field(words, "refractory"),
            reset_subtract=_field(words, "reset_subtract", 1).astype(bool),
            single_spike=_field(words, "single_spike", 1).astype(bool),
            output_slice=slice(output_start, output_start + output_size),
            synapse_source=source, synapse_target=target, synapse_group=group, group_exponent=exponents,
            state_max=core.state_max, trace_max=core.trace_max, eligibility_max=core.eligibility_max)
        lfsr = self._registers["lfsr"]
        self._compiled = (params, golden.SynapseState(weight, np.ones(weight.size, bool), count, lfsr))
        return self._compiled

    def _learned_tables(self) -> None:
        """Store the learned synapses as the core's compaction leaves them.

        Each source's survivors are packed from its first row (the last row zero padded);
        rows beyond its new end keep their old words; the pointer count shrinks and the
        pruned count grows by the synapses removed.
        """
        params, synapses = self._compiled
        lanes = self.core.lanes
        flat = self._rows.reshape(-1)
        live = synapses.live
        n_sources = params.n_inputs + params.n_neurons
        source = params.synapse_source[live]  # storage order: ascending sources
        live_count = np.bincount(source, minlength=n_sources)
        first_row = self._fanout[:n_sources, 0]
        rows = -(-live_count // lanes)
        # Zero the rows the survivors occupy (their padding), then write the survivors.
        row_starts = np.repeat(first_row, rows) + (np.arange(rows.sum()) - np.repeat(np.cumsum(rows) - rows, rows))
        flat.reshape(-1, lanes)[row_starts] = 0
        rank = np.arange(source.size) - (np.cumsum(live_count) - live_count)[source]
        counts = synapses.prune_count[live] if self._format.count_bits else 0
        flat[first_row[source] * lanes + rank] = pack_synapse(self._format, params.synapse_target[live],
                                                              synapses.weight[live], params.synapse_group[live],
                                                              counts)
        self._fanout[:n_sources, 2] += self._fanout[:n_sources, 1] - live_count
        self._fanout[:n_sources, 1] = live_count
        # The storage is compacted: renumber the synapses to what is stored now.
        keep = live
        self._compiled = (params._replace(synapse_source=params.synapse_source[keep],
                                          synapse_target=params.synapse_target[keep],
                                          synapse_group=params.synapse_group[keep]),
                          golden.SynapseState(synapses.weight[keep], np.ones(int(keep.sum()), bool),
                                              synapses.prune_count[keep], synapses.lfsr))

    # ---- samples ---------------------------------------------------------------------
    def _start_sample(self) -> None:
        self._step = 0
        self._sample_done = False
        self._events: dict[int, list[int]] = {}
        self._steps_run = 0
        self._learning: _Sample | None = None
        self._awaiting_reward = False

    @property
    def _early_exit(self) -> bool:
        return _decision(self._config[5])[1]

    def _on_events(self, argument: int, payload: list[int]) -> None:
        if self._sample_done:
            return  # the sample ended early: its remaining events are ignored
        if argument != self._step or self._step >= self._config[2]:
            self._error(ErrorFlag.STEP_ORDER, f"EVENTS for step {argument} while at step {self._step}")
            return
        # As the core: each bad event is dropped alone, the packet counts once as dropped.
        n_inputs = self._config[0]
        channels = self._events.setdefault(argument, [])
        flags, problems = set(), []
        for channel in payload:
            if channel >= n_inputs:
                flags.add(ErrorFlag.INDEX_RANGE)
                problems.append(f"input channel {channel} >= {n_inputs}")
            elif channel in channels:
                flags.add(ErrorFlag.DUPLICATE_EVENT)
                problems.append(f"input channel {channel} already spiked in step {argument}")
            elif len(channels) >= self.core.event_queue_depth:
                flags.add(ErrorFlag.QUEUE_OVERFLOW)
                problems.append(f"event queue full ({self.core.event_queue_depth}) at channel {channel}")
            else:
                channels.append(channel)
                self._count("events_in", 1)
        if flags:
            self._errors(flags, "; ".join(problems))

    def _plastic_groups(self, enabled_word: int) -> list:
        """golden._Plastic of every group with a rule enabled in ``enabled_word``, in group order."""
        params, _ = self._compiled
        plastic = []
        for group, rule in sorted(self._rules.items()):
            if rule.learning is not None and enabled_word >> group & 1:
                plastic.append(golden._Plastic(group, np.flatnonzero(params.synapse_group == group),
                                               rule.source_first, rule.target_first))
        return plastic

    def _rules_view(self) -> _Rules:
        count = max(self._rules, default=-1) + 1
        empty = _Rule(None, None, 0, 0, 0, 0)
        return _Rules([_Group(self._rules.get(g, empty).learning, self._rules.get(g, empty).pruning)
                       for g in range(count)])

    def _begin_learning(self) -> None:
        plastic = self._plastic_groups(self._registers["learning_enable"])
        if not plastic:
            return
        params, synapses = self._compile()
        traces = golden._Traces([np.zeros(self._rules[p.group].source_count, np.int64) for p in plastic],
                                [np.zeros(self._rules[p.group].target_count, np.int64) for p in plastic],
                                np.zeros(synapses.weight.size, np.int64))
        self._learning = _Sample(plastic, traces, np.full(params.n_inputs + params.n_neurons, -1, np.int64))

    def _on_end_step(self, argument: int, payload: list[int]) -> None:
        if self._sample_done:
            return
        if argument != self._step or self._step >= self._config[2]:
            self._error(ErrorFlag.STEP_ORDER, f"END_STEP {argument} while at step {self._step}")
            return
        params, synapses = self._compile()
        if argument == 0:
            self._state = golden.initial_neuron_state(params, 1)
            self._begin_learning()
        n_sources = params.n_inputs + params.n_neurons
        live_fanout = self._fanout[:n_sources, 1]
        pruned_fanout = self._fanout[:n_sources, 2]
        costs = np.maximum(1, -(-live_fanout // self.core.lanes))  # delivery cycles of one spike of each source
        pending = self._state.pending[0]
        synaptic_input = golden.deliver(golden.effective_weights(params, synapses), pending[None])
        self._state, spikes = golden.neuron_step(params, self._state, synaptic_input, argument)
        spikes = spikes[0]
        inputs = np.zeros(params.n_inputs, bool)
        received = self._events.get(argument, [])
        inputs[received] = True
        # The spikes join this step's input events in the event queue, in neuron order;
        # those that find it full are reported but not delivered (one dropped count each).
        _, delivered = golden.queue_admit(inputs, spikes, self.core.event_queue_depth)
        for neuron in np.flatnonzero(spikes & ~delivered):
            self._error(ErrorFlag.QUEUE_OVERFLOW, f"event queue full: spike of neuron {neuron} in step {argument}")
        events = int(pending.sum())
        synaptic_ops, skipped = int(live_fanout[pending].sum()), int(pruned_fanout[pending].sum())
        # The cycle model's terms (model/cycles.py), from the loaded tables instead of a Network.
        deliver = DELIVER_EMPTY_CYCLES if events == 0 else DELIVER_PIPELINE_CYCLES + int(costs[pending].sum())
        spiking = np.flatnonzero(spikes)
        cycles = deliver + update_cycles(params.n_neurons, self.core.neuron_lanes, spiking) + REPORT_CYCLES
        updates = 0
        if self._learning is not None:
            updates, learn = self._pair_step(argument, np.concatenate([inputs, spikes]))
            cycles += learn
        self._state = self._state._replace(pending=np.concatenate([inputs, delivered])[None])
        self._report_step(argument, spiking, events, synaptic_ops, updates, skipped, cycles)
        self._step += 1
        self._steps_run += 1
        if self._early_exit and spikes[params.output_slice].any():
            # The decision is made: the SUMMARY follows this STEP at once (END_SAMPLE then
            # only starts the next sample).
            self._sample_done = True
            self._state = self._state._replace(done=np.ones(1, bool))
            self._send_summary(params)

    def _pair_step(self, step: int, source_spikes: np.ndarray) -> tuple[int, int]:
        """The PAIR rule after a step (golden ``_pair_step``); return (updates, cycles of the phase)."""
        params, synapses = self._compiled
        sample = self._learning
        sample.pre_first[(sample.pre_first < 0) & source_spikes] = step
        walks: list = []
        updates, lfsr = golden._pair_step(self._rules_view(), params, sample.plastic, synapses, sample.traces,
                                          source_spikes, synapses.lfsr, self.core, walks, step)
        pair = [p.group for p in sample.plastic if self._rules[p.group].learning.kind is LearningKind.PAIR]
        cycles = 0
        if pair:
            cycles = LEARN_SELECT_CYCLES + sum(
                LEARN_SELECT_CYCLES + trace_cycles(self._rules[g].source_count, self._rules[g].target_count,
                                                   self.core.trace_lanes)
                for g in pair)
            cycles += sum(self._walk_cycles(walk) for walk in walks)
        self._compiled = (params, synapses._replace(lfsr=lfsr))
        self._registers["lfsr"] = lfsr
        self._count("learning_updates", updates)
        self._after_walks()
        return updates, cycles

    def _walk_cycles(self, walk: golden.LearningWalk) -> int:
        params, _ = self._compiled
        rule = self._rules[walk.group]
        rows = -(-np.bincount(params.synapse_source[walk.live], minlength=params.n_inputs + params.n_neurons)
                 // self.core.lanes)
        return sweep_cycles(rows, rule.source_first, rule.source_count)

    def _after_walks(self) -> None:
        """Compact the pruned synapses out of the tables and renumber the learning state."""
        params, synapses = self._compiled
        live = synapses.live
        pruned = int((~live).sum())
        self._count("live_synapses", -pruned)
        self._count("pruned_synapses", pruned)
        self._learned_tables()
        if self._learning is not None and pruned:
            params, _ = self._compiled
            sample = self._learning
            plastic = [p._replace(synapses=np.flatnonzero(params.synapse_group == p.group)) for p in sample.plastic]
            traces = sample.traces._replace(eligibility=sample.traces.eligibility[live])
            self._learning = sample._replace(plastic=plastic, traces=traces)

    def _report_step(self, step: int, spikes: np.ndarray, events: int, synaptic_ops: int, updates: int,
                     skipped: int, cycles: int) -> None:
        self._output.append([header(OutOpcode.STEP, step), *map(int, spikes), events, synaptic_ops,
                             len(spikes), updates, skipped, cycles])
        self._count("events_out", len(spikes))
        self._count("synaptic_ops", synaptic_ops)
        self._count("cycles", cycles + FIFO_WAIT_CYCLES)  # busy cycles: the report waits a cycle for FIFO room

    def _end_cycles(self) -> int:
        """:func:`spikestream.model.cycles.end_cycles`, from the CONFIG's output size."""
        return self._config[4] + DECIDE_PIPELINE_CYCLES + SUMMARY_CYCLES

    def _on_end_sample(self, argument: int, payload: list[int]) -> None:
        if not self._sample_done:
            params = self._compile()[0]
            if self._state is None or self._steps_run == 0:
                self._state = golden.initial_neuron_state(params, 1)
            self._send_summary(params)
        if self._learning is None:
            self._start_sample()
            return
        rewarded = any(self._rules[p.group].learning.reward_modulated for p in self._learning.plastic)
        if rewarded:
            self._awaiting_reward = True  # the host answers the SUMMARY with REWARD
        else:
            self._end_learning(0)

    def _send_summary(self, params: golden.Params) -> None:
        decision, step = golden.decide(params, _MODES[_decision(self._config[5])[0]], self._state)
        self._decision = int(decision[0])
        self._summary(int(decision[0]), int(step[0]), self._steps_run)

    def _summary(self, decision: int, decision_step: int, steps_run: int) -> None:
        self._output.append([header(OutOpcode.SUMMARY), decision, decision_step & WORD_MASK, steps_run,
                             self._end_cycles()])
        self._count("cycles", self._end_cycles() + FIFO_WAIT_CYCLES)

    def _on_reward(self, argument: int, payload: list[int]) -> None:
        if not self._awaiting_reward:
            return  # a reward without a learning sample waiting for it changes nothing
        reward = to_signed(argument, ARGUMENT_BITS)
        if reward not in (-1, 0, 1):
            self._error(ErrorFlag.INDEX_RANGE, f"reward {reward} is not -1, 0 or 1")
            return
        self._end_learning(reward)

    def _end_learning(self, reward: int) -> None:
        """The end of a learning sample: TTFS rule and reward (golden ``_end_of_sample``), LEARNED."""
        params, synapses = self._compiled
        sample = self._learning
        walks: list = []
        live_before = int(synapses.live.sum())
        updates, lfsr = golden._end_of_sample(self._rules_view(), params, sample.plastic, synapses, sample.traces,
                                              self._state, sample.pre_first, self._decision, reward, synapses.lfsr,
                                              walks)
        pruned = live_before - int(synapses.live.sum())
        cycles = (LEARN_SELECT_CYCLES + sum(LEARN_SELECT_CYCLES + self._walk_cycles(w) for w in walks)
                  + LEARNED_CYCLES)
        self._compiled = (params, synapses._replace(lfsr=lfsr))
        self._registers["lfsr"] = lfsr
        self._count("learning_updates", updates)
        self._after_walks()
        self._output.append([header(OutOpcode.LEARNED), updates, pruned, self._registers["live_synapses"], cycles])
        self._count("cycles", cycles + FIFO_WAIT_CYCLES)
        self._start_sample()

    def _on_read_neurons(self, argument: int, payload: list[int]) -> None:
        n_neurons = self._config[1]
        if self._state is None:
            columns = np.zeros((n_neurons, 4), np.int64)
        else:
            s = self._state
            columns = np.stack([s.u[0], s.v[0], s.theta[0], s.refractory_left[0]], axis=1)
        self._output.append([header(OutOpcode.NEURON_STATE), *(int(w) & WORD_MASK for w in columns.ravel())])
        self._count("cycles", neuron_readback_cycles(n_neurons))

    def _on_read_synapses(self, argument: int, payload: list[int]) -> None:
        if len(payload) != 1:
            self._error(ErrorFlag.MALFORMED, f"READ_SYNAPSES with {len(payload)} payload words, expected 1")
            return
        count, capacity = payload[0], self._rows.shape[0]
        if count == 0 or argument >= capacity or count > capacity - argument:
            self._error(ErrorFlag.INDEX_RANGE, f"READ_SYNAPSES of rows {argument} + {count} beyond {capacity}")
            return
        rows = self._rows[argument:argument + count].ravel()
        self._output.append([header(OutOpcode.SYNAPSE_ROWS, argument), *(int(w) & WORD_MASK for w in rows)])
        self._count("cycles", synapse_readback_cycles(self.core, count))

    def _on_read_fanout(self, argument: int, payload: list[int]) -> None:
        if len(payload) != 1:
            self._error(ErrorFlag.MALFORMED, f"READ_FANOUT with {len(payload)} payload words, expected 1")
            return
        count, capacity = payload[0], self.core.num_sources
        if count == 0 or argument >= capacity or count > capacity - argument:
            self._error(ErrorFlag.INDEX_RANGE, f"READ_FANOUT of sources {argument} + {count} beyond {capacity}")
            return
        table = self._fanout[argument:argument + count].ravel()
        self._output.append([header(OutOpcode.FANOUT_TABLE, argument), *(int(w) & WORD_MASK for w in table)])
        self._count("cycles", fanout_readback_cycles(count))

    _HANDLERS = {
        InOpcode.CONFIG: _on_config, InOpcode.RULES: _on_rules, InOpcode.NEURONS: _on_neurons,
        InOpcode.FANOUT: _on_fanout, InOpcode.SYNAPSES: _on_synapses, InOpcode.EVENTS: _on_events,
        InOpcode.END_STEP: _on_end_step, InOpcode.END_SAMPLE: _on_end_sample, InOpcode.REWARD: _on_reward,
        InOpcode.READ_NEURONS: _on_read_neurons, InOpcode.READ_SYNAPSES: _on_read_synapses,
        InOpcode.READ_FANOUT: _on_read_fanout,
    }


def to_signed_array(values: np.ndarray, bits: int) -> np.ndarray:
    """Interpret the low ``bits`` of each value as two's complement (int64)."""
    values = np.asarray(values, np.int64) & ((1 << bits) - 1)
    return np.where(values >> (bits - 1) & 1, values - (1 << bits), values)
