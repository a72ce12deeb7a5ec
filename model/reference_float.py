"""An independent float64 model of the core's neuron dynamics, for cross-checking.

It implements the equations of :mod:`spikestream.model.golden` with real arithmetic
instead of fixed point: decays are exact multiplications by ``(4096 - d) / 4096`` (no
truncation toward zero) and states neither saturate nor wrap. It shares no code with
the golden model: it reads the :class:`~spikestream.model.network.Network` description
directly (dense weight matrices per group, its own loops), so a mistake in the golden
model's synapse table, delivery or neuron update does not repeat itself here.

Inference only (no learning, no pruning): learning rules are defined by integer
arithmetic and have no meaningful float counterpart.

How far the two models may differ
---------------------------------
Each truncating decay in the golden model is off from the exact product by less than 1
(one unit in the last place), toward zero. While both models spike at the same steps,
the integer and float states differ by at most (``alpha = 1 - (du + 1)/4096``,
``beta = 1 - dv/4096``, ``gamma = 1 - dth/4096``)::

    E_u(t)     = alpha * E_u(t-1)     + 1           # one truncation per step
    E_theta(t) = gamma * E_theta(t-1) + 1
    E_v(t)     = beta  * E_v(t-1)     + 1 + E_u(t)  # its own truncation + the error of u

with ``E(0) = 0`` (:func:`error_bound`). A reset to zero removes the voltage error; a
subtractive reset carries it over (plus ``E_theta``); a step held by the refractory
period keeps it. The bound is exact arithmetic, not an estimate, so membrane traces of
networks that do not spike (or spike identically) must stay inside it. Spike times can
differ when a voltage comes within ``E_v`` of the threshold; on networks whose states
are large compared with ``E_v`` (weights scaled by an exponent of 6 or more, as lava
does) they rarely do (see ``tests/test_golden_reference.py`` for the measured rate).

>>> import numpy as np
>>> from spikestream.model import CoreConfig, Network, Population, SynapseGroup
>>> network = Network(1, [Population("out", 1, threshold=10**6, current_decay=2048)],
...                   [SynapseGroup("input", "out", [[3]], exponent=6)], timesteps=3, output="out")
>>> trace = simulate(network, np.array([[1], [0], [0]], bool))
>>> trace.u[0, :, 0].tolist()  # 192 delivered at step 1, then halved (minus 1/4096) each step
[0.0, 192.0, 95.953125]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .encoding import spike_values
from .network import INPUT, Network, ResetMode

__all__ = ["FloatTrace", "simulate", "error_bound"]

_UNITY = 4096.0  # decay constants are fractions of 4096 (12 bits)


class FloatTrace(NamedTuple):
    """Per-step states and spikes of a batch, shapes ``[B, T, N]`` (after each step)."""

    u: np.ndarray
    v: np.ndarray  #: voltage after the reset of that step
    theta: np.ndarray
    spikes: np.ndarray  #: bool


def _dense_weights(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Return input->neuron and neuron->neuron matrices of effective weights ``w * 2**e``."""
    offsets, start = {}, 0
    for population in network.populations:
        offsets[population.name] = start
        start += population.size
    from_inputs = np.zeros((network.n_inputs, start))
    from_neurons = np.zeros((start, start))
    for group in network.groups:
        scaled = np.where(group.mask, group.weights, 0).astype(np.float64) * 2.0 ** group.exponent
        columns = slice(offsets[group.target], offsets[group.target] + scaled.shape[1])
        if group.source == INPUT:
            from_inputs[:, columns] += scaled
        else:
            rows = slice(offsets[group.source], offsets[group.source] + scaled.shape[0])
            from_neurons[rows, columns] += scaled
    return from_inputs, from_neurons


def _parameter(network: Network, name: str) -> np.ndarray:
    return np.concatenate([np.asarray(getattr(p, name), np.float64) for p in network.populations])


def simulate(network: Network, inputs: np.ndarray) -> FloatTrace:
    """Run ``inputs`` (``bool [B, T, n_inputs]`` or ``[T, n_inputs]``) through ``network`` in float64.

    Every synapse delivers one step after its source spiked; no early exit (the trace
    covers every step).
    """
    inputs = spike_values(inputs)
    if inputs.ndim == 2:
        inputs = inputs[None]
    batch, steps, _ = inputs.shape
    from_inputs, from_neurons = _dense_weights(network)
    n = from_neurons.shape[0]
    keep_u = 1.0 - (_parameter(network, "current_decay") + 1.0) / _UNITY
    keep_v = 1.0 - _parameter(network, "voltage_decay") / _UNITY
    keep_theta = 1.0 - _parameter(network, "adapt_decay") / _UNITY
    threshold = _parameter(network, "threshold")
    bias = _parameter(network, "bias")
    jump = _parameter(network, "adapt_increment")
    refractory = _parameter(network, "refractory")
    subtract = np.concatenate([np.full(p.size, p.reset is ResetMode.SUBTRACT) for p in network.populations])
    single = np.concatenate([np.full(p.size, p.single_spike) for p in network.populations])

    u, v, theta, hold_left = (np.zeros((batch, n)) for _ in range(4))
    fired = np.zeros((batch, n), bool)
    last_spikes = np.zeros((batch, n), bool)
    trace = FloatTrace(*(np.zeros((batch, steps, n)) for _ in range(3)), np.zeros((batch, steps, n), bool))
    for t in range(steps):
        synaptic_input = np.zeros((batch, n))
        if t > 0:
            synaptic_input = inputs[:, t - 1].astype(np.float64) @ from_inputs + last_spikes @ from_neurons
        u = keep_u * u + synaptic_input
        holding = hold_left > 0
        v = np.where(holding, v, keep_v * v + u + bias)
        theta = keep_theta * theta
        level = threshold + theta
        spikes = (v > level) & ~holding & ~(single & fired)
        v = np.where(spikes, np.where(subtract, v - level, 0.0), v)
        theta = np.where(spikes, theta + jump, theta)
        hold_left = np.where(spikes, refractory, np.maximum(hold_left - 1, 0))
        fired |= spikes
        last_spikes = spikes
        trace.u[:, t], trace.v[:, t], trace.theta[:, t], trace.spikes[:, t] = u, v, theta, spikes
    return trace


def error_bound(network: Network, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(E_u, E_v)``, ``[steps, N]``: how far golden ``u``/``v`` may be from float ones.

    Valid while neither model spikes (or both spike identically with reset to zero) and
    nothing saturates; see the module docstring for the recurrence.
    """
    alpha = 1.0 - (_parameter(network, "current_decay") + 1.0) / _UNITY
    beta = 1.0 - _parameter(network, "voltage_decay") / _UNITY
    error_u = np.zeros((steps, alpha.size))
    error_v = np.zeros((steps, alpha.size))
    previous_u = previous_v = np.zeros(alpha.size)
    for t in range(steps):
        previous_u = alpha * previous_u + 1.0
        previous_v = beta * previous_v + 1.0 + previous_u
        error_u[t], error_v[t] = previous_u, previous_v
    return error_u, error_v
