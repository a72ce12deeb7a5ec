"""Tiny networks by hand: one-step delivery, decision rules and tie-breaks, early exit, counters."""

import numpy as np

from spikestream.model import (INPUT, CoreConfig, Decision, DecisionMode, Network, Population, SynapseGroup)
from spikestream.model import golden
from spikestream.model.golden import Counter

CORE = CoreConfig()

#: A neuron that spikes exactly in the steps where its synaptic input is positive:
#: du = 4095 makes u the input of this step alone, dv = 4095 forgets v (below 4096).
RELAY = dict(threshold=0, current_decay=4095, voltage_decay=4095)


def chain(extra_groups=(), timesteps=8) -> Network:
    """input -> a -> b -> c, one relay neuron each, plus ``extra_groups``."""
    populations = [Population(name, 1, **RELAY) for name in "abc"]
    groups = [SynapseGroup(INPUT, "a", [[1]]), SynapseGroup("a", "b", [[1]]), SynapseGroup("b", "c", [[1]])]
    return Network(1, populations, groups + list(extra_groups), timesteps, output="c")


def spike_steps(result, neuron: int, sample: int = 0) -> list[int]:
    return np.flatnonzero(result.spikes[sample, :, neuron]).tolist()


def one_input_at(step: int, timesteps: int = 8, channels: int = 1, channel: int = 0) -> np.ndarray:
    inputs = np.zeros((timesteps, channels), bool)
    inputs[step, channel] = True
    return inputs


def test_feedforward_delivers_one_step_after_each_spike():
    result = golden.run(chain(), CORE, one_input_at(0))
    assert [spike_steps(result, k) for k in range(3)] == [[1], [2], [3]]


def test_skip_path_also_takes_one_step():
    result = golden.run(chain([SynapseGroup(INPUT, "c", [[1]])]), CORE, one_input_at(0))
    assert [spike_steps(result, k) for k in range(3)] == [[1], [2], [1, 3]]


def test_recurrent_path_takes_one_step():
    result = golden.run(chain([SynapseGroup("c", "a", [[1]])], timesteps=10), CORE, one_input_at(0, 10))
    # a -> b -> c -> a: a loop of three steps once started.
    assert [spike_steps(result, k) for k in range(3)] == [[1, 4, 7], [2, 5, 8], [3, 6, 9]]


def test_self_recurrent_path_takes_one_step():
    result = golden.run(chain([SynapseGroup("a", "a", [[1]])], timesteps=6), CORE, one_input_at(0, 6))
    assert spike_steps(result, 0) == [1, 2, 3, 4, 5]


def test_nothing_is_delivered_at_step_zero_and_last_step_inputs_do_nothing():
    inputs = np.zeros((8, 1), bool)
    inputs[7] = True
    result = golden.run(chain(), CORE, inputs)
    assert not result.spikes.any()
    assert result.counters[0, :, Counter.EVENTS].sum() == 0


def test_exponent_scales_recurrent_weights_too():
    populations = [Population("a", 1, **RELAY), Population("b", 1, threshold=10**6, current_decay=4095)]
    groups = [SynapseGroup(INPUT, "a", [[1]]), SynapseGroup("a", "b", [[-5]], exponent=7)]
    network = Network(1, populations, groups, timesteps=3, output="b")
    result = golden.run(network, CORE, one_input_at(0, 3))
    assert int(result.state.u[0, 1]) == -5 * 128  # a spikes at 1, delivered to b at 2


def test_counters_by_hand():
    # input -> a, input -> c (skip), a -> b, b -> c; input spikes at steps 0 and 2.
    network = chain([SynapseGroup(INPUT, "c", [[1]])], timesteps=5)
    inputs = np.zeros((5, 1), bool)
    inputs[[0, 2]] = True
    result = golden.run(network, CORE, inputs)
    # Spikes: a at 1, 3; b at 2, 4; c at 1 (skip), 3 (skip and b) .
    assert [spike_steps(result, k) for k in range(3)] == [[1, 3], [2, 4], [1, 3]]
    counters = result.counters[0]
    # step:                                 0  1  2  3  4
    assert counters[:, Counter.EVENTS].tolist() == [0, 1, 2, 2, 2]  # sources that spiked one step earlier
    # input fans out to a and c (2), a to b (1), b to c (1), c to nothing (0).
    assert counters[:, Counter.SYNAPTIC_OPS].tolist() == [0, 2, 1, 3, 1]
    assert counters[:, Counter.SYNAPSES_SKIPPED].tolist() == [0] * 5
    assert counters[:, Counter.NEURON_UPDATES].tolist() == [3] * 5
    assert counters[:, Counter.SPIKES].tolist() == [0, 2, 1, 2, 1]
    assert counters[:, Counter.LEARNING_UPDATES].tolist() == [0] * 5
    assert result.steps_run.tolist() == [5]


# ---- decision rules ------------------------------------------------------------------------

def output_layer(weights, decision: Decision, timesteps: int = 6, threshold: int = 0, voltage_decay: int = 4095):
    """Input channel k drives output neuron k alone with weight ``weights[k]``."""
    size = len(weights)
    out = Population("out", size, threshold=threshold, current_decay=4095, voltage_decay=voltage_decay)
    return Network(size, [out], [SynapseGroup(INPUT, "out", np.diag(weights))], timesteps, "out", decision)


