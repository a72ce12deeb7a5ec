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
from spikestream.model.cycles import end_cycles, step_cycles
from spikestream.model.golden import Counter
from spikestream.model.network import Network
from spikestream.model.protocol import (InOpcode, OutOpcode, ProtocolError, StepReport, Summary, decode_output,
                                        parse_header)

__all__ = ["ExpectedSample", "expected_samples", "inputs_from_packets", "split_samples", "Scoreboard"]


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
                                    int(cycles[b, t])))
        summary = Summary(int(result.decision[b]), int(result.decision_step[b]), int(result.steps_run[b]),
                          end_cycles(network))
        state = np.stack([result.state.u[b], result.state.v[b], result.state.theta[b],
                          result.state.refractory_left[b]], axis=1)
        samples.append(ExpectedSample(steps, summary, state, result.counters[b]))
    return samples


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
