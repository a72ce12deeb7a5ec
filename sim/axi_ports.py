"""cocotbext-axi on ``spikestream_core``'s ports: the set-up every simulation of the core shares.

The verification testbench (:mod:`spikestream.sim.core_tb`), the benchmark
(:mod:`spikestream.sim.bench_tb`) and the driver backend
(:mod:`spikestream.host.simulation`) drive the same ports of the top level
(:mod:`spikestream.rtl.top`): ``s_axis`` (packets in), ``m_axis`` (packets out),
``s_axi`` (registers, AXI4-Lite), the clock ``aclk`` and the active-low reset ``aresetn``.
Packets are lists of :data:`~spikestream.model.protocol.WORD_BITS`-bit words, sent
little-endian, one word per stream beat.

>>> to_words(to_bytes([1, 0xDEADBEEF]))
[1, 3735928559]
"""

from __future__ import annotations

import logging
import random
from typing import Iterator, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamMonitor, AxiStreamSink, AxiStreamSource

from spikestream.model.config import WORD_BITS, WORD_MASK
from spikestream.sim.runner import CLOCK_NS

__all__ = ["CLOCK_NS", "PORTS", "to_bytes", "to_words", "start", "reset", "stream_source", "stream_monitor",
           "stream_sink", "register_master", "add_pauses"]

#: Bus prefixes of the top level: stream in, stream out, registers.
PORTS = ("s_axis", "m_axis", "s_axi")
_WORD_BYTES = WORD_BITS // 8


def to_bytes(words: Sequence[int]) -> bytes:
    """Return the stream bytes of ``words`` (little-endian, one word per beat)."""
    return b"".join((int(word) & WORD_MASK).to_bytes(_WORD_BYTES, "little") for word in words)


def to_words(data: bytes) -> list[int]:
    """Return the words of a received stream frame's bytes (the inverse of :func:`to_bytes`)."""
    return [int.from_bytes(data[k:k + _WORD_BYTES], "little") for k in range(0, len(data), _WORD_BYTES)]


def start(dut) -> None:
    """Start ``aclk`` and quieten the per-beat logging of the VIP on :data:`PORTS`."""
    for name in PORTS:
        logging.getLogger(f"cocotb.{dut._name}.{name}").setLevel(logging.WARNING)
    cocotb.start_soon(Clock(dut.aclk, CLOCK_NS, unit="ns").start())


async def reset(dut) -> None:
    """Hold ``aresetn`` low for 4 cycles, then wait 2 cycles out of reset."""
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 4)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 2)


def stream_source(dut) -> AxiStreamSource:
    """Return a source driving the input stream ``s_axis``."""
    return AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)


def stream_monitor(dut) -> AxiStreamMonitor:
    """Return a monitor of the beats the core accepted on ``s_axis``."""
    return AxiStreamMonitor(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)


def stream_sink(dut) -> AxiStreamSink:
    """Return a sink receiving the output stream ``m_axis``."""
    return AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)


def register_master(dut) -> AxiLiteMaster:
    """Return an AXI4-Lite master on the register port ``s_axi``."""
    return AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.aclk, dut.aresetn, reset_active_level=False)


def _pause_pattern(rng: random.Random, probability: float) -> Iterator[bool]:
    while True:
        yield rng.random() < probability


def add_pauses(source: AxiStreamSource, sink: AxiStreamSink, probability: float, seed: int) -> None:
    """Give ``source`` idle cycles and ``sink`` backpressure cycles, each with ``probability``.

    Both draw from one generator seeded with ``seed``; ``probability`` 0 leaves them
    streaming at full rate.
    """
    if probability > 0:
        rng = random.Random(seed)
        source.set_pause_generator(_pause_pattern(rng, probability))
        sink.set_pause_generator(_pause_pattern(rng, probability))
