"""The high-level driver: load a network, run samples, learn, read back (numpy only).

:class:`SpikeCore` runs unchanged on every :class:`~spikestream.host.transport.Transport`
(board, RTL simulation, golden emulation). It speaks the packet format of
:mod:`spikestream.model.protocol` and the registers of the exported register map; it
never types an opcode, an offset or a packing.

Examples
--------
>>> from spikestream.model.config import CoreConfig
>>> from spikestream.host.golden import GoldenTransport
>>> from spikestream.host.demo import tiny_network
>>> core = CoreConfig(max_neurons=16, max_inputs=8, max_synapses=256, lanes=2, timestep_bits=5)
>>> chip = SpikeCore(GoldenTransport(core), core)
>>> chip.load(tiny_network(core))
>>> batch = chip.run(np.eye(8, dtype=bool)[None, :, :4].repeat(2, axis=0))
>>> batch.decisions.tolist()
[0, 0]
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from spikestream.model import golden
from spikestream.model.config import CoreConfig, is_whole_number
from spikestream.model.encoding import check_spike_batch
from spikestream.model.fileformat import LearningState, load_network_with_state, save_network
from spikestream.model.network import Network, leave_out_unused_inputs as leave_out_unused
from spikestream.model.protocol import (STATE_WORDS, WORD_BITS, ErrorFlag, InOpcode, OutOpcode, decode_fanout_rows,
                                        decode_fanout_table, decode_learned, decode_output, decode_synapse_rows,
                                        encode_load, encode_sample, header, parse_header, synapse_format,
                                        synapse_layout, synapse_rows)

from .regmap import RegisterView
from .transport import LearningUnavailable, Transport, TransportError, TransportTimeout

__all__ = ["SpikeCore", "BatchResult", "CoreMismatch", "CoreError"]

#: What to do when the packet stream may be out of step.
RESYNC_ADVICE = ("call chip.resync() to drain late answers and check the core is idle, or reload the bitstream "
                 "and the network")

log = logging.getLogger("spikestream.host.driver")


class CoreMismatch(TransportError):
    """The bitstream (or backend) was built for another core configuration than the network's."""


class CoreError(TransportError):
    """The core reported an error, or did not answer as the packet format says."""


@dataclass(frozen=True)
class BatchResult:
    """What the core reported for a batch of samples.

    Attributes
    ----------
    decisions : int64 [B]
        Winner, as an index within the output population.
    decision_steps : int64 [B]
        Step of the deciding spike (-1: decided by potential).
    steps_run : int64 [B]
        Steps the core ran (fewer than ``timesteps`` after an early exit).
    spikes : bool [B, T, N]
        Neuron spikes per step, from the STEP packets.
    step_cycles : int64 [B, T]
        Core cycles of every step (0 for steps not run).
    sample_cycles : int64 [B]
        Core cycles of every sample (steps plus the end of sample); the core's latency
        is ``sample_cycles / clock_hz``.
    events, synaptic_ops : int64 [B, T]
        Per-step counters from the STEP trailers.
    states : int64 [B, N, 4] or None
        Final ``u, v, theta, refractory_left`` of every sample, when read back.
    wall_seconds : float
        Host time for the whole batch (sending, core, receiving).
    learning_updates : int64 [B, T]
        Synapse updates of the PAIR rule per step (0 in inference).
    learned : list
        Per sample its :class:`~spikestream.model.protocol.Learned` report (end-of-sample
        updates, pruned, live synapses, cycles), or None for an inference sample.
    """

    decisions: np.ndarray
    decision_steps: np.ndarray
    steps_run: np.ndarray
    spikes: np.ndarray
    step_cycles: np.ndarray
    sample_cycles: np.ndarray
    events: np.ndarray
    synaptic_ops: np.ndarray
    states: np.ndarray | None
    wall_seconds: float
    learning_updates: np.ndarray | None = None
    learned: list | None = None

    def core_latency_seconds(self, clock_hz: int) -> np.ndarray:
        """Time the core spent on each sample at ``clock_hz`` (input transfer excluded)."""
        return self.sample_cycles / float(clock_hz)

    @property
    def samples_per_second(self) -> float:
        """Throughput measured on the host (transfers and Python included)."""
        return len(self.decisions) / self.wall_seconds if self.wall_seconds > 0 else float("inf")



