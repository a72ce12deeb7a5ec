"""Command-line entry points of the model package (``spikestream info``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .config import CoreConfig
from .fileformat import NetworkFileError, load_network, save_network
from .network import NetworkError, remove_dead_neurons, unused_inputs
from .train.export import sidecar_path  # torch-free, like the rest of this command


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "info":
        parser.add_argument("network", nargs="?", help="a .spkn network file (default: show the default core)")
        parser.add_argument("--remove-dead-neurons", metavar="OUT",
                            help="write the network without its dead neurons (remove_dead_neurons: same decisions, "
                                 "fewer cycles) to OUT (.spkn; the sidecar is copied)")


def _write_deployed_sidecar(source: Path, target: Path, network_path: str, removed: int) -> None:
    """Copy the sidecar (front end, classes: same inputs, same outputs) and say what was removed.

    Without a source sidecar a stale target sidecar is deleted, so it cannot describe the new file.
    """
    if not source.exists():
        target.unlink(missing_ok=True)
        return
    sidecar = json.loads(source.read_text())
    sidecar["dead_neurons_removed"] = {"from": str(network_path), "neurons": removed}
    target.write_text(json.dumps(sidecar, indent=2) + "\n")


def main(args: argparse.Namespace) -> int:
    if args.command == "info":
        if args.network is None:
            if args.remove_dead_neurons:
                print("spikestream info: --remove-dead-neurons needs a network file (spikestream info NETWORK.spkn "
                      "--remove-dead-neurons OUT.spkn)", file=sys.stderr)
                return 2
            core = CoreConfig()
            print(json.dumps({"core": core.to_dict(), "core_hash": f"0x{core.hash32():08x}"}, indent=2))
            return 0
        try:
            network, core = load_network(args.network)
        except (NetworkFileError, OSError) as error:
            # A damaged or missing file is the user's problem to fix, not a crash: one line, exit 2.
            print(f"spikestream info: {error}", file=sys.stderr)
            return 2
        summary = {
            "core": core.to_dict(),
            "core_hash": f"0x{core.hash32():08x}",
            "inputs": network.n_inputs,
            "timesteps": network.timesteps,
            "populations": {p.name: p.size for p in network.populations},
            "groups": {g.name: int(g.stored_mask.sum()) for g in network.groups},
            "stored_synapses": network.synapses().count,
            "output": network.output,
            "decision": network.decision.mode.value,
            "unused_inputs": int(np.sum(unused_inputs(network))),
        }
        try:  # dead neurons are an inference notion: networks with learning rules are refused
            compact, refusal = remove_dead_neurons(network, core)[0], None
            summary["dead_neurons"] = network.n_neurons - compact.n_neurons
        except NetworkError as error:
            compact, refusal = None, str(error)
        if args.remove_dead_neurons:
            if Path(args.remove_dead_neurons).resolve() == Path(args.network).resolve():
                refusal = f"--remove-dead-neurons {args.remove_dead_neurons}: write to another file than the network"
            if refusal:
                print(f"spikestream info: {refusal}", file=sys.stderr)
                return 2
            out = Path(args.remove_dead_neurons)
            save_network(out, compact, core)
            _write_deployed_sidecar(sidecar_path(args.network), sidecar_path(out), args.network,
                                    summary["dead_neurons"])
            summary["written"] = {"path": str(out), "neurons": compact.n_neurons,
                                  "stored_synapses": compact.synapses().count}
        print(json.dumps(summary, indent=2))
        return 0
    raise AssertionError(args.command)
