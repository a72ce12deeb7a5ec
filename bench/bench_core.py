"""Benchmark the spiking core: lane efficiency, inferences per second, simulation speed; print JSON.

Three benchmarks (issue 3, "Synthesis and benchmarks"); every figure in the JSON has its
definition next to it (``definitions``):

``fanout``
    Synaptic operations per cycle per lane in fan-out bursts. A network of
    ``--burst-sources`` input channels, each with the same fan-out ``F`` onto a
    population of silent neurons (threshold at the state maximum), all channels spiking
    at step 0, so step 1 delivers ``sources x F`` synapses in one burst; plus a burst of
    mixed fan-outs. For lanes 1 to 16: delivery-phase synaptic operations / delivery
    cycles / lanes, the delivery cycles being step 1's cycles from the exact cycle model
    (:func:`spikestream.model.cycles.step_cycles`) minus its update and report phases.
``audio``
    Cycles per sample and predicted inferences per second at ``CoreConfig.clock_hz`` on
    encoded spoken digits (``load_dataset("digits", FrontendConfig(), "test")``: 64 steps
    x 32 channels), with a network of the task's size: by default a random 32 -> 128
    (recurrent) -> 10 network whose thresholds are tuned on the data to a trained
    network's activity, or ``--network FILE.spkn`` (e.g. from ``spikestream train``);
    with and without early exit, for the default lanes and a sweep over lanes.
``sim``
    Verilator simulation speed through cocotb: the core built with Verilator (cached,
    build time excluded) runs samples of the audio benchmark (``--sim-core small``: a
    network scaled to the small reference core). Harness ``player``: the Verilog stream
    player of :mod:`spikestream.sim.stream_player` holds the words and streams them at
    full rate (or with pseudo-random pauses) and makes the clock, cocotb sleeps until the
    samples are done (speed build, only the player's ports and clock public). Harnesses
    ``lean`` and ``cocotbext`` (:mod:`spikestream.sim.bench_tb`): Python moves every
    word, with a single coroutine or with cocotbext-axi drivers as in the verification
    testbench. Every STEP and
    SUMMARY packet received is compared with the golden and cycle models, so the run
    also checks the cycle figures of the other two benchmarks on the RTL (the fan-out
    bursts at the built lane count, the audio samples).

Usage::

    python bench/bench_core.py                              # all three, JSON on stdout
    python bench/bench_core.py --only fanout audio --out bench-core.json
    python bench/bench_core.py --network digits.spkn        # a trained network for audio/sim
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # small products; see bench_golden.py
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from spikestream.model import golden  # noqa: E402
from spikestream.model.config import CoreConfig  # noqa: E402
from spikestream.model.cycles import (DELIVER_PIPELINE_CYCLES, REPORT_CYCLES, end_cycles,  # noqa: E402
                                      sample_cycles, step_cycles, update_cycles)
from spikestream.model.generate import normal_weights  # noqa: E402
from spikestream.model.golden import Counter  # noqa: E402
from spikestream.model.network import (INPUT, Decision, DecisionMode, Network, Population,  # noqa: E402
                                       SynapseGroup)

LANE_COUNTS = (1, 2, 4, 8, 16)
AUDIO_LANE_COUNTS = (1, 2, 4, 8, 16, 32)
#: Fan-outs of the uniform bursts: multiples of every lane count (256), of few (96, 500),
#: of none (33, 129); at most the default core's 512 neurons.
FANOUTS = (256, 500, 129, 96, 33)
#: The mixed burst: one source of each fan-out.
MIXED_FANOUTS = (512, 300, 257, 200, 129, 64, 40, 17)

DEFINITIONS = {
    "fanout.synops_per_cycle_per_lane": "delivery-phase synaptic operations / delivery cycles / lanes, from the "
                                        "exact cycle model (goal >= 0.9)",
    "fanout.delivery_cycles": "cycles of the burst step's delivery phase: step cycles (cycle model) - update "
                              f"phase - {REPORT_CYCLES} report cycles; formula {DELIVER_PIPELINE_CYCLES} + sum over "
                              "sources of ceil(fan-out / lanes)",
    "fanout.row_rounding_bound": "sum fan-out / (lanes * sum ceil(fan-out / lanes)): the efficiency if the "
                                 f"{DELIVER_PIPELINE_CYCLES} pipeline cycles were free (the last row of a source is "
                                 "partly empty)",
    "fanout.step_synops_per_cycle_per_lane": "the same over the whole step (delivery + neuron update + report)",
    "audio.sample_cycles": "cycles of a whole sample with no stalls (cycles.sample_cycles): input words, step "
                           "markers, every step's delivery + update + report, the decision and SUMMARY",
    "audio.compute_cycles": "counted (busy) cycles of the steps and the sample end, without input words",
    "audio.inferences_per_s": "CoreConfig.clock_hz / mean sample_cycles (goal >= 10,000/s)",
    "audio.spikes_per_step": "neuron spikes per step run (all populations), mean over samples",
    "audio.synaptic_ops_per_sample": "synapses traversed per sample (golden counter SYNAPTIC_OPS)",
    "audio.input_events_per_sample": "input spike events per sample (of the steps run)",
    "sim.clock_cycles_per_s": "core clock cycles (simulated aclk cycles: sim time / 10 ns) / wall seconds of the "
                              "sample exchange, build and network load excluded (goal >= 500,000)",
    "sim.busy_cycles_per_s": "core busy cycles (the cycles register: every cycle the core is not waiting for "
                             "input) / wall seconds of the sample exchange",
    "sim.busy_cycles_per_cpu_s": "busy cycles per CPU second of the simulator process (Verilator + cocotb's "
                                 "Python share one process): the speed on an unloaded core",
    "sim.harness": "player: Verilog stream player, no Python per word (sim/stream_player.py); lean / cocotbext: "
                   "Python moves every word (sim/bench_tb.py)",
    "sim.load_average_1min": "the machine's 1-minute load average when the run ended (2 cores, shared)",
    "sim.clock_cycles_per_cpu_s": "the same per CPU second of the simulator process",
    "sim.idle_clock_cycles_per_s": "aclk cycles / wall seconds while the clock runs with no Python coroutine "
                                   "woken and the core idle: the simulator's own speed, the harness's ceiling",
    "sim.rtl_matches_model": "every STEP packet (spikes, events, synaptic ops, spikes, cycles) and SUMMARY "
                             "(decision, decision step, steps run, cycles) equals the golden + cycle models",
}


# ---- 1. fan-out bursts ------------------------------------------------------------------------

def burst_network(fanouts: list[int] | tuple[int, ...], neurons: int, seed: int = 0) -> tuple[Network, np.ndarray]:
    """A network whose input channel ``s`` has fan-out ``fanouts[s]`` onto silent neurons; its input burst.

    Returns the network (2 steps) and the input ``bool [1, 2, sources]``: every channel
    spikes at step 0, so step 1 delivers all fan-outs at once.
    """
    rng = np.random.default_rng(seed)
    sources = len(fanouts)
    mask = np.zeros((sources, neurons), bool)
    for source, fanout in enumerate(fanouts):
        if not 1 <= fanout <= neurons:
            raise ValueError(f"fan-out {fanout} of source {source} is outside 1 .. {neurons} neurons")
        mask[source, rng.choice(neurons, fanout, replace=False)] = True
    silent = Population("targets", neurons, threshold=CoreConfig().state_max)  # never spikes: pure delivery
    group = SynapseGroup(INPUT, "targets", np.ones((sources, neurons), np.int64), mask=mask)
    network = Network(sources, [silent], [group], timesteps=2, output="targets",
                      decision=Decision(DecisionMode.MAX_POTENTIAL))
    inputs = np.zeros((1, 2, sources), bool)
    inputs[0, 0] = True
    return network, inputs


def burst_figures(network: Network, core: CoreConfig, inputs: np.ndarray) -> dict:
    """Delivery cycles and lane efficiency of the burst (step 1) from the cycle model."""
    network.check_fits(core)
    result = golden.run(network, core, inputs)
    if result.spikes.any():
        raise AssertionError("a burst target spiked; the burst network must only deliver")
    step = int(step_cycles(network, core, inputs, result)[0, 1])
    update = update_cycles(network.n_neurons, core.neuron_lanes, np.array([], np.int64))
    delivery = step - update - REPORT_CYCLES
    ops = int(result.counters[0, 1, Counter.SYNAPTIC_OPS])
    fanouts = network.groups[0].mask.sum(axis=1)
    rows = int(np.sum(-(-fanouts // core.lanes)))
    return {"lanes": core.lanes, "synaptic_ops": ops, "delivery_cycles": delivery, "step_cycles": step,
            "synops_per_cycle_per_lane": round(ops / delivery / core.lanes, 4),
            "row_rounding_bound": round(ops / (rows * core.lanes), 4),
            "step_synops_per_cycle_per_lane": round(ops / step / core.lanes, 4)}


def fanout_benchmark(sources: int, lane_counts=LANE_COUNTS, fanouts=FANOUTS, mixed=MIXED_FANOUTS) -> dict:
    """Lane efficiency for uniform bursts of each fan-out and a mixed burst, for each lane count."""
    neurons = CoreConfig().max_neurons
    scenarios = {f"{sources} sources x fan-out {f}": [f] * sources for f in fanouts}
    scenarios[f"mixed fan-outs {list(mixed)}"] = list(mixed)
    table = {}
    for name, scenario_fanouts in scenarios.items():
        network, inputs = burst_network(scenario_fanouts, neurons)
        table[name] = [burst_figures(network, CoreConfig(lanes=lanes), inputs) for lanes in lane_counts]
    per_lanes = {}
    for index, lanes in enumerate(lane_counts):
        rows = [figures[index] for figures in table.values()]
        ops = sum(r["synaptic_ops"] for r in rows)
        cycles = sum(r["delivery_cycles"] for r in rows)
        per_lanes[str(lanes)] = {"all_bursts_synops_per_cycle_per_lane": round(ops / cycles / lanes, 4),
                                 "worst": min(r["synops_per_cycle_per_lane"] for r in rows),
                                 "best": max(r["synops_per_cycle_per_lane"] for r in rows)}
    return {"burst_sources": sources, "neurons": neurons, "scenarios": table, "per_lanes": per_lanes,
            "goal": 0.9}


# ---- 2. audio-sized network -------------------------------------------------------------------

def load_digits(frontend, split: str, samples: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Encoded spoken digits ``(X bool [n, T, C], y, description)`` (the built-in TTS corpus)."""
    from spikestream.model.audio.datasets import load_dataset

    data = load_dataset("digits", frontend, split=split)
    encoder = getattr(frontend.encoder, "value", frontend.encoder)
    return data.X[:samples], data.y[:samples], f"digits corpus, split {split!r}, encoder {encoder!r}"


