"""Import and export NIR graphs (Neuromorphic Intermediate Representation, ``nir`` 1.0).

Supported nodes: ``Input``, ``Output``, ``Linear`` / ``Affine`` (synapse groups),
``CubaLIF``, ``LIF`` and ``IF`` (populations). Anything else (convolutions, pooling,
flatten, delays, thresholds, nested graphs) raises :class:`NirUnsupported` naming the
node, since the core cannot run it.

Discretisation (forward Euler with step ``dt``, as snnTorch's exporter assumes): a
``CubaLIF`` with ``alpha = 1 - dt/tau_syn`` and ``beta = 1 - dt/tau_mem`` is the core's
neuron with ``du + 1 = 4096 dt/tau_syn`` and ``dv = 4096 dt/tau_mem``; the input gain
``w_in dt/tau_syn * r dt/tau_mem`` (1 for snnTorch's ``w_in = tau_syn/dt``,
``r = tau_mem/dt``) is folded into the incoming weights. A ``LIF`` has an instantaneous
current (``du = 4095``) and gain ``r dt/tau``; an ``IF`` also has no leak (``dv = 0``)
and gain ``r dt``. ``v_leak`` becomes the voltage bias ``v_leak * dv / 4096``.

Scaling: a population's incoming weights and its threshold are multiplied by one factor
(its spikes do not change), chosen so that its largest threshold becomes ``unit``
state units; weights are then rounded to int8 mantissas with a per-group exponent.
Graphs written by :func:`to_nir` are already in state units (their neuron nodes carry
``spikestream_reset`` metadata) and are read back unscaled, so the round trip is exact.

What differs from a float simulator: every synapse of the core delivers one step after
the spike (so a chain of ``k`` layers adds ``k`` steps of latency), states are integers,
and the reset is to zero (``v_reset`` must be 0). NIR has no subtractive reset; the
export of a network with ``reset = subtract`` says so in the node metadata
(``{"spikestream_reset": "subtract"}``) and import honours it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..config import DECAY_UNITY, CoreConfig, is_finite_number
from ..network import INPUT, Decision, DecisionMode, Network, Population, ResetMode, SynapseGroup

__all__ = ["NirUnsupported", "DEFAULT_DT", "to_nir", "from_nir"]

#: snnTorch's ``export_to_nir`` uses dt = 1e-4 s.
DEFAULT_DT = 1e-4
#: Relative shortfall of a time constant below ``dt`` still read as ``dt`` (float32 rounding of exporters).
TAU_TOLERANCE = 1e-6


class NirUnsupported(ValueError):
    """A NIR graph uses something the core cannot run."""


def _tau(decay_fraction: np.ndarray, dt: float) -> np.ndarray:
    """Time constant of a per-step decay fraction (``inf`` for no decay)."""
    with np.errstate(divide="ignore"):
        return np.where(decay_fraction > 0, dt / np.maximum(decay_fraction, 1e-300), np.inf)


def to_nir(network: Network, dt: float = DEFAULT_DT):
    """Return a ``nir.NIRGraph`` of ``network`` (state units: weights ``w << e``, thresholds as integers)."""
    import nir

    nodes = {"input": nir.Input(input_type=np.array([network.n_inputs]))}
    for p in network.populations:
        du = (p.current_decay + 1) / DECAY_UNITY
        dv = p.voltage_decay / DECAY_UNITY
        metadata = {"spikestream_reset": p.reset.value}
        if np.any(p.adapt_increment) or np.any(p.refractory) or p.single_spike:
            raise NirUnsupported(f"population {p.name!r} uses adaptation, refractory or single-spike mode, "
                                 f"which NIR's CubaLIF/LIF/IF cannot express")
        if np.any(p.bias != 0) and np.any(p.voltage_decay == 0):
            raise NirUnsupported(f"population {p.name!r} has a bias on a neuron without voltage decay "
                                 f"(NIR v_leak needs a leak)")
        tau_syn = _tau(du, dt)
        tau_mem = _tau(dv, dt)
        v_leak = np.where(p.voltage_decay > 0, p.bias * DECAY_UNITY / np.maximum(p.voltage_decay, 1), 0.0)
        # Gains of 1 per step: w_in dt/tau_syn = 1 and r dt/tau_mem = 1 (snnTorch's convention).
        finite_mem = np.isfinite(tau_mem)
        r = np.where(finite_mem, tau_mem / dt, 1.0 / dt)
        threshold = p.threshold.astype(np.float64)
        if np.all(p.current_decay == DECAY_UNITY - 1) and np.all(finite_mem):
            nodes[p.name] = nir.LIF(tau=tau_mem, r=r, v_leak=v_leak, v_threshold=threshold,
                                    v_reset=np.zeros(p.size), metadata=metadata)
        elif np.all(p.current_decay == DECAY_UNITY - 1) and not np.any(finite_mem):
            nodes[p.name] = nir.IF(r=r, v_threshold=threshold, v_reset=np.zeros(p.size), metadata=metadata)
        else:
            if not np.all(finite_mem):
                raise NirUnsupported(f"population {p.name!r} mixes a current decay with no voltage decay "
                                     f"(CubaLIF needs a finite tau_mem)")
            nodes[p.name] = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=v_leak, w_in=tau_syn / dt,
                                        v_threshold=threshold, v_reset=np.zeros(p.size), metadata=metadata)
    def free(name: str) -> str:
        """``name``, or with underscores appended until no node has it (a population may be called "output")."""
        while name in nodes:
            name += "_"
        return name

    edges = []
    for index, g in enumerate(network.groups):
        name = free(f"g{index}_{g.source}_{g.target}")
        weight = (np.where(g.mask, g.weights, 0) * float(1 << g.exponent)).T  # NIR: [out, in]
        nodes[name] = nir.Linear(weight=weight)
        edges += [(g.source, name), (name, g.target)]
    output = free("output")
    nodes[output] = nir.Output(output_type=np.array([network.population(network.output).size]))
    edges.append((network.output, output))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _positive(name: str, what: str, value, low: float = 0.0) -> np.ndarray:
    """``value`` as float64, refused unless every entry is finite and above ``low``."""
    array = np.asarray(value, np.float64)
    bad = ~np.isfinite(array) | (array <= low)
    if np.any(bad):
        raise NirUnsupported(f"neuron node {name!r}: {what} = {array[bad].flat[0]}, expected a finite number > {low:g}")
    return array


def _gain_and_decays(name: str, node, kind: str, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-neuron (input gain, du, dv, voltage bias) of a neuron node.

    Time constants below ``dt`` would decay more than the whole state in one step, and a
    zero or negative one or resistance flips or cancels every weight: refused, not clipped.
    """
    for field in ("tau_syn", "tau_mem", "tau"):
        if hasattr(node, field):
            tau = _positive(name, field, getattr(node, field))
            # Relative tolerance: snnTorch writes tau = dt / (1 - alpha) in float32, a hair below dt for alpha = 0.
            short = tau < dt * (1 - TAU_TOLERANCE)
            if np.any(short):
                raise NirUnsupported(f"neuron node {name!r}: {field} = {tau[short].flat[0]} is shorter than the "
                                     f"step dt = {dt}; the core decays at most the whole state per step")
    for field in ("r", "w_in"):
        if hasattr(node, field):
            _positive(name, field, getattr(node, field))
    if not np.all(np.isfinite(np.asarray(getattr(node, "v_leak", 0.0), np.float64))):
        raise NirUnsupported(f"neuron node {name!r}: v_leak is not finite")
    if kind == "CubaLIF":
        tau_syn = np.asarray(node.tau_syn, np.float64)
        tau_mem = np.asarray(node.tau_mem, np.float64)
        gain = np.asarray(node.w_in, np.float64) * dt / tau_syn * np.asarray(node.r, np.float64) * dt / tau_mem
        du = np.rint(DECAY_UNITY * dt / tau_syn) - 1
        dv = np.rint(DECAY_UNITY * dt / tau_mem)
        leak = np.asarray(node.v_leak, np.float64)
    elif kind == "LIF":
        tau_mem = np.asarray(node.tau, np.float64)
        gain = np.asarray(node.r, np.float64) * dt / tau_mem
        du = np.full_like(tau_mem, DECAY_UNITY - 1)
        dv = np.rint(DECAY_UNITY * dt / tau_mem)
        leak = np.asarray(node.v_leak, np.float64)
    else:  # IF
        r = np.asarray(node.r, np.float64)
        gain = r * dt
        du = np.full_like(r, DECAY_UNITY - 1)
        dv = np.zeros_like(r)
        leak = np.zeros_like(r)
    du, dv = (np.clip(x, 0, DECAY_UNITY - 1).astype(np.int64) for x in (du, dv))
    return gain, du, dv, leak * dv / DECAY_UNITY


