"""The ``spikestream`` command line.

Each subcommand lives in the module that owns the feature; this file only lists them,
so that ``spikestream --help`` stays fast (modules are imported when their command runs).
A command module provides ``add_arguments(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("spikestream.model.commands", "print the core configuration and a network's summary"),
    "synth": ("spikestream.rtl.synth", "synthesize the core for xc7z020 with Yosys: LUT/FF/BRAM/DSP and fit"),
    "verify": ("spikestream.sim.verify", "random differential regression of the RTL against the golden model"),
    "data": ("spikestream.model.audio.commands", "build the spoken-word corpus, describe datasets, plot utterances"),
    "build": ("spikestream.boards.build", "write the board overlay project (IP, block design, Tcl) and run Vivado"),
    "train": ("spikestream.model.train.commands", "train a network the core runs exactly (BPTT, QAT, pruning, Optuna)"),
    "eval": ("spikestream.model.train.commands", "evaluate a network file: accuracy, confusion, spikes, ops, cycles"),
    "demo": ("spikestream.model.train.commands", "end-to-end demo: corpus, training, hardware-exact evaluation"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikestream", description="Spiking neural network core for PYNQ-Z2.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (DEBUG level)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(name)s: %(message)s")
    return int(importlib.import_module(args._module).main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
