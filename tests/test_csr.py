# amaranth: UnusedElaboratable=no
# (test_bad_declarations_are_rejected creates cores whose constructor refuses them)
"""Tests of the register map and the AXI4-Lite bridge (spikestream.rtl.csr)."""

from __future__ import annotations

import json

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from spikestream.rtl.csr import Access, AxiLiteCsr, AxiResponse, Register, RegisterMap
from spikestream.sim.runner import build_verilog, run_cocotb
from spikestream.sim.tb_csr import CsrHarness

REGISTERS = RegisterMap([
    Register("id", Access.RO, 32, reset=0x5EED_0001, doc="identification"),
    Register("control", Access.RW, 32, reset=0xA5, doc="control bits"),
    Register("mode", Access.RW, 3, reset=5, doc="a narrow RW register"),
    Register("flags", Access.W1C, 8, doc="sticky flags, write 1 to clear"),
    Register("status", Access.RO, 12, reset=0x123, doc="a narrow RO register"),
])
#: Wider than the map needs, so that unmapped words exist inside the window.
ADDRESS_WIDTH = 6


def test_offsets_follow_declaration_order():
    assert [REGISTERS.offset(r.name) for r in REGISTERS] == [0, 4, 8, 12, 16]
    assert REGISTERS.address_width == 5
    assert RegisterMap([Register("only", Access.RO, 1)]).address_width == 2


def test_json_round_trip_and_file(tmp_path):
    exported = REGISTERS.to_json()
    assert exported["address_width"] == 5 and exported["data_width"] == 32
    assert exported["registers"]["flags"] == {"offset": 12, "access": "w1c", "width": 8, "reset": 0,
                                             "doc": "sticky flags, write 1 to clear"}
    assert RegisterMap.from_json(exported) == REGISTERS
    path = REGISTERS.write_json(tmp_path / "sub" / "regmap.json")
    assert json.loads(path.read_text()) == exported


def test_from_json_rejects_moved_offsets():
    exported = REGISTERS.to_json()
    exported["registers"]["mode"]["offset"] = 0x40
    with pytest.raises(ValueError, match="'mode' is at offset 0x40 in the JSON but its position in the map gives 0x8"):
        RegisterMap.from_json(exported)


