r"""The golden model: the specification of the spiking core, bit for bit.

Everything the core computes is defined here, once; the RTL, the torch training code
and the driver refer to this docstring instead of restating it.

Glossary and fixed-point formats
--------------------------------
All quantities are integers. ``B = state_bits`` (24 by default), ``S = 2**(B-1) - 1``.

=================  ==========================================  ==========================
symbol             meaning                                     range / format
=================  ==========================================  ==========================
``u[i]``           synaptic current of neuron i                signed, saturates [-S, S]
``v[i]``           membrane voltage                            signed, saturates [-S, S]
``theta[i]``       adaptive threshold increment                unsigned, saturates [0, S]
``r[i]``           refractory steps left                       0 .. refractory
``a[i]``           synaptic input of one step                  exact (never overflows)
``w``              weight mantissa of a synapse                int8 (``weight_bits``)
``e_g``            exponent of synapse group g                 0 .. max_weight_exponent
``du, dv, dth``    current / voltage / adaptation decay        12-bit: 0 .. 4095 of 4096
``vth[i]``         threshold                                   0 .. S
``bias[i]``        bias                                        [-S, S]
=================  ==========================================  ==========================

``decay(x, d) = sign(x*(4096-d)) * (|x*(4096-d)| >> 12)``: the product is truncated
toward zero, as in Loihi. ``sat(x)`` clips to [-S, S]. Neurons never wrap.

One timestep ``t`` (``t = 0 .. timesteps-1``) of a sample
----------------------------------------------------------
1. *Deliver.* Every source that spiked at step ``t-1`` (input events tagged ``t-1`` and
   neuron spikes of step ``t-1``) sends ``w << e_g`` through each of its live synapses:
   ``a[i] = sum(w << e_g)`` over those synapses. Every synapse therefore delivers one
   timestep after the spike, whatever connects to what (feedforward, skip, recurrent,
   self-recurrent). Nothing is delivered at ``t = 0``; input events tagged
   ``timesteps-1`` have no effect on neurons (but do on learning traces).
2. *Update* every neuron::

       u     = sat(decay(u, du + 1) + a)              # Loihi ds_offset = 1
       hold  = r > 0                                  # refractory
       v     = v if hold else sat(decay(v, dv) + u + bias)   # Loihi dm_offset = 0
       theta = decay(theta, dth)
       spike = v > vth + theta  and not hold  and not (single_spike and fired before)
       on spike: v = 0 (reset ZERO) or v - (vth + theta) (reset SUBTRACT)
                 theta = min(theta + adapt_increment, S);  r = refractory;  fired = True
       else:     r = max(r - 1, 0)

3. *Emit* the spikes of step ``t``; they are delivered at ``t+1``.

The spikes to deliver at ``t+1`` wait in the event queue, ``event_queue_depth`` sources
per step: the input events of step ``t`` first (in the order they arrive: ascending
channels, as :func:`~spikestream.model.protocol.encode_sample` sends them), then the
neuron spikes of step ``t`` in neuron order. Those that find it full are not delivered
(the core flags ``QUEUE_OVERFLOW`` and counts them: ``Counter.INPUTS_DROPPED``,
``SPIKES_DROPPED``); a dropped spike is still emitted (reported, decided on, learned
from), a dropped input event is as if never sent. A core whose queue holds
``n_inputs + n_neurons`` sources never drops (:func:`queue_admit`).

At the start of every sample ``u, v, theta, r``, the fired flags, the pending spikes,
the learning traces and eligibilities are zero. Weights, connectivity, pruning counters
and the LFSR persist from sample to sample (they are what learning changes).

Decision and early exit
-----------------------
See :class:`spikestream.model.network.Decision`. With ``early_exit`` the sample stops
after the step in which the first output spike happens: later steps are not run (the
core reports the decision and saves their cycles).

Learning (per synapse group, :class:`~spikestream.model.network.LearningRule`)
------------------------------------------------------------------------------
``pre(j, t)`` is "source j spiked at step t" (input event tagged t, or neuron spike of
step t); ``post(i, t)`` likewise for target neuron i. Each plastic group keeps a trace
per source ``x[j]`` and per target ``y[i]``, unsigned, saturating at ``trace_max``.

``PAIR`` rule, after step ``t`` (``s = trace_decay_shift``)::

    xd = x - (x >> s);            yd = y - (y >> s)
    x  = min(xd + pre_increment * pre(j, t), trace_max)
    y  = min(yd + post_increment * post(i, t), trace_max)
    for each live synapse j -> i of the group, in canonical order:
        ltp = post(i, t):  n+ = a_plus  * x[j]   (* (w_max - w) if soft_bound)
        ltd = pre(j, t):   n- = a_minus * yd[i]  (* (w - w_min) if soft_bound)
        delta = rshift(n+) - rshift(n-)          (absent terms count 0)

A spike pair in the same step potentiates (pre no later than post). ``rshift(n) =
n >> shift`` (floor), or with ``stochastic_rounding`` ``(n + (lfsr() & (2**shift - 1)))
>> shift``, one LFSR draw per present term, LTP before LTD. Without reward modulation,
``w = clamp(w + delta, w_min, w_max)`` and the synapse counts one *update*. With reward
modulation, ``elig = clamp(elig + delta, +-eligibility_max)`` and the weight waits for the
reward (below).

``TTFS`` rule, at the end of the sample, with first-spike times ``tp`` of source j and
``tq`` of target i (no spike: none). For every live synapse whose target fired (and, with
``winner_only``, whose target is the decision winner), in canonical order::

    if tp is not none and tp <= tq:  delta = +rshift(a_plus  (* (w_max - w) if soft_bound))
    else:                            delta = -rshift(a_minus (* (w - w_min) if soft_bound))

one LFSR draw per updated synapse; without reward modulation ``w = clamp(w + delta)``.

Reward modulation: the host sends a reward ``R`` in {-1, 0, +1} at the end of the
sample. ``R = 0`` changes nothing. Otherwise a ``PAIR`` synapse gets ``w = clamp(w + R *
elig)`` and a ``TTFS`` synapse ``w = clamp(w + R * delta)``, each counting one update.

``lfsr()`` is a 16-bit Galois LFSR (taps ``0xB400``, seed ``0xACE1`` at load): each
draw shifts once and returns the new 16-bit state.

Pruning (per group, :class:`~spikestream.model.network.PruningRule`): after every
update of a synapse, ``count = count + 1 if |w| <= threshold else 0``; when ``count``
reaches ``patience`` the synapse is removed for good: it is no longer delivered,
learned, or stored. Learning is applied group by group only where enabled for that
sample (``learning_enabled``).

Where this differs from Loihi / lava
------------------------------------
- States saturate instead of wrapping (lava wraps ``u``, clips ``v`` to ±(2**23-1)).
- Weights are ``w << e`` with ``e >= 0``; lava's ``(w << weight_exp) << 6`` maps to
  ``e = weight_exp + 6``; lava's ``vth`` maps to ``vth << 6``; lava's bias
  ``bias_mant << bias_exp`` is our ``bias``.
- Adaptation, refractory, subtractive reset and single-spike mode are additions.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Sequence

import numpy as np

from .config import DECAY_BITS, DECAY_UNITY, CoreConfig
from .encoding import bool_values, check_spike_batch
from .network import DecisionMode, LearningKind, Network, ResetMode, SynapseGroup, queue_can_drop

__all__ = [
    "Counter",
    "Params",
    "NeuronState",
    "SynapseState",
    "SampleResult",
    "compile_network",
    "initial_neuron_state",
    "initial_synapse_state",
    "decay",
    "neuron_step",
    "deliver",
    "decide",
    "run",
    "learn",
    "learn_recorded",
    "LearningWalk",
    "network_with_synapses",
    "live_synapse_counts",
    "lfsr_next",
    "LFSR_SEED",
    "LFSR_TAPS",
    "LFSR_BITS", "check_lfsr", "check_synapse_state", "queue_admit", "learning_flags",
]

LFSR_BITS = 16  #: width of the stochastic-rounding LFSR state
LFSR_SEED = 0xACE1
LFSR_TAPS = 0xB400


class Counter(enum.IntEnum):
    """Per-timestep activity counters (last axis of ``SampleResult.counters``)."""

    EVENTS = 0  #: source spikes delivered in this step
    SYNAPTIC_OPS = 1  #: live synapses traversed by those events
    #: Pruned synapses those events no longer traverse: those of the network that ``synapses.live``
    #: marks pruned. The core counts those pruned since its load, so a core loaded with a learned
    #: state (SpikeCore.load(..., synapses=)) starts from 0: it runs ``network_with_synapses``.
    SYNAPSES_SKIPPED = 2
    NEURON_UPDATES = 3  #: neurons updated
    SPIKES = 4  #: neuron spikes emitted
    LEARNING_UPDATES = 5  #: synapse weight updates applied (PAIR rule, this step)
    INPUTS_DROPPED = 6  #: input events of this step that found the event queue full (not delivered)
    SPIKES_DROPPED = 7  #: neuron spikes of this step that found the event queue full (emitted, not delivered)


class Params(NamedTuple):
    """Per-neuron parameters and synapse table of a compiled network (int64)."""

    n_inputs: int
    n_neurons: int
    timesteps: int
    threshold: np.ndarray
    current_decay: np.ndarray  #: effective (du + 1)
    voltage_decay: np.ndarray
    bias: np.ndarray
    adapt_increment: np.ndarray
    adapt_decay: np.ndarray
    refractory: np.ndarray
    reset_subtract: np.ndarray  #: bool
    single_spike: np.ndarray  #: bool
    output_slice: slice
    synapse_source: np.ndarray  #: canonical order
    synapse_target: np.ndarray
    synapse_group: np.ndarray
    group_exponent: np.ndarray
    state_max: int
    trace_max: int
    eligibility_max: int


class NeuronState(NamedTuple):
    """State of a batch of samples, reset at every sample start. Shapes ``[B, ...]``."""

    u: np.ndarray
    v: np.ndarray
    theta: np.ndarray
    refractory_left: np.ndarray
    fired: np.ndarray  #: bool [B, N]
    pending: np.ndarray  #: bool [B, n_sources]: spikes to deliver next step
    first_spike_step: np.ndarray  #: [B, N], -1 for none
    first_spike_voltage: np.ndarray  #: [B, N] voltage before reset at the first spike
    spike_count: np.ndarray  #: [B, N]
    done: np.ndarray  #: bool [B]: early exit happened


class SynapseState(NamedTuple):
    """What persists across samples: weights, connectivity, pruning counters, LFSR."""

    weight: np.ndarray  #: [n_synapses] int64, canonical order
    live: np.ndarray  #: [n_synapses] bool
    prune_count: np.ndarray  #: [n_synapses] int64
    lfsr: int


class SampleResult(NamedTuple):
    """What a batch of samples produced."""

    spikes: np.ndarray  #: bool [B, T, N]
    counters: np.ndarray  #: int64 [B, T, len(Counter)]
    steps_run: np.ndarray  #: int64 [B]
    decision: np.ndarray  #: int64 [B], index within the output population
    decision_step: np.ndarray  #: int64 [B], step of the deciding spike (-1: by potential)
    end_learning_updates: np.ndarray  #: int64 [B], updates applied at sample end
    state: NeuronState  #: final state


# ---- arithmetic (each line says how it rounds or saturates) ------------------------------

def decay(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Multiply by ``(4096 - d) / 4096``, truncating toward zero (Loihi).

    >>> decay(np.array([1000, -1000, 1]), np.int64(1)).tolist()  # 999.76 -> 999, not floor's -1000
    [999, -999, 0]
    """
    product = x * (DECAY_UNITY - d)
    # Truncate toward zero: an arithmetic shift floors, so negatives first add 4095, which
    # turns the floor into a ceiling. Same as sign(p) * (|p| >> 12), in fewer passes.
    return (product + (product < 0) * (DECAY_UNITY - 1)) >> DECAY_BITS


