"""Check generated Vivado Tcl without Vivado: run it in ``tclsh`` with recording stubs.

Every command that plain Tcl does not know (``create_bd_cell``, ``set_property`` ...) is
answered by a stub that records the call and returns its last argument (so a handle
such as ``[get_bd_pins ps/FCLK_CLK0]`` becomes the text ``ps/FCLK_CLK0``). Real Tcl
commands (``set``, ``foreach``, ``file``, ``glob``) run for real, so syntax errors,
unbalanced braces, unknown variables and wrong file logic fail as they would in Vivado.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

__all__ = ["TclError", "tclsh_available", "run_with_stubs"]

_PRELUDE = r"""
set ::calls {}
proc unknown {args} {
    lappend ::calls $args
    return [lindex $args end]
}
# Answers the build script asks for: a finished run, and no board files installed.
proc get_property {args} {
    lappend ::calls [concat get_property $args]
    if {[lindex $args 0] eq "PROGRESS"} { return "100%" }
    return ""
}
proc get_board_parts {args} { lappend ::calls [concat get_board_parts $args]; return "" }
"""

_POSTLUDE = r"""
set out [open $::calls_file w]
foreach call $::calls {
    puts $out $call
}
close $out
"""


class TclError(RuntimeError):
    """tclsh rejected a script (the message holds its error output)."""


def tclsh_available() -> bool:
    return shutil.which("tclsh") is not None


def run_with_stubs(script: Path, work_dir: Path, stubs: str = "") -> list[list[str]]:
    """Source ``script`` in tclsh with recording stubs; return the recorded calls as word lists.

    ``stubs`` is extra Tcl defined before the script (e.g. procs that return values).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    calls_file = work_dir / "calls.txt"
    driver = work_dir / "driver.tcl"
    driver.write_text(_PRELUDE + stubs + f"\nset ::calls_file {{{calls_file}}}\n"
                      + f"if {{[catch {{source {{{script}}}}} message]}} {{\n"
                        "    puts stderr \"$message\\n$::errorInfo\"\n    exit 1\n}\n" + _POSTLUDE)
    completed = subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, cwd=work_dir, timeout=60)
    if completed.returncode != 0:
        raise TclError(f"tclsh failed on {script}:\n{completed.stderr}")
    # Turn each recorded Tcl list into Python words (a second tclsh pass keeps Tcl's quoting rules).
    converter = work_dir / "to_json.tcl"
    converter.write_text(
        "set in [open {" + str(calls_file) + "}]\n"
        "set first 1\nputs -nonewline {[}\n"
        "while {[gets $in line] >= 0} {\n"
        "    set words {}\n"
        "    foreach word $line { lappend words \"\\\"[string map {\\\\ \\\\\\\\ \\\" \\\\\\\" \\n \\\\n} $word]\\\"\" }\n"
        "    if {!$first} { puts -nonewline , }\n"
        "    set first 0\n"
        "    puts -nonewline \"\\[[join $words ,]\\]\"\n"
        "}\nputs {]}\n")
    converted = subprocess.run(["tclsh", str(converter)], capture_output=True, text=True, timeout=60)
    if converted.returncode != 0:
        raise TclError(f"could not read back the recorded calls: {converted.stderr}")
    return json.loads(converted.stdout)
