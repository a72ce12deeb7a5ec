"""The cycle model on hand-derived cases (the RTL is checked against it in test_rtl_core)."""

from __future__ import annotations

import numpy as np

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.cycles import end_cycles, readback_cycles, source_costs, step_cycles, update_cycles
from spikestream.model.network import INPUT, Network, Population, SynapseGroup

CORE = CoreConfig(max_neurons=32, max_inputs=8, max_synapses=256, lanes=2, neuron_lanes=1)


def _network(weights: np.ndarray, threshold: int = 10_000) -> Network:
    population = Population("a", weights.shape[1], threshold=threshold)
    return Network(weights.shape[0], [population], [SynapseGroup(INPUT, "a", weights)], 3, "a")


def test_step_cycles_by_hand():
    # Input 0 reaches all 5 neurons (3 rows of 2 lanes); input 1 has no stored synapse (1 cycle).
    weights = np.zeros((2, 5), np.int64)
    weights[0] = [1, 2, 3, 4, 5]
    network = _network(weights)
    assert source_costs(network, CORE).tolist() == [3, 1] + [1] * 5
    inputs = np.zeros((3, 2), bool)
    inputs[0] = True
    result = golden.run(network, CORE, inputs)
    # step 0: nothing to deliver (1) + update 5 + 5 + trailer 6; step 1: 4 + (3 + 1) + 16.
    assert step_cycles(network, CORE, inputs, result).tolist() == [[17, 24, 17]]
    assert end_cycles(network) == 5 + 2 + 5
    assert readback_cycles(network) == 1 + 5 * 5


def test_silent_sources_and_zero_weights_cost_nothing():
    dense = _network(np.full((8, 30), 3, np.int64))
    silent = np.zeros((3, 8), bool)
    result = golden.run(dense, CORE, silent)
    assert step_cycles(dense, CORE, silent, result).tolist() == [[1 + 30 + 11] * 3]
    # Zero weights are not stored: a one-spike step costs the same as a fan-out of one row.
    sparse = np.zeros((8, 30), np.int64)
    sparse[0, :2] = 1
    network = _network(sparse)
    one = np.zeros((3, 8), bool)
    one[0, 0] = True
    result = golden.run(network, CORE, one)
    assert step_cycles(network, CORE, one, result)[0, 1] == 4 + 1 + 30 + 11


def test_cycles_scale_with_lanes():
    weights = np.ones((4, 32), np.int64)
    network = _network(weights)
    inputs = np.zeros((3, 4), bool)
    inputs[0] = True
    for lanes, rows in ((1, 32), (2, 16), (8, 4), (32, 1)):
        core = CoreConfig(max_neurons=32, max_inputs=8, max_synapses=256, lanes=lanes, neuron_lanes=4)
        result = golden.run(network, core, inputs)
        assert step_cycles(network, core, inputs, result)[0, 1] == 4 + 4 * rows + 32 // 4 + 11


def test_spikes_leave_one_per_cycle():
    # 8 neurons in groups of 4 (2 groups; quiet update 2 + 5 = 7 cycles).
    assert update_cycles(8, 4, np.array([], np.int64)) == 7
    # One spike in group 0: leaves at cycle 5, update ends at 7.
    assert update_cycles(8, 4, np.array([0])) == 7
    # All 8 spike: leave at 5 .. 12, update ends at 14.
    assert update_cycles(8, 4, np.arange(8)) == 14
    # Spikes in group 1 only: the first can leave at 6; three of them leave at 6, 7, 8.
    assert update_cycles(8, 4, np.array([4, 5, 7])) == 10


def test_learning_cycles_by_hand():
    """A PAIR group on 2 inputs x 2 neurons (one row per input at 2 lanes); pruning at the first update."""
    from spikestream.model.cycles import learning_cycles
    from spikestream.model.network import LearningRule, PruningRule

    group = SynapseGroup(INPUT, "a", np.full((2, 2), 5, np.int64), learning=LearningRule(a_minus=16, shift=0),
                         pruning=PruningRule(threshold=127, patience=1))
    network = Network(2, [Population("a", 2, threshold=10_000)], [group], 3, "a")
    inputs = np.zeros((1, 3, 2), bool)
    inputs[0, 0, 0] = inputs[0, 2, 1] = True
    results, final, cycles = learning_cycles(network, CORE, inputs)
    # learn(t) = select 1 + (select 1 + trace ceil(max(2, 2) / 8) + 1 + [spike] (7 + sum_s max(1, R_s))).
    # Step 0: input 0 spikes: walk 7 + 1 + 1 = 9, its 2 synapses are updated and pruned.
    # Step 1: delivery of input 0 reads no row (4 + 1), no spike in the group: learn 4.
    # Step 2: input 1 spikes: walk 7 + max(1, 0) + 1 = 9 (input 0's fan-out is empty now).
    assert CORE.trace_lanes == 8
    update = 2 + 5
    assert cycles[0].steps.tolist() == [1 + update + 13 + 6, 5 + update + 4 + 6, 1 + update + 13 + 6]
    assert cycles[0].learned == 1 + 5 and cycles[0].end == end_cycles(network)
    assert results[0].counters[0, :, golden.Counter.LEARNING_UPDATES].tolist() == [2, 0, 2]
    assert final.live.tolist() == [False, False, False, False]


def test_step_cycles_name_a_raster_that_does_not_match_the_result():
    import pytest

    network = Network(2, [Population("o", 1, threshold=10)], [SynapseGroup(INPUT, "o", np.ones((2, 1), int))], 3, "o")
    inputs = np.zeros((1, 3, 2), bool)
    result = golden.run(network, CORE, inputs)
    with pytest.raises(ValueError, match=r"inputs have shape \(1, 3, 3\).* expected \(1, 3, 2\)"):
        step_cycles(network, CORE, np.zeros((1, 3, 3), bool), result)