def _saturate(x: np.ndarray, limit: int) -> np.ndarray:
    """Clip to the symmetric range [-limit, limit] (states never wrap)."""
    return np.minimum(np.maximum(x, -limit), limit)


def lfsr_next(state: int) -> int:
    """Advance the 16-bit Galois LFSR once and return the new state.

    >>> hex(lfsr_next(LFSR_SEED)), hex(lfsr_next(lfsr_next(LFSR_SEED)))
    ('0xe270', '0x7138')
    """
    lsb = state & 1
    state >>= 1
    return state ^ LFSR_TAPS if lsb else state


# ---- compiling a network ----------------------------------------------------------------

def compile_network(network: Network, core: CoreConfig) -> Params:
    """Check that ``network`` fits ``core`` and flatten it into :class:`Params`."""
    network.check_fits(core)
    table = network.synapses()
    reset_subtract = np.concatenate([np.full(p.size, p.reset is ResetMode.SUBTRACT) for p in network.populations])
    single_spike = np.concatenate([np.full(p.size, p.single_spike) for p in network.populations])
    offset = network.neuron_offset(network.output)
    return Params(
        n_inputs=network.n_inputs,
        n_neurons=network.n_neurons,
        timesteps=network.timesteps,
        threshold=network.neuron_parameter("threshold"),
        current_decay=network.neuron_parameter("current_decay") + 1,
        voltage_decay=network.neuron_parameter("voltage_decay"),
        bias=network.neuron_parameter("bias"),
        adapt_increment=network.neuron_parameter("adapt_increment"),
        adapt_decay=network.neuron_parameter("adapt_decay"),
        refractory=network.neuron_parameter("refractory"),
        reset_subtract=reset_subtract,
        single_spike=single_spike,
        output_slice=slice(offset, offset + network.population(network.output).size),
        synapse_source=table.source,
        synapse_target=table.target,
        synapse_group=table.group,
        group_exponent=np.array([g.exponent for g in network.groups], np.int64),
        state_max=core.state_max,
        trace_max=core.trace_max,
        eligibility_max=core.eligibility_max,
    )


