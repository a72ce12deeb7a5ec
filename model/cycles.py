r"""The exact cycle model of the core (:mod:`spikestream.rtl.core`), from the golden model.

The RTL reports the cycles of every step (STEP packet trailer) and of every sample end
(SUMMARY); the testbench checks them against this model, so the benchmark figures
computed here are the hardware's.

Formulas (``L`` = lanes, ``Q`` = neuron lanes, ``n`` = neurons, ``G = ceil(n / Q)``
neuron groups, ``f_s`` = live fan-out of source ``s``, ``R_s = ceil(f_s / L)`` its
synapse rows, ``P_t`` = sources spiking at step ``t-1``, that is input events tagged
``t-1`` and neuron spikes of step ``t-1``; ``k_1 < ... < k_S`` the neurons spiking at
step ``t``, ``g_j = floor(k_j / Q)`` their groups)::

    deliver(t) = 1                                   if P_t is empty
               = 4 + sum_{s in P_t} max(1, R_s)      otherwise
    e_j        = max(g_j + 5, e_{j-1} + 1)           # cycle spike j leaves (one per cycle)
    update(t)  = G + 5                               if S = 0
               = max(G + 5, e_S + 2)                 otherwise
    step(t)    = deliver(t) + update(t) + 4          # + STEP trailer
    end        = output_size + 2 + 5                 # decision scan, SUMMARY packet (at
                                                     # END_SAMPLE, or after the deciding step)

Delivery reads one synapse row (``L`` synapses) per cycle and starts a new source on
the cycle after the previous one's last row; a source without synapses takes one
cycle; the 4 cycles are the pipeline fill (queue read, pointer read) and drain
(synapse read, accumulator write). The update reads one group of ``Q`` neurons per
cycle into a 4-stage pipeline; a group's spikes can leave 5 cycles after its read and
leave one per cycle, so a step with many spikes in few groups waits for them. A silent
source costs nothing: cycles grow with the events and their live fan-out, not with the
matrix size.

The counted cycles exclude time the core spends waiting: for input words (one word
per cycle when the stream keeps up) and, before a step or a summary, for room in the
output FIFO (the host not reading). :func:`sample_cycles` adds the input words and the
one-cycle hand-over of each marker for the time of a whole sample with no stalls.

Since ``max(1, R_s)`` is per source, the model needs the fan-out of each spiking
source, not only the golden model's per-step totals
(:attr:`~spikestream.model.golden.Counter.EVENTS`,
:attr:`~spikestream.model.golden.Counter.SYNAPTIC_OPS`); with one lane and no silent
fan-outs the delivery reduces to ``4 + SYNAPTIC_OPS``.
"""

from __future__ import annotations

import numpy as np

from .config import CoreConfig
from .golden import Counter, SampleResult
from .network import Network
from .protocol import FANOUT_WORDS, STATE_WORDS, encode_load, encode_sample

__all__ = [
    "DELIVER_EMPTY_CYCLES", "DELIVER_PIPELINE_CYCLES", "UPDATE_PIPELINE_CYCLES", "REPORT_CYCLES",
    "DECIDE_PIPELINE_CYCLES", "SUMMARY_CYCLES", "source_costs", "step_cycles", "update_cycles", "end_cycles", "load_cycles",
    "readback_cycles", "synapse_readback_cycles", "fanout_readback_cycles", "input_cycles", "sample_cycles",
]

DELIVER_EMPTY_CYCLES = 1
DELIVER_PIPELINE_CYCLES = 4
UPDATE_PIPELINE_CYCLES = 5
SPIKE_LATENCY = 5  #: cycles from a group's read to the first cycle its spikes can leave
SPIKE_DRAIN_CYCLES = 2  #: cycles from the last spike leaving to the end of the update
REPORT_CYCLES = 4
DECIDE_PIPELINE_CYCLES = 2
SUMMARY_CYCLES = 5
#: Cycles a step, a sample end or a readback waits for output FIFO room when there is room.
FIFO_WAIT_CYCLES = 1
#: Cycles between an END_STEP / END_SAMPLE word and the first counted cycle (no stall):
#: the word itself, then the FIFO-room check.
MARKER_CYCLES = 1 + FIFO_WAIT_CYCLES
#: Cycles of the CONFIG check after its last word.
CONFIG_COMMIT_CYCLES = 1


