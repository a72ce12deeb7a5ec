"""``sim.network_run``, a network through the host driver on the simulated core: decisions and whole-sample
cycles equal the golden and cycle models."""

import numpy as np

from spikestream.model import golden
from spikestream.model.cycles import sample_cycles
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.sim.network_run import run_network
from spikestream.sim.cases import SMALL_CORE


def test_rtl_run_equals_golden_decisions_and_cycles():
    rng = np.random.default_rng(11)
    network = random_network(rng, SMALL_CORE, RandomNetworkOptions(max_inputs=6, max_population_size=6,
                                                                   timesteps=(6, 10)))
    inputs = random_inputs(rng, network, 3)
    decisions, cycles = run_network(network, SMALL_CORE, inputs)
    result = golden.run(network, SMALL_CORE, inputs)
    assert decisions.tolist() == result.decision.tolist()
    assert cycles.tolist() == sample_cycles(network, SMALL_CORE, inputs, result).tolist()
