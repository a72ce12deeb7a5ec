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
    step(t)    = deliver(t) + update(t) + learn(t) + 6   # + STEP trailer (6 words)
    end        = output_size + 2 + 5                 # decision scan, SUMMARY packet (at
                                                     # END_SAMPLE, or after the deciding step)

``learn(t)`` is 0 in inference (no group enabled in ``learning_enable``); in a learning
sample see :func:`learning_step_cycles` (PAIR rule after every step) and
:func:`learned_cycles` (the end of the sample, LEARNED packet).

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
from typing import NamedTuple, Sequence

from . import golden
from .encoding import bool_values, spike_values
from .golden import Counter, LearningWalk, SampleResult, SynapseState, queue_admit
from .network import LearningKind, Network
from .protocol import (FANOUT_TABLE_WORDS, LEARNED_WORDS, LOAD_PAYLOAD_WORDS, STATE_WORDS, STEP_TRAILER_WORDS,
                       SUMMARY_WORDS, encode_load, encode_sample)

__all__ = [
    "LEARN_SELECT_CYCLES", "TRACE_PIPELINE_CYCLES", "SWEEP_PIPELINE_CYCLES", "LEARNED_CYCLES", "LearningCycles",
    "walk_cycles", "trace_walk_cycles", "sweep_cycles", "trace_cycles", "learning_step_cycles", "learned_cycles", "learning_cycles",
    "learning_sample_cycles",
    "DELIVER_EMPTY_CYCLES", "DELIVER_PIPELINE_CYCLES", "UPDATE_PIPELINE_CYCLES", "REPORT_CYCLES",
    "DECIDE_PIPELINE_CYCLES", "SUMMARY_CYCLES", "source_costs", "step_cycles", "update_cycles", "end_cycles", "load_cycles",
    "readback_cycles", "neuron_readback_cycles", "synapse_readback_cycles", "fanout_readback_cycles", "input_cycles",
    "sample_cycles",
]

