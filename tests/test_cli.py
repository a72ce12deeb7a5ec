"""The ``spikestream`` command line: ``info`` (with and without a network file, dead-neuron removal), bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

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


def test_bad_input_is_one_line_without_a_traceback(capsys, tmp_path):
    """Errors from bad files or values end the command with exit 2 and one line; -v shows the traceback."""
    code = cli.main(["eval", str(tmp_path / "missing.spkn"), "digits"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("spikestream eval: error: [Errno 2] No such file or directory") and "-v shows" in err
    rasters = tmp_path / "rasters.npz"
    np.savez(rasters, spikes=np.zeros((2, 3, 4), bool))
    path = tmp_path / "net.spkn"
    network = Network(4, [Population("out", 2, threshold=50)], [SynapseGroup(INPUT, "out", np.full((4, 2), 10))], 3,
                      "out")
    save_network(path, network, CoreConfig())
    assert cli.main(["eval", str(path), str(rasters)]) == 2
    assert "has no inputs or labels array; expected inputs [N, T, C], labels [N]" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        cli.main(["-v", "eval", str(tmp_path / "missing.spkn"), "digits"])


def test_info_refuses_remove_dead_neurons_without_a_network(capsys, tmp_path):
    code, out, err = run_info(capsys, "--remove-dead-neurons", str(tmp_path / "out.spkn"))
    assert code == 2 and out == "" and "--remove-dead-neurons needs a network file" in err
    assert not (tmp_path / "out.spkn").exists()


def test_data_commands_check_their_options_first(capsys, cli_refusal):
    assert cli.main(["data", "build", "--holdout-engine", "festvial"]) == 2
    assert ("--holdout-engine festvial: expected one of ['espeak-ng', 'festival', 'flite'] or 'none'"
            in capsys.readouterr().err)
    for option in ("--workers", "--max-speakers"):
        assert f"argument {option}: expected a whole number >= 1, got 0" in cli_refusal(["data", "build", option, "0"])
    assert cli.main(["data", "info", "no/such/dataset"]) == 2
    assert "no/such/dataset: no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["demo", "--quick", "--rtl-samples=-1"], "argument --rtl-samples: expected a whole number >= 0, got -1"),
    (["demo", "--threads", "x"], "argument --threads: expected a whole number >= 0, got 'x'"),
    (["eval", "n.spkn", "digits", "--limit", "0"], "argument --limit: expected a whole number >= 1, got 0"),
    (["eval", "n.spkn", "digits", "--classes=-1"], "argument --classes: expected a whole number >= 1, got -1"),
    (["train", "digits", "--out", "x.spkn", "--search=-2"], "argument --search: expected a whole number >= 0, got -2"),
])
def test_counts_are_checked_when_parsed(cli_refusal, arguments, message):
    assert message in cli_refusal(arguments)


def test_core_options_read_json_text_or_files(tmp_path):
    import argparse

    path = tmp_path / "core.json"
    path.write_text('{"lanes": 4}')
    assert cli.core_config(str(path)) == cli.core_config('{"lanes": 4}') == CoreConfig(lanes=4)
    assert cli.core_fields(str(path)) == {"lanes": 4}
    for text, message in ((str(tmp_path / "missing.json"), "cannot read"), ("[1]", r"cannot read \[1\]"),
                          ("{lanes: 4}", "is not valid JSON"), ('{"lanes": 0}', "the JSON text: lanes")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            cli.core_config(text)
    assert cli.whole_number(1)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number >= 1, got 0"):
        cli.whole_number(1)("0")