def random_audio_network(rng: np.random.Generator, tune_inputs: np.ndarray, hidden: int = 128, outputs: int = 10,
                         hidden_rate: float = 0.08, recurrent_density: float = 0.1) -> Network:
    """A random 32 -> hidden (sparse recurrent) -> 10 network with a trained network's activity.

    Weights are int8 with exponent 6; the hidden threshold is chosen on ``tune_inputs``
    so hidden neurons spike in about ``hidden_rate`` of the steps (the demo's trained
    network: ~0.1), the output threshold so that most samples see an output spike about
    half-way (first-spike decision, so early exit has something to save).
    """
    steps, channels = tune_inputs.shape[1:]

    def weights(shape, scale, mean=0.0):
        return normal_weights(rng, shape, scale, mean)

    groups = [
        SynapseGroup(INPUT, "hidden", weights((channels, hidden), 30.0, mean=6.0), exponent=6),
        SynapseGroup("hidden", "hidden", weights((hidden, hidden), 20.0),
                     mask=rng.random((hidden, hidden)) < recurrent_density, exponent=6),
        SynapseGroup("hidden", "out", weights((hidden, outputs), 30.0, mean=4.0), exponent=6),
    ]

    def build(hidden_threshold: int, output_threshold: int) -> Network:
        populations = [Population("hidden", hidden, threshold=hidden_threshold, current_decay=1024,
                                  voltage_decay=512, refractory=1),
                       Population("out", outputs, threshold=output_threshold, current_decay=512, voltage_decay=256)]
        return Network(channels, populations, groups, steps, "out", Decision(DecisionMode.FIRST_SPIKE))

    core = CoreConfig()
    candidates = np.unique(np.geomspace(1 << 10, core.state_max, 40).astype(np.int64))

    def hidden_activity(threshold):
        result = golden.run(build(int(threshold), core.state_max), core, tune_inputs)
        return result.spikes[:, :, :hidden].mean()

    hidden_threshold = int(min(candidates, key=lambda c: abs(hidden_activity(c) - hidden_rate)))

    def median_first_output_step(threshold):
        result = golden.run(build(hidden_threshold, int(threshold)), core, tune_inputs)
        return np.median(np.where(result.decision_step >= 0, result.decision_step, 2 * steps))

    output_threshold = int(min(candidates, key=lambda c: abs(median_first_output_step(c) - steps / 2)))
    return build(hidden_threshold, output_threshold)


