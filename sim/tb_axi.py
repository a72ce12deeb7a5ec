"""cocotb tests of the AXI4-Stream blocks of :mod:`spikestream.rtl.axi`.

The design under test is :class:`StreamLoopback`: ``s_axis`` -> :class:`AxiStreamInput`
-> (a :class:`StreamFifo` when ``fifo_depth`` is given) -> :class:`AxiStreamOutput` ->
``m_axis``. cocotbext-axi's AxiStreamSource drives random frames with random idle
cycles, AxiStreamSink applies random backpressure, and every frame must come out intact,
in order, once. Run parameters: ``{"seed": int, "frames": int, "fifo_depth": int | None}``.
"""

from __future__ import annotations

import random

import cocotb
from amaranth.hdl import Module
from amaranth.lib import wiring
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from spikestream.rtl.axi import (AXI_STREAM_DATA_WIDTH, AxiStreamInput, AxiStreamOutput, Role, StreamFifo,
                                 axi_stream_members, forward_ports)
from spikestream.sim.runner import tb_parameters


#: Simulated-time limit of each test: a lost beat or response fails the test instead of hanging.
TEST_TIMEOUT_US = 2000


class StreamLoopback(wiring.Component):
    """``s_axis`` -> AxiStreamInput -> [StreamFifo] -> AxiStreamOutput -> ``m_axis``."""

    def __init__(self, fifo_depth: int | None = None, data_width: int = AXI_STREAM_DATA_WIDTH) -> None:
        self.fifo_depth = fifo_depth
        self.data_width = data_width
        super().__init__({
            **axi_stream_members("s_axis", Role.SUBORDINATE, data_width),
            **axi_stream_members("m_axis", Role.MANAGER, data_width),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.input = stream_in = AxiStreamInput(self.data_width)
        m.submodules.output = stream_out = AxiStreamOutput(self.data_width)
        forward_ports(m, self, stream_in, "s_axis")
        forward_ports(m, self, stream_out, "m_axis")
        if self.fifo_depth is None:
            wiring.connect(m, stream_in.o, stream_out.i)
        else:
            m.submodules.fifo = fifo = StreamFifo(stream_in.layout, self.fifo_depth)
            wiring.connect(m, stream_in.o, fifo.i)
            wiring.connect(m, fifo.o, stream_out.i)
        return m


def _pauses(probability: float, rng: random.Random):
    while True:
        yield int(rng.random() < probability)


async def _setup(dut):
    parameters = tb_parameters()
    rng = random.Random(parameters.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return source, sink, rng, parameters


async def _send_and_check(source, sink, rng, frames: int) -> None:
    byte_lanes = len(source.bus.tdata) // 8
    sent = [bytes(rng.getrandbits(8) for _ in range(byte_lanes * rng.randint(1, 12))) for _ in range(frames)]
    for payload in sent:
        await source.send(AxiStreamFrame(payload))
    for index, payload in enumerate(sent):
        frame = await sink.recv()
        assert bytes(frame.tdata) == payload, f"frame {index}: got {bytes(frame.tdata).hex()}, sent {payload.hex()}"
    assert sink.empty(), "the sink received beats that were never sent"


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def frames_pass_under_idle_and_backpressure(dut):
    """Random frames, random source idles and sink backpressure: all arrive intact, once, in order."""
    source, sink, rng, parameters = await _setup(dut)
    source.set_pause_generator(_pauses(0.3, rng))
    sink.set_pause_generator(_pauses(0.4, rng))
    await _send_and_check(source, sink, rng, parameters.get("frames", 50))
    await ClockCycles(dut.clk, 5)
    assert sink.empty(), "a beat came out after the last frame"


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def full_throughput_without_pauses(dut):
    """Without pauses the buffers pass one beat per cycle (latency aside)."""
    source, sink, rng, parameters = await _setup(dut)
    beats = 64
    payload = bytes(rng.getrandbits(8) for _ in range(4 * beats))
    await source.send(AxiStreamFrame(payload))
    # Cycle numbers of the output transfers: one per cycle means they are consecutive.
    transfer_cycles = []
    for cycle in range(4 * beats):
        await RisingEdge(dut.clk)
        if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
            transfer_cycles.append(cycle)
            if len(transfer_cycles) == beats:
                break
    assert len(transfer_cycles) == beats, f"only {len(transfer_cycles)} of {beats} beats left in {4 * beats} cycles"
    span = transfer_cycles[-1] - transfer_cycles[0] + 1
    assert span == beats, f"{beats} beats took {span} cycles, expected one per cycle"
    frame = await sink.recv()
    assert bytes(frame.tdata) == payload


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def slow_sink_stalls_without_loss(dut):
    """A sink that is ready one cycle in eight fills the buffers; nothing is lost or duplicated."""
    source, sink, rng, parameters = await _setup(dut)
    sink.set_pause_generator(_pauses(7 / 8, rng))
    await _send_and_check(source, sink, rng, 10)
