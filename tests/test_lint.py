"""Tests of the Verilator lint step (spikestream.sim.lint) on the generated Verilog."""

from __future__ import annotations

import pytest
from amaranth.back import verilog

from spikestream.rtl.csr import Access, AxiLiteCsr, Register, RegisterMap
from spikestream.sim.lint import WAIVERS, lint_verilog
from spikestream.sim.tb_axi import StreamLoopback

REGISTERS = RegisterMap([
    Register("id", Access.RO, 32, reset=1),
    Register("control", Access.RW, 4),
    Register("flags", Access.W1C, 8),
])

BROKEN_VERILOG = """
module broken(input wire clk, input wire [7:0] a, output wire [3:0] y, output wire z);
  assign y = a;
endmodule
"""


@pytest.mark.parametrize("design, name", [
    pytest.param(lambda: AxiLiteCsr(REGISTERS, address_width=12), "axi_lite_csr", id="csr"),
    pytest.param(lambda: StreamLoopback(fifo_depth=4), "stream_loopback", id="stream"),
])
def test_infrastructure_blocks_lint_clean(design, name):
    report = lint_verilog(verilog.convert(design(), name=name, emit_src=False), name)
    assert report.clean, report.summary()


def test_core_top_lints_clean():
    top = pytest.importorskip("spikestream.rtl.top")
    from spikestream.model.config import CoreConfig

    core = CoreConfig(max_neurons=32, max_inputs=16, max_synapses=256, lanes=2, event_queue_depth=32)
    report = lint_verilog(top.generate_verilog(core), top.TOPLEVEL)
    assert report.clean, report.summary()


def test_real_problems_are_reported():
    report = lint_verilog(BROKEN_VERILOG, "broken")
    assert not report.clean
    assert "WIDTHTRUNC" not in report.codes(), "a waived warning was reported"
    assert "UNDRIVEN" in report.codes(), report.summary()
    assert "'z'" in report.summary()


def test_every_waiver_says_why():
    for code, reason in WAIVERS.items():
        assert code.isupper() and len(reason) > 40, f"waiver {code} needs a reason"


def test_syntax_errors_are_errors():
    report = lint_verilog("module bad(input a; endmodule\n", "bad")
    assert any(message.severity == "Error" for message in report.messages), report.summary()
