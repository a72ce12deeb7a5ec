"""The ``spikestream`` command line.

Each subcommand lives in the module that owns the feature; this file only lists them,
so that ``spikestream --help`` stays fast (modules are imported when their command runs).
A command module provides ``add_arguments(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

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


def whole_number(low: int):
    """An argparse ``type``: a whole number >= ``low`` (a count of 0 would do nothing and still succeed)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value

    return parse


def _core_source(text: str) -> str:
    """How messages name a core option's value: JSON text starts with ``{``, anything else is a path."""
    return "the JSON text" if text.lstrip().startswith("{") else text


def core_fields(text: str) -> dict:
    """An argparse ``type``: CoreConfig fields as JSON text (starting with ``{``) or a path to a JSON file.

    Returns the JSON object; :func:`core_config` also checks it is a valid configuration.
    """
    expected = "expected CoreConfig fields as JSON text such as '{\"lanes\": 4}' or a path to a JSON file"
    source = _core_source(text)
    if source != text:
        data = text
    else:
        try:
            data = Path(text).read_bytes()
        except OSError as error:
            raise argparse.ArgumentTypeError(f"cannot read {text}: {error.strerror}; {expected}") from None
    try:
        fields = json.loads(data)
    except ValueError as error:  # invalid JSON or a file that is not text
        raise argparse.ArgumentTypeError(f"{source} is not valid JSON ({error}); {expected}") from None
    if not isinstance(fields, dict):
        raise argparse.ArgumentTypeError(f"{source} is not a JSON object; {expected}")
    return fields


def core_config(text: str):
    """An argparse ``type``: a :class:`~spikestream.model.config.CoreConfig` given as :func:`core_fields` reads it."""
    from spikestream.model.config import ConfigError, CoreConfig

    fields = core_fields(text)
    try:
        return CoreConfig.from_dict(fields)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(f"{_core_source(text)}: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikestream", description="Spiking neural network core for PYNQ-Z2.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (DEBUG level)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(sub, name)
    return parser


#: What bad input raises (a missing or malformed file, a value out of range, a configuration that
#: does not fit, a missing optional dependency): reported in one line, not as a traceback. A
#: RuntimeError (hardware or simulation that disagrees, a tool that failed) keeps its traceback.
USER_ERRORS = (ValueError, OSError, ImportError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(name)s: %(message)s")
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except USER_ERRORS as error:
        if args.verbose:
            raise
        message = str(error) or type(error).__name__
        if isinstance(error, ImportError):
            message += " (install the command's extra: pip install 'spikestream[rtl|sim|train|data]')"
        print(f"spikestream {args.command}: error: {message} (-v shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