def audio_figures(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray | None) -> dict:
    """Cycles per sample, inferences/s and activity of ``inputs`` on ``network`` / ``core``."""
    network.check_fits(core)
    result = golden.run(network, core, inputs)
    per_sample = sample_cycles(network, core, inputs, result)
    per_step = step_cycles(network, core, inputs, result)
    compute = per_step.sum(axis=1) + end_cycles(network)
    steps_run = result.steps_run
    ran = np.arange(inputs.shape[1])[None, :] < steps_run[:, None]
    spikes = result.counters[:, :, Counter.SPIKES].sum(axis=1)
    figures = {
        "lanes": core.lanes, "neuron_lanes": core.neuron_lanes, "samples": int(inputs.shape[0]),
        "sample_cycles_mean": round(float(per_sample.mean()), 1),
        "sample_cycles_p95": float(np.percentile(per_sample, 95)),
        "compute_cycles_mean": round(float(compute.mean()), 1),
        "inferences_per_s": round(core.clock_hz / float(per_sample.mean()), 1),
        "steps_run_mean": round(float(steps_run.mean()), 2),
        "spikes_per_step": round(float(spikes.sum() / steps_run.sum()), 2),
        "synaptic_ops_per_sample": round(float(result.counters[:, :, Counter.SYNAPTIC_OPS].sum(axis=1).mean()), 1),
        "input_events_per_sample": round(float((inputs & ran[:, :, None]).sum(axis=(1, 2)).mean()), 1),
    }
    if labels is not None:
        figures["decision_accuracy"] = round(float(np.mean(result.decision == labels)), 4)
    return figures


