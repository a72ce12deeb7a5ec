"""Command-line entry points of the model package (``spikestream info``)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from .config import CoreConfig
from .fileformat import NetworkFileError, load_network, save_network
from .network import NetworkError, remove_dead_neurons, unused_inputs


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "info":
        parser.add_argument("network", nargs="?", help="a .spkn network file (default: show the default core)")
        parser.add_argument("--remove-dead-neurons", metavar="OUT",
                            help="write the network without its dead neurons (remove_dead_neurons: same decisions, "
                                 "fewer cycles) to OUT (.spkn; the sidecar is copied)")


def main(args: argparse.Namespace) -> int:
    if args.command == "info":
        if args.network is None:
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
        plastic = any(group.plastic for group in network.groups)
        if not plastic:  # dead neurons are an inference notion (remove_dead_neurons refuses learning networks)
            compact, _ = remove_dead_neurons(network)
            summary["dead_neurons"] = network.n_neurons - compact.n_neurons
        if args.remove_dead_neurons:
            try:
                compact, _ = remove_dead_neurons(network)
            except NetworkError as error:
                print(f"spikestream info: {error}", file=sys.stderr)
                return 2
            out = Path(args.remove_dead_neurons)
            save_network(out, compact, core)
            sidecar = Path(f"{args.network}.json")
            if sidecar.exists():  # front end and classes: same inputs, same output population
                shutil.copyfile(sidecar, Path(f"{out}.json"))
            summary["written"] = {"path": str(out), "neurons": compact.n_neurons,
                                  "stored_synapses": compact.synapses().count}
        print(json.dumps(summary, indent=2))
        return 0
    raise AssertionError(args.command)
