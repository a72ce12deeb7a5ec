"""Command-line entry points of the model package (``spikestream info``)."""

from __future__ import annotations

import argparse
import json
import sys

from .config import CoreConfig
from .fileformat import NetworkFileError, load_network


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "info":
        parser.add_argument("network", nargs="?", help="a .spkn network file (default: show the default core)")


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
        }
        print(json.dumps(summary, indent=2))
        return 0
    raise AssertionError(args.command)