def audio_networks(network: Network) -> dict[str, Network]:
    """The network as given, and its first-spike variants with and without early exit."""
    variants = {}
    if network.decision.mode is not DecisionMode.FIRST_SPIKE:
        variants[f"as given ({network.decision.mode.value})"] = network
    variants["first spike, no early exit"] = dataclasses.replace(network, decision=Decision(DecisionMode.FIRST_SPIKE))
    variants["first spike, early exit"] = dataclasses.replace(network, decision=Decision(DecisionMode.FIRST_SPIKE,
                                                                                         early_exit=True))
    return variants


def audio_benchmark(network: Network, core: CoreConfig, inputs: np.ndarray, labels: np.ndarray | None,
                    description: dict, lane_counts=AUDIO_LANE_COUNTS) -> dict:
    """Figures of every decision variant at the core's lanes, and a lanes sweep."""
    variants = audio_networks(network)
    report = {"network": description, "clock_hz": core.clock_hz, "goal_inferences_per_s": 10_000,
              "default_core": {name: audio_figures(v, core, inputs, labels) for name, v in variants.items()},
              "lanes_sweep": {}}
    for name, variant in variants.items():
        report["lanes_sweep"][name] = [
            {key: value for key, value in audio_figures(variant, dataclasses.replace(core, lanes=lanes), inputs,
                                                          labels).items()
             if key in ("lanes", "sample_cycles_mean", "compute_cycles_mean", "inferences_per_s")}
            for lanes in lane_counts]
    return report


