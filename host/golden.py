"""A protocol-level emulation of the core: packets in, the core's packets out (numpy only).

:class:`GoldenTransport` decodes the host packets of :mod:`spikestream.model.protocol`
into the same tables the core stores (packed neuron words, fan-out pointers, synapse
rows), runs every ``END_STEP`` with the golden model's step functions
(:func:`~spikestream.model.golden.deliver`, :func:`~spikestream.model.golden.neuron_step`,
:func:`~spikestream.model.golden.decide`) and answers with the STEP / SUMMARY /
NEURON_STATE packets and register values the core produces, cycle counts from
:mod:`spikestream.model.cycles` included. It knows nothing of the
:class:`~spikestream.model.network.Network` the host loaded: everything comes from the
packets, so a packing bug in the driver shows up here as it would on the chip.

Beyond the RTL (which does not learn yet), it emulates on-chip learning through its
:class:`~spikestream.host.transport.LearningPort` (:attr:`GoldenTransport.learning`):
the rules are not in the packet format yet, so they come from the network given to
``learning.enable``; a learning sample runs with :func:`spikestream.model.golden.learn`
and the REWARD packet that follows it applies the reward. Two simplifications hold only
while learning: the sample runs at END_SAMPLE (its STEP reports and SUMMARY come then,
not one per END_STEP and right after an early exit's deciding step), and its cycle
counts are those of inference with the synapses live at the sample's start (the
learning engine's own cycles are not modelled yet). Pruned synapses are removed from
the stored rows, as the core's compaction will do.
"""

from __future__ import annotations

import collections
import logging
from typing import Sequence

import numpy as np

from spikestream.model import golden
from spikestream.model.config import DECAY_UNITY, CoreConfig
from spikestream.model.cycles import (DECIDE_PIPELINE_CYCLES, DELIVER_EMPTY_CYCLES, DELIVER_PIPELINE_CYCLES,
                                      REPORT_CYCLES, SUMMARY_CYCLES, step_cycles, update_cycles)
from spikestream.model.network import Network
from spikestream.model.protocol import (CONFIG_WORDS, DECISION_CODES, DECISION_EARLY_EXIT_BIT, FANOUT_WORDS, KEEP_BITS,
                                        NEURON_FIELDS, NEURON_WORDS, WORD_BITS, ErrorFlag, InOpcode, OutOpcode, header,
                                        parse_header, synapse_format, synapse_layout, synapse_rows, to_signed)
from .regmap import RegisterView
from .transport import TransportError, TransportTimeout

__all__ = ["GoldenTransport"]

log = logging.getLogger("spikestream.host.golden")

_WORD_MASK = (1 << WORD_BITS) - 1
_KEEP_MASK = (1 << KEEP_BITS) - 1
_MODES = {code: mode for mode, code in DECISION_CODES.items()}


def _field(words: np.ndarray, name: str, bits: int | None = None) -> np.ndarray:
    """Extract a field of the packed neuron words (``NEURON_FIELDS`` positions)."""
    column, shift = NEURON_FIELDS[name]
    values = words[:, column] >> shift
    return values & ((1 << bits) - 1) if bits is not None else values


class _LearningPort:
    """On-chip learning of the emulated core (see the module docstring)."""

    def __init__(self, transport: "GoldenTransport"):
        self._transport = transport

    def enable(self, network: Network, core: CoreConfig, enabled: Sequence[bool] | None = None) -> None:
        self._transport._enable_learning(network, core, enabled)

    def disable(self) -> None:
        self._transport._commit_learning()
        self._transport._learning_active = False

    def synapse_state(self) -> golden.SynapseState:
        return self._transport._synapse_state()