def initial_synapse_state(network: Network) -> SynapseState:
    """Weights and connectivity as described by ``network``, nothing pruned yet."""
    table = network.synapses()
    return SynapseState(table.weight.copy(), np.ones(table.count, bool), np.zeros(table.count, np.int64), LFSR_SEED)


def check_synapse_state(network: Network, core: CoreConfig, synapses: SynapseState) -> SynapseState:
    """Return ``synapses`` as the arrays the model uses, or raise if they do not belong to ``network`` on ``core``.

    One entry per synapse of ``network`` in canonical order (:meth:`Network.synapses`):
    ``live`` a 0/1 mask (an integer array is not taken as a list of indices), ``weight``
    integers in the core's weight range (live ones of a learning group within its clamp),
    ``prune_count`` integers in the pruning counter's range, ``lfsr`` a non-zero LFSR state.
    """
    table = network.synapses()
    count = table.count
    arrays = {}
    for name in ("weight", "live", "prune_count"):
        values = np.asarray(getattr(synapses, name))
        if values.shape != (count,):
            raise ValueError(f"synapses.{name} has shape {values.shape}, expected ({count},): one entry per synapse "
                             "of the network, in canonical order (Network.synapses())")
        arrays[name] = values
    live = bool_values(arrays["live"], "synapses.live")
    ranges = {"weight": ("weight range", core.weight_min, core.weight_max),
              "prune_count": ("pruning counter range", 0, core.prune_patience_max)}
    for name, (label, low, high) in ranges.items():
        values = arrays[name]
        if not (np.issubdtype(values.dtype, np.integer) or (np.issubdtype(values.dtype, np.floating)
                                                             and np.all(values == np.round(values)))):
            raise ValueError(f"synapses.{name} must hold whole numbers, got dtype {values.dtype}")
        outside = np.flatnonzero((values < low) | (values > high))
        if outside.size:
            k = int(outside[0])
            raise ValueError(f"synapses.{name}[{k}] = {values[k]} is outside the core's {label} [{low}, {high}]")
    # A learning group's live weights stay within its clamp: soft-bound learning multiplies by the
    # distances to the bounds, which the core holds unsigned (a weight outside would wrap them).
    for index, g in enumerate(network.groups):
        if g.learning is None:
            continue
        outside = np.flatnonzero(live & (table.group == index) & ((arrays["weight"] < g.learning.w_min)
                                                            | (arrays["weight"] > g.learning.w_max)))
        if outside.size:
            k = int(outside[0])
            raise ValueError(f"synapses.weight[{k}] = {arrays['weight'][k]} is outside the learning clamp "
                             f"[{g.learning.w_min}, {g.learning.w_max}] of its group {index} ({g.name})")
    return SynapseState(arrays["weight"].astype(np.int64), live, arrays["prune_count"].astype(np.int64),
                        check_lfsr(synapses.lfsr, "synapses.lfsr"))