def describe(network: Network, source: str) -> dict:
    return {"source": source, "inputs": network.n_inputs,
            "populations": {p.name: p.size for p in network.populations},
            "groups": {g.name: int(g.stored_mask.sum()) for g in network.groups},
            "timesteps": network.timesteps, "decision": network.decision.mode.value}


# ---- 3. simulation speed ----------------------------------------------------------------------

#: (harness, pause) pairs of the simulation benchmark: the Verilog stream player (no Python
#: per word, speed build) first, then the two cocotb drivers of :mod:`spikestream.sim.bench_tb`.
SIM_RUNS = (("player", 0.0), ("player", 0.3), ("lean", 0.0), ("cocotbext", 0.0), ("lean", 0.3), ("cocotbext", 0.3))
PLAYER = "player"


def fast_build_args() -> tuple[str, ...]:
    """Verilator arguments of a speed build of ``spikestream_core`` alone (its ports public, nothing else)."""
    from amaranth.lib import wiring

    from spikestream.rtl.top import TOPLEVEL, SpikestreamCore
    from spikestream.sim.runner import speed_build_args

    top = SpikestreamCore(CoreConfig())  # the ports are the same for every configuration
    top._MustUse__silence = True  # only its signature is read
    members = top.signature.members
    return speed_build_args(TOPLEVEL, [name for name, m in members.items() if m.flow == wiring.In],
                            [name for name, m in members.items() if m.flow == wiring.Out])


def check_packets(network: Network, core: CoreConfig, inputs: np.ndarray, packets: list[list[int]]) -> list[str]:
    """Compare the STEP and SUMMARY packets of ``inputs`` with the models; return mismatch lines."""
    from spikestream.model.protocol import decode_output
    from spikestream.sim.scoreboard import expected_samples

    steps, summaries, _ = decode_output(packets)
    expected = expected_samples(network, core, inputs)
    wanted_steps = [step for sample in expected for step in sample.steps]
    wanted_summaries = [sample.summary for sample in expected]
    problems = []
    if len(steps) != len(wanted_steps):
        problems.append(f"{len(steps)} STEP packets, expected {len(wanted_steps)}")
    if len(summaries) != len(wanted_summaries):
        problems.append(f"{len(summaries)} SUMMARY packets, expected {len(wanted_summaries)}")
    problems += [f"STEP {k}: observed {o}, expected {w}" for k, (o, w) in enumerate(zip(steps, wanted_steps)) if o != w]
    problems += [f"SUMMARY {k}: observed {o}, expected {w}"
                 for k, (o, w) in enumerate(zip(summaries, wanted_summaries)) if o != w]
    return problems


def expected_busy_cycles(network: Network, core: CoreConfig, inputs: np.ndarray) -> int:
    """Busy cycles of the samples with no output backpressure: steps and sample ends, each + 1 FIFO check."""
    from spikestream.model.cycles import FIFO_WAIT_CYCLES
    from spikestream.sim.scoreboard import expected_samples

    return sum(sum(step.cycles + FIFO_WAIT_CYCLES for step in sample.steps) + sample.summary.cycles + FIFO_WAIT_CYCLES
               for sample in expected_samples(network, core, inputs))