class GoldenTransport:
    """The core emulated at the packet level (a :class:`~spikestream.host.transport.Transport`).

    Parameters
    ----------
    core : CoreConfig
        The configuration of the emulated core (its ``config_hash`` register).
    learning : bool
        Offer on-chip learning (:attr:`learning` is a LearningPort); False emulates the
        RTL as it is (REWARD ignored, :attr:`learning` is None).
    registers : RegisterView, optional
        The register map (default: this source tree's declaration).
    """

    name = "golden"

    def __init__(self, core: CoreConfig, learning: bool = True, registers: RegisterView | None = None):
        self.core = core
        self.learning = _LearningPort(self) if learning and core.learning else None
        self._format = synapse_format(core)
        self._map = registers if registers is not None else RegisterView.default()
        self._names = {offset: name for name, offset in self._map.offsets.items()}
        self._registers = dict(self._map.resets)
        self._registers["version"] = self._map.version
        self._registers["config_hash"] = core.hash32()
        self._output: collections.deque[list[int]] = collections.deque()
        self._config: list[int] | None = None
        self._neuron_words = np.zeros((core.max_neurons, NEURON_WORDS), np.int64)
        self._fanout = np.zeros((core.num_sources, FANOUT_WORDS), np.int64)
        self._rows = np.zeros((synapse_rows(core), core.lanes), np.int64)
        self._compiled = None  # (params, synapses, weights, live fan-out, source costs), rebuilt after a load
        self._learning = None  # (network, core, enabled, synapse state) since learning was first enabled
        self._learning_active = False  # samples learn (else they are inference on the learned synapses)
        self._pending_reward = None  # (synapses before the sample, raster) of a learning sample awaiting REWARD
        self._start_sample()
        self._state = None

    # ---- Transport -------------------------------------------------------------------
    def read(self, offset: int) -> int:
        name = self._register_at(offset)
        if name == "status":
            return self._status()
        return self._registers[name] & _WORD_MASK

    def write(self, offset: int, value: int) -> None:
        name = self._register_at(offset)
        if self._map.access[name] == "ro":
            raise TransportError(f"register {name!r} at {offset:#x} is read-only (the core answers SLVERR)")
        if name == "control" and value >> self._map.control_bits["clear_counters"] & 1:
            for counter in self._map.counters:
                self._registers[counter] = 0
        elif name == "errors":
            self._registers["errors"] &= ~value

    def send(self, words: Sequence[int]) -> None:
        words = [int(w) & _WORD_MASK for w in words]
        if not words:
            raise TransportError("cannot send an empty packet")
        opcode, argument = parse_header(words[0])
        payload = words[1:]
        handler = self._HANDLERS.get(opcode)
        if handler is None:
            self._error(ErrorFlag.MALFORMED, f"unknown opcode {opcode:#04x}")
            return
        if opcode not in (InOpcode.CONFIG, InOpcode.NEURONS, InOpcode.FANOUT, InOpcode.SYNAPSES,
                          InOpcode.EVENTS, InOpcode.READ_SYNAPSES) and payload:
            self._error(ErrorFlag.MALFORMED, f"{InOpcode(opcode).name} with {len(payload)} payload words")
            return
        if opcode != InOpcode.CONFIG and opcode != InOpcode.REWARD and self._config is None:
            self._error(ErrorFlag.MALFORMED, f"{InOpcode(opcode).name} before a CONFIG")
            return
        if opcode != InOpcode.REWARD:
            self._commit_learning()
        handler(self, argument, payload)

    def receive(self, timeout: float) -> list[int]:
        if not self._output:
            raise TransportTimeout("the emulated core has no output packet pending (it sends only in answer to "
                                   "END_STEP, END_SAMPLE, READ_NEURONS and READ_SYNAPSES)")
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
        self._registers["dropped_packets"] = (self._registers["dropped_packets"] + 1) & _WORD_MASK

    def _count(self, name: str, amount: int) -> None:
        self._registers[name] = (self._registers[name] + int(amount)) & _WORD_MASK

    # ---- loading ---------------------------------------------------------------------
    def _on_config(self, argument: int, payload: list[int]) -> None:
        if len(payload) < CONFIG_WORDS:
            self._error(ErrorFlag.MALFORMED, f"CONFIG of {len(payload)} words, expected >= {CONFIG_WORDS}")
            return
        n_inputs, n_neurons, timesteps, output_start, output_size, decision = payload[:CONFIG_WORDS]
        exponents = payload[CONFIG_WORDS:]
        core = self.core
        if (n_inputs > core.max_inputs or n_neurons > core.max_neurons or timesteps > core.max_timesteps
                or len(exponents) > core.max_groups):
            self._error(ErrorFlag.TOO_LARGE, f"CONFIG {payload} exceeds the core")
            return
        if (output_start + output_size > n_neurons or output_size == 0 or (decision & 3) not in _MODES
                or any(e > core.max_weight_exponent for e in exponents)):
            self._error(ErrorFlag.INDEX_RANGE, f"CONFIG {payload} is inconsistent")
            return
        self._config = payload
        self._compiled = None
        self._learning, self._learning_active, self._pending_reward = None, False, None  # a new network
        self._start_sample()
        self._state = None

    def _on_table(self, table: np.ndarray, words_per_item: int, limit: int, what: str, first: int,
                  payload: list[int]) -> None:
        if len(payload) % words_per_item:
            self._error(ErrorFlag.MALFORMED, f"{what} payload of {len(payload)} words, not a multiple of "
                                             f"{words_per_item}")
            return
        count = len(payload) // words_per_item
        if first + count > limit:
            self._error(ErrorFlag.INDEX_RANGE, f"{what} {first} .. {first + count - 1} beyond {limit}")
            return
        table[first:first + count] = np.array(payload, np.int64).reshape(count, words_per_item)
        self._compiled = None

    def _on_neurons(self, argument: int, payload: list[int]) -> None:
        self._on_table(self._neuron_words, NEURON_WORDS, self._config[1], "neurons", argument, payload)

    def _on_fanout(self, argument: int, payload: list[int]) -> None:
        self._on_table(self._fanout, FANOUT_WORDS, self._config[0] + self._config[1], "sources", argument, payload)

    def _on_synapses(self, argument: int, payload: list[int]) -> None:
        self._on_table(self._rows, self.core.lanes, self._rows.shape[0], "synapse rows", argument, payload)

    def _compile(self):
        """Turn the loaded tables into golden-model parameters (cached until the next load)."""
        if self._compiled is not None:
            return self._compiled
        n_inputs, n_neurons, timesteps, output_start, output_size, _ = self._config[:CONFIG_WORDS]
        exponents = np.array(self._config[CONFIG_WORDS:], np.int64)
        core, fmt, lanes = self.core, self._format, self.core.lanes
        words = self._neuron_words[:n_neurons]
        sources, targets, groups, weights = [], [], [], []
        n_sources = n_inputs + n_neurons
        flat_rows = self._rows.reshape(-1)
        for source in range(n_sources):
            first_row, count = self._fanout[source]
            packed = flat_rows[first_row * lanes:first_row * lanes + count]
            sources.append(np.full(packed.size, source))
            targets.append(packed & ((1 << fmt.target_bits) - 1))
            weights.append(to_signed_array(packed >> fmt.weight_shift, fmt.weight_bits))
            groups.append(packed >> fmt.group_shift & ((1 << fmt.group_bits) - 1))
        source, target, group, weight = (np.concatenate(x).astype(np.int64)
                                         for x in (sources, targets, groups, weights))
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
        synapses = golden.SynapseState(weight, np.ones(weight.size, bool), np.zeros(weight.size, np.int64),
                                       golden.LFSR_SEED)
        live_fanout = self._fanout[:n_sources, 1].copy()
        costs = np.maximum(1, -(-live_fanout // lanes))  # delivery cycles of one spike of each source
        self._compiled = (params, golden.effective_weights(params, synapses), live_fanout, costs)
        return self._compiled

    # ---- samples ---------------------------------------------------------------------
    def _start_sample(self) -> None:
        self._step = 0
        self._sample_done = False
        self._events: dict[int, list[int]] = {}
        self._steps_run = 0

    @property
    def _early_exit(self) -> bool:
        return bool(self._config[5] >> DECISION_EARLY_EXIT_BIT & 1)

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

    def _on_end_step(self, argument: int, payload: list[int]) -> None:
        if self._sample_done:
            return
        if argument != self._step or self._step >= self._config[2]:
            self._error(ErrorFlag.STEP_ORDER, f"END_STEP {argument} while at step {self._step}")
            return
        if self._learning_active:
            self._step += 1  # a learning sample runs at END_SAMPLE (its weights change within the sample)
            return
        params, weights, live_fanout, costs = self._compile()
        if argument == 0:
            self._state = golden.initial_neuron_state(params, 1)
        pending = self._state.pending[0]
        synaptic_input = golden.deliver(weights, pending[None])
        self._state, spikes = golden.neuron_step(params, self._state, synaptic_input, argument)
        spikes = spikes[0]
        inputs = np.zeros(params.n_inputs, bool)
        received = self._events.get(argument, [])
        inputs[received] = True
        # The spikes join this step's input events in the event queue, in neuron order;
        # those that find it full are reported but not delivered (one dropped count each).
        delivered = spikes.copy()
        room = self.core.event_queue_depth - len(received)
        overflow = np.flatnonzero(spikes)[max(0, room):]
        delivered[overflow] = False
        for neuron in overflow:
            self._error(ErrorFlag.QUEUE_OVERFLOW, f"event queue full: spike of neuron {neuron} in step {argument}")
        self._state = self._state._replace(pending=np.concatenate([inputs, delivered])[None])
        events = int(pending.sum())
        # The cycle model's terms (model/cycles.py), from the loaded fan-out table instead of a Network.
        deliver = DELIVER_EMPTY_CYCLES if events == 0 else DELIVER_PIPELINE_CYCLES + int(costs[pending].sum())
        spiking = np.flatnonzero(spikes)
        cycles = deliver + update_cycles(params.n_neurons, self.core.neuron_lanes, spiking) + REPORT_CYCLES
        self._report_step(argument, spiking, events, int(live_fanout[pending].sum()), cycles)
        self._step += 1
        self._steps_run += 1
        if self._early_exit and spikes[params.output_slice].any():
            # The decision is made: the SUMMARY follows this STEP at once (END_SAMPLE then
            # only starts the next sample).
            self._sample_done = True
            self._state = self._state._replace(done=np.ones(1, bool))
            self._send_summary(params)

    def _report_step(self, step: int, spikes: np.ndarray, events: int, synaptic_ops: int, cycles: int) -> None:
        self._output.append([header(OutOpcode.STEP, step), *map(int, spikes), events, synaptic_ops,
                             len(spikes), cycles])
        self._count("events_out", len(spikes))
        self._count("synaptic_ops", synaptic_ops)
        self._count("cycles", cycles)

    def _end_cycles(self) -> int:
        """:func:`spikestream.model.cycles.end_cycles`, from the CONFIG's output size."""
        return self._config[4] + DECIDE_PIPELINE_CYCLES + SUMMARY_CYCLES

    def _on_end_sample(self, argument: int, payload: list[int]) -> None:
        if self._learning_active:
            self._run_learning_sample()
            return
        if self._sample_done:  # the SUMMARY was sent after the deciding step
            self._start_sample()
            return
        params = self._compile()[0]
        if self._state is None or self._steps_run == 0:
            self._state = golden.initial_neuron_state(params, 1)
        self._send_summary(params)
        self._start_sample()

    def _send_summary(self, params: golden.Params) -> None:
        decision, step = golden.decide(params, _MODES[self._config[5] & 3], self._state)
        self._summary(int(decision[0]), int(step[0]), self._steps_run)

    def _summary(self, decision: int, decision_step: int, steps_run: int) -> None:
        self._output.append([header(OutOpcode.SUMMARY), decision, decision_step & _WORD_MASK, steps_run,
                             self._end_cycles()])
        self._count("cycles", self._end_cycles())

    def _on_read_neurons(self, argument: int, payload: list[int]) -> None:
        n_neurons = self._config[1]
        if self._state is None:
            columns = np.zeros((n_neurons, 4), np.int64)
        else:
            s = self._state
            columns = np.stack([s.u[0], s.v[0], s.theta[0], s.refractory_left[0]], axis=1)
        self._output.append([header(OutOpcode.NEURON_STATE), *(int(w) & _WORD_MASK for w in columns.ravel())])

    def _on_read_synapses(self, argument: int, payload: list[int]) -> None:
        if len(payload) != 1:
            self._error(ErrorFlag.MALFORMED, f"READ_SYNAPSES with {len(payload)} payload words, expected 1")
            return
        count, capacity = payload[0], self._rows.shape[0]
        if count == 0 or argument >= capacity or count > capacity - argument:
            self._error(ErrorFlag.INDEX_RANGE, f"READ_SYNAPSES of rows {argument} + {count} beyond {capacity}")
            return
        rows = self._rows[argument:argument + count].ravel()
        self._output.append([header(OutOpcode.SYNAPSE_ROWS, argument), *(int(w) & _WORD_MASK for w in rows)])

    def _on_reward(self, argument: int, payload: list[int]) -> None:
        reward = to_signed(argument, 24)
        if self._pending_reward is None:
            return  # as the RTL: a reward without a learning sample before it changes nothing
        if reward not in (-1, 0, 1):
            self._error(ErrorFlag.INDEX_RANGE, f"reward {reward} is not -1, 0 or 1")
            return
        before, raster = self._pending_reward
        network, core, enabled, _ = self._learning
        _, synapses = golden.learn(network, core, raster[None], [reward], before, enabled)
        self._learning = (network, core, enabled, synapses)
        self._pending_reward = None
        self._reload_synapses()

    _HANDLERS = {
        InOpcode.CONFIG: _on_config, InOpcode.NEURONS: _on_neurons, InOpcode.FANOUT: _on_fanout,
        InOpcode.SYNAPSES: _on_synapses, InOpcode.EVENTS: _on_events, InOpcode.END_STEP: _on_end_step,
        InOpcode.END_SAMPLE: _on_end_sample, InOpcode.REWARD: _on_reward, InOpcode.READ_NEURONS: _on_read_neurons,
        InOpcode.READ_SYNAPSES: _on_read_synapses,
    }

    # ---- learning (beyond the RTL) ----------------------------------------------------
    def _enable_learning(self, network: Network, core: CoreConfig, enabled: Sequence[bool] | None) -> None:
        if self._config is None:
            raise TransportError("load a network before enabling learning")
        if core != self.core:
            raise TransportError("learning network targets another core: " + "; ".join(self.core.differences(core)))
        self._commit_learning()
        if self._learning is not None and self._learning[0] is network:
            synapses = self._learning[3]
        else:
            synapses = golden.initial_synapse_state(network)
        layout = synapse_layout(network, core, synapses.live, synapses.weight)
        loaded = self._rows[:layout.rows.shape[0]]
        if (not np.array_equal(layout.rows, loaded) or not np.array_equal(
                np.stack([layout.first_row, layout.count], 1), self._fanout[:network.n_sources])):
            raise TransportError("the network given for learning is not the one loaded into the core")
        self._learning = (network, core, None if enabled is None else list(enabled), synapses)
        self._learning_active = True

    def _run_learning_sample(self) -> None:
        network, core, enabled, synapses = self._learning
        raster = np.zeros((network.timesteps, network.n_inputs), bool)
        for step, channels in self._events.items():
            raster[step, channels] = True
        results, after = golden.learn(network, core, raster[None], [0], synapses, enabled)
        result = results[0]
        cycles = step_cycles(network, core, raster, result, synapses.live)[0]
        for t in range(int(result.steps_run[0])):
            self._report_step(t, np.flatnonzero(result.spikes[0, t]), int(result.counters[0, t, golden.Counter.EVENTS]),
                              int(result.counters[0, t, golden.Counter.SYNAPTIC_OPS]), int(cycles[t]))
        self._state = result.state
        self._learning = (network, core, enabled, after)
        self._pending_reward = (synapses, raster)
        self._summary(int(result.decision[0]), int(result.decision_step[0]), int(result.steps_run[0]))
        self._start_sample()
        self._reload_synapses()

    def _commit_learning(self) -> None:
        """A learning sample not followed by REWARD keeps its reward-0 outcome."""
        self._pending_reward = None

    def _reload_synapses(self) -> None:
        """Store the learned synapses compacted, as the core's pruning does (pruned ones are gone)."""
        network, core, _, synapses = self._learning
        layout = synapse_layout(network, core, synapses.live, synapses.weight)
        self._rows[:] = 0
        self._rows[:layout.rows.shape[0]] = layout.rows
        self._fanout[:network.n_sources] = np.stack([layout.first_row, layout.count], 1)
        self._compiled = None

    def _synapse_state(self) -> golden.SynapseState:
        if self._learning is None:
            raise TransportError("learning is not enabled: there is no learned synapse state")
        return self._learning[3]


def to_signed_array(values: np.ndarray, bits: int) -> np.ndarray:
    """Interpret the low ``bits`` of each value as two's complement (int64)."""
    values = np.asarray(values, np.int64) & ((1 << bits) - 1)
    return np.where(values >> (bits - 1) & 1, values - (1 << bits), values)