def from_nir(graph, core: CoreConfig = CoreConfig(), dt: float = DEFAULT_DT, unit: int = 4096, timesteps: int = 64,
             decision: Decision = Decision(DecisionMode.SPIKE_COUNT), approximate_bias: bool = False) -> Network:
    """Build a :class:`Network` from a ``nir.NIRGraph`` (see the module docstring for the mapping).

    Parameters
    ----------
    graph : nir.NIRGraph
    core : CoreConfig
        The network must fit it (a :class:`~spikestream.model.network.NetworkDoesNotFit` says why not).
    dt : float
        Euler step of the graph's time constants (snnTorch: 1e-4).
    unit : int
        State units of each population's largest threshold.
    timesteps : int
        Sample length of the network.
    decision : Decision
        Decision rule of the output population.
    approximate_bias : bool
        Allow ``Affine`` biases into ``CubaLIF`` neurons, mapped to their steady-state
        voltage bias ``b / (1 - alpha)`` (the transient differs); otherwise an error.
    """
    import nir

    for what, value in (("dt", dt), ("unit", unit)):
        if not is_finite_number(value) or value <= 0:
            raise ValueError(f"{what} = {value!r}, expected a finite number > 0")
    neuron_kinds = {nir.CubaLIF: "CubaLIF", nir.LIF: "LIF", nir.IF: "IF"}
    populations: dict[str, tuple] = {}
    synapses: dict[str, object] = {}
    inputs = []
    outputs = []
    for name, node in graph.nodes.items():
        kind = type(node)
        if kind in neuron_kinds:
            populations[name] = (node, neuron_kinds[kind])
        elif kind in (nir.Linear, nir.Affine):
            synapses[name] = node
        elif kind is nir.Input:
            inputs.append(name)
        elif kind is nir.Output:
            outputs.append(name)
        else:
            raise NirUnsupported(f"NIR node {name!r} is a {kind.__name__}; the core runs only Input, Output, "
                                 f"Linear, Affine, CubaLIF, LIF and IF")
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirUnsupported(f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes; the core has one each")
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for source, target in graph.edges:
        outgoing.setdefault(source, []).append(target)
        incoming.setdefault(target, []).append(source)
    input_name, output_name = inputs[0], outputs[0]
    n_inputs = int(np.prod(np.asarray(graph.nodes[input_name].input_type["input"])))
    order = [name for name in graph.nodes if name in populations]  # NIR keeps insertion order
    feeding_output = [s for s in incoming.get(output_name, [])]
    if len(feeding_output) != 1 or feeding_output[0] not in populations:
        raise NirUnsupported(f"the Output node must be fed by exactly one neuron node, got {feeding_output}")
    output_population = feeding_output[0]
    # Population names must be identifiers other than "input".
    names = {name: (f"n_{name}" if not name.isidentifier() or name == INPUT else name) for name in order}
    sizes, params = {}, {}
    for name in order:
        node, kind = populations[name]
        gain, du, dv, leak_bias = _gain_and_decays(name, node, kind, dt)
        threshold = np.asarray(node.v_threshold, np.float64).reshape(-1)
        if not np.all(np.isfinite(threshold)) or np.any(threshold < 0):
            raise NirUnsupported(f"neuron node {name!r}: thresholds must be finite and >= 0, got "
                                 f"{threshold[~np.isfinite(threshold) | (threshold < 0)][:3]}")
        size = threshold.size
        gain, du, dv, leak_bias = (np.broadcast_to(x, (size,)).astype(x.dtype) for x in (gain, du, dv, leak_bias))
        reset = getattr(node, "v_reset", None)
        if reset is not None and np.any(np.asarray(reset) != 0):
            raise NirUnsupported(f"neuron node {name!r} resets to {np.asarray(reset).ravel()[:3]}; the core resets "
                                 f"to 0 (or subtracts the threshold)")
        sizes[name], params[name] = size, dict(gain=gain, du=du, dv=dv, leak=leak_bias, threshold=threshold,
                                               kind=kind, reset=node.metadata.get("spikestream_reset", "zero"),
                                               native="spikestream_reset" in node.metadata)
    groups_raw = []
    for name, node in synapses.items():
        sources, targets = incoming.get(name, []), outgoing.get(name, [])
        if len(sources) != 1 or len(targets) != 1:
            raise NirUnsupported(f"synapse node {name!r} has {len(sources)} inputs and {len(targets)} outputs; "
                                 f"the core needs one of each")
        source, target = sources[0], targets[0]
        if target not in populations:
            raise NirUnsupported(f"synapse node {name!r} feeds {target!r}, which is not a neuron node")
        if source != input_name and source not in populations:
            raise NirUnsupported(f"synapse node {name!r} is fed by {source!r}, which is neither the Input nor a "
                                 f"neuron node (chained linear layers cannot run on the core)")
        weight = np.asarray(node.weight, np.float64)
        bias = np.asarray(getattr(node, "bias", np.zeros(weight.shape[:1])), np.float64)
        expected = (sizes[target], n_inputs if source == input_name else sizes[source])
        if weight.shape != expected:
            raise NirUnsupported(f"synapse node {name!r} ({source!r} -> {target!r}) has weight shape {weight.shape} "
                                 f"[out, in], expected {expected}")
        if bias.shape != expected[:1]:
            raise NirUnsupported(f"synapse node {name!r} has bias shape {bias.shape}, expected {expected[:1]}")
        if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
            raise NirUnsupported(f"synapse node {name!r} has weights or biases that are not finite")
        groups_raw.append((source, target, weight.T, bias))
    for source, target in graph.edges:
        if source in populations and target in populations:
            raise NirUnsupported(f"edge {source!r} -> {target!r} connects neurons without a Linear/Affine node")
    # Scale each population so that its largest threshold is `unit` state units.
    scale = {}
    for name in order:
        largest = float(np.max(np.abs(params[name]["threshold"])))
        if params[name]["native"]:
            scale[name] = 1.0  # written by to_nir: already in state units, keep it bit for bit
        else:
            scale[name] = unit / largest if largest > 0 else float(unit)
    bias_total = {name: np.zeros(sizes[name]) for name in order}
    groups = []
    for source, target, weight, bias in groups_raw:
        p = params[target]
        effective = weight * p["gain"][None, :] * scale[target]
        if np.any(bias != 0):
            if p["kind"] == "CubaLIF":
                if not approximate_bias:
                    raise NirUnsupported(f"an Affine bias into CubaLIF node {target!r} is a constant current, which "
                                         f"the core does not have (its bias adds to the voltage); use Linear "
                                         f"layers, or approximate_bias=True")
                alpha = 1.0 - (p["du"] + 1) / DECAY_UNITY
                bias_total[target] += bias * p["gain"] * scale[target] / np.maximum(1.0 - alpha, 1e-9)
            else:
                bias_total[target] += bias * p["gain"] * scale[target]
        expected = (n_inputs if source == input_name else sizes[source], sizes[target])
        if effective.shape != expected:
            raise NirUnsupported(f"synapse {source!r} -> {target!r} has weight shape {effective.shape[::-1]} "
                                 f"[out, in], expected {expected[::-1]}")
        # The smallest exponent whose mantissas fit [weight_min, weight_max]: the range is not symmetric
        # (-128 .. 127), so -128 << e needs exponent e, not e + 1 (which would halve every odd weight).
        reach = max(float(np.max(effective, initial=0.0)) / (core.weight_max + 0.5),
                    float(np.min(effective, initial=0.0)) / (core.weight_min - 0.5))
        exponent = max(0, math.ceil(math.log2(reach))) if reach > 0 else 0
        if exponent > core.max_weight_exponent:
            raise NirUnsupported(f"weights of {source!r} -> {target!r} need exponent {exponent}, above the core's "
                                 f"{core.max_weight_exponent}; use a smaller unit")
        mantissa = np.clip(np.rint(effective / float(1 << exponent)), core.weight_min, core.weight_max).astype(np.int64)
        lost = int(np.sum((mantissa == 0) & (effective != 0)))
        if lost:
            warnings.warn(f"{lost} of the {int(np.sum(effective != 0))} nonzero weights of {source!r} -> {target!r} "
                          f"round to 0 at exponent {exponent} ({core.weight_bits}-bit weights); a network that needs "
                          f"them wants a larger unit or wider weights", stacklevel=2)
        groups.append(SynapseGroup(INPUT if source == input_name else names[source], names[target], mantissa,
                                   exponent=exponent))
    population_list = []
    for name in order:
        p = params[name]
        bias = p["leak"] * scale[name] + bias_total[name]
        population_list.append(Population(
            names[name], sizes[name], threshold=np.rint(p["threshold"] * scale[name]).astype(np.int64),
            current_decay=p["du"], voltage_decay=p["dv"], bias=np.rint(bias).astype(np.int64),
            reset=ResetMode(p["reset"])))
    network = Network(n_inputs, population_list, groups, timesteps, names[output_population], decision)
    network.check_fits(core)
    return network
