"""Expected core output from the golden model, and the comparison with what was observed.

This is the *model* and *checker* half of the core testbench (:mod:`spikestream.sim.core_tb`
is the driver and monitors): :func:`expected_samples` turns a network and the input
events the input monitor saw into the packets the core must send (every STEP report
with its spikes, counters and cycle count from :mod:`spikestream.model.cycles`, the
SUMMARY, the neuron-state readback), and :class:`Scoreboard` compares them field by field,
keeping a readable line per mismatch. Needs numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.cycles import FIFO_WAIT_CYCLES, end_cycles, learning_sample_cycles, step_cycles
from spikestream.model.golden import Counter
from spikestream.model.network import Network
from spikestream.model.protocol import (ErrorFlag, InOpcode, Learned, OutOpcode, ProtocolError, StepReport, Summary,
                                        decode_fanout_rows, decode_fanout_table, decode_output,
                                        decode_synapse_rows, parse_header, synapse_format)

__all__ = ["ExpectedSample", "ExpectedLearning", "expected_samples", "expected_learning_sample",
           "busy_cycles", "expected_queue_registers", "stored_synapses",
           "inputs_from_packets", "split_samples", "Scoreboard"]


@dataclass(frozen=True)
class ExpectedSample:
    """What the core must report for one sample (then a NEURON_STATE readback)."""

    steps: list  #: StepReport per step run
    summary: Summary
    state: np.ndarray  #: int64 [n_neurons, 4]: u, v, theta, refractory_left
    counters: np.ndarray  #: golden counters [T, len(Counter)]


def expected_samples(network: Network, core: CoreConfig, inputs: np.ndarray) -> list[ExpectedSample]:
    """Run the golden model and the cycle model on ``inputs`` ``bool [B, T, n_inputs]``."""
    result = golden.run(network, core, inputs)
    cycles = step_cycles(network, core, inputs, result)
    samples = []
    for b in range(inputs.shape[0]):
        steps = []
        for t in range(int(result.steps_run[b])):
            counters = result.counters[b, t]
            steps.append(StepReport(t, np.flatnonzero(result.spikes[b, t]).tolist(), int(counters[Counter.EVENTS]),
                                    int(counters[Counter.SYNAPTIC_OPS]), int(counters[Counter.SPIKES]),
                                    int(counters[Counter.LEARNING_UPDATES]), int(counters[Counter.SYNAPSES_SKIPPED]),
                                    int(cycles[b, t])))
        summary = Summary(int(result.decision[b]), int(result.decision_step[b]), int(result.steps_run[b]),
                          end_cycles(network))
        state = np.stack([result.state.u[b], result.state.v[b], result.state.theta[b],
                          result.state.refractory_left[b]], axis=1)
        samples.append(ExpectedSample(steps, summary, state, result.counters[b]))
    return samples


@dataclass(frozen=True)
class ExpectedLearning:
    """What the core must report for one learning sample, and hold after it."""

    sample: ExpectedSample
    learned: Learned
    synapses: golden.SynapseState  #: after the sample


def expected_learning_sample(network: Network, core: CoreConfig, raster: np.ndarray, synapses: golden.SynapseState,
                             enabled, reward: int | None = None) -> ExpectedLearning:
    """Run one sample through ``golden.learn`` and the learning cycle model."""
    rewards = None if reward is None else [reward]
    results, after, walks = golden.learn_recorded(network, core, raster[None], rewards, synapses, enabled)
    result, walks = results[0], walks[0]
    cycle = learning_sample_cycles(network, core, raster, result, walks, enabled, synapses.live, reward is not None)
    steps = []
    for t in range(int(result.steps_run[0])):
        counters = result.counters[0, t]
        steps.append(StepReport(t, np.flatnonzero(result.spikes[0, t]).tolist(), int(counters[Counter.EVENTS]),
                                int(counters[Counter.SYNAPTIC_OPS]), int(counters[Counter.SPIKES]),
                                int(counters[Counter.LEARNING_UPDATES]), int(counters[Counter.SYNAPSES_SKIPPED]),
                                int(cycle.steps[t])))
    summary = Summary(int(result.decision[0]), int(result.decision_step[0]), int(result.steps_run[0]), cycle.end)
    state = np.stack([result.state.u[0], result.state.v[0], result.state.theta[0], result.state.refractory_left[0]],
                     axis=1)
    pruned_at_end = sum(int(w.live.sum() - w.live_after.sum()) for w in walks if w.step < 0)
    learned = Learned(int(result.end_learning_updates[0]), pruned_at_end, int(after.live.sum()), cycle.learned)
    return ExpectedLearning(ExpectedSample(steps, summary, state, result.counters[0]), learned, after)


def busy_cycles(sample: ExpectedSample) -> int:
    """The busy cycles (``cycles`` register) of one sample without backpressure: its steps and
    its SUMMARY, each report then waiting a cycle for FIFO room (readbacks and LEARNED apart)."""
    return (sum(report.cycles + FIFO_WAIT_CYCLES for report in sample.steps)
            + sample.summary.cycles + FIFO_WAIT_CYCLES)


def expected_queue_registers(samples: list[ExpectedSample]) -> dict:
    """The registers a full event queue changes after ``samples`` (sent by ``encode_sample``).

    Each step's events go in one EVENTS packet: one that lost input events counts as one
    dropped packet, each dropped spike as one; any drop raises ``QUEUE_OVERFLOW``.
    ``events_in`` counts the input events the queue took.
    """
    counters = np.stack([sample.counters for sample in samples]) if samples else np.zeros((0, 0, len(Counter)))
    dropped = int((counters[..., Counter.INPUTS_DROPPED] > 0).sum() + counters[..., Counter.SPIKES_DROPPED].sum())
    return {"errors": (1 << ErrorFlag.QUEUE_OVERFLOW) if dropped else 0, "dropped_packets": dropped}


def stored_synapses(core: CoreConfig, fanout_packet: list[int], row_packet: list[int] | None) -> dict:
    """Decode a FANOUT_TABLE and a SYNAPSE_ROWS readback (from row 0) into the live synapses the core holds."""
    _, table = decode_fanout_table(fanout_packet)
    rows = np.zeros((0, core.lanes), np.int64) if row_packet is None else decode_synapse_rows(row_packet, core.lanes)[1]
    fields = decode_fanout_rows(synapse_format(core), table, rows)
    fields["pruned_per_source"] = table[:, 2]
    return fields


def inputs_from_packets(packets: list[list[int]], timesteps: int, n_inputs: int) -> np.ndarray:
    """Rebuild the input rasters ``bool [B, T, n_inputs]`` from observed host packets.

    A sample ends at END_SAMPLE; load packets and readback requests are skipped.
    """
    samples, raster = [], np.zeros((timesteps, n_inputs), bool)
    for packet in packets:
        opcode, argument = parse_header(packet[0])
        if opcode == InOpcode.EVENTS:
            raster[argument, packet[1:]] = True
        elif opcode == InOpcode.END_SAMPLE:
            samples.append(raster)
            raster = np.zeros((timesteps, n_inputs), bool)
    return np.array(samples, bool).reshape(len(samples), timesteps, n_inputs)


def split_samples(packets: list[list[int]]) -> list[list[list[int]]]:
    """Group output packets per sample: STEP packets, then SUMMARY, then NEURON_STATE."""
    groups, current = [], []
    for packet in packets:
        current.append(packet)
        if parse_header(packet[0])[0] == OutOpcode.NEURON_STATE:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


@dataclass
class Scoreboard:
    """Compare observed samples with expected ones; collect one line per mismatch."""

    label: str = ""
    mismatches: list = field(default_factory=list)
    checked: int = 0

    def _check(self, where: str, observed, expected) -> None:
        self.checked += 1
        if isinstance(expected, np.ndarray):
            equal = isinstance(observed, np.ndarray) and observed.shape == expected.shape and np.array_equal(
                observed, expected)
        else:
            equal = observed == expected
        if not equal:
            self.mismatches.append(f"{self.label}{where}: observed {_short(observed)}, expected {_short(expected)}")

    def compare_sample(self, index: int, expected: ExpectedSample, packets: list[list[int]]) -> None:
        """Compare the output packets of sample ``index`` with ``expected``."""
        try:
            steps, summaries, states = decode_output(packets)
        except ProtocolError as error:
            self.mismatches.append(f"{self.label}sample {index}: undecodable output: {error}")
            return
        self._check(f"sample {index} number of STEP packets", len(steps), len(expected.steps))
        for observed, wanted in zip(steps, expected.steps):
            for name in StepReport._fields:
                self._check(f"sample {index} step {wanted.step} {name}", getattr(observed, name),
                            getattr(wanted, name))
        self._check(f"sample {index} SUMMARY packets", len(summaries), 1)
        if summaries:
            for name in Summary._fields:
                self._check(f"sample {index} summary {name}", getattr(summaries[0], name),
                            getattr(expected.summary, name))
        self._check(f"sample {index} NEURON_STATE packets", len(states), 1)
        if states:
            for column, name in enumerate(("u", "v", "theta", "refractory_left")):
                self._check(f"sample {index} final {name}", states[0][:, column], expected.state[:, column])

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _short(value) -> str:
    text = np.array2string(value, threshold=16) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) < 200 else text[:200] + "..."