def check_lfsr(lfsr, what: str = "lfsr") -> int:
    """Return ``lfsr`` as an int, or raise if it is not a non-zero state of the stochastic-rounding LFSR."""
    if isinstance(lfsr, bool) or not isinstance(lfsr, (int, np.integer)) or not 1 <= lfsr < 1 << LFSR_BITS:
        raise ValueError(f"{what} = {lfsr!r} must be a non-zero {LFSR_BITS}-bit LFSR state [1, {(1 << LFSR_BITS) - 1}] "
                         "(0 would never change, and stochastic rounding would stop)")
    return int(lfsr)


def initial_neuron_state(params: Params, batch: int) -> NeuronState:
    """Zero state of ``batch`` samples."""
    shape = (batch, params.n_neurons)
    zeros = np.zeros(shape, np.int64)
    return NeuronState(
        u=zeros, v=zeros.copy(), theta=zeros.copy(), refractory_left=zeros.copy(),
        fired=np.zeros(shape, bool), pending=np.zeros((batch, params.n_inputs + params.n_neurons), bool),
        first_spike_step=np.full(shape, -1, np.int64), first_spike_voltage=zeros.copy(),
        spike_count=zeros.copy(), done=np.zeros(batch, bool),
    )


#: Integers up to this magnitude, and every sum of them that stays below it, are exact in float32.
_FLOAT32_EXACT = 1 << 24


def effective_weights(params: Params, synapses: SynapseState) -> np.ndarray:
    """Dense ``[n_sources, n_neurons]`` matrix of ``w << e`` over live synapses (float, exact).

    float32 where every partial sum of a column is exact in float32 (the sum of the
    column's magnitudes is below 2**24), float64 otherwise (exact below 2**53:
    ``|w << e| * fan-in`` is far below). Delivery in float runs on fast matrix kernels.
    """
    matrix = np.zeros((params.n_inputs + params.n_neurons, params.n_neurons), np.int64)
    live = synapses.live
    values = synapses.weight[live] << params.group_exponent[params.synapse_group[live]]
    np.add.at(matrix, (params.synapse_source[live], params.synapse_target[live]), values)
    exact_in_float32 = matrix.size == 0 or np.abs(matrix).sum(axis=0).max() < _FLOAT32_EXACT
    return matrix.astype(np.float32 if exact_in_float32 else np.float64)


def live_synapse_counts(params: Params, synapses: SynapseState) -> np.ndarray:
    """Count the live (stored, not pruned) synapses of each group: int64 ``[n_groups]``."""
    return np.bincount(params.synapse_group[synapses.live], minlength=params.group_exponent.size).astype(np.int64)


def fanout_counts(params: Params, synapses: SynapseState) -> tuple[np.ndarray, np.ndarray]:
    """Live and pruned synapses per source (for the activity counters)."""
    n_sources = params.n_inputs + params.n_neurons
    live = np.bincount(params.synapse_source[synapses.live], minlength=n_sources)
    pruned = np.bincount(params.synapse_source[~synapses.live], minlength=n_sources)
    return live.astype(np.int64), pruned.astype(np.int64)


# ---- one step ---------------------------------------------------------------------------

def deliver(weights: np.ndarray, pending: np.ndarray) -> np.ndarray:
    """Synaptic input ``a[b, i]`` of the spikes pending delivery (exact int64).

    ``weights`` comes from :func:`effective_weights`, whose dtype keeps every sum exact,
    so the float matrix product (BLAS) returns integers exactly. The product is small:
    on a machine whose cores are busy, one BLAS thread (``OPENBLAS_NUM_THREADS=1``) is
    several times faster than many (see ``bench/README.md``).
    """
    return (pending.astype(weights.dtype) @ weights).astype(np.int64)


