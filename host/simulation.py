"""The RTL simulation as a driver backend: the unchanged driver, real AXI ports, Verilator.

A cocotb test (:func:`driver_session`) starts the clock, resets the core and runs a
*scenario* (a plain blocking function ``scenario(chip, **arguments) -> dict``) in a
thread with :func:`cocotb.bridge`. The scenario gets a
:class:`~spikestream.host.driver.SpikeCore` on a :class:`SimulationTransport`, whose every
call blocks the thread and drives the simulation with :func:`cocotb.resume`:
cocotbext-axi's ``AxiLiteMaster`` for registers, ``AxiStreamSource`` / ``AxiStreamSink``
for packets. So the driver code that runs on the board runs here, cycle by cycle,
against the generated Verilog.

From Python (pytest, a notebook), :func:`run_scenario` builds the core with
:mod:`spikestream.sim.runner` (cached) and runs a scenario in the simulator; the same
scenario can run directly on any other backend (``scenario(SpikeCore.golden(core), ...)``).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import cocotb
# Documented as cocotb.bridge / cocotb.resume; cocotb 2.1 does not re-export them at the top level.
from cocotb._bridge import bridge, resume
from cocotb.triggers import ClockCycles, with_timeout

from spikestream.model.config import CoreConfig
from spikestream.sim import axi_ports
from spikestream.sim.axi_ports import CLOCK_NS, to_bytes, to_words

from .transport import TransportError, TransportTimeout

__all__ = ["SimulationTransport", "run_scenario", "driver_session", "learning_report", "CLOCK_NS", "MAX_WAIT_CYCLES"]

log = logging.getLogger("spikestream.host.simulation")

#: Longest a receive waits in simulated cycles, whatever the host timeout (keeps a hang short).
MAX_WAIT_CYCLES = 500_000


class SimulationTransport:
    """A :class:`~spikestream.host.transport.Transport` on the simulated ``spikestream_core``.

    Call its methods only from a thread started with :func:`cocotb.bridge`.

    Parameters
    ----------
    dut
        The cocotb handle of ``spikestream_core`` (clock running, out of reset).
    core : CoreConfig
        The configuration the simulated Verilog was generated from.
    pause : float
        Probability of an idle input cycle and of an output backpressure cycle.
    seed : int
        Seed of the pause pattern.
    """

    name = "rtl-sim"

    def __init__(self, dut, core: CoreConfig, pause: float = 0.0, seed: int = 0):
        self.dut = dut
        self.core = core
        self._source = axi_ports.stream_source(dut)
        self._sink = axi_ports.stream_sink(dut)
        self._master = axi_ports.register_master(dut)
        self.words_sent = 0
        # Idle cycles on the input stream, backpressure on the output stream.
        axi_ports.add_pauses(self._source, self._sink, pause, seed)

    def read(self, offset: int) -> int:
        return resume(self._read)(offset)

    async def _read(self, offset: int) -> int:
        from cocotbext.axi import AxiResp

        response = await self._master.read(offset, 4)
        if response.resp != AxiResp.OKAY:
            raise TransportError(f"register read at {offset:#x} answered {response.resp.name}")
        return int.from_bytes(response.data, "little")

    def write(self, offset: int, value: int) -> None:
        resume(self._write)(offset, value)

    async def _write(self, offset: int, value: int) -> None:
        from cocotbext.axi import AxiResp

        response = await self._master.write(offset, to_bytes([value]))
        if response.resp != AxiResp.OKAY:
            raise TransportError(f"register write of {value:#x} at {offset:#x} answered {response.resp.name}")

    def send(self, words: Sequence[int]) -> None:
        if not len(words):
            raise TransportError("cannot send an empty packet")
        resume(self._send)(list(words))

    async def _send(self, words: list[int]) -> None:
        from cocotbext.axi import AxiStreamFrame

        # Queued: the source drives it while the sink keeps collecting output (no deadlock).
        await self._source.send(AxiStreamFrame(to_bytes(words)))
        self.words_sent += len(words)

    def receive(self, timeout: float) -> list[int]:
        # At least one cycle: a wait of 0 (resync(quiet=0)) is not a cocotb timer.
        cycles = max(1, int(min(timeout * self.core.clock_hz, MAX_WAIT_CYCLES)))
        return resume(self._receive)(cycles)

    async def _receive(self, cycles: int) -> list[int]:
        from cocotb.triggers import SimTimeoutError

        try:
            frame = await with_timeout(self._sink.recv(), cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise TransportTimeout(f"no packet from m_axis in {cycles} simulated cycles") from None
        return to_words(frame.tdata)

    def flush(self, timeout: float) -> None:
        cycles = max(1, int(min(timeout * self.core.clock_hz, MAX_WAIT_CYCLES)))
        resume(self._flush)(cycles)

    async def _flush(self, cycles: int) -> None:
        from cocotb.triggers import SimTimeoutError

        try:
            await with_timeout(self._source.wait(), cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise TransportTimeout(f"s_axis still had {self._source.count()} frames queued after {cycles} "
                                   "simulated cycles (the core stopped accepting input)") from None

    def wait_cycles(self, cycles: int) -> None:
        resume(ClockCycles)(self.dut.aclk, cycles)


def _resolve(path: str):
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


@cocotb.test()
async def driver_session(dut):
    """Run the scenario named in the parameters against the simulated core; write its results as JSON."""
    from spikestream.sim.runner import tb_parameters

    from .driver import SpikeCore

    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    axi_ports.start(dut)
    transport = SimulationTransport(dut, core, parameters.get("pause", 0.0), parameters.get("seed", 0))
    await axi_ports.reset(dut)
    scenario = _resolve(parameters["scenario"])

    def session() -> dict:
        return scenario(SpikeCore(transport, core), **parameters.get("arguments", {}))

    results = await bridge(session)()
    Path(parameters["results"]).write_text(json.dumps(results))


def run_scenario(core: CoreConfig, scenario: str, arguments: dict | None = None,
                 work_dir: str | os.PathLike | None = None, pause: float = 0.0, seed: int = 0) -> dict:
    """Run ``scenario`` (``"module:function"``) on the simulated core and return its results.

    The Verilator build of ``core`` is made once and cached (:mod:`spikestream.sim.runner`).
    ``arguments`` must be JSON-serialisable (pass file paths for arrays and networks);
    ``pause`` adds random idle input cycles and output backpressure (seeded by ``seed``).
    """
    import tempfile

    from spikestream.rtl.top import TOPLEVEL, generate_verilog
    from spikestream.sim.runner import build_verilog, run_cocotb

    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="spikestream-host-sim-"))
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "scenario-results.json"
    log.info("scenario %s on the simulated core %s (pause %s, seed %d)", scenario, core.to_json(), pause, seed)
    build = build_verilog(generate_verilog(core), TOPLEVEL)
    run = run_cocotb(build, "spikestream.host.simulation", testcase="driver_session",
                     parameters={"core": core.to_dict(), "scenario": scenario, "arguments": arguments or {},
                                 "results": str(results_path), "pause": pause, "seed": seed}, test_dir=work)
    run.check()
    return json.loads(results_path.read_text())


def rtl_against_golden(core: CoreConfig, scenario: str, arguments: dict, work_dir: str | os.PathLike | None = None,
                       pause: float = 0.0, seed: int = 0) -> tuple[dict, list[str]]:
    """Run ``scenario`` on the simulated core and on the golden backend; return the RTL's results and the differing keys.

    Both runs get the same JSON ``arguments``; an empty list means the backends agree.
    """
    from .driver import SpikeCore

    on_rtl = run_scenario(core, scenario, arguments, work_dir, pause, seed)
    on_golden = _resolve(scenario)(SpikeCore.golden(core), **arguments)
    return on_rtl, [key for key in on_golden if on_rtl.get(key) != on_golden[key]]


def learning_report(chip, network_path: str, inputs_path: str, rewards: list, split: int) -> dict:
    """A learning session through the driver (a scenario for :func:`run_scenario` or any backend).

    Loads the network, learns on the first ``split`` samples, reads the learned state back,
    reloads it exactly (weights, connectivity, pruning counters, LFSR), learns on the rest,
    and reports what the driver saw (JSON-serialisable).
    """
    import numpy as np

    from spikestream.model.fileformat import load_network

    network, core = load_network(network_path)
    inputs = np.load(inputs_path)
    chip.load(network, core)
    first = chip.learn(inputs[:split], rewards[:split])
    state = chip.synapses()
    chip.load(network, core, synapses=state)
    second = chip.learn(inputs[split:], rewards[split:])
    final = chip.synapses()
    inference = chip.run(inputs[:1])

    def batch(result) -> dict:
        return {"decisions": result.decisions.tolist(), "spikes": np.argwhere(result.spikes).tolist(),
                "step_cycles": result.step_cycles.tolist(), "learning_updates": result.learning_updates.tolist(),
                "learned": [None if r is None else list(r) for r in result.learned]}

    return {"first": batch(first), "second": batch(second), "inference": batch(inference),
            "live": final.live.tolist(), "weights": final.weight[final.live].tolist(),
            "prune_count": final.prune_count[final.live].tolist(), "lfsr": final.lfsr,
            "live_after_first": state.live.tolist(),
            "registers": {name: chip.read_register(name) for name in ("live_synapses", "pruned_synapses",
                                                                      "errors", "dropped_packets")}}
