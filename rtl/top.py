"""The top level ``spikestream_core``: the engine behind AXI4-Lite and AXI4-Stream ports.

Ports (flat, the names Vivado and cocotbext-axi expect): ``aclk``, ``aresetn``
(synchronous, active low), ``s_axi_*`` (AXI4-Lite registers of
:mod:`spikestream.rtl.registers`), ``s_axis_t{data,valid,ready,last}`` (host packets)
and ``m_axis_t{data,valid,ready,last}`` (core packets), 32-bit words; the packet format
is :mod:`spikestream.model.protocol`.
"""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from spikestream.model.config import CoreConfig

from .axi import Role, axi_stream_members, forward_ports
from .core import COUNTERS, SpikingCore
from .csr import AxiLiteCsr, axi_lite_members
from .registers import CONTROL_BITS, REGISTERS, STATUS_BITS, version_word

__all__ = ["TOPLEVEL", "AXI_LITE_ADDRESS_BITS", "SpikestreamCore", "generate_verilog"]

TOPLEVEL = "spikestream_core"
#: A 4 KiB register window, as Vivado's address editor assigns.
AXI_LITE_ADDRESS_BITS = 12


class SpikestreamCore(wiring.Component):
    """The whole core with its bus interfaces (see the module docstring for the ports)."""

    def __init__(self, core: CoreConfig):
        self.core = core
        members = {"aclk": In(1), "aresetn": In(1)}
        members.update(axi_lite_members(AXI_LITE_ADDRESS_BITS))
        members.update(axi_stream_members("s_axis", Role.SUBORDINATE))
        members.update(axi_stream_members("m_axis", Role.MANAGER))
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.domains.sync = domain = ClockDomain("sync")
        m.d.comb += [domain.clk.eq(self.aclk), domain.rst.eq(~self.aresetn)]
        m.submodules.csr = csr = AxiLiteCsr(REGISTERS, address_width=AXI_LITE_ADDRESS_BITS)
        m.submodules.engine = engine = SpikingCore(self.core)
        forward_ports(m, self, csr, "s_axi")
        m.d.comb += [
            engine.in_data.eq(self.s_axis_tdata), engine.in_valid.eq(self.s_axis_tvalid),
            engine.in_last.eq(self.s_axis_tlast), self.s_axis_tready.eq(engine.in_ready),
            self.m_axis_tdata.eq(engine.out_data), self.m_axis_tvalid.eq(engine.out_valid),
            self.m_axis_tlast.eq(engine.out_last), engine.out_ready.eq(self.m_axis_tready),
        ]
        regs = csr.registers
        m.d.comb += [
            regs.version.r_data.eq(version_word()),
            regs.config_hash.r_data.eq(self.core.hash32()),
            regs.control.r_data.eq(0),
            engine.counters_clear.eq(regs.control.w_stb & regs.control.w_data[CONTROL_BITS["clear_counters"]]),
            regs.status.r_data[STATUS_BITS["busy"]].eq(engine.busy),
            regs.status.r_data[STATUS_BITS["configured"]].eq(engine.configured),
            regs.status.r_data[STATUS_BITS["sample_done"]].eq(engine.sample_done),
            regs.status.r_data[STATUS_BITS["step"]:].eq(engine.step),
            regs.errors.r_data.eq(engine.errors),
            engine.errors_clear.eq(regs.errors.w_data & regs.errors.w_stb.replicate(len(engine.errors))),
        ]
        for name in COUNTERS:
            m.d.comb += getattr(regs, name).r_data.eq(getattr(engine, name))
        # learning_enable is stored here; the engine samples it when a sample's step 0 runs.
        learning_enable = Signal(len(regs.learning_enable.r_data))
        with m.If(regs.learning_enable.w_stb):
            m.d.sync += learning_enable.eq(regs.learning_enable.w_data)
        m.d.comb += [
            regs.learning_enable.r_data.eq(learning_enable), engine.learning_enable.eq(learning_enable),
            regs.live_synapses.r_data.eq(engine.live_synapses), regs.pruned_synapses.r_data.eq(engine.pruned_synapses),
            regs.lfsr.r_data.eq(engine.lfsr), engine.lfsr_write.eq(regs.lfsr.w_stb),
            engine.lfsr_write_value.eq(regs.lfsr.w_data),
        ]
        return m


def generate_verilog(core: CoreConfig) -> str:
    """Return the Verilog of ``spikestream_core`` for ``core``."""
    return verilog.convert(SpikestreamCore(core), name=TOPLEVEL, emit_src=False)
