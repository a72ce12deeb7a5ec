"""``verilator --lint-only -Wall`` on generated Verilog, with a reasoned waiver list.

Amaranth's Verilog (written by Yosys) trips some of Verilator's style and width warnings
by construction; :data:`WAIVERS` names each such warning and says why it carries no
information about generated code. Everything else stays on, in particular the warnings
that do find real hardware bugs in generated code: combinational loops (``UNOPTFLAT``,
``ALWCOMBORDER``), latches (``LATCH``, ``NOLATCH``), undriven or multiply driven
signals (``UNDRIVEN``, ``MULTIDRIVEN``), out-of-range selects (``SELRANGE``) and
anything Verilator reports as an error.

Example::

    report = lint_verilog(verilog_text, "spikestream_core")
    assert report.clean, report.summary()
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spikestream.sim.runner import verilator_env

__all__ = ["LintMessage", "LintReport", "WAIVERS", "lint_verilog"]

#: Verilator warning code -> why it is waived for Amaranth-generated Verilog.
WAIVERS: dict[str, str] = {
    "DECLFILENAME": "all modules of a design are written to one file named after the toplevel, and Yosys "
                    "names submodules hierarchically ('top.sub'), so no module name can match its file name",
    "PROCASSINIT": "Amaranth gives every flip-flop its reset value as a Verilog initialiser (the FPGA "
                   "power-up value) and also assigns it in the always block; both are intended",
    "CASEINCOMPLETE": "Yosys writes each Amaranth Switch as a casez preceded by a default assignment; the "
                      "missing cases keep that default, which is Amaranth's semantics",
    "UNUSEDSIGNAL": "Amaranth keeps a named wire for every port and view field of every submodule, used or "
                    "not (e.g. the r_stb of registers without read side effects, the two low byte-address "
                    "bits of AXI4-Lite); unused logic is removed by synthesis, not a bug",
    "VARHIDDEN": "Yosys names a memory inside a submodule like the signal that wraps it in the parent; "
                 "they live in different modules, so there is no ambiguity",
    "WIDTHEXPAND": "Amaranth's arithmetic fixes every width (operations widen, assignments zero- or "
                   "sign-extend by the declared shape); Yosys writes these as Verilog expressions whose "
                   "context width differs. Widths are checked by the differential tests against the "
                   "golden model, not by Verilog context rules",
    "WIDTHTRUNC": "as WIDTHEXPAND: assignments truncate by Amaranth's rules, and Yosys writes a zero test "
                  "of a vector as '!vector', which is well defined but draws this warning",
}

_MESSAGE = re.compile(r"^%(Warning|Error)(?:-([A-Z0-9_]+))?: (.*)$")


@dataclass(frozen=True)
class LintMessage:
    """One Verilator message: ``severity`` ("Warning" or "Error"), ``code`` (e.g. "UNDRIVEN"), ``text``."""

    severity: str
    code: str
    text: str

    def __str__(self) -> str:
        return f"%{self.severity}-{self.code}: {self.text}"


@dataclass(frozen=True)
class LintReport:
    """Outcome of :func:`lint_verilog`: the messages left after the waivers."""

    toplevel: str
    messages: tuple[LintMessage, ...]
    waived: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.messages

    def codes(self) -> dict[str, int]:
        """Return how many messages of each code remain."""
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message.code] = counts.get(message.code, 0) + 1
        return counts

    def summary(self, limit: int = 20) -> str:
        """Return a human-readable list of the first ``limit`` messages."""
        if self.clean:
            return f"{self.toplevel}: lint clean (waived: {', '.join(self.waived)})"
        lines = [f"{self.toplevel}: {len(self.messages)} lint messages {self.codes()}"]
        lines += [str(message) for message in self.messages[:limit]]
        return "\n".join(lines)


def lint_verilog(verilog: str, toplevel: str, *, waivers: dict[str, str] | None = None,
                 workdir: str | Path | None = None, timeout_s: float = 300) -> LintReport:
    """Run ``verilator --lint-only -Wall`` on Verilog text.

    Parameters
    ----------
    verilog : str
        The complete design.
    toplevel : str
        Its toplevel module.
    waivers : dict, optional
        Warning code -> reason; defaults to :data:`WAIVERS`. Pass ``{}`` to see everything.
    workdir : path, optional
        Where the Verilog is written (a temporary directory if omitted).
    timeout_s : float
        Wall-clock limit.

    Returns
    -------
    LintReport
    """
    waivers = WAIVERS if waivers is None else waivers
    executable = verilator_env()
    with tempfile.TemporaryDirectory(prefix="spikestream-lint-") as scratch:
        directory = Path(workdir) if workdir is not None else Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        source = directory / f"{toplevel}.v"
        source.write_text(verilog)
        command = [str(executable), "--lint-only", "-Wall", "-Wno-fatal", "--top-module", toplevel,
                   *(f"-Wno-{code}" for code in sorted(waivers)), source.name]
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=timeout_s)
    messages = []
    for line in (result.stdout + result.stderr).splitlines():
        match = _MESSAGE.match(line)
        if match is None:
            continue
        severity, code, text = match.group(1), match.group(2) or "", match.group(3)
        if severity == "Error" and text.startswith("Exiting due to"):
            continue
        messages.append(LintMessage(severity, code, text))
    if result.returncode != 0 and not any(message.severity == "Error" for message in messages):
        messages.append(LintMessage("Error", "", f"verilator exited with {result.returncode}: "
                                                 f"{(result.stdout + result.stderr)[-2000:]}"))
    return LintReport(toplevel, tuple(messages), tuple(sorted(waivers)))
