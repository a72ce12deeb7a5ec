"""remove_dead_neurons: the kept neurons behave exactly as in the whole network, and the work shrinks."""

import numpy as np
import pytest

from spikestream.model import (INPUT, CoreConfig, Decision, DecisionMode, LearningKind, LearningRule, Network,
                               NetworkError, Population, SynapseGroup, cycles, golden, remove_dead_neurons,
                               unused_inputs)
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network

CORE = CoreConfig()


def _pruned(rng: np.random.Generator, network: Network) -> Network:
    """Remove most stored synapses at random, so that some neurons lose all their fan-in or fan-out."""
    keep = rng.uniform(0.05, 0.5)
    groups = [SynapseGroup(g.source, g.target, g.weights, g.stored_mask & (rng.random(g.mask.shape) < keep), g.exponent)
              for g in network.groups]
    return network.with_groups(groups)


@pytest.mark.parametrize("seed", range(40))
def test_kept_neurons_spike_as_in_the_whole_network(seed):
    rng = np.random.default_rng(seed)
    network = _pruned(rng, random_network(rng, CORE, RandomNetworkOptions(max_population_size=16)))
    compact, kept = remove_dead_neurons(network)
    inputs = random_inputs(rng, network, 6)
    whole, alone = golden.run(network, CORE, inputs), golden.run(compact, CORE, inputs)
    assert np.array_equal(whole.decision, alone.decision)
    assert np.array_equal(whole.decision_step, alone.decision_step)
    assert np.array_equal(whole.steps_run, alone.steps_run)
    assert np.array_equal(whole.spikes[:, :, kept], alone.spikes)
    for field in ("u", "v", "theta", "refractory_left", "first_spike_step", "spike_count"):
        assert np.array_equal(getattr(whole.state, field)[:, kept], getattr(alone.state, field)), field
    # Removed neurons either never spike or reach nothing that is kept.
    removed = np.setdiff1d(np.arange(network.n_neurons), kept)
    table = network.synapses()
    for neuron in removed:
        if whole.spikes[:, :, neuron].any():
            targets = table.target[table.source == network.n_inputs + neuron]
            assert not np.isin(targets, kept).any(), f"removed neuron {neuron} spikes into a kept neuron"
    # The output population is whole, the numbering keeps the order, and work never grows.
    assert compact.population(compact.output).size == network.population(network.output).size
    assert np.all(np.diff(kept) > 0)
    assert compact.synapses().count <= network.synapses().count
    work = cycles.sample_cycles(compact, CORE, inputs, alone)
    assert np.all(work <= cycles.sample_cycles(network, CORE, inputs, whole))
    # Events of channels without synapses change nothing in inference either.
    sent = inputs & ~unused_inputs(compact)
    lean = golden.run(compact, CORE, sent)
    assert np.array_equal(lean.spikes, alone.spikes) and np.array_equal(lean.decision, alone.decision)
    assert np.array_equal(lean.state.v, alone.state.v)


def test_random_pruned_networks_lose_neurons():
    """The property test above is not vacuous: most of its networks do lose neurons."""
    losing = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        network = _pruned(rng, random_network(rng, CORE, RandomNetworkOptions(max_population_size=16)))
        losing += remove_dead_neurons(network)[0].n_neurons < network.n_neurons
    assert losing >= 20


def _chain(bias=0) -> Network:
    """input(2) -> a(3) -> b(2) -> out(2); a[2] has no fan-in, b[1] no fan-out, out[1] no fan-in."""
    populations = [Population("a", 3, threshold=10, bias=[0, 0, bias]), Population("b", 2, threshold=10),
                   Population("out", 2, threshold=10)]
    groups = [SynapseGroup(INPUT, "a", [[20, 20, 0], [0, 20, 0]]),
              SynapseGroup("a", "b", [[20, 0], [0, 20], [20, 20]]),
              SynapseGroup("b", "out", [[20, 0], [0, 0]])]
    return Network(2, populations, groups, 8, "out", Decision(DecisionMode.MAX_POTENTIAL))


def test_which_neurons_are_dead():
    compact, kept = remove_dead_neurons(_chain())
    # a[1] feeds only b[1], which reaches nothing; a[2] cannot spike; out[1] stays (outputs are whole).
    assert kept.tolist() == [0, 3, 5, 6]
    assert [(p.name, p.size) for p in compact.populations] == [("a", 1), ("b", 1), ("out", 2)]
    assert [g.name for g in compact.groups] == ["input->a", "a->b", "b->out"]
    assert compact.synapses().count == 3


def test_inputs_left_without_synapses():
    network = _chain()
    assert unused_inputs(network).tolist() == [False, False]
    compact, _ = remove_dead_neurons(network)
    assert unused_inputs(compact).tolist() == [False, True]  # input 1 fed only a[1], which is gone


def test_a_positive_bias_can_spike_without_input():
    _, kept = remove_dead_neurons(_chain(bias=5))
    assert kept.tolist() == [0, 2, 3, 5, 6]  # a[2] (bias 5) drives b[0]


def test_an_empty_population_is_dropped_with_its_groups():
    network = _chain().with_groups([SynapseGroup(INPUT, "a", np.zeros((2, 3), np.int64)),
                                    SynapseGroup("a", "b", [[20, 0], [0, 20], [20, 20]]),
                                    SynapseGroup(INPUT, "out", [[5, 0], [0, 5]])])
    compact, kept = remove_dead_neurons(network)
    assert [p.name for p in compact.populations] == ["out"]
    assert [g.name for g in compact.groups] == ["input->out"]
    assert kept.tolist() == [5, 6]


def test_learning_networks_are_refused():
    network = _chain()
    rule = LearningRule(kind=LearningKind.PAIR, a_plus=1, a_minus=1)
    network = network.with_groups([SynapseGroup(g.source, g.target, g.weights, g.mask, g.exponent,
                                                rule if g.target == "out" else None) for g in network.groups])
    with pytest.raises(NetworkError, match=r"groups \['b->out'\] have learning rules"):
        remove_dead_neurons(network)


def test_a_core_whose_queue_can_drop_events_is_refused():
    """On a queue shorter than the sources a removed neuron's spikes took slots: removing it could
    change which events the core drops, so the result would not be exact."""
    network = _chain()
    short = CoreConfig(event_queue_depth=network.n_sources - 1)
    with pytest.raises(NetworkError, match=rf"event queue holds {network.n_sources - 1} events, fewer than the "
                                           rf"network's {network.n_sources} sources"):
        remove_dead_neurons(network, short)
    exact = remove_dead_neurons(network, CoreConfig(event_queue_depth=network.n_sources))
    assert exact[1].tolist() == remove_dead_neurons(network)[1].tolist()
