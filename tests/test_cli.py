"""The ``spikestream info`` command, with and without a network file, and its dead-neuron removal."""

import json
import subprocess
import sys

import numpy as np

from spikestream import cli
from spikestream.model import (INPUT, CoreConfig, Network, Population, SynapseGroup, golden, load_network,
                               remove_dead_neurons, save_network)
from spikestream.model.generate import RandomNetworkOptions, random_network

#: A core small enough for hand-built and random test networks.
SMALL_CORE = CoreConfig(max_neurons=64, max_inputs=16, lanes=4)


def run_info(capsys, *arguments) -> tuple[int, str, str]:
    code = cli.main(["info", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_without_a_network_shows_the_default_core(capsys):
    code, out, _ = run_info(capsys)
    assert code == 0
    summary = json.loads(out)
    assert CoreConfig.from_dict(summary["core"]) == CoreConfig()
    assert summary["core_hash"] == f"0x{CoreConfig().hash32():08x}"


def test_info_summarises_a_network_file(capsys, tmp_path):
    core = SMALL_CORE
    network = random_network(np.random.default_rng(5), core, RandomNetworkOptions(learning=True))
    path = tmp_path / "net.spkn"
    save_network(path, network, core)
    code, out, _ = run_info(capsys, str(path))
    assert code == 0
    summary = json.loads(out)
    assert CoreConfig.from_dict(summary["core"]) == core
    assert summary["core_hash"] == f"0x{core.hash32():08x}"
    assert summary["inputs"] == network.n_inputs and summary["timesteps"] == network.timesteps
    assert summary["populations"] == {p.name: p.size for p in network.populations}
    assert summary["stored_synapses"] == network.synapses().count == sum(summary["groups"].values())
    assert summary["output"] == network.output
    assert summary["decision"] == network.decision.mode.value


def test_info_writes_the_network_without_dead_neurons(capsys, tmp_path):
    core = SMALL_CORE
    rng = np.random.default_rng(11)
    # hidden[3] has no fan-in and hidden[2] no fan-out: both are dead.
    network = Network(2, [Population("hidden", 4, threshold=30), Population("out", 2, threshold=30)],
                      [SynapseGroup(INPUT, "hidden", [[40, 0, 40, 0], [0, 40, 0, 0]]),
                       SynapseGroup("hidden", "out", [[40, 0], [0, 40], [0, 0], [40, 40]])], 12, "out")
    path, out = tmp_path / "net.spkn", tmp_path / "deployed.spkn"
    save_network(path, network, core)
    (tmp_path / "net.spkn.json").write_text('{"classes": ["a"]}')
    code, printed, _ = run_info(capsys, str(path), "--remove-dead-neurons", str(out))
    assert code == 0
    summary = json.loads(printed)
    expected, _ = remove_dead_neurons(network)
    assert summary["dead_neurons"] == network.n_neurons - expected.n_neurons == 2
    assert summary["written"] == {"path": str(out), "neurons": expected.n_neurons,
                                  "stored_synapses": expected.synapses().count}
    loaded, loaded_core = load_network(out)
    assert loaded == expected and loaded_core == core
    assert json.loads((tmp_path / "deployed.spkn.json").read_text()) == {
        "classes": ["a"], "dead_neurons_removed": {"from": str(path), "neurons": 2}}
    inputs = rng.random((4, network.timesteps, network.n_inputs)) < 0.3
    assert np.array_equal(golden.run(loaded, core, inputs).decision, golden.run(network, core, inputs).decision)


def test_info_will_not_overwrite_its_input_or_keep_a_stale_sidecar(capsys, tmp_path):
    core = SMALL_CORE
    network = Network(1, [Population("out", 2, threshold=5)], [SynapseGroup(INPUT, "out", [[9, 0]])], 4, "out")
    path = tmp_path / "net.spkn"
    save_network(path, network, core)
    before = path.read_bytes()
    code, out, err = run_info(capsys, str(path), "--remove-dead-neurons", str(tmp_path / "." / "net.spkn"))
    assert code == 2 and out == "" and "write to another file than the network" in err
    assert path.read_bytes() == before
    stale = tmp_path / "other.spkn.json"
    stale.write_text("{}")
    code, _, _ = run_info(capsys, str(path), "--remove-dead-neurons", str(tmp_path / "other.spkn"))
    assert code == 0 and not stale.exists()  # no sidecar to copy: none that describes another network


def test_info_will_not_remove_neurons_of_a_learning_network(capsys, tmp_path):
    core = SMALL_CORE
    network = random_network(np.random.default_rng(5), core, RandomNetworkOptions(learning=True))
    assert any(g.plastic for g in network.groups)
    path = tmp_path / "net.spkn"
    save_network(path, network, core)
    code, out, err = run_info(capsys, str(path), "--remove-dead-neurons", str(tmp_path / "out.spkn"))
    assert code == 2 and out == ""
    assert err.startswith("spikestream info: remove_dead_neurons is for inference networks")
    assert not (tmp_path / "out.spkn").exists()


def test_info_refuses_a_damaged_file_with_one_line(capsys, tmp_path):
    path = tmp_path / "bad.spkn"
    path.write_bytes(b"SPKNET\r\n" + b"\0" * 10)
    code, out, err = run_info(capsys, str(path))
    assert code == 2 and out == ""
    assert err.strip() == f"spikestream info: {path} is truncated: 18 bytes, the header alone is 52"
    code, _, err = run_info(capsys, str(tmp_path / "missing.spkn"))
    assert code == 2 and "No such file or directory" in err


def test_entry_point_runs_as_a_module():
    completed = subprocess.run([sys.executable, "-m", "spikestream.cli", "info"], capture_output=True, text=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "core_hash" in json.loads(completed.stdout)
