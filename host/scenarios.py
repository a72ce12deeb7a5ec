"""Driver sessions that run unchanged on every backend and report JSON (for cross-backend checks).

A scenario is a blocking function ``scenario(chip: SpikeCore, **arguments) -> dict``
whose arguments and result are JSON (arrays and networks travel as file paths). It runs
directly on the golden or board backend, and inside the simulator through
:func:`spikestream.host.simulation.run_scenario`; comparing the dicts compares the backends.
"""

from __future__ import annotations

import time

import numpy as np

from spikestream.model.fileformat import load_network

from .driver import CoreMismatch, SpikeCore

__all__ = ["inference_report", "identity_report", "session_report"]


def inference_report(chip: SpikeCore, network_path: str, inputs_path: str, repeat_load: bool = True) -> dict:
    """Load a network file, run the rasters of an ``.npy`` file, read states and counters.

    With ``repeat_load`` the network is loaded twice and the batch run after each load,
    to check that a load fully replaces the previous one.
    """
    network, core = load_network(network_path)
    inputs = np.load(inputs_path)
    chip.clear_counters()
    report = {}
    for attempt in range(2 if repeat_load else 1):
        chip.load(network, core)
        batch = chip.run(inputs, read_state=True)
        report[f"run{attempt}"] = {
            "decisions": batch.decisions.tolist(), "decision_steps": batch.decision_steps.tolist(),
            "steps_run": batch.steps_run.tolist(), "spike_events": np.argwhere(batch.spikes).tolist(),
            "step_cycles": batch.step_cycles.tolist(), "sample_cycles": batch.sample_cycles.tolist(),
            "events": batch.events.tolist(), "synaptic_ops": batch.synaptic_ops.tolist(),
            "states": batch.states.tolist(),
        }
    counters = chip.counters()
    report["counters"] = {name: counters[name] for name in ("synaptic_ops", "events_in", "events_out",
                                                            "dropped_packets")}
    report["errors"] = chip.errors()
    report["status"] = chip.status()
    report["state_after"] = chip.read_state().tolist()
    report["synapse_rows"] = chip.read_synapse_rows().tolist()
    report["weights_checked"] = int(chip.synapses().weight.size)
    return report


def identity_report(chip: SpikeCore, network_path: str, other_core: dict) -> dict:
    """Try to load a network on a core of configuration ``other_core``; report the refusal."""
    from spikestream.model.config import CoreConfig

    network, _ = load_network(network_path)
    try:
        chip.load(network, CoreConfig.from_dict(other_core))
    except CoreMismatch as error:
        return {"refused": True, "message": str(error)}
    return {"refused": False, "message": ""}


def session_report(chip: SpikeCore, network_path: str, inputs_path: str, other_core: dict) -> dict:
    """:func:`identity_report` for ``other_core`` (refused), then :func:`inference_report`, in one session."""
    started = time.perf_counter()
    report = {"identity": identity_report(chip, network_path, other_core), **inference_report(chip, network_path,
                                                                                             inputs_path)}
    report["host_seconds"] = time.perf_counter() - started
    return report
