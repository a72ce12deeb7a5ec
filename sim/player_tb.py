"""cocotb module of the stream player (:mod:`spikestream.sim.stream_player`): run its jobs, time them.

Not a test of its own: :func:`spikestream.sim.stream_player.play` writes the input words
(``+stimulus=``) and the job boundaries (the run's parameter file) and starts this
module. Per job it clears the core's counters, plays the set-up words, reads the
``cycles`` register, then plays the timed words and sleeps until the player's ``done``
rises -- no Python runs while the core works; the clock is the player's own (Verilog, not
cocotb: no VPI call per edge). Registers
are accessed through the player's AXI4-Lite manager (its ``register_*`` ports), outside
the timed part.
It writes, per job, the wall and CPU seconds and the simulated clock cycles of the timed
part, the register values and the player's ``recorded`` count at the job's boundaries;
at the end the player writes its recording (``+recording=``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from spikestream.rtl.registers import CONTROL_BITS, REGISTERS
from spikestream.sim import axi_ports
from spikestream.sim.axi_ports import CLOCK_NS
from spikestream.sim.runner import tb_parameters

#: Cycles after the last set-up word before the counters are read (the CONFIG check).
SETTLE_CYCLES = 8
#: A register access that takes longer than this is a broken bus.
REGISTER_TIMEOUT_CYCLES = 64
_OKAY = 0


async def _access(dut, name: str, value: int | None = None) -> int:
    """Write ``value`` to (or, if None, read) the core's register ``name`` through the player; return the data."""
    dut.register_address.value = REGISTERS.offset(name)
    dut.register_write.value = int(value is not None)
    dut.register_write_data.value = value or 0
    dut.register_request.value = 1
    await RisingEdge(dut.aclk)
    dut.register_request.value = 0
    for _ in range(REGISTER_TIMEOUT_CYCLES):
        await RisingEdge(dut.aclk)
        if int(dut.register_done.value):
            if int(dut.register_response.value) != _OKAY:
                raise AssertionError(f"{'write to' if value is not None else 'read of'} register {name}: "
                                     f"response {int(dut.register_response.value)}, expected OKAY")
            return int(dut.register_read_data.value)
    raise AssertionError(f"register {name}: no AXI4-Lite response within {REGISTER_TIMEOUT_CYCLES} cycles")


async def _play(dut, until: int, summaries: int, timeout_cycles: int, what: str) -> None:
    """Let the player send input words up to ``until`` and wait for ``summaries`` SUMMARY packets in all."""
    dut.play_until.value = until
    dut.summaries_wanted.value = summaries
    await ClockCycles(dut.aclk, 3)  # the targets and `done` are registered: let `done` see the new targets
    if int(dut.done.value):
        return
    finished = RisingEdge(dut.done)
    if await First(finished, Timer(timeout_cycles * CLOCK_NS, "ns")) is not finished:
        raise AssertionError(f"{what}: the core did not finish within {timeout_cycles} cycles (input words sent "
                             f"{int(dut.sent.value)} of {until}, SUMMARY packets {int(dut.summaries.value)} of "
                             f"{summaries}, words recorded {int(dut.recorded.value)})")


@cocotb.test()
async def play_jobs(dut):
    """Play every job of the parameter file; write the timings and register values."""
    parameters = tb_parameters()
    # No cocotb clock: the player makes aclk itself.
    for name, value in {"load": 0, "dump": 0, "play_until": 0, "summaries_wanted": 0, "register_request": 0,
                        "pause_level": parameters["pause_level"], "seed": parameters["seed"]}.items():
        getattr(dut, name).value = value
    await axi_ports.reset(dut)
    dut.load.value = 1
    await RisingEdge(dut.aclk)
    dut.load.value = 0
    summaries, results = 0, []
    for job in parameters["jobs"]:
        await _access(dut, "control", 1 << CONTROL_BITS["clear_counters"])
        await _play(dut, job["setup_end"], summaries, job["timeout_cycles"], f"{job['name']} (set-up)")
        await ClockCycles(dut.aclk, SETTLE_CYCLES)
        setup_recorded = int(dut.recorded.value)
        cycles_before = await _access(dut, "cycles")
        summaries += job["summaries"]
        started_ns = get_sim_time("ns")
        started, cpu_started = time.perf_counter(), time.process_time()
        await _play(dut, job["end"], summaries, job["timeout_cycles"], job["name"])
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        clock_cycles = round((get_sim_time("ns") - started_ns) / CLOCK_NS)
        cycles_after = await _access(dut, "cycles")
        results.append({"name": job["name"], "seconds": seconds, "cpu_seconds": cpu_seconds,
                        "clock_cycles": clock_cycles, "busy_cycles": (cycles_after - cycles_before) % (1 << 32),
                        "errors": await _access(dut, "errors"),
                        "dropped_packets": await _access(dut, "dropped_packets"),
                        "setup_recorded": setup_recorded, "recorded": int(dut.recorded.value)})
        dut._log.info("%s: %d clock cycles in %.3f s (%.0f cycles/s)", job["name"], clock_cycles, seconds,
                      clock_cycles / seconds)
    dut.dump.value = 1
    await RisingEdge(dut.aclk)
    dut.dump.value = 0
    await RisingEdge(dut.aclk)
    Path(parameters["results"]).write_text(json.dumps(results))
