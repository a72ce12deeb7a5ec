"""Property-based tests of the golden model (hypothesis; modest example counts, < 60 s in all)."""

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikestream.model import INPUT, CoreConfig, LearningKind, LearningRule, Network, Population, SynapseGroup
from spikestream.model import golden
from spikestream.model.encoding import ttfs_encode, ttfs_latency
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network

CORE = CoreConfig(max_neurons=40, max_inputs=12)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def draw_network(seed: int, **options) -> tuple[np.random.Generator, Network]:
    rng = np.random.default_rng(seed)
    return rng, random_network(rng, CORE, RandomNetworkOptions(max_population_size=10, **options))


@SETTINGS
@given(seeds)
def test_silence_in_silence_out(seed):
    rng, network = draw_network(seed)
    quiet = [dataclasses.replace(p, bias=0) for p in network.populations]
    network = Network(network.n_inputs, quiet, network.groups, network.timesteps, network.output, network.decision)
    result = golden.run(network, CORE, np.zeros((2, network.timesteps, network.n_inputs), bool))
    assert not result.spikes.any()
    assert not result.state.u.any() and not result.state.v.any()
    assert not result.counters[..., golden.Counter.SYNAPTIC_OPS].any()


def extreme(network: Network, rng: np.random.Generator) -> Network:
    """Every weight at an int8 extreme, every exponent at the core's maximum."""
    groups = []
    for group in network.groups:
        weights = np.where(rng.random(group.weights.shape) < 0.5, CORE.weight_max, CORE.weight_min)
        groups.append(SynapseGroup(group.source, group.target, weights, group.mask, CORE.max_weight_exponent))
    populations = [dataclasses.replace(p, bias=rng.choice([-CORE.state_max, 0, CORE.state_max])) for p in
                   network.populations]
    return Network(network.n_inputs, populations, groups, network.timesteps, network.output, network.decision)


@SETTINGS
@given(seeds)
def test_saturation_never_wraps(seed):
    rng, network = draw_network(seed)
    network = extreme(network, rng)
    params = golden.compile_network(network, CORE)
    weights = golden.effective_weights(params, golden.initial_synapse_state(network))
    inputs = random_inputs(rng, network, 3, rate=0.6)
    state = golden.initial_neuron_state(params, 3)
    limit = CORE.state_max
    for step in range(network.timesteps):
        previous = state
        state, spikes = golden.neuron_step(params, state, golden.deliver(weights, state.pending), step)
        for value in (state.u, state.v):
            assert np.all(np.abs(value) <= limit)
        assert np.all((state.theta >= 0) & (state.theta <= limit))
        # No wrap: a state that did not spike keeps the sign its exact update had.
        exact_u = golden.decay(previous.u, params.current_decay) + golden.deliver(weights, previous.pending)
        assert np.array_equal(state.u, np.clip(exact_u, -limit, limit))
        state = state._replace(pending=np.concatenate([inputs[:, step], spikes], axis=1))


@SETTINGS
@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=8), st.integers(0, 4095))
def test_decay_matches_exact_truncation_toward_zero(values, d):
    x = np.array(values, np.int64)
    expected = [int(v * (4096 - d) / 4096) if abs(v * (4096 - d)) < 2**52 else
                (abs(v * (4096 - d)) >> 12) * (1 if v >= 0 else -1) for v in values]
    assert golden.decay(x, np.int64(d)).tolist() == expected


# ---- STDP ---------------------------------------------------------------------------------

def single_pair(rule: LearningRule, weight: int, pre_step: int, post_step: int):
    """Input channel 0 -> relay pre -> (plastic) -> post, driven by channel 1; one pre and one post spike."""
    populations = [Population("pre", 1, threshold=0, current_decay=4095, voltage_decay=4095),
                   Population("post", 1, threshold=200, current_decay=4095, voltage_decay=4095)]
    groups = [SynapseGroup(INPUT, "pre", [[1], [0]]), SynapseGroup(INPUT, "post", [[0], [127]], exponent=2),
              SynapseGroup("pre", "post", [[weight]], learning=rule)]
    network = Network(2, populations, groups, 12, "post")
    inputs = np.zeros((12, 2), bool)
    inputs[pre_step - 1, 0] = True
    inputs[post_step - 1, 1] = True
    _, synapses = golden.learn(network, CORE, inputs[None])
    return int(synapses.weight[-1])


stdp_rules = st.builds(
    LearningRule, kind=st.sampled_from(list(LearningKind)), a_plus=st.integers(0, 255), a_minus=st.integers(0, 255),
    shift=st.integers(0, 12), soft_bound=st.booleans(), w_min=st.integers(-128, 0), w_max=st.integers(0, 127),
    pre_increment=st.integers(0, 255), post_increment=st.integers(0, 255), trace_decay_shift=st.integers(1, 8),
    stochastic_rounding=st.booleans())


@SETTINGS
@given(stdp_rules, st.data(), st.integers(1, 10), st.integers(1, 10))
def test_stdp_sign_and_clamp_bounds(rule, data, pre_step, post_step):
    weight = data.draw(st.integers(rule.w_min, rule.w_max))
    learned = single_pair(rule, weight, pre_step, post_step)
    assert rule.w_min <= learned <= rule.w_max
    if pre_step <= post_step:
        assert learned >= weight  # causal (or simultaneous) pair: never depressed
    else:
        assert learned <= weight  # anti-causal pair: never potentiated


