"""``spikestream build --board pynq-z2``: write the overlay project and run Vivado in batch.

The output folder gets everything Vivado needs and everything PYNQ needs next to the
bitstream::

    ip/component.xml, ip/hdl/spikestream_core.v   the packaged core (VLNV spikestream.org:...)
    block_design.tcl, constraints.xdc, build.tcl  the overlay
    <name>.core.json                              the CoreConfig the bitstream is built from
    <name>.regmap.json                            the register map the driver reads
    <name>.sim.hwh                                the hardware handoff, for simulation and tests
    <name>.bit, <name>.hwh                        written by Vivado (``build.tcl``)

Without ``vivado`` on ``PATH`` the command stops after writing the project and prints
the exact command that finishes the build.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from spikestream.cli import core_config, whole_number
from spikestream.model.config import CoreConfig

log = logging.getLogger("spikestream.boards.build")

#: Boards this command builds for: name -> description.
BOARDS = {"pynq-z2": "TUL PYNQ-Z2 (Zynq xc7z020clg400-1)"}


@dataclass(frozen=True)
class ProjectFiles:
    """Where :func:`write_project` put things."""

    out: Path
    build_tcl: Path
    bitstream: Path
    hwh: Path
    core_json: Path
    regmap_json: Path
    sim_hwh: Path

    def vivado_command(self) -> list[str]:
        return ["vivado", "-mode", "batch", "-nojournal", "-log", str(self.out / "vivado.log"), "-source",
                str(self.build_tcl)]


def write_project(design, out: Path, jobs: int = 2) -> ProjectFiles:
    """Write the IP, the scripts and the JSON / handoff files of ``design`` into ``out``."""
    from spikestream.host.regmap import REGMAP_SUFFIX, describe_registers
    from spikestream.host.board import CORE_CONFIG_SUFFIX
    from spikestream.rtl.top import TOPLEVEL, generate_verilog

    from .pynq_z2.design import component_xml, hwh_xml
    from .pynq_z2.tcl import block_design_tcl, build_tcl, constraints_xdc

    out = Path(out)
    verilog_name = f"hdl/{TOPLEVEL}.v"
    (out / "ip" / "hdl").mkdir(parents=True, exist_ok=True)
    (out / "ip" / verilog_name).write_text(generate_verilog(design.core))
    (out / "ip" / "component.xml").write_text(component_xml(design, verilog_name))
    (out / "block_design.tcl").write_text(block_design_tcl(design))
    (out / "constraints.xdc").write_text(constraints_xdc(design))
    (out / "build.tcl").write_text(build_tcl(design, jobs))
    core_json = out / f"{design.name}{CORE_CONFIG_SUFFIX}"
    core_json.write_text(json.dumps(design.core.to_dict(), indent=2, sort_keys=True) + "\n")
    regmap_json = out / f"{design.name}{REGMAP_SUFFIX}"
    regmap_json.write_text(json.dumps(describe_registers(), indent=2) + "\n")
    sim_hwh = out / f"{design.name}.sim.hwh"
    sim_hwh.write_text(hwh_xml(design))
    log.info("wrote the %s overlay project for %s into %s", design.name, design.core.to_json(), out)
    return ProjectFiles(out, out / "build.tcl", out / f"{design.name}.bit", out / f"{design.name}.hwh", core_json,
                        regmap_json, sim_hwh)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    parser.add_argument("--out", type=Path, default=Path("build/pynq-z2"), help="output folder (default build/pynq-z2)")
    parser.add_argument("--core", type=core_config,
                        help="core configuration: CoreConfig fields as JSON text or a path to a JSON file "
                             "(default: the PYNQ-Z2 core)")
    parser.add_argument("--network", dest="network_core", type=_network_core, metavar="NETWORK",
                        help="take the core configuration from this .spkn network file")
    parser.add_argument("--name", type=_project_name, default="spikestream",
                        help="overlay name: <name>.bit, <name>.hwh; letters, digits, '_' and '-', starting with a "
                             "letter (a Vivado project name)")
    parser.add_argument("--jobs", type=whole_number(1), default=2, help="Vivado parallel jobs, >= 1 (default 2)")
    parser.add_argument("--no-vivado", action="store_true", help="write the project only, even if vivado is on PATH")


def _network_core(text: str) -> CoreConfig:
    """Parse ``--network``: the CoreConfig stored in a .spkn network file (the build needs only that)."""
    from spikestream.model.fileformat import NetworkFileError, load_network

    try:
        return load_network(text)[1]
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {error.strerror}") from None
    except NetworkFileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _project_name(text: str) -> str:
    """Parse ``--name``: it goes unquoted into the Tcl and names Vivado's project and block design."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text):
        raise argparse.ArgumentTypeError(f"expected letters, digits, '_' or '-', starting with a letter "
                                         f"(a Vivado project name), got {text!r}")
    return text


def main(args: argparse.Namespace) -> int:
    from .pynq_z2.design import OverlayDesign

    core = args.network_core or args.core or CoreConfig()
    if args.network_core and args.core and args.core != args.network_core:
        # The network's synapses and populations are laid out for its own core: it wins.
        print(f"spikestream build: error: --core differs from the CoreConfig in the --network file "
              f"({'; '.join(args.core.differences(args.network_core))}; --core's value first); the build uses "
              f"the network file's CoreConfig, so drop --core or make it equal", file=sys.stderr)
        return 2
    files = write_project(OverlayDesign(core=core, name=args.name), args.out, args.jobs)
    command = files.vivado_command()
    printable = " ".join(command)
    if args.no_vivado:
        print(f"project written to {files.out}; build the bitstream with:\n  {printable}")
        return 0
    if shutil.which("vivado") is None:
        print(f"project written to {files.out}, but vivado is not on PATH, so no bitstream was built.\n"
              f"On a machine with Vivado (2020.2 or newer), run:\n  {printable}\n"
              f"then copy {files.bitstream.name}, {files.hwh.name}, {files.core_json.name} and "
              f"{files.regmap_json.name} to the board (same folder).")
        return 2
    log.info("running %s", printable)
    completed = subprocess.run(command, cwd=files.out)
    if completed.returncode != 0 or not files.bitstream.is_file() or not files.hwh.is_file():
        print(f"vivado failed (exit {completed.returncode}); see {files.out / 'vivado.log'}")
        return 1
    print(f"built {files.bitstream} and {files.hwh} (with {files.core_json.name}, {files.regmap_json.name})")
    return 0