class SpikeCore:
    """A spiking core behind a transport: load, run, learn, read back.

    Parameters
    ----------
    transport : Transport
        Board, RTL simulation or golden emulation.
    hardware : CoreConfig, optional
        The configuration the hardware says it was built from (the board's ``.hwh`` /
        JSON, the simulation's build); used to name the fields that differ when a
        network's configuration does not match the bitstream. Defaults to
        ``transport.core`` when the transport has one.
    registers : RegisterView, optional
        The register map (default: this source tree's; on the board, the JSON next to
        the bitstream).
    timeout : float
        Seconds to wait for each packet the core owes.
    """

    def __init__(self, transport: Transport, hardware: CoreConfig | None = None,
                 registers: RegisterView | None = None, timeout: float = 10.0):
        self.transport = transport
        self.hardware = hardware if hardware is not None else getattr(transport, "core", None)
        self.registers = registers if registers is not None else RegisterView.default()
        self.timeout = timeout
        self.network: Network | None = None
        self.core: CoreConfig | None = None
        self._synapses: golden.SynapseState | None = None
        #: Why the packet stream may be out of step (an exchange that did not finish: its answers may
        #: still arrive and be taken for the next command's), or None; commands refuse to run until
        #: :meth:`resync`.
        self._out_of_step: str | None = None
        self._mid_packet = False  #: a send did not finish: the core's parser may hold part of a packet
        self._sample_open = False  #: a sample's EVENTS / END_STEP went out and its END_SAMPLE did not

    # ---- registers -------------------------------------------------------------------
    def read_register(self, name: str) -> int:
        return self.transport.read(self.registers.offset(name))

    def write_register(self, name: str, value: int) -> None:
        """Write a register; a value it cannot hold (or a read-only register) raises ``ValueError``."""
        value = self.registers.check_write(name, value)
        if name == "lfsr":
            golden.check_lfsr(value, "lfsr register value")
        self.transport.write(self.registers.offset(name), value)

    def status(self) -> dict:
        """Decode the status register: ``{"busy", "configured", "sample_done", "step"}``."""
        word = self.read_register("status")
        return {name: self.registers.status_field(word, name) for name in self.registers.status_bits}

    def errors(self) -> list[str]:
        """Names of the sticky error flags that are set."""
        word = self.read_register("errors")
        return [flag.name for flag in ErrorFlag if word >> flag & 1]

    def clear_errors(self) -> None:
        self.write_register("errors", (1 << len(ErrorFlag)) - 1)

    def counters(self) -> dict:
        """Activity counter registers (32-bit, wrapping) by name."""
        return {name: self.read_register(name) for name in self.registers.counters}

    def clear_counters(self) -> None:
        self.write_register("control", 1 << self.registers.control_bits["clear_counters"])

    def _diagnosis(self) -> str:
        """One line on the core's state, for error messages."""
        try:
            status = self.status()
            errors = self.errors()
            dropped = self.read_register("dropped_packets")
        except TransportError as error:  # the registers themselves failed: say that instead
            return f"registers unreadable: {error}"
        return (f"status: configured={status['configured']} busy={status['busy']} step={status['step']} "
                f"sample_done={status['sample_done']}; errors: {errors or 'none'}; dropped packets: {dropped}")

    # ---- keeping the packet stream in step ------------------------------------------------
    @contextlib.contextmanager
    def _exchange(self, what: str):
        """One request and its answers: until it finishes (no exception, no interrupt), the stream is out of step."""
        self._require_in_step()
        self._out_of_step = f"{what} did not finish"
        yield
        self._out_of_step = None

    def _send(self, packet: list[int], what: str) -> None:
        opcode = parse_header(packet[0])[0]
        if opcode in (InOpcode.EVENTS, InOpcode.END_STEP):
            self._sample_open = True  # before the send: an interrupt may come after the packet went
        try:
            self.transport.send(packet)
        except TransportError as error:
            # The transports hand a packet over whole (one DMA transfer, one frame), so only a transport
            # failure, not an interrupt, can leave part of one in the core's parser.
            self._mid_packet = True
            if isinstance(error, TransportTimeout):
                raise self._lost_step(f"sending {what} failed ({error})") from None
            self._out_of_step = f"sending {what} failed ({error})"
            raise
        if opcode == InOpcode.END_SAMPLE:
            self._sample_open = False

    def _lost_step(self, reason: str) -> CoreError:
        """Mark the stream out of step for ``reason``; the error to raise, with the core's state and what to do."""
        self._out_of_step = reason
        return CoreError(f"{reason}; {self._diagnosis()}; {RESYNC_ADVICE}")

    def _require_in_step(self) -> None:
        if self._out_of_step is not None:
            raise CoreError(f"the packet stream may be out of step: {self._out_of_step}; {RESYNC_ADVICE}")

    def resync(self, quiet: float = 0.5) -> int:
        """Bring the stream back in step after an exchange that did not finish; return the packets dropped.

        A sample the driver had begun is ended (END_SAMPLE), then the late answers are
        drained until ``quiet`` seconds pass without one, and the core must be idle. After
        that the driver runs commands again. A send cut short (part of a packet may be in
        the core's parser) or a core still inside a sample (a learning sample waiting for
        its REWARD) raise :class:`CoreError`: only reloading the bitstream and the network
        brings those back.
        """
        if self._mid_packet:
            raise CoreError(f"a send did not finish ({self._out_of_step}): the core may hold part of a packet and "
                            "would read what follows as its rest; reload the bitstream (open_overlay) and the network")
        if self._sample_open:
            self.transport.send([header(InOpcode.END_SAMPLE)])  # the core ends a begun sample (a SUMMARY comes)
            self._sample_open = False
        dropped = 0
        while True:
            try:
                self.transport.receive(quiet)
            except TransportTimeout:
                break
            dropped += 1
        status = self.status()
        if status["busy"] or status["step"] or status["sample_done"]:
            raise CoreError(f"the core is still inside a sample or busy after {quiet} s of quiet ({self._diagnosis()}); "
                            "reload the bitstream (open_overlay) and the network")
        self._out_of_step = None
        log.info("resynchronised: %d late packets dropped", dropped)
        return dropped

    # ---- identification and loading --------------------------------------------------
    def check_identity(self, core: CoreConfig) -> None:
        """Refuse hardware whose identification registers do not match ``core``.

        Raises
        ------
        CoreMismatch
            Naming the differing fields when the hardware's configuration is known.
        """
        version = self.read_register("version")
        if version != self.registers.version:
            raise CoreMismatch(f"version register reads {version:#010x}, this driver expects "
                               f"{self.registers.version:#010x} (packet format / register map of another "
                               "spikestream version, or no spikestream core at this address)")
        built = self.read_register("config_hash")
        if built == core.hash32():
            return
        if self.hardware is not None and self.hardware.hash32() == built:
            raise CoreMismatch("the network targets another core configuration than the hardware's: "
                               + "; ".join(f"{line} (network != hardware)" for line in core.differences(self.hardware)))
        raise CoreMismatch(f"config_hash register reads {built:#010x}, the network's core configuration hashes to "
                           f"{core.hash32():#010x}; the hardware's configuration is unknown (no .hwh/JSON), so the "
                           "differing fields cannot be named")

    def load(self, network: Network | str | os.PathLike, core: CoreConfig | None = None,
             synapses: golden.SynapseState | None = None) -> None:
        """Load a network (object, or ``.spkn`` file path) after checking the core's identity.

        ``synapses`` (canonical order) loads a learned state exactly: weights, connectivity,
        pruning counters and the LFSR (what :meth:`synapses` returned), so learning goes on
        as if the core had never been reloaded. A file that :meth:`save` wrote carries its
        pruning counters and LFSR, which are loaded with it unless ``synapses`` is given.
        """
        if not isinstance(network, (Network, str, os.PathLike)):
            raise TypeError(f"network is a {type(network).__name__}: expected a Network or a .spkn file path")
        if core is not None and not isinstance(core, CoreConfig):
            raise TypeError(f"core is a {type(core).__name__}: expected a CoreConfig")
        if not isinstance(network, Network):
            network, core_from_file, saved = load_network_with_state(network)
            core = core if core is not None else core_from_file
            if synapses is None and saved is not None:
                synapses = golden.initial_synapse_state(network)._replace(prune_count=saved.prune_count,
                                                                         lfsr=saved.lfsr)
        if core is None:
            if self.hardware is None:
                raise ValueError("give the CoreConfig the network targets (a Network object does not carry one)")
            core = self.hardware
        self._require_in_step()
        self.check_identity(core)
        network.check_fits(core)
        if synapses is not None:
            synapses = golden.check_synapse_state(network, core, synapses)
        self.clear_errors()
        started = time.perf_counter()
        if synapses is None:
            packets = encode_load(network, core)
        else:
            packets = encode_load(network, core, live=synapses.live, weight=synapses.weight,
                                  prune_count=synapses.prune_count if core.pruning else None)
        # The core's tables change from the first packet: a load that does not finish leaves no network to run.
        self.network, self.core, self._synapses = None, None, None
        with self._exchange("loading the network"):
            for index, packet in enumerate(packets):
                self._send(packet, f"load packet {index} of {len(packets)}")
            try:
                self.transport.flush(self.timeout)
            except TransportTimeout as error:
                raise self._lost_step(f"the core did not take the whole network load ({error})") from None
        if synapses is not None:
            self.write_register("lfsr", synapses.lfsr)
        status = self.status()
        errors = self.errors()
        if errors or not status["configured"]:
            raise CoreError(f"the core rejected the network load ({len(packets)} packets): {self._diagnosis()}")
        self.network, self.core = network, core
        self._synapses = golden.initial_synapse_state(network) if synapses is None else synapses
        log.info("loaded %d neurons, %d synapses in %d packets (%.1f ms) on %s", network.n_neurons,
                 self._synapses.weight.size, len(packets), 1e3 * (time.perf_counter() - started), self.transport.name)

    def _require_network(self) -> Network:
        if self.network is None:
            raise RuntimeError("no network loaded: call load() first")
        return self.network

    # ---- running ---------------------------------------------------------------------
    def _receive_until(self, opcode: OutOpcode, what: str) -> list[list[int]]:
        packets = []
        while True:
            try:
                packet = self.transport.receive(self.timeout)
            except TransportTimeout as error:
                # The answer may still come, and would be taken for the next command's.
                raise self._lost_step(f"no {opcode.name} packet for {what} within {self.timeout} s ({error})") from None
            except TransportError as error:
                self._out_of_step = f"receiving {what} failed ({error})"
                raise
            packets.append(packet)
            if parse_header(packet[0])[0] == opcode:
                return packets

    def _run_sample(self, raster: np.ndarray, index: int, read_state: bool, rewards, learning: tuple[bool, bool]):
        """Run one sample; ``learning`` is (a learning sample, the core waits for a REWARD)."""
        learns, rewarded = learning
        for packet in encode_sample(raster):
            self._send(packet, f"sample {index}")
        packets = self._receive_until(OutOpcode.SUMMARY, f"sample {index}")
        if rewarded:
            decision = decode_output(packets[-1:])[1][0].decision
            try:
                reward = 0 if rewards is None else (rewards(index, decision) if callable(rewards) else rewards[index])
                if reward not in (-1, 0, 1):
                    raise ValueError(f"reward {reward!r} for sample {index} is not -1, 0 or 1")
            except BaseException:
                # The core drops every packet but a REWARD while it waits for one: answer 0 (the
                # reward-modulated groups leave their weights alone) and take the sample's end, so
                # that the core and the packet stream stay usable after the error.
                self._send([header(InOpcode.REWARD, 0)], f"the REWARD of sample {index}")
                if learns:
                    self._receive_until(OutOpcode.LEARNED, f"the end of learning sample {index}")
                self._out_of_step = None  # the sample ended as the core expects: the stream is in step
                raise
            self._send([header(InOpcode.REWARD, int(reward))], f"the REWARD of sample {index}")
        learned = None
        if learns:
            packets += self._receive_until(OutOpcode.LEARNED, f"the end of learning sample {index}")
            learned = decode_learned(packets[-1])
        if read_state:
            self._send([header(InOpcode.READ_NEURONS)], f"the state readback of sample {index}")
            packets += self._receive_until(OutOpcode.NEURON_STATE, f"the state readback of sample {index}")
        steps, summaries, states = decode_output(packets)
        return steps, summaries[0], (states[0] if states else None), learned

    def _check_clean(self, what: str, dropped_before: int) -> None:
        """Raise :class:`CoreError` if the core flagged an error or dropped a packet during ``what``.

        The golden model never drops anything, so a result with a dropped event (e.g. a step
        with more events than ``event_queue_depth``: QUEUE_OVERFLOW) is not the network's.
        """
        errors = self.errors()
        dropped = (self.read_register("dropped_packets") - dropped_before) % (1 << WORD_BITS)  # the counter wraps
        if errors or dropped:
            raise CoreError(f"the core flagged {errors or 'no error'} and dropped {dropped} packet(s) or event(s) "
                            f"during {what}, so its results are not the network's (the golden model drops "
                            f"nothing); {self._diagnosis()}")

    def _check_inputs(self, inputs) -> np.ndarray:
        network = self._require_network()
        return check_spike_batch(inputs, network.timesteps, network.n_inputs)

    def _batch(self, inputs: np.ndarray, read_state: bool, rewards, enable_word: int = 0) -> BatchResult:
        network = self._require_network()
        learns = any(enable_word >> g & 1 and group.learning is not None for g, group in enumerate(network.groups))
        rewarded = any(enable_word >> g & 1 and group.learning is not None and group.learning.reward_modulated
                       for g, group in enumerate(network.groups))
        updates = np.zeros((inputs.shape[0], network.timesteps), np.int64)
        learned_reports = []
        batch, steps, n = inputs.shape[0], network.timesteps, network.n_neurons
        spikes = np.zeros((batch, steps, n), bool)
        cycles = np.zeros((batch, steps), np.int64)
        events = np.zeros((batch, steps), np.int64)
        ops = np.zeros((batch, steps), np.int64)
        decisions, decision_steps, steps_run, sample_cycles = (np.zeros(batch, np.int64) for _ in range(4))
        states = np.zeros((batch, n, STATE_WORDS), np.int64) if read_state else None
        self._require_in_step()
        self.clear_errors()
        dropped_before = self.read_register("dropped_packets")
        started = time.perf_counter()
        for b in range(batch):
            with self._exchange(f"sample {b}"):
                reports, summary, state, learned = self._run_sample(inputs[b], b, read_state, rewards,
                                                                    (learns, rewarded))
            learned_reports.append(learned)
            for report in reports:
                if not 0 <= report.step < steps or any(not 0 <= i < n for i in report.spikes):
                    raise CoreError(f"sample {b}: STEP report {report} is outside the network "
                                    f"({steps} steps, {n} neurons)")
                spikes[b, report.step, report.spikes] = True
                cycles[b, report.step] = report.cycles
                events[b, report.step] = report.events
                ops[b, report.step] = report.synaptic_ops
                updates[b, report.step] = report.learning_updates
            decisions[b], decision_steps[b], steps_run[b] = summary.decision, summary.decision_step, summary.steps_run
            sample_cycles[b] = cycles[b].sum() + summary.cycles + (learned.cycles if learned is not None else 0)
            if read_state:
                states[b] = state
        wall = time.perf_counter() - started
        self._check_clean(f"the batch of {batch} samples", dropped_before)
        return BatchResult(decisions, decision_steps, steps_run, spikes, cycles, sample_cycles, events, ops, states,
                           wall, updates, learned_reports)

    def run(self, inputs: np.ndarray, read_state: bool = False, leave_out_unused_inputs: bool = False) -> BatchResult:
        """Run a batch of spike rasters ``bool [B, timesteps, n_inputs]`` (inference only).

        With ``leave_out_unused_inputs`` the events of input channels without a synapse are
        not sent (:func:`~spikestream.model.network.leave_out_unused_inputs`): the same
        decisions, spikes and states in fewer cycles; the events and cycles reported are
        those of the stream sent.
        """
        inputs = self._check_inputs(inputs)
        if leave_out_unused_inputs:
            inputs = leave_out_unused(self.network, self.core, inputs)
        self.write_register("learning_enable", 0)
        return self._batch(inputs, read_state, None)

    def run_audio(self, clips: Sequence[np.ndarray], sample_rate: int, frontend, read_state: bool = False
                  ) -> tuple[BatchResult, np.ndarray]:
        """Encode audio clips with the front end (:mod:`spikestream.model.audio`) and run them.

        Returns the batch result and the rasters that were sent ``bool [B, T, C]``.
        """
        from spikestream.model.audio import audio_to_raster

        if len(clips) == 0:
            raise ValueError("run_audio: no clips; expected a sequence of mono sample arrays")
        rasters = np.stack([audio_to_raster(np.asarray(clip), sample_rate, frontend) for clip in clips])
        return self.run(rasters, read_state), rasters

    def read_state(self) -> np.ndarray:
        """Read back ``u, v, theta, refractory_left`` of every neuron ``int64 [N, 4]``."""
        self._require_network()
        with self._exchange("READ_NEURONS"):
            self._send([header(InOpcode.READ_NEURONS)], "READ_NEURONS")
            _, _, states = decode_output(self._receive_until(OutOpcode.NEURON_STATE, "READ_NEURONS"))
        return states[0]

    # ---- learning ----------------------------------------------------------------------
    def learn(self, inputs: np.ndarray, rewards: Sequence[int] | Callable[[int, int], int] | None = None,
              enabled: Sequence[bool] | None = None) -> BatchResult:
        """Run samples one by one with on-chip learning (the same packets on every backend).

        Writes ``learning_enable`` (the plastic groups, those in ``enabled`` if given),
        runs each sample, answers its SUMMARY with a REWARD when an enabled group is
        reward modulated (``rewards``: one per sample, or ``reward(sample, decision)``;
        default 0; as in :func:`spikestream.model.golden.learn`, only reward-modulated
        groups use them), collects its LEARNED report, and sets ``learning_enable`` back to 0.
        :meth:`synapses` then reads the learned state back.

        Raises
        ------
        LearningUnavailable
            When the network has no plastic group enabled, or the core is built without learning.
        """
        network = self._require_network()
        inputs = self._check_inputs(inputs)
        if not self.core.learning:
            raise LearningUnavailable("the core is built without learning (CoreConfig.learning = False)")
        if enabled is not None and (len(enabled) != len(network.groups)
                                    or not all(isinstance(flag, (bool, np.bool_)) for flag in enabled)):
            raise ValueError(f"enabled must be one bool per synapse group ({len(network.groups)}), got {enabled!r} "
                             "(the driver enables groups for the whole batch; learn() again to change them)")
        word = sum(1 << g for g, group in enumerate(network.groups)
                   if group.learning is not None and (enabled is None or enabled[g]))
        if word == 0:
            raise LearningUnavailable("no synapse group of the network learns (no learning rule enabled)")
        if rewards is not None and not callable(rewards):
            if np.ndim(rewards) != 1:
                raise ValueError(f"rewards = {rewards!r}: expected one of -1, 0, 1 per sample ({inputs.shape[0]} "
                                 f"samples), or a function reward(sample, decision)")
            rewards = list(rewards)
            if len(rewards) != inputs.shape[0] or any(r not in (-1, 0, 1) for r in rewards):
                raise ValueError(f"rewards must be one of -1, 0, 1 per sample ({inputs.shape[0]} samples), "
                                 f"got {rewards}")
            rewards = [int(r) for r in rewards]
        self.write_register("learning_enable", word)
        try:
            result = self._batch(inputs, False, rewards, word)
        finally:
            self.write_register("learning_enable", 0)
        return result

    def read_synapse_rows(self, first_row: int = 0, count: int | None = None) -> np.ndarray:
        """Read the synaptic memory back (READ_SYNAPSES): packed rows ``int64 [count, lanes]``.

        ``count`` defaults to the rows the loaded network occupies.
        """
        network = self._require_network()
        if count is None:
            count = synapse_layout(network, self.core, self._synapses.live, self._synapses.weight).rows.shape[0]
        # Checked here: the core would flag INDEX_RANGE and send nothing, and the wait would time out.
        capacity = synapse_rows(self.core)
        for name, value in (("first_row", first_row), ("count", count)):
            if not is_whole_number(value) or value < 0:
                raise ValueError(f"read_synapse_rows: {name} = {value!r}, expected a whole number >= 0")
        if first_row + count > capacity:
            raise ValueError(f"read_synapse_rows: rows {first_row} + {count} reach beyond the core's {capacity} "
                             f"synapse rows")
        if count == 0:
            return np.zeros((0, self.core.lanes), np.int64)
        with self._exchange("READ_SYNAPSES"):
            self._send([header(InOpcode.READ_SYNAPSES, first_row), count], "READ_SYNAPSES")
            packets = self._receive_until(OutOpcode.SYNAPSE_ROWS, f"READ_SYNAPSES of {count} rows from {first_row}")
        first, rows = decode_synapse_rows(packets[-1], self.core.lanes)
        if first != first_row or rows.shape[0] != count:
            raise CoreError(f"READ_SYNAPSES of rows {first_row} + {count} answered rows {first} + {rows.shape[0]}")
        return rows

    def read_fanout_table(self) -> np.ndarray:
        """Read the fan-out pointers back (READ_FANOUT): ``int64 [n_sources, 3]`` first row, live count, pruned."""
        network = self._require_network()
        with self._exchange("READ_FANOUT"):
            self._send([header(InOpcode.READ_FANOUT, 0), network.n_sources], "READ_FANOUT")
            packets = self._receive_until(OutOpcode.FANOUT_TABLE, f"READ_FANOUT of {network.n_sources} sources")
        first, table = decode_fanout_table(packets[-1])
        if first != 0 or table.shape[0] != network.n_sources:
            raise CoreError(f"READ_FANOUT of sources 0 + {network.n_sources} answered {first} + {table.shape[0]}")
        return table

    def synapses(self) -> golden.SynapseState:
        """Read back the weights, connectivity, pruning counters and LFSR the core holds (canonical order).

        Reads the fan-out table, the synapse rows it points to and the ``lfsr`` register,
        and maps what is stored onto the network's canonical synapse order: a synapse the
        core no longer stores is pruned (its weight stays the last one the driver knew, its
        pruning counter reads 0: the core keeps none for it; ``golden.learn`` leaves the
        last count there, so compare counters of live synapses only).
        A stored synapse the network does not have raises :class:`CoreError`.
        """
        network = self._require_network()
        table = self.read_fanout_table()
        lanes = self.core.lanes
        rows_used = int(np.max(table[:, 0] + -(-table[:, 1] // lanes), initial=0))
        rows = self.read_synapse_rows(0, rows_used) if rows_used else np.zeros((0, lanes), np.int64)
        stored = decode_fanout_rows(synapse_format(self.core), table, rows)
        canonical = network.synapses()
        n_groups = max(1, len(network.groups))

        def key(source, group, target):
            return (source * n_groups + group) * max(1, network.n_neurons) + target

        wanted = key(canonical.source, canonical.group, canonical.target)  # ascending: canonical order
        found = key(stored["source"], stored["group"], stored["target"])
        index = np.searchsorted(wanted, found)
        # A target or group out of range would alias another synapse's key: check them before the key lookup.
        bad = ((stored["target"] >= network.n_neurons) | (stored["group"] >= len(network.groups))
               | (index >= wanted.size) | (wanted[np.minimum(index, wanted.size - 1)] != found))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise CoreError(f"the core stores a synapse the network does not have: source {stored['source'][k]} -> "
                            f"neuron {stored['target'][k]} in group {stored['group'][k]}")
        unique, counts = np.unique(found, return_counts=True)
        if (counts > 1).any():
            k = int(np.flatnonzero(found == unique[counts > 1][0])[0])
            raise CoreError(f"the core stores the synapse source {stored['source'][k]} -> neuron "
                            f"{stored['target'][k]} in group {stored['group'][k]} more than once")
        live = np.zeros(canonical.count, bool)
        live[index] = True
        weight = self._synapses.weight.copy()
        weight[index] = stored["weight"]
        prune_count = np.zeros(canonical.count, np.int64)
        prune_count[index] = stored["prune_count"]
        self._synapses = golden.SynapseState(weight, live, prune_count, self.read_register("lfsr"))
        return self._synapses

    def connectivity(self) -> dict:
        """Live synapses per group and in total (what pruning shrinks)."""
        network = self._require_network()
        synapses = self.synapses()
        table = network.synapses()
        per_group = {group.name: int(synapses.live[table.group == index].sum())
                     for index, group in enumerate(network.groups)}
        return {"live": int(synapses.live.sum()), "stored": int(synapses.live.size), "per_group": per_group}

    def learned_network(self) -> Network:
        """The loaded network with the weights and connectivity the core holds now."""
        return golden.network_with_synapses(self._require_network(), self.synapses())

    def save(self, path: str | os.PathLike) -> None:
        """Save the learned network (and its core configuration) to a ``.spkn`` file.

        The file holds the weights and connectivity, so it infers as the chip does now, and,
        for a network that learns, the pruning counters of its synapses and the LFSR:
        :meth:`load` of the file goes on learning exactly where this chip stopped.
        """
        network = self._require_network()
        state = self.synapses()
        learned = golden.network_with_synapses(network, state)
        learning_state = None
        if any(group.learning is not None for group in network.groups):
            # The learned network stores the live synapses, in the same canonical order.
            learning_state = LearningState(state.prune_count[state.live], state.lfsr)
        save_network(path, learned, self.core, learning_state)

    # ---- constructors ------------------------------------------------------------------
    @classmethod
    def golden(cls, core: CoreConfig, learning: bool = True, registers: RegisterView | None = None,
               **kwargs) -> "SpikeCore":
        """A core emulated by the golden model (:class:`~spikestream.host.golden.GoldenTransport`).

        ``registers`` (default: this source tree's map, which needs amaranth) serves both the
        emulated core and the driver; on the board pass the map that came with the
        bitstream (``chip.registers``).
        """
        from .golden import GoldenTransport

        if not isinstance(core, CoreConfig):
            raise TypeError(f"core is a {type(core).__name__}: expected a CoreConfig")
        registers = registers if registers is not None else RegisterView.default()
        return cls(GoldenTransport(core, learning, registers), core, registers=registers, **kwargs)

