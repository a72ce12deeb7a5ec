"""The ``spikestream info`` command, with and without a network file."""

import json
import subprocess
import sys

import numpy as np

from spikestream import cli
from spikestream.model import CoreConfig, save_network
from spikestream.model.generate import RandomNetworkOptions, random_network


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
    core = CoreConfig(max_neurons=64, max_inputs=16, lanes=4)
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