def neuron_step(params: Params, state: NeuronState, synaptic_input: np.ndarray,
                step: int) -> tuple[NeuronState, np.ndarray]:
    """Update every neuron of every active sample once; return the new state and spikes."""
    limit = params.state_max
    all_active = not state.done.any()
    active = ~state.done[:, None]
    u = _saturate(decay(state.u, params.current_decay) + synaptic_input, limit)
    v = _saturate(decay(state.v, params.voltage_decay) + u + params.bias, limit)
    # An option no neuron uses is skipped, not computed with neutral values: the result is the
    # same (refractory counters all 0 and none to start: nothing is held; theta all 0 and no
    # increment: theta stays 0).
    uses_refractory = params.refractory.any() or state.refractory_left.any()
    uses_adaptation = params.adapt_increment.any() or state.theta.any()
    if uses_refractory:
        hold = state.refractory_left > 0
        v = np.where(hold, state.v, v)
    if uses_adaptation:
        theta = decay(state.theta, params.adapt_decay)
        effective_threshold = params.threshold + theta
    else:
        theta, effective_threshold = state.theta, params.threshold
    spikes = v > effective_threshold
    if uses_refractory:
        spikes &= ~hold
    if params.single_spike.any():
        spikes &= ~(params.single_spike & state.fired)
    if not all_active:
        spikes &= active
    if params.reset_subtract.any():
        v_after = np.where(spikes, np.where(params.reset_subtract, v - effective_threshold, 0), v)
    else:
        v_after = np.where(spikes, 0, v)
    if uses_adaptation:
        theta = np.where(spikes, np.minimum(theta + params.adapt_increment, limit), theta)
    refractory_left = state.refractory_left
    if uses_refractory:
        refractory_left = np.where(spikes, params.refractory, np.maximum(refractory_left - 1, 0))
    first = spikes & (state.first_spike_step < 0)
    if not all_active:  # samples that stopped (early exit) keep their state
        u, v_after, theta, refractory_left = (np.where(active, new, old) for new, old in (
            (u, state.u), (v_after, state.v), (theta, state.theta), (refractory_left, state.refractory_left)))
    new = NeuronState(
        u=u,
        v=v_after,
        theta=theta,
        refractory_left=refractory_left,
        fired=state.fired | spikes,
        pending=state.pending,
        first_spike_step=np.where(first, step, state.first_spike_step),
        first_spike_voltage=np.where(first, v, state.first_spike_voltage),
        spike_count=state.spike_count + spikes,
        done=state.done,
    )
    return new, spikes


def decide(params: Params, mode: DecisionMode, state: NeuronState) -> tuple[np.ndarray, np.ndarray]:
    """Return the winner (index in the output population) and the deciding step per sample."""
    out = params.output_slice
    first = state.first_spike_step[:, out]
    voltage = state.v[:, out]
    batch, size = first.shape
    index = np.arange(size)
    by_potential = np.argmax(voltage, axis=1)  # argmax: ties go to the lower index
    spiked = first >= 0
    never = np.iinfo(np.int64).max
    if mode is DecisionMode.MAX_POTENTIAL:
        return by_potential, np.full(batch, -1, np.int64)
    if mode is DecisionMode.FIRST_SPIKE:
        # Order by (first step ascending, voltage at first spike descending, index ascending).
        keys = (index[None, :].repeat(batch, 0), -state.first_spike_voltage[:, out], np.where(spiked, first, never))
    else:
        keys = (index[None, :].repeat(batch, 0), np.where(spiked, first, never), -state.spike_count[:, out])
    winner = np.array([np.lexsort(tuple(k[b] for k in keys))[0] for b in range(batch)], np.int64)
    any_spike = spiked.any(axis=1)
    decision = np.where(any_spike, winner, by_potential)
    step = np.where(any_spike, first[np.arange(batch), decision], -1)
    if mode is DecisionMode.SPIKE_COUNT:
        step = np.where(any_spike, params.timesteps - 1, -1)
    return decision, step


# ---- learning ---------------------------------------------------------------------------

class _Plastic(NamedTuple):
    """Per plastic group: its synapse indices (canonical order) and local traces."""

    group: int
    synapses: np.ndarray
    source_offset: int
    target_offset: int


def _plastic_groups(network: Network, params: Params, enabled: Sequence[bool]) -> list[_Plastic]:
    plastic = []
    for index, group in enumerate(network.groups):
        if group.learning is not None and enabled[index]:
            plastic.append(_Plastic(index, np.flatnonzero(params.synapse_group == index),
                                    network.source_offset(group.source), network.neuron_offset(group.target)))
    return plastic


def _rshift(numerator: int, shift: int, stochastic: bool, lfsr: int) -> tuple[int, int]:
    """Shift right (floor); with stochastic rounding add an LFSR draw first."""
    if stochastic:
        lfsr = lfsr_next(lfsr)
        numerator += lfsr & ((1 << shift) - 1)
    return numerator >> shift, lfsr


def _count_update(synapses: SynapseState, k: int, pruning) -> None:
    """Advance the pruning counter of synapse ``k`` after an update (in place)."""
    if pruning is None:
        return
    if abs(int(synapses.weight[k])) <= pruning.threshold:
        synapses.prune_count[k] += 1
        if synapses.prune_count[k] >= pruning.patience:
            synapses.live[k] = False
    else:
        synapses.prune_count[k] = 0


class _Traces(NamedTuple):
    pre: list  #: per plastic group, int64 [source size]
    post: list
    eligibility: np.ndarray  #: [n_synapses]


