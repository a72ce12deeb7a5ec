"""Run a network on the Verilator simulation of the core, through the unchanged host driver.

The twin of the ``rtl`` backend of ``spikestream eval``
(:func:`spikestream.sim.stream_player.run_network`, which streams words from a Verilog
wrapper for speed): here the network and the input rasters go through the host driver to
the simulated core over its real AXI interfaces (:mod:`spikestream.host.simulation`), and
the decisions and cycles come back from the core's own SUMMARY and STEP reports.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from spikestream.model.config import CoreConfig
from spikestream.model.cycles import input_cycles
from spikestream.model.encoding import check_spike_batch
from spikestream.model.fileformat import load_network, save_network
from spikestream.model.network import Network

__all__ = ["run_network", "decisions_report"]


def decisions_report(chip, network_path: str, inputs_path: str) -> dict:
    """Driver scenario: load a network file, run the rasters of an ``.npy`` file, report per sample."""
    network, core = load_network(network_path)
    inputs = np.load(inputs_path)
    chip.load(network, core)
    batch = chip.run(inputs)
    return {"decisions": batch.decisions.tolist(), "steps_run": batch.steps_run.tolist(),
            "compute_cycles": batch.sample_cycles.tolist(), "errors": chip.errors()}


def run_network(network: Network, core: CoreConfig, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run ``inputs`` (``bool [B, timesteps, n_inputs]``) on the simulated core.

    Returns the decisions and the cycles of every sample, defined as in
    :func:`spikestream.model.cycles.sample_cycles`: the steps and the end of sample as the
    core reported them, plus one cycle per input word it took in (the parser's rate).
    """
    from spikestream.host.simulation import run_scenario

    inputs = check_spike_batch(inputs, network.timesteps, network.n_inputs)
    with tempfile.TemporaryDirectory(prefix="spikestream-rtl-eval-") as work:
        network_path, inputs_path = Path(work) / "network.spkn", Path(work) / "inputs.npy"
        save_network(network_path, network, core)
        np.save(inputs_path, inputs)
        report = run_scenario(core, "spikestream.sim.network_run:decisions_report",
                              {"network_path": str(network_path), "inputs_path": str(inputs_path)}, work_dir=work)
    if report["errors"]:
        raise RuntimeError(f"the simulated core flagged errors while running the samples: {report['errors']}")
    steps_run = report["steps_run"]
    cycles = [input_cycles(inputs[b], steps_run[b]) + report["compute_cycles"][b] for b in range(inputs.shape[0])]
    return np.asarray(report["decisions"], np.int64), np.asarray(cycles, np.int64)