@pytest.mark.parametrize("make, message", [
    (lambda: Register("bad name", Access.RO, 8), "must be a Python identifier"),
    (lambda: Register("wide", Access.RW, 33), "width 33 is outside"),
    (lambda: Register("big", Access.RW, 4, reset=16), "reset 16 is outside the unsigned range \\[0, 15\\]"),
    (lambda: Register("flag", "rw", 4), "access must be an Access"),
    (lambda: RegisterMap([Register("a", Access.RO, 1), Register("a", Access.RW, 1)]), "'a' is declared twice"),
    (lambda: RegisterMap([]), "at least one register"),
    (lambda: AxiLiteCsr(REGISTERS, address_width=4), "address_width 4 cannot reach all 5 registers"),
])
def test_bad_declarations_are_rejected(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_unknown_register_name_lists_the_names():
    with pytest.raises(KeyError, match="no register named 'ctrl'; registers are \\['id', 'control'"):
        REGISTERS.offset("ctrl")


def test_cycle_contract_in_amaranth_simulation():
    """Handshake timing, strobes and responses, cycle by cycle, as the AxiLiteCsr docstring says."""
    dut = AxiLiteCsr(REGISTERS)
    control = dut.register_port("control")
    status = dut.register_port("status")

    async def testbench(ctx):
        ctx.set(status.r_data, 0x7AB)
        ctx.set(control.r_data, 0x1122_3344)
        # Write: ready only with both valids; w_stb and bvalid the cycle after.
        ctx.set(dut.s_axi_awaddr, REGISTERS.offset("control"))
        ctx.set(dut.s_axi_awvalid, 1)
        assert not ctx.get(dut.s_axi_awready), "awready without wvalid"
        ctx.set(dut.s_axi_wdata, 0xDEAD_BEEF)
        ctx.set(dut.s_axi_wstrb, 0b0101)
        ctx.set(dut.s_axi_wvalid, 1)
        assert ctx.get(dut.s_axi_awready) and ctx.get(dut.s_axi_wready)
        await ctx.tick()
        ctx.set(dut.s_axi_awvalid, 0)
        ctx.set(dut.s_axi_wvalid, 0)
        assert ctx.get(control.w_stb) == 1
        assert ctx.get(control.w_data) == 0x11AD_33EF, "bytes with a low strobe must keep r_data"
        assert ctx.get(dut.s_axi_bvalid) and ctx.get(dut.s_axi_bresp) == AxiResponse.OKAY
        await ctx.tick()
        assert ctx.get(control.w_stb) == 0, "w_stb longer than one cycle"
        assert ctx.get(dut.s_axi_bvalid), "bvalid dropped without bready"
        ctx.set(dut.s_axi_bready, 1)
        await ctx.tick()
        assert not ctx.get(dut.s_axi_bvalid)
        # Write to RO: SLVERR, no strobe.
        ctx.set(dut.s_axi_awaddr, REGISTERS.offset("status"))
        ctx.set(dut.s_axi_awvalid, 1)
        ctx.set(dut.s_axi_wvalid, 1)
        await ctx.tick()
        ctx.set(dut.s_axi_awvalid, 0)
        ctx.set(dut.s_axi_wvalid, 0)
        assert ctx.get(status.w_stb) == 0
        assert ctx.get(dut.s_axi_bvalid) and ctx.get(dut.s_axi_bresp) == AxiResponse.SLVERR
        await ctx.tick()
        # Read: arready while idle, rvalid + r_stb the cycle after.
        ctx.set(dut.s_axi_rready, 0)
        ctx.set(dut.s_axi_araddr, REGISTERS.offset("status"))
        ctx.set(dut.s_axi_arvalid, 1)
        assert ctx.get(dut.s_axi_arready)
        await ctx.tick()
        ctx.set(dut.s_axi_arvalid, 0)
        ctx.set(status.r_data, 0)  # sampled at the handshake: changing it now must not matter
        assert ctx.get(status.r_stb) == 1
        assert ctx.get(dut.s_axi_rvalid) and ctx.get(dut.s_axi_rdata) == 0x7AB
        assert ctx.get(dut.s_axi_rresp) == AxiResponse.OKAY
        assert not ctx.get(dut.s_axi_arready), "a second read accepted while the first is pending"
        await ctx.tick()
        assert ctx.get(status.r_stb) == 0 and ctx.get(dut.s_axi_rvalid) and ctx.get(dut.s_axi_rdata) == 0x7AB
        ctx.set(dut.s_axi_rready, 1)
        await ctx.tick()
        assert not ctx.get(dut.s_axi_rvalid)
        # Unmapped read: SLVERR with zero data.
        ctx.set(dut.s_axi_araddr, 0x1C)
        ctx.set(dut.s_axi_arvalid, 1)
        await ctx.tick()
        ctx.set(dut.s_axi_arvalid, 0)
        assert ctx.get(dut.s_axi_rresp) == AxiResponse.SLVERR and ctx.get(dut.s_axi_rdata) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


@pytest.fixture(scope="module")
def harness_build():
    harness = CsrHarness(REGISTERS, address_width=ADDRESS_WIDTH)
    return build_verilog(verilog.convert(harness, name="csr_harness"), "csr_harness")


def test_csr_with_cocotbext_axi_master(harness_build, tmp_path):
    results = run_cocotb(harness_build, "spikestream.sim.tb_csr", test_dir=tmp_path, parameters={
        "register_map": REGISTERS.to_json(), "address_width": ADDRESS_WIDTH, "seed": 11, "accesses": 300,
    })
    results.check()
    assert len(results.passed) == 4


def test_runner_reports_failing_tests(harness_build, tmp_path):
    """A wrong map in the testbench makes its checks fail, and the runner says which."""
    wrong = REGISTERS.to_json()
    wrong["registers"]["control"]["reset"] = 0x5A
    results = run_cocotb(harness_build, "spikestream.sim.tb_csr", test_dir=tmp_path,
                         testcase="reset_values_read_back",
                         parameters={"register_map": wrong, "address_width": ADDRESS_WIDTH})
    assert results.failed == ("reset_values_read_back",) and not results.ok
    with pytest.raises(AssertionError, match="failed: \\['reset_values_read_back'\\]"):
        results.check()