class LearningWalk(NamedTuple):
    """One group's pass over its synapses, as :func:`learn_recorded` reports it (no semantics).

    The core walks a group's synapses once per pass; how long that takes depends on the
    live synapses when the pass starts (:mod:`spikestream.model.cycles`).
    """

    step: int  #: timestep after which the PAIR pass ran, or -1: the end-of-sample pass (of a TTFS
    #: or reward-modulated PAIR group; at reward 0 a PAIR group's pass only clears its eligibilities)
    group: int  #: group index
    live: np.ndarray  #: bool [n_synapses], canonical order: live synapses before the pass
    live_after: np.ndarray  #: bool [n_synapses]: live synapses after it


def _pair_step(network: Network, params: Params, plastic: list[_Plastic], synapses: SynapseState,
               traces: _Traces, source_spikes: np.ndarray, lfsr: int, core: CoreConfig,
               walks: list | None = None, timestep: int = 0) -> tuple[int, int]:
    """Apply the PAIR rule after one step (batch of one, in place); return (updates, lfsr).

    ``walks``, when given, receives a :class:`LearningWalk` per group whose synapses are visited.
    """
    updates = 0
    for p_index, p in enumerate(plastic):
        group = network.groups[p.group]
        rule = group.learning
        if rule.kind is not LearningKind.PAIR:
            continue
        pre_spikes = source_spikes[p.source_offset:p.source_offset + traces.pre[p_index].size]
        post_spikes = source_spikes[params.n_inputs + p.target_offset:
                                    params.n_inputs + p.target_offset + traces.post[p_index].size]
        x = traces.pre[p_index]
        y = traces.post[p_index]
        x_decayed = x - (x >> rule.trace_decay_shift)
        y_decayed = y - (y >> rule.trace_decay_shift)
        x[:] = np.minimum(x_decayed + rule.pre_increment * pre_spikes, core.trace_max)
        y[:] = np.minimum(y_decayed + rule.post_increment * post_spikes, core.trace_max)
        if not (pre_spikes.any() or post_spikes.any()):
            continue
        before = synapses.live.copy() if walks is not None else None
        for k in p.synapses:
            if not synapses.live[k]:
                continue
            j = params.synapse_source[k] - p.source_offset
            i = params.synapse_target[k] - p.target_offset
            ltp, ltd = bool(post_spikes[i]), bool(pre_spikes[j])
            if not (ltp or ltd):
                continue
            w = int(synapses.weight[k])
            delta = 0
            if ltp:
                numerator = rule.a_plus * int(x[j]) * ((rule.w_max - w) if rule.soft_bound else 1)
                step, lfsr = _rshift(numerator, rule.shift, rule.stochastic_rounding, lfsr)
                delta += step
            if ltd:
                numerator = rule.a_minus * int(y_decayed[i]) * ((w - rule.w_min) if rule.soft_bound else 1)
                step, lfsr = _rshift(numerator, rule.shift, rule.stochastic_rounding, lfsr)
                delta -= step
            if rule.reward_modulated:
                traces.eligibility[k] = np.clip(traces.eligibility[k] + delta, -core.eligibility_max,
                                                core.eligibility_max)
            else:
                synapses.weight[k] = min(max(w + delta, rule.w_min), rule.w_max)
                _count_update(synapses, k, group.pruning)
                updates += 1
        if walks is not None:
            walks.append(LearningWalk(timestep, p.group, before, synapses.live.copy()))
    return updates, lfsr


def _end_of_sample(network: Network, params: Params, plastic: list[_Plastic], synapses: SynapseState,
                   traces: _Traces, state: NeuronState, pre_first: np.ndarray, winner: int, reward: int,
                   lfsr: int, walks: list | None = None) -> tuple[int, int]:
    """Apply the TTFS rule and reward-modulated updates of one sample (in place).

    ``walks``, when given, receives a :class:`LearningWalk` (step -1) per group whose
    synapses can change here: TTFS groups and reward-modulated PAIR groups (not at reward 0).
    """
    updates = 0
    post_first = state.first_spike_step[0]
    winner_neuron = params.output_slice.start + winner
    for p in plastic:
        group = network.groups[p.group]
        rule = group.learning
        if rule.reward_modulated and reward == 0:
            if walks is not None and rule.kind is LearningKind.PAIR:
                # No update; the core still walks the group to clear its eligibilities.
                walks.append(LearningWalk(-1, p.group, synapses.live.copy(), synapses.live.copy()))
            continue
        recorded = walks is not None and (rule.kind is LearningKind.TTFS or rule.reward_modulated)
        before = synapses.live.copy() if recorded else None
        for k in p.synapses:
            if not synapses.live[k]:
                continue
            w = int(synapses.weight[k])
            if rule.kind is LearningKind.PAIR:
                if not rule.reward_modulated:
                    continue
                delta = int(traces.eligibility[k])
            else:
                target = params.synapse_target[k]
                tq = post_first[target]
                if tq < 0 or (rule.winner_only and target != winner_neuron):
                    continue
                tp = pre_first[params.synapse_source[k]]
                if 0 <= tp <= tq:
                    numerator = rule.a_plus * ((rule.w_max - w) if rule.soft_bound else 1)
                    magnitude, lfsr = _rshift(numerator, rule.shift, rule.stochastic_rounding, lfsr)
                    delta = magnitude
                else:
                    numerator = rule.a_minus * ((w - rule.w_min) if rule.soft_bound else 1)
                    magnitude, lfsr = _rshift(numerator, rule.shift, rule.stochastic_rounding, lfsr)
                    delta = -magnitude
            if rule.reward_modulated:
                delta *= reward
            synapses.weight[k] = min(max(w + delta, rule.w_min), rule.w_max)
            _count_update(synapses, k, group.pruning)
            updates += 1
        if recorded:
            walks.append(LearningWalk(-1, p.group, before, synapses.live.copy()))
    return updates, lfsr