def raster(events, timesteps=6, channels=3) -> np.ndarray:
    inputs = np.zeros((timesteps, channels), bool)
    for step, channel in events:
        inputs[step, channel] = True
    return inputs


def decide(network, events):
    result = golden.run(network, CORE, raster(events, network.timesteps, network.n_inputs))
    return int(result.decision[0]), int(result.decision_step[0])


FIRST = Decision(DecisionMode.FIRST_SPIKE)


def test_first_spike_wins():
    assert decide(output_layer([5, 5, 5], FIRST), [(1, 0), (0, 2), (3, 1)]) == (2, 1)


def test_first_spike_tie_goes_to_the_larger_voltage_then_the_lower_index():
    assert decide(output_layer([5, 9, 7], FIRST), [(0, 0), (0, 1), (0, 2)]) == (1, 1)
    assert decide(output_layer([5, 9, 9], FIRST), [(0, 0), (0, 2), (0, 1)]) == (1, 1)
    assert decide(output_layer([4, 4, 4], FIRST), [(2, 2), (2, 1)]) == (1, 3)


def test_first_spike_without_output_spikes_falls_back_to_max_potential():
    # Threshold never reached; dv = 0 integrates: final v = weight x events delivered.
    network = output_layer([3, 5, 2], FIRST, threshold=100, voltage_decay=0)
    assert decide(network, [(0, 0), (1, 0), (0, 1), (0, 2), (1, 2), (2, 2)]) == (0, -1)  # v = 6, 5, 6: tie -> 0
    assert decide(network, [(0, 1), (1, 1)]) == (1, -1)
    assert decide(network, []) == (0, -1)  # all zero: lowest index


def test_spike_count_wins_then_earlier_first_spike_then_lower_index():
    decision = Decision(DecisionMode.SPIKE_COUNT)
    network = output_layer([5, 5, 5], decision)
    assert decide(network, [(0, 0), (1, 1), (2, 1), (3, 2)]) == (1, 5)  # counts 1, 2, 1
    assert decide(network, [(2, 0), (3, 0), (1, 1), (4, 1)]) == (1, 5)  # tie 2-2: neuron 1 fired first
    assert decide(network, [(1, 2), (3, 2), (1, 1), (2, 1)]) == (1, 5)  # tie in count and first step: index
    fallback = output_layer([3, 5, 2], decision, threshold=100, voltage_decay=0)
    assert decide(fallback, [(0, 2), (1, 2), (2, 2)]) == (2, -1)


def test_max_potential_ignores_spikes():
    decision = Decision(DecisionMode.MAX_POTENTIAL)
    network = output_layer([120, 5, 2], decision, threshold=100, voltage_decay=0)
    # Neuron 0 spikes at step 1 and is reset; neurons 1 and 2 keep integrating below threshold.
    assert decide(network, [(0, 0), (0, 1), (1, 1), (2, 2)]) == (1, -1)


# ---- early exit ----------------------------------------------------------------------------

def test_early_exit_stops_after_the_first_output_spike_and_freezes_the_state():
    populations = [Population("hidden", 2, threshold=3, current_decay=100, voltage_decay=200, bias=1),
                   Population("out", 2, threshold=40, current_decay=300, voltage_decay=50)]
    groups = [SynapseGroup(INPUT, "hidden", [[5, 1], [2, 6]], exponent=1),
              SynapseGroup("hidden", "out", [[9, 1], [2, 7]], exponent=1),
              SynapseGroup("out", "hidden", [[1, 0], [0, 1]])]
    exiting = Network(2, populations, groups, timesteps=12, output="out", decision=Decision(early_exit=True))
    full = Network(2, populations, groups, timesteps=12, output="out")
    rng = np.random.default_rng(3)
    inputs = rng.random((3, 12, 2)) < 0.5
    inputs[2] = False  # this sample's output never spikes: it runs all steps
    result = golden.run(exiting, CORE, inputs)
    reference = golden.run(full, CORE, inputs)
    first_output_steps = [np.flatnonzero(reference.spikes[b, :, 2:].any(axis=1)) for b in range(3)]
    assert first_output_steps[0].size and first_output_steps[1].size and not first_output_steps[2].size
    for b in range(3):
        stop = int(first_output_steps[b][0]) + 1 if first_output_steps[b].size else 12
        assert int(result.steps_run[b]) == stop
        assert np.array_equal(result.spikes[b, :stop], reference.spikes[b, :stop])
        assert not result.spikes[b, stop:].any()
        assert not result.counters[b, stop:].any()
        # The frozen state is the state after the last step run: a run of only `stop` steps ends there too.
        short = golden.run(Network(2, populations, groups, timesteps=stop, output="out"), CORE, inputs[b, :stop])
        for name in ("u", "v", "theta", "refractory_left", "spike_count", "first_spike_step"):
            assert np.array_equal(getattr(result.state, name)[b], getattr(short.state, name)[0]), name
        assert int(result.decision[b]) == int(reference.decision[b])
    assert result.state.done.tolist() == [True, True, False]