def _player_results(core: CoreConfig, jobs: dict[str, tuple[Network, np.ndarray]], pause: float,
                    seed: int) -> list[dict]:
    """Run ``jobs`` on the stream player (:mod:`spikestream.sim.stream_player`); results as bench_tb writes them."""
    from spikestream.sim.stream_player import PlayerJob, play

    played = play(core, [PlayerJob.samples(name, network, core, inputs) for name, (network, inputs) in jobs.items()],
                  pause=pause, seed=seed + 1)
    return [{"name": job.name, "seconds": job.seconds, "cpu_seconds": job.cpu_seconds,
             "clock_cycles": job.clock_cycles, "busy_cycles": job.busy_cycles, "errors": job.errors,
             "dropped_packets": job.dropped_packets, "packets": job.packets + job.setup_packets}
            for job in played]


def sim_benchmark(core: CoreConfig, audio_jobs: dict[str, tuple[Network, np.ndarray]],
                  check_jobs: dict[str, tuple[Network, np.ndarray]], runs=SIM_RUNS, seed: int = 0,
                  idle_cycles: int = 0, extra_env: dict[str, str] | None = None,
                  build_args: tuple[str, ...] = (), keep_files: bool = False,
                  player_jobs: dict[str, tuple[Network, np.ndarray]] | None = None) -> dict:
    """Build the core (cached), run the jobs under each harness; speed figures and model checks.

    Harness ``player`` runs the Verilog stream player's speed build
    (:mod:`spikestream.sim.stream_player`) on ``player_jobs`` (default: ``audio_jobs``;
    it is fast enough for more samples); the others run :mod:`spikestream.sim.bench_tb`
    on the core built with ``build_args``. ``check_jobs`` run in the first run only.
    ``idle_cycles`` > 0 first lets the clock run that long with no Python woken in the
    first ``bench_tb`` run (the simulator's own speed on an idle core); ``extra_env`` goes
    to the ``bench_tb`` simulator process (e.g. ``COCOTB_ENABLE_PROFILING=1``). The run
    folders (networks, inputs, logs) are deleted unless ``keep_files`` or a check failed.
    """
    from spikestream.model.fileformat import save_network
    from spikestream.rtl.top import TOPLEVEL, generate_verilog
    from spikestream.sim.runner import build_verilog, run_cocotb
    from spikestream.sim.stream_player import build_player
    from spikestream.sim.verify import verilator_make_workaround

    verilator_make_workaround()
    report = {"core": core.to_dict(), "build_args": list(build_args), "build_seconds": {}, "runs": [],
              "rtl_checks": {}}
    build = None
    if any(harness == PLAYER for harness, _ in runs):
        started = time.monotonic()
        build_player(core)
        report["build_seconds"][PLAYER] = round(time.monotonic() - started, 1)
    if any(harness != PLAYER for harness, _ in runs):
        started = time.monotonic()
        build = build_verilog(generate_verilog(core), TOPLEVEL, build_args=build_args)
        report["build_seconds"]["bench_tb"] = round(time.monotonic() - started, 1)
    work = Path(tempfile.mkdtemp(prefix="spikestream-bench-sim-"))
    files = {}
    for name, (network, inputs) in {**check_jobs, **audio_jobs}.items():
        stem = work / f"job{len(files)}"
        save_network(stem.with_suffix(".spkn"), network, core)
        np.save(stem.with_suffix(".npy"), inputs)
        files[name] = {"name": name, "network": str(stem.with_suffix(".spkn")), "inputs": str(stem.with_suffix(".npy"))}
    all_ok = True
    idle_pending = idle_cycles > 0
    player_jobs = audio_jobs if player_jobs is None else player_jobs
    for index, (harness, pause) in enumerate(runs):
        names = list(audio_jobs) + (list(check_jobs) if index == 0 else [])
        run = None
        jobs = {**check_jobs, **audio_jobs}
        if harness == PLAYER:
            jobs = {**check_jobs, **player_jobs}
            results = _player_results(core, {n: jobs[n] for n in names}, pause, seed)
        else:
            results_path = work / f"results-{index}.json"
            run = run_cocotb(build, "spikestream.sim.bench_tb",
                             parameters={"harness": harness, "pause": pause, "seed": seed,
                                         "jobs": [files[n] for n in names],
                                         "idle_cycles": idle_cycles if idle_pending else 0,
                                         "results": str(results_path)},
                             test_dir=work / f"run-{index}", extra_env=extra_env)
            idle_pending = False
            report.setdefault("run_dirs", []).append(str(work / f"run-{index}"))
            if not results_path.is_file():
                run.check()  # raises with the log's tail
                raise RuntimeError(f"the benchmark simulation wrote no results; log {run.log_file}")
            results = json.loads(results_path.read_text())
        for result in results:
            if result["name"] == "idle":
                report["idle_clock_cycles_per_s"] = round(result["clock_cycles"] / result["seconds"])
                report["idle_clock_cycles_per_cpu_s"] = round(result["clock_cycles"] / result["cpu_seconds"])
                continue
            network, inputs = jobs[result["name"]]
            problems = check_packets(network, core, inputs, result["packets"])
            if result["errors"] or result["dropped_packets"]:  # e.g. a word the harness sent twice
                problems.append(f"errors register {result['errors']:#x}, dropped packets {result['dropped_packets']}")
            if pause == 0.0:
                busy = expected_busy_cycles(network, core, inputs)
                if result["busy_cycles"] != busy:
                    problems.append(f"cycles register {result['busy_cycles']}, expected {busy}")
            all_ok &= not problems
            entry = {"job": result["name"], "harness": harness, "pause": pause, "samples": int(inputs.shape[0]),
                     "wall_s": round(result["seconds"], 3), "busy_cycles": result["busy_cycles"],
                     "clock_cycles": result["clock_cycles"],
                     "clock_cycles_per_s": round(result["clock_cycles"] / result["seconds"]),
                     "busy_cycles_per_s": round(result["busy_cycles"] / result["seconds"]),
                     "cpu_s": round(result["cpu_seconds"], 3),
                     "clock_cycles_per_cpu_s": round(result["clock_cycles"] / result["cpu_seconds"]),
                     "busy_cycles_per_cpu_s": round(result["busy_cycles"] / result["cpu_seconds"]),
                     "load_average_1min": round(os.getloadavg()[0], 2),
                     "rtl_matches_model": not problems, "mismatches": problems[:5]}
            entry.update({key: result[key] for key in ("python_clock_edges", "python_sleeps") if key in result})
            if result["name"] in check_jobs:
                report["rtl_checks"][result["name"]] = entry
            else:
                report["runs"].append(entry)
        if run is not None and not run.ok:
            raise RuntimeError(f"the benchmark simulation failed; log {run.log_file}")
    report["rtl_matches_model"] = all_ok
    report["goal_busy_cycles_per_s"] = 500_000
    if all_ok and not keep_files:
        shutil.rmtree(work, ignore_errors=True)
        report.pop("run_dirs", None)  # only cocotb harness runs have run folders
    return report