# ---- running samples --------------------------------------------------------------------

def queue_admit(inputs: np.ndarray, spikes: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of one step's sources the event queue takes: ``(inputs, spikes)`` admitted.

    ``inputs`` ``bool [..., n_inputs]`` and ``spikes`` ``bool [..., n_neurons]`` are the
    step's input events and neuron spikes; the queue takes ``depth`` of them, input events
    first in channel order, then spikes in neuron order.

    >>> queue_admit(np.array([True, True, False]), np.array([True, False, True]), 3)
    (array([ True,  True, False]), array([ True, False, False]))
    """
    accepted = inputs & (np.cumsum(inputs, axis=-1) <= depth)
    room = depth - accepted.sum(axis=-1, keepdims=True)
    return accepted, spikes & (np.cumsum(spikes, axis=-1) <= room)


def _run_batch(network: Network, core: CoreConfig, params: Params, inputs: np.ndarray, synapses: SynapseState,
               learning: bool, rewards: Sequence[int] | None,
               learning_enabled: Sequence[bool] | None, walks: list | None = None) -> tuple[SampleResult, SynapseState]:
    batch = inputs.shape[0]
    steps = params.timesteps
    weights = effective_weights(params, synapses)
    live_fanout, pruned_fanout = fanout_counts(params, synapses)
    state = initial_neuron_state(params, batch)
    spikes_out = np.zeros((batch, steps, params.n_neurons), bool)
    counters = np.zeros((batch, steps, len(Counter)), np.int64)
    steps_run = np.zeros(batch, np.int64)
    drops = queue_can_drop(network, core)
    early_exit = network.decision.early_exit
    enabled = [True] * len(network.groups) if learning_enabled is None else list(learning_enabled)
    plastic = _plastic_groups(network, params, enabled) if learning else []
    lfsr = synapses.lfsr
    traces = _Traces([np.zeros(network.source_size(network.groups[p.group].source), np.int64) for p in plastic],
                     [np.zeros(network.population(network.groups[p.group].target).size, np.int64) for p in plastic],
                     np.zeros(synapses.weight.size, np.int64))
    pre_first = np.full(params.n_inputs + params.n_neurons, -1, np.int64)
    out = params.output_slice
    for t in range(steps):
        active = ~state.done
        if not active.any():
            break
        pending = state.pending & active[:, None]
        counters[:, t, Counter.EVENTS] = pending.sum(axis=1)
        counters[:, t, Counter.SYNAPTIC_OPS] = pending @ live_fanout  # bool @ int64: exact integer sums
        counters[:, t, Counter.SYNAPSES_SKIPPED] = pending @ pruned_fanout
        state, spikes = neuron_step(params, state, deliver(weights, pending), t)
        counters[:, t, Counter.NEURON_UPDATES] = np.where(active, params.n_neurons, 0)
        counters[:, t, Counter.SPIKES] = spikes.sum(axis=1)
        spikes_out[:, t] = spikes
        steps_run += active
        sent = inputs[:, t] & active[:, None]
        if drops:
            accepted, delivered = queue_admit(sent, spikes, core.event_queue_depth)
            counters[:, t, Counter.INPUTS_DROPPED] = sent.sum(axis=1) - accepted.sum(axis=1)
            counters[:, t, Counter.SPIKES_DROPPED] = spikes.sum(axis=1) - delivered.sum(axis=1)
        else:  # the queue holds every source: nothing to drop, the drop counters stay 0
            accepted, delivered = sent, spikes
        # Learning sees every spike of the step, delivered or not (the events it was sent, the spikes it made).
        source_spikes = np.concatenate([accepted, spikes], axis=1)
        if plastic:
            pre_first = np.where((pre_first < 0) & source_spikes[0], t, pre_first)
            updates, lfsr = _pair_step(network, params, plastic, synapses, traces, source_spikes[0], lfsr, core,
                                       walks, t)
            counters[0, t, Counter.LEARNING_UPDATES] = updates
            if updates:
                weights = effective_weights(params, synapses)
                live_fanout, pruned_fanout = fanout_counts(params, synapses)
        done = state.done
        if early_exit:
            done = done | spikes[:, out].any(axis=1)
        # A sample that stopped earlier keeps its state, pending spikes included (frozen at early exit).
        state = state._replace(pending=np.where(active[:, None], np.concatenate([accepted, delivered], axis=1),
                                                state.pending), done=done)
    decision, decision_step = decide(params, network.decision.mode, state)
    end_updates = np.zeros(batch, np.int64)
    if plastic:
        reward = 0 if rewards is None else int(rewards[0])
        end_updates[0], lfsr = _end_of_sample(network, params, plastic, synapses, traces, state, pre_first,
                                              int(decision[0]), reward, lfsr, walks)
    synapses = synapses._replace(lfsr=lfsr)
    return SampleResult(spikes_out, counters, steps_run, decision, decision_step, end_updates, state), synapses


def run(network: Network, core: CoreConfig, inputs: np.ndarray, synapses: SynapseState | None = None) -> SampleResult:
    """Run a batch of independent samples (inference only) and return what they produced.

    Parameters
    ----------
    network, core
        The description; ``network`` must fit ``core``.
    inputs : bool array ``[B, timesteps, n_inputs]``
        Input spikes (``[timesteps, n_inputs]`` is a batch of one).
    synapses : SynapseState, optional
        Learned weights and connectivity (default: those of ``network``).
    """
    params = compile_network(network, core)
    inputs = check_spike_batch(inputs, params.timesteps, params.n_inputs)
    synapses = initial_synapse_state(network) if synapses is None else check_synapse_state(network, core, synapses)
    result, _ = _run_batch(network, core, params, inputs, synapses, False, None, None)
    return result


def learning_flags(learning_enabled, samples: int, groups: int) -> np.ndarray:
    """``bool [samples, groups]`` from one flag per group or one such list per sample (0 / 1 / bool only)."""
    try:
        flags = bool_values(learning_enabled, "learning_enabled")
    except ValueError as error:  # also numpy's refusal of ragged lists
        raise ValueError(f"learning_enabled: {error}; expected one 0/1 flag per synapse group ({groups}) or one "
                         f"such list per sample ({samples} x {groups})") from None
    if flags.shape == (groups,):
        return np.broadcast_to(flags, (samples, groups))
    if flags.shape == (samples, groups):
        return flags
    raise ValueError(f"learning_enabled has shape {flags.shape}: expected one flag per synapse group ({groups},) "
                     f"or one such list per sample ({samples}, {groups})")


def learn(network: Network, core: CoreConfig, inputs: np.ndarray, rewards: Sequence[int] | None = None,
          synapses: SynapseState | None = None,
          learning_enabled: Sequence[Sequence[bool]] | Sequence[bool] | None = None
          ) -> tuple[list[SampleResult], SynapseState]:
    """Run samples one after another with learning and pruning on.

    ``rewards[b]`` in {-1, 0, 1} is sent after sample ``b`` (reward-modulated groups).
    ``learning_enabled`` is one flag per group, or one such list per sample.
    Returns one :class:`SampleResult` per sample and the final :class:`SynapseState`.
    """
    results, synapses, _ = learn_recorded(network, core, inputs, rewards, synapses, learning_enabled)
    return results, synapses


def learn_recorded(network: Network, core: CoreConfig, inputs: np.ndarray, rewards: Sequence[int] | None = None,
                   synapses: SynapseState | None = None,
                   learning_enabled: Sequence[Sequence[bool]] | Sequence[bool] | None = None
                   ) -> tuple[list[SampleResult], SynapseState, list[list[LearningWalk]]]:
    """:func:`learn`, also returning per sample the :class:`LearningWalk` of every group pass.

    The walks say which synapses were live when each pass started: what the exact cycle
    model (:func:`spikestream.model.cycles.learning_cycles`) needs. Same semantics as :func:`learn`.
    """
    params = compile_network(network, core)
    inputs = check_spike_batch(inputs, params.timesteps, params.n_inputs)
    synapses = initial_synapse_state(network) if synapses is None else check_synapse_state(network, core, synapses)
    synapses = SynapseState(synapses.weight.copy(), synapses.live.copy(), synapses.prune_count.copy(), synapses.lfsr)
    if rewards is not None:
        rewards = list(rewards)
        # Checked before any cast: 0.5 or 1.7 is not a reward, not a 0 or a 1.
        if len(rewards) != inputs.shape[0] or any(r not in (-1, 0, 1) for r in rewards):
            raise ValueError(f"rewards must be one of -1, 0, 1 per sample ({inputs.shape[0]} samples), got {rewards}")
        rewards = [int(r) for r in rewards]
    flags = None if learning_enabled is None else learning_flags(learning_enabled, inputs.shape[0],
                                                                   len(network.groups))
    results, walks = [], []
    for b in range(inputs.shape[0]):
        enabled = None if flags is None else flags[b]
        reward = None if rewards is None else [rewards[b]]
        sample_walks: list[LearningWalk] = []
        result, synapses = _run_batch(network, core, params, inputs[b:b + 1], synapses, True, reward, enabled,
                                      sample_walks)
        results.append(result)
        walks.append(sample_walks)
    return results, synapses, walks


def network_with_synapses(network: Network, synapses: SynapseState) -> Network:
    """Return ``network`` with learned weights, pruned synapses removed from the masks."""
    table = network.synapses()
    groups = []
    for index, group in enumerate(network.groups):
        mask = group.mask.copy()
        weights = group.weights.copy()
        mine = table.group == index
        pre = table.source[mine] - network.source_offset(group.source)
        post = table.target[mine] - network.neuron_offset(group.target)
        weights[pre, post] = synapses.weight[mine]
        mask[pre, post] = synapses.live[mine]
        groups.append(SynapseGroup(group.source, group.target, weights, mask, group.exponent, group.learning,
                                   group.pruning))
    return network.with_groups(groups)