def source_costs(network: Network, core: CoreConfig, live: np.ndarray | None = None) -> np.ndarray:
    """Delivery cycles of one spike of each source: ``max(1, ceil(f_s / lanes))`` (int64 [n_sources])."""
    table = network.synapses()
    live = np.ones(table.count, bool) if live is None else np.asarray(live, bool)
    fanout = np.bincount(table.source[live], minlength=network.n_sources)
    return np.maximum(1, -(-fanout // core.lanes)).astype(np.int64)


def step_cycles(network: Network, core: CoreConfig, inputs: np.ndarray, result: SampleResult,
                live: np.ndarray | None = None) -> np.ndarray:
    """Counted cycles of every step ``int64 [B, T]`` (0 for steps not run after an early exit).

    ``inputs`` is the raster ``bool [B, T, n_inputs]`` (or ``[T, n_inputs]``) that
    produced ``result``.
    """
    inputs = np.asarray(inputs, bool)
    if inputs.ndim == 2:
        inputs = inputs[None]
    costs = source_costs(network, core, live)
    batch, steps = result.spikes.shape[:2]
    sources = np.concatenate([inputs, result.spikes], axis=2)  # [B, T, n_sources]: spiked at that step
    pending = np.zeros_like(sources)
    pending[:, 1:] = sources[:, :-1]
    events = pending.sum(axis=2)
    ran = np.arange(steps)[None, :] < result.steps_run[:, None]
    delivered = np.where(ran, events, 0)
    if not np.array_equal(delivered, result.counters[:, :, Counter.EVENTS]):
        sample, step = np.argwhere(delivered != result.counters[:, :, Counter.EVENTS])[0]
        raise ValueError(f"inputs do not match the result: sample {sample} step {step} delivers "
                         f"{delivered[sample, step]} events, the golden counters say "
                         f"{result.counters[sample, step, Counter.EVENTS]}")
    deliver = np.where(events == 0, DELIVER_EMPTY_CYCLES, DELIVER_PIPELINE_CYCLES + pending.astype(np.int64) @ costs)
    update = np.zeros((batch, steps), np.int64)
    for b in range(batch):
        for t in range(steps):
            update[b, t] = update_cycles(network.n_neurons, core.neuron_lanes, np.flatnonzero(result.spikes[b, t]))
    cycles = deliver + update + REPORT_CYCLES
    return np.where(ran, cycles, 0).astype(np.int64)


def update_cycles(n_neurons: int, neuron_lanes: int, spiking: np.ndarray) -> int:
    """Cycles of the update phase of one step whose spiking neurons are ``spiking`` (ascending).

    Spike ``j`` leaves at ``e_j = max(a_j, e_{j-1} + 1)`` with ``a_j`` the first cycle its
    group allows; unrolled, ``e_S = S - 1 + max_j (a_j - j)``.

    >>> update_cycles(8, 4, np.array([], np.int64))  # 2 groups + pipeline
    7
    >>> update_cycles(8, 4, np.arange(8))  # 8 spikes leave at cycles 5 .. 12
    14
    """
    groups = -(-n_neurons // neuron_lanes)
    quiet = groups + UPDATE_PIPELINE_CYCLES
    if len(spiking) == 0:
        return quiet
    ready = np.asarray(spiking, np.int64) // neuron_lanes + SPIKE_LATENCY
    last = len(spiking) - 1 + int(np.max(ready - np.arange(len(spiking))))
    return max(quiet, last + SPIKE_DRAIN_CYCLES)


def end_cycles(network: Network) -> int:
    """Counted cycles of the end of a sample (decision scan and SUMMARY packet)."""
    return network.population(network.output).size + DECIDE_PIPELINE_CYCLES + SUMMARY_CYCLES


def load_cycles(network: Network, core: CoreConfig, max_payload: int = 256) -> int:
    """Cycles to load ``network`` (one per word, plus the CONFIG check), with no stalls."""
    words = sum(len(packet) for packet in encode_load(network, core, max_payload))
    return words + CONFIG_COMMIT_CYCLES


def readback_cycles(network: Network) -> int:
    """Cycles of READ_NEURONS after its header word: one header, then per neuron a read and its words."""
    return 1 + network.n_neurons * (1 + STATE_WORDS)


def synapse_readback_cycles(core: CoreConfig, rows: int) -> int:
    """Cycles of READ_SYNAPSES after its last word: one header, then per row a read and its words."""
    return 1 + rows * (1 + core.lanes)


def fanout_readback_cycles(sources: int) -> int:
    """Cycles of READ_FANOUT after its last word: one header, then per source a read and its 2 words."""
    return 1 + sources * (1 + FANOUT_WORDS)


def input_cycles(raster: np.ndarray, steps_run: int) -> int:
    """Cycles a sample spends taking in its input words and markers (no stalls).

    Every input word costs one cycle, except the END_STEPs that run a step and the
    END_SAMPLE (or the SUMMARY's FIFO check right after an early exit's deciding step:
    the total is the same), which cost :data:`MARKER_CYCLES` each.
    """
    words = sum(len(packet) for packet in encode_sample(np.asarray(raster, bool)))
    return words - steps_run - 1 + MARKER_CYCLES * steps_run + MARKER_CYCLES


def sample_cycles(network: Network, core: CoreConfig, inputs: np.ndarray, result: SampleResult) -> np.ndarray:
    """Cycles of whole samples ``int64 [B]`` with no stalls: input words, markers, steps, end."""
    inputs = np.asarray(inputs, bool)
    if inputs.ndim == 2:
        inputs = inputs[None]
    per_step = step_cycles(network, core, inputs, result)
    return np.array([input_cycles(inputs[b], int(result.steps_run[b])) + int(per_step[b].sum()) + end_cycles(network)
                     for b in range(inputs.shape[0])], np.int64)