DELIVER_EMPTY_CYCLES = 1
DELIVER_PIPELINE_CYCLES = 4
UPDATE_PIPELINE_CYCLES = 5
SPIKE_LATENCY = 5  #: cycles from a group's read to the first cycle its spikes can leave
SPIKE_DRAIN_CYCLES = 2  #: cycles from the last spike leaving to the end of the update
REPORT_CYCLES = STEP_TRAILER_WORDS  #: one cycle per STEP trailer word
DECIDE_PIPELINE_CYCLES = 2
SUMMARY_CYCLES = 1 + SUMMARY_WORDS  #: one cycle per SUMMARY word, header included
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
    live = np.ones(table.count, bool) if live is None else bool_values(live, "live")
    fanout = np.bincount(table.source[live], minlength=network.n_sources)
    return np.maximum(1, -(-fanout // core.lanes)).astype(np.int64)


def step_cycles(network: Network, core: CoreConfig, inputs: np.ndarray, result: SampleResult,
                live: np.ndarray | None = None) -> np.ndarray:
    """Counted cycles of every step ``int64 [B, T]`` (0 for steps not run after an early exit).

    ``inputs`` is the raster ``bool [B, T, n_inputs]`` (or ``[T, n_inputs]``) that
    produced ``result``.
    """
    inputs = spike_values(inputs)
    if inputs.ndim == 2:
        inputs = inputs[None]
    costs = source_costs(network, core, live)
    batch, steps = result.spikes.shape[:2]
    if inputs.shape != (batch, steps, network.n_inputs):
        raise ValueError(f"inputs have shape {inputs.shape}, the result is of {batch} samples x {steps} steps of a "
                         f"network with {network.n_inputs} inputs: expected ({batch}, {steps}, {network.n_inputs})")
    # [B, T, n_sources]: queued at that step for delivery at the next (a full event queue drops the rest)
    sources = np.concatenate(queue_admit(inputs, result.spikes, core.event_queue_depth), axis=2)
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


def load_cycles(network: Network, core: CoreConfig, max_payload: int = LOAD_PAYLOAD_WORDS) -> int:
    """Cycles to load ``network`` (one per word, plus the CONFIG check), with no stalls."""
    words = sum(len(packet) for packet in encode_load(network, core, max_payload))
    return words + CONFIG_COMMIT_CYCLES


def readback_cycles(network: Network) -> int:
    """Cycles of READ_NEURONS after its header word: one header, then per neuron a read and its words."""
    return neuron_readback_cycles(network.n_neurons)


def neuron_readback_cycles(n_neurons: int) -> int:
    """:func:`readback_cycles` of a network of ``n_neurons`` neurons."""
    return 1 + n_neurons * (1 + STATE_WORDS)


def synapse_readback_cycles(core: CoreConfig, rows: int) -> int:
    """Cycles of READ_SYNAPSES after its last word: one header, then per row a read and its words."""
    return 1 + rows * (1 + core.lanes)


def fanout_readback_cycles(sources: int) -> int:
    """Cycles of READ_FANOUT after its last word: one header, then per source a read and its 3 words."""
    return 1 + sources * (1 + FANOUT_TABLE_WORDS)


def input_cycles(raster: np.ndarray, steps_run: int) -> int:
    """Cycles a sample spends taking in its input words and markers (no stalls).

    Every input word costs one cycle, except the END_STEPs that run a step and the
    END_SAMPLE (or the SUMMARY's FIFO check right after an early exit's deciding step:
    the total is the same), which cost :data:`MARKER_CYCLES` each.
    """
    words = sum(len(packet) for packet in encode_sample(raster))
    return words - steps_run - 1 + MARKER_CYCLES * steps_run + MARKER_CYCLES


def sample_cycles(network: Network, core: CoreConfig, inputs: np.ndarray, result: SampleResult) -> np.ndarray:
    """Cycles of whole samples ``int64 [B]`` with no stalls: input words, markers, steps, end."""
    inputs = spike_values(inputs)
    if inputs.ndim == 2:
        inputs = inputs[None]
    per_step = step_cycles(network, core, inputs, result)
    return np.array([input_cycles(inputs[b], int(result.steps_run[b])) + int(per_step[b].sum()) + end_cycles(network)
                     for b in range(inputs.shape[0])], np.int64)


# ---- learning ---------------------------------------------------------------------------
#
# A learning sample (some group enabled in ``learning_enable``) adds, after the update of
# every step, the PAIR phase, and after the SUMMARY the end-of-sample phase. Both walk a
# group's sources in ascending order through the learning engine (``lanes`` synapses per
# cycle); pruned synapses are compacted away on the fly, so a later walk reads fewer rows.
#
# With ``E`` the enabled PAIR groups of the sample (index order), ``src(g)`` the source
# range and ``tgt(g)`` the target range of group ``g``, ``R_s = ceil(f_s / L)`` the rows
# of source ``s`` from its live fan-out (all groups) *when the walk starts*::
#
#     walk(g)    = SWEEP_PIPELINE_CYCLES + sum_{s in src(g)} max(1, R_s)  # a row per cycle, sources
#                                                                         # back to back
#     trace(g)   = ceil(max(|src(g)|, |tgt(g)|) / W) + TRACE_PIPELINE_CYCLES  # decay + bump the traces,
#                                                                         # W = trace_lanes per cycle
#     learn(t)   = 0                                       if E is empty
#                = LEARN_SELECT_CYCLES + sum_{g in E} (LEARN_SELECT_CYCLES + trace(g)
#                                                     + walk(g) if a source or target of g spiked at t)
#     learned    = LEARN_SELECT_CYCLES + sum_{g walked at the end} (LEARN_SELECT_CYCLES + walk(g))
#                  + LEARNED_CYCLES
#
# The groups walked at the end are the enabled TTFS groups (not reward modulated, or with
# a reward != 0) and the enabled reward-modulated PAIR groups (at any reward: at 0 the
# walk only clears their eligibilities): the golden model's passes
# (:class:`~spikestream.model.golden.LearningWalk`, step -1).

#: Cycles to pick the next enabled group (and one more to find there is none left).
LEARN_SELECT_CYCLES = 1
#: Cycles a trace walk adds to its entries (read, then write back).
TRACE_PIPELINE_CYCLES = 1
#: Cycles a synapse walk adds to its rows: pointer read, row read, trace reads, engine, write back.
SWEEP_PIPELINE_CYCLES = 7
#: Cycles of the LEARNED packet (header and its words).
LEARNED_CYCLES = 1 + LEARNED_WORDS


class LearningCycles(NamedTuple):
    """Counted cycles of one learning sample, as the core reports them."""

    steps: np.ndarray  #: int64 [T]: STEP trailer ``cycles`` (0 for steps not run)
    end: int  #: SUMMARY ``cycles``
    learned: int  #: LEARNED ``cycles`` (0: not a learning sample, no LEARNED packet)
    total: int  #: the whole sample with no stalls: input words, markers, steps, SUMMARY, REWARD, LEARNED


def sweep_cycles(source_rows: np.ndarray, source_first: int, source_count: int) -> int:
    """Cycles of a walk over the sources ``source_first ..`` (``source_rows``: rows of every source)."""
    rows = np.asarray(source_rows)[source_first:source_first + source_count]
    return SWEEP_PIPELINE_CYCLES + int(np.maximum(rows, 1).sum())


def trace_cycles(source_count: int, target_count: int, trace_lanes: int) -> int:
    """Cycles of the trace walk of a PAIR group with these source and target counts."""
    return -(-max(source_count, target_count) // trace_lanes) + TRACE_PIPELINE_CYCLES


def walk_cycles(network: Network, core: CoreConfig, group: int, live: np.ndarray) -> int:
    """Cycles of one walk over the synapses of ``group`` when ``live`` (canonical order) are stored."""
    source_rows = -(-np.bincount(network.synapses().source[np.asarray(live, bool)],
                                 minlength=network.n_sources) // core.lanes)
    g = network.groups[group]
    return sweep_cycles(source_rows, network.source_offset(g.source), network.source_size(g.source))


def trace_walk_cycles(network: Network, core: CoreConfig, group: int) -> int:
    """Cycles of the trace walk of a PAIR group after every step of a learning sample."""
    g = network.groups[group]
    return trace_cycles(network.source_size(g.source), network.population(g.target).size, core.trace_lanes)


def _pair_groups(network: Network, enabled: Sequence[bool] | None) -> list[int]:
    return [index for index, g in enumerate(network.groups)
            if g.learning is not None and g.learning.kind is LearningKind.PAIR and (enabled is None or enabled[index])]


def _learning_sample(network: Network, enabled: Sequence[bool] | None) -> bool:
    return any(g.learning is not None and (enabled is None or enabled[index]) for index, g in enumerate(network.groups))


def learning_step_cycles(network: Network, core: CoreConfig, steps_run: int, walks: Sequence[LearningWalk],
                         enabled: Sequence[bool] | None = None) -> np.ndarray:
    """``learn(t)`` of every step ``int64 [T]``: the PAIR phase (traces and synapse walks).

    ``walks`` are the sample's :class:`~spikestream.model.golden.LearningWalk` (from
    :func:`spikestream.model.golden.learn_recorded`); ``enabled`` the sample's group flags.
    """
    pair = _pair_groups(network, enabled)
    cycles = np.zeros(network.timesteps, np.int64)
    if not pair:
        return cycles
    per_step = LEARN_SELECT_CYCLES + sum(LEARN_SELECT_CYCLES + trace_walk_cycles(network, core, g) for g in pair)
    cycles[:steps_run] = per_step
    for walk in walks:
        if walk.step >= 0:
            cycles[walk.step] += walk_cycles(network, core, walk.group, walk.live)
    return cycles


def learned_cycles(network: Network, core: CoreConfig, walks: Sequence[LearningWalk],
                   enabled: Sequence[bool] | None = None) -> int:
    """LEARNED ``cycles`` of a sample (0 when it is not a learning sample: no LEARNED packet)."""
    if not _learning_sample(network, enabled):
        return 0
    ends = [walk for walk in walks if walk.step < 0]
    return (LEARN_SELECT_CYCLES + sum(LEARN_SELECT_CYCLES + walk_cycles(network, core, w.group, w.live) for w in ends)
            + LEARNED_CYCLES)


def learning_sample_cycles(network: Network, core: CoreConfig, raster: np.ndarray, result: SampleResult,
                           walks: Sequence[LearningWalk], enabled: Sequence[bool] | None = None,
                           live: np.ndarray | None = None, rewarded: bool = False) -> LearningCycles:
    """Cycles of one learning sample (a batch-of-one ``result`` of ``golden.learn``).

    ``raster`` is the sample's input ``bool [T, n_inputs]``, ``walks`` its
    :class:`~spikestream.model.golden.LearningWalk` list, ``enabled`` its group flags,
    ``live`` the live mask at its start (default: all stored synapses), ``rewarded``
    whether the host sends a REWARD word after its SUMMARY. Delivery at step ``t`` reads
    the rows left after the PAIR walks of step ``t - 1`` (pruning shrinks them within a
    sample).
    """
    raster = spike_values(raster)
    mask = np.ones(network.synapses().count, bool) if live is None else bool_values(live, "live")
    steps_run = int(result.steps_run[0])
    sources = np.concatenate(queue_admit(raster, result.spikes[0], core.event_queue_depth), axis=1)
    learn = learning_step_cycles(network, core, steps_run, walks, enabled)
    pair_walks = [w for w in walks if w.step >= 0]
    steps = np.zeros(network.timesteps, np.int64)
    for t in range(steps_run):
        for walk in pair_walks:
            if walk.step == t - 1:
                mask = walk.live_after
        pending = sources[t - 1] if t > 0 else np.zeros(network.n_sources, bool)
        costs = source_costs(network, core, mask)
        deliver = DELIVER_EMPTY_CYCLES if not pending.any() else DELIVER_PIPELINE_CYCLES + int(costs[pending].sum())
        update = update_cycles(network.n_neurons, core.neuron_lanes, np.flatnonzero(result.spikes[0, t]))
        steps[t] = deliver + update + learn[t] + REPORT_CYCLES
    end = end_cycles(network)
    learned = learned_cycles(network, core, walks, enabled)
    total = (input_cycles(raster, steps_run) + int(steps.sum()) + end
             + (learned + FIFO_WAIT_CYCLES if learned else 0) + (1 if rewarded else 0))
    return LearningCycles(steps, end, learned, total)


def learning_cycles(network: Network, core: CoreConfig, inputs: np.ndarray, rewards: Sequence[int] | None = None,
                    synapses: SynapseState | None = None,
                    learning_enabled: Sequence[Sequence[bool]] | Sequence[bool] | None = None
                    ) -> tuple[list[SampleResult], SynapseState, list[LearningCycles]]:
    """Run :func:`spikestream.model.golden.learn` and return its results with the core's cycles.

    Same arguments as ``golden.learn``; the third element holds, per sample, the
    :class:`LearningCycles` the core reports (STEP, SUMMARY and LEARNED ``cycles``).

    >>> from spikestream.host.demo import tiny_network
    >>> core = CoreConfig(max_neurons=16, max_inputs=8, max_synapses=256, lanes=2, timestep_bits=5)
    >>> _, _, cycles = learning_cycles(tiny_network(core), core, np.eye(8, dtype=bool)[None, :, :4])
    >>> int(cycles[0].learned)  # tiny_network has no plastic group: no LEARNED packet
    0
    """
    inputs = spike_values(inputs)
    if inputs.ndim == 2:
        inputs = inputs[None]
    start = golden.initial_synapse_state(network) if synapses is None else synapses
    flags = None if learning_enabled is None else golden.learning_flags(learning_enabled, inputs.shape[0],
                                                                        len(network.groups))
    results, final, walks = golden.learn_recorded(network, core, inputs, rewards, start, flags)
    live = start.live
    cycles = []
    for b, (result, sample_walks) in enumerate(zip(results, walks)):
        enabled = None if flags is None else flags[b]
        cycles.append(learning_sample_cycles(network, core, inputs[b], result, sample_walks, enabled, live,
                                             _has_reward_group(network, enabled)))
        if sample_walks:
            live = sample_walks[-1].live_after
    return results, final, cycles


def _has_reward_group(network: Network, enabled: Sequence[bool] | None) -> bool:
    """Whether the core waits for a REWARD word after the sample (an enabled reward-modulated group)."""
    return any(g.learning is not None and g.learning.reward_modulated and (enabled is None or enabled[index])
               for index, g in enumerate(network.groups))