# ---- main -------------------------------------------------------------------------------------

def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=("fanout", "audio", "sim"), default=("fanout", "audio", "sim"))
    parser.add_argument("--burst-sources", type=int, default=8, help="input channels spiking in a uniform burst")
    parser.add_argument("--network", help="a .spkn network for audio/sim (its FILE.json sidecar's 'frontend' "
                                          "encodes the digits); default: a random network tuned on the data")
    parser.add_argument("--samples", type=int, default=230, help="spoken digits for the audio benchmark")
    parser.add_argument("--split", default="test", help="corpus split of the spoken digits")
    parser.add_argument("--sim-samples", type=int, default=8, help="samples per simulation run")
    parser.add_argument("--lanes", type=int, nargs="+", default=list(LANE_COUNTS),
                        help="lane counts of the fan-out benchmark")
    parser.add_argument("--audio-lanes", type=int, nargs="+", default=list(AUDIO_LANE_COUNTS),
                        help="lane counts of the audio sweep")
    parser.add_argument("--sim-core", help="core of the simulation: JSON of CoreConfig fields, or 'small' for "
                                           "the small reference core (sim.cases.SMALL_CORE) with the random "
                                           "network scaled to it; default: the network file's core or CoreConfig()")
    parser.add_argument("--player-samples", type=int, default=230, help="samples per stream-player run")
    parser.add_argument("--sim-runs", nargs="+", default=[f"{h}:{p}" for h, p in SIM_RUNS],
                        help="harness:pause pairs simulated, harness player (Verilog stream player, speed "
                             "build), lean or cocotbext (sim/bench_tb.py), e.g. player:0 lean:0 cocotbext:0.3")
    parser.add_argument("--fast-build", action="store_true",
                        help="lean / cocotbext runs on a speed build (only the core's ports public, not "
                             "cocotb's --public-flat-rw; -O3; runner.speed_build_args), a separate cached build")
    parser.add_argument("--idle-cycles", type=int, default=200_000,
                        help="clock cycles simulated with no Python woken, to measure the simulator alone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    report = {"benchmark": "spiking core: lane efficiency, inferences/s, simulation speed",
              "command": "python bench/bench_core.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "machine": machine(), "definitions": DEFINITIONS}
    if "fanout" in args.only:
        report["fanout"] = fanout_benchmark(args.burst_sources, tuple(args.lanes))
    if "audio" in args.only or "sim" in args.only:
        from spikestream.model.audio import FrontendConfig

        if args.network:
            from spikestream.model.fileformat import load_network

            network, core = load_network(args.network)
            sidecar = Path(args.network + ".json")
            frontend = (FrontendConfig.from_dict(json.loads(sidecar.read_text())["frontend"])
                        if sidecar.is_file() else FrontendConfig())
            inputs, labels, data = load_digits(frontend, args.split, args.samples)
            source = f"trained network {args.network}"
        else:
            core = CoreConfig()
            inputs, labels, data = load_digits(FrontendConfig(), args.split, args.samples)
            rng = np.random.default_rng(args.seed)
            network = random_audio_network(rng, inputs[:32])
            labels = None  # a random network's decisions mean nothing
            source = "random network tuned to a trained network's activity (random_audio_network)"
        description = describe(network, source) | {"data": data}
        if "audio" in args.only:
            report["audio"] = audio_benchmark(network, core, inputs, labels, description, tuple(args.audio_lanes))
        if "sim" in args.only:
            if args.sim_core == "small":
                # The small reference core (48 neurons, 16 inputs, 63 steps): every other channel of the
                # first 63 steps into 24 hidden neurons.
                from spikestream.sim.cases import SMALL_CORE

                sim_core, sim_inputs = SMALL_CORE, inputs[:, :SMALL_CORE.max_timesteps, ::2]
                sim_network = random_audio_network(np.random.default_rng(args.seed), sim_inputs[:32], hidden=24)
                sim_description = describe(sim_network, "random_audio_network scaled to the small core") | {
                    "data": data + f", every other channel, {SMALL_CORE.max_timesteps} steps"}
            else:
                sim_core = CoreConfig.from_dict(json.loads(args.sim_core)) if args.sim_core else core
                sim_inputs, sim_network, sim_description = inputs, network, description
            audio_jobs = {name: (variant, sim_inputs[:args.sim_samples])
                          for name, variant in audio_networks(sim_network).items()}
            player_jobs = {name: (variant, sim_inputs[:args.player_samples])
                           for name, variant in audio_networks(sim_network).items()}
            check_jobs = {}
            for fanout in FANOUTS:
                if fanout <= sim_core.max_neurons and args.burst_sources <= sim_core.max_inputs:
                    check_jobs[f"burst fan-out {fanout}"] = burst_network([fanout] * args.burst_sources,
                                                                          sim_core.max_neurons)
            runs = [(text.split(":")[0], float(text.split(":")[1])) for text in args.sim_runs]
            report["sim"] = sim_benchmark(sim_core, audio_jobs, check_jobs, runs, args.seed, args.idle_cycles,
                                          build_args=fast_build_args() if args.fast_build else (),
                                          player_jobs=player_jobs)
            report["sim"]["network"] = sim_description
    report["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