@SETTINGS
@given(seeds)
def test_pruning_only_ever_removes(seed):
    rng, network = draw_network(seed, learning=True, pruning=True)
    synapses = golden.initial_synapse_state(network)
    for _ in range(4):
        inputs = random_inputs(rng, network, 1, rate=0.4)
        _, learned = golden.learn(network, CORE, inputs, rewards=[int(rng.integers(-1, 2))], synapses=synapses)
        assert not np.any(learned.live & ~synapses.live)  # live set is monotone: nothing comes back
        assert np.array_equal(learned.weight[~synapses.live], synapses.weight[~synapses.live])  # frozen
        table = network.synapses()
        for index, group in enumerate(network.groups):
            if group.learning is not None:
                mine = table.group == index
                assert np.all((learned.weight[mine] >= group.learning.w_min)
                              & (learned.weight[mine] <= group.learning.w_max))
        synapses = learned


@SETTINGS
@given(seeds, st.integers(1, 5))
def test_batch_equals_loop_over_samples(seed, batch):
    rng, network = draw_network(seed)
    inputs = random_inputs(rng, network, batch)
    together = golden.run(network, CORE, inputs)
    for b in range(batch):
        alone = golden.run(network, CORE, inputs[b])
        for name in ("spikes", "counters", "steps_run", "decision", "decision_step"):
            assert np.array_equal(getattr(together, name)[b], getattr(alone, name)[0]), name
        for name in golden.NeuronState._fields:
            assert np.array_equal(getattr(together.state, name)[b], getattr(alone.state, name)[0]), name


# ---- TTFS encoder -------------------------------------------------------------------------

intensities = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=20)


@SETTINGS
@given(intensities, st.integers(1, 100))
def test_ttfs_encoder_is_monotone(values, window):
    x = np.array(values)
    latency = ttfs_latency(x, window)
    assert np.all((latency >= -1) & (latency < window))
    assert np.array_equal(latency < 0, x == 0)  # zero is silent, anything else spikes
    order = np.argsort(x, kind="stable")
    spiking = order[x[order] > 0]
    assert np.all(np.diff(latency[spiking]) <= 0)  # stronger is no later
    raster = ttfs_encode(x, window)
    assert raster.shape == (window, x.size)
    assert np.array_equal(raster.sum(axis=0), (x > 0).astype(int))  # at most one spike per channel
    assert np.array_equal(np.where(raster.any(axis=0), raster.argmax(axis=0), -1), latency)


# ---- differential: the vectorised model against a deliberately naive integer loop ----------

def truncating_decay(x: int, d: int) -> int:
    product = x * (4096 - d)
    return product // 4096 if product >= 0 else -((-product) // 4096)


def naive_inference(network: Network, sample: np.ndarray) -> tuple[np.ndarray, list[int], list[int], int]:
    """One neuron and one synapse at a time, in Python ints, straight from the docstring's equations.

    Returns spikes ``[T, N]``, final ``u`` and ``v``, and the number of steps run (early exit).
    """
    n, limit = network.n_neurons, CORE.state_max
    fanout = {}
    for group in network.groups:
        for pre, post in zip(*np.nonzero(group.stored_mask)):
            fanout.setdefault(network.source_offset(group.source) + int(pre), []).append(
                (network.neuron_offset(group.target) + int(post), int(group.weights[pre, post]) << group.exponent))
    p = {name: network.neuron_parameter(name).tolist() for name in Population.PARAMETERS}
    subtract = [pop.reset.value == "subtract" for pop in network.populations for _ in range(pop.size)]
    single = [pop.single_spike for pop in network.populations for _ in range(pop.size)]
    output = range(network.neuron_offset(network.output), network.neuron_offset(network.output)
                   + network.population(network.output).size)
    u, v, theta, hold, fired = [0] * n, [0] * n, [0] * n, [0] * n, [False] * n
    spikes = np.zeros((network.timesteps, n), bool)
    pending: list[int] = []
    for t in range(network.timesteps):
        current = [0] * n
        for source in pending:
            for target, value in fanout.get(source, []):
                current[target] += value
        for i in range(n):
            u[i] = max(-limit, min(limit, truncating_decay(u[i], p["current_decay"][i] + 1) + current[i]))
            if hold[i] == 0:
                v[i] = max(-limit, min(limit, truncating_decay(v[i], p["voltage_decay"][i]) + u[i] + p["bias"][i]))
            theta[i] = truncating_decay(theta[i], p["adapt_decay"][i])
            level = p["threshold"][i] + theta[i]
            if v[i] > level and hold[i] == 0 and not (single[i] and fired[i]):
                spikes[t, i] = fired[i] = True
                v[i] = v[i] - level if subtract[i] else 0
                theta[i] = min(theta[i] + p["adapt_increment"][i], limit)
                hold[i] = p["refractory"][i]
            else:
                hold[i] = max(hold[i] - 1, 0)
        pending = [c for c in range(network.n_inputs) if sample[t, c]] + \
                  [network.n_inputs + i for i in range(n) if spikes[t, i]]
        if network.decision.early_exit and any(spikes[t, i] for i in output):
            return spikes, u, v, t + 1
    return spikes, u, v, network.timesteps


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_vectorised_model_equals_a_naive_loop(seed):
    rng, network = draw_network(seed)
    inputs = random_inputs(rng, network, 3)
    result = golden.run(network, CORE, inputs)
    for b in range(3):
        spikes, u, v, steps = naive_inference(network, inputs[b])
        assert int(result.steps_run[b]) == steps
        assert np.array_equal(result.spikes[b], spikes)
        assert result.state.u[b].tolist() == u and result.state.v[b].tolist() == v
