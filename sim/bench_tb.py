"""cocotb module of the core benchmarks: run samples through ``spikestream_core``'s AXI ports and time them.

Not a test of its own: ``bench/bench_core.py`` builds the core with Verilator, writes the jobs
(network files, input rasters, harness, backpressure) to the run's parameter file and
starts this module through :func:`spikestream.sim.runner.run_cocotb`; this module writes,
per job, the output packets it received, the core's ``cycles`` register and the wall
time, and ``bench/bench_core.py`` compares the packets with the golden and cycle models.

Two harnesses drive the same ports:

``cocotbext``
    cocotbext-axi ``AxiStreamSource`` / ``AxiStreamSink`` / ``AxiStreamMonitor`` as in
    :mod:`spikestream.sim.core_tb` (each is a Python coroutine woken on every clock edge),
    optionally with random idle / backpressure cycles (``pause``).
``lean``
    One coroutine drives ``s_axis`` and reads ``m_axis`` word by word, and sleeps on a
    value change (``s_axis_tready`` or ``m_axis_tvalid`` rising) while the core computes
    with nothing to accept or send, so Python runs per transferred word, not per cycle.
    With ``pause`` it holds ``tvalid`` / ``tready`` low on random cycles while it has
    words to move.

The clock is cocotb's :class:`~cocotb.clock.Clock` (its toggling is in C in cocotb 2).
Timing starts after the network is loaded and ends when the last sample's SUMMARY has
arrived; ``cycles`` (busy cycles), ``errors`` and ``dropped_packets`` are read by
AXI4-Lite before and after, outside the timing. With ``idle_cycles`` the clock first runs
that long with no coroutine woken (the simulator's own speed).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
from cocotbext.axi import AxiStreamFrame

from spikestream.model.fileformat import load_network
from spikestream.model.protocol import OutOpcode, encode_load, encode_sample, parse_header
from spikestream.rtl.registers import REGISTERS
from spikestream.sim import axi_ports
from spikestream.sim.axi_ports import CLOCK_NS, to_bytes, to_words
from spikestream.sim.runner import tb_parameters


def _is_summary(packet: list[int]) -> bool:
    return parse_header(packet[0])[0] == OutOpcode.SUMMARY


class _CocotbextHarness:
    """cocotbext-axi source, sink and input monitor (the verification testbench's set-up)."""

    def __init__(self, dut, pause: float, seed: int):
        self.source = axi_ports.stream_source(dut)
        self.monitor = axi_ports.stream_monitor(dut)
        self.sink = axi_ports.stream_sink(dut)
        axi_ports.add_pauses(self.source, self.sink, pause, seed)

    async def exchange(self, packets: list[list[int]], summaries: int) -> list[list[int]]:
        for packet in packets:
            await self.source.send(AxiStreamFrame(to_bytes(packet)))
        await self.source.wait()
        received = []
        while sum(map(_is_summary, received)) < summaries:
            received.append(to_words((await self.sink.recv()).tdata))
        self.monitor.clear()
        return received


class _LeanHarness:
    """One coroutine for both streams; it sleeps while the core neither accepts nor sends."""

    def __init__(self, dut, pause: float, seed: int):
        self.dut = dut
        self.pause = pause
        self.rng = random.Random(seed)
        self.cycles_stepped = 0  #: loop passes (one clock edge each)
        self.sleeps = 0  #: waits for a value change
        dut.s_axis_tvalid.value = 0
        dut.m_axis_tready.value = 0

    async def exchange(self, packets: list[list[int]], summaries: int) -> list[list[int]]:
        dut, rng, pause = self.dut, self.rng, self.pause
        clock = dut.aclk
        words = [(word, k == len(packet) - 1) for packet in packets for k, word in enumerate(packet)]
        next_word, valid, ready = 0, False, False
        received, current = [], []
        summaries_seen = 0
        in_ready, out_valid = dut.s_axis_tready, dut.m_axis_tvalid
        while summaries_seen < summaries or next_word < len(words):
            # Drive this cycle's outputs (they are sampled at the next rising edge).
            want_valid = next_word < len(words) and not (pause and rng.random() < pause)
            if want_valid:
                data, last = words[next_word]
                dut.s_axis_tdata.value = data
                dut.s_axis_tlast.value = int(last)
            if want_valid != valid:
                dut.s_axis_tvalid.value = int(want_valid)
                valid = want_valid
            want_ready = not (pause and rng.random() < pause)
            if want_ready != ready:
                dut.m_axis_tready.value = int(want_ready)
                ready = want_ready
            if not int(out_valid.value) and (next_word >= len(words) or not int(in_ready.value)):
                # Nothing can move until the core raises tready or tvalid (both change just
                # after a clock edge): sleep without waking Python on every cycle.
                self.sleeps += 1
                if next_word >= len(words):
                    await RisingEdge(out_valid)
                else:
                    await First(RisingEdge(out_valid), RisingEdge(in_ready))
            await RisingEdge(clock)
            self.cycles_stepped += 1
            # Beats of the edge that just passed.
            if valid and int(in_ready.value):
                next_word += 1
            if ready and int(out_valid.value):
                current.append(int(dut.m_axis_tdata.value))
                if int(dut.m_axis_tlast.value):
                    received.append(current)
                    summaries_seen += _is_summary(current)
                    current = []
        dut.s_axis_tvalid.value = 0
        dut.m_axis_tready.value = 0
        return received


@cocotb.test()
async def benchmark(dut):
    """Run every job of the parameter file; write received packets, cycles and wall time."""
    parameters = tb_parameters()
    axi_ports.start(dut)
    registers = axi_ports.register_master(dut)
    await axi_ports.reset(dut)
    # One harness per simulation: cocotbext-axi's coroutines cannot be stopped, and two
    # drivers on one port would fight.
    harness_class = {"cocotbext": _CocotbextHarness, "lean": _LeanHarness}[parameters["harness"]]
    harness = harness_class(dut, parameters["pause"], parameters.get("seed", 0))
    results = []
    idle_cycles = parameters.get("idle_cycles", 0)
    if idle_cycles:
        # The simulator's own speed: the clock runs (in C), no Python wakes up, the core idles.
        started, cpu_started = time.perf_counter(), time.process_time()
        await Timer(idle_cycles * CLOCK_NS, "ns")
        results.append({"name": "idle", "seconds": time.perf_counter() - started,
                        "cpu_seconds": time.process_time() - cpu_started, "clock_cycles": idle_cycles,
                        "busy_cycles": 0, "packets": []})
    for job in parameters["jobs"]:
        network, core = load_network(job["network"])
        inputs = np.load(job["inputs"])
        await registers.write_dword(REGISTERS.offset("control"), 1)  # zero the counters
        await harness.exchange(encode_load(network, core), 0)
        await ClockCycles(dut.aclk, 8)  # let the CONFIG check finish before the counters are read
        cycles_before = await registers.read_dword(REGISTERS.offset("cycles"))
        sample_packets = [packet for raster in inputs for packet in encode_sample(raster)]
        if isinstance(harness, _LeanHarness):  # count the samples' wake-ups only, not the load's
            harness.cycles_stepped = harness.sleeps = 0
        started_ns = get_sim_time("ns")
        started, cpu_started = time.perf_counter(), time.process_time()
        received = await harness.exchange(sample_packets, len(inputs))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        woken = {"python_clock_edges": harness.cycles_stepped, "python_sleeps": harness.sleeps} if isinstance(
            harness, _LeanHarness) else {}
        clock_cycles = round((get_sim_time("ns") - started_ns) / CLOCK_NS)
        cycles_after = await registers.read_dword(REGISTERS.offset("cycles"))
        errors = await registers.read_dword(REGISTERS.offset("errors"))
        dropped = await registers.read_dword(REGISTERS.offset("dropped_packets"))
        results.append({"name": job["name"], "seconds": seconds, "cpu_seconds": cpu_seconds,
                        "clock_cycles": clock_cycles,
                        "busy_cycles": (cycles_after - cycles_before) % (1 << 32), "errors": errors,
                        "dropped_packets": dropped, "packets": received, **woken})
        dut._log.info("%s: %d clock cycles in %.2f s", job["name"], clock_cycles, seconds)
    Path(parameters["results"]).write_text(json.dumps(results))
