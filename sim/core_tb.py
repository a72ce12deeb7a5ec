"""cocotb testbench of ``spikestream_core``: random differential tests through the real AXI ports.

Split (cocotb's matrix_multiplier example):

* *driver*: cocotbext-axi ``AxiStreamSource`` sends the packets of
  :mod:`spikestream.model.protocol` (load, samples, readback requests), ``AxiLiteMaster``
  reads and clears registers; random pauses on the input stream and backpressure on the
  output stream;
* *monitors*: an ``AxiStreamMonitor`` on ``s_axis`` records what the core actually
  accepted, an ``AxiStreamSink`` on ``m_axis`` what it sent;
* *model*: the golden and cycle models, fed with the input events the input monitor saw
  (:func:`spikestream.sim.scoreboard.inputs_from_packets`);
* *checker*: :class:`spikestream.sim.scoreboard.Scoreboard`.

Tests: ``random_networks`` (the differential test), ``learning_networks`` (the same with
PAIR learning and pruning on: after every sample the synapses read back, the LFSR and
the learning registers equal ``golden.learn``), ``bad_input`` (each error flagged,
counted and dropped, duplicate input events included, the surrounding sample unharmed),
``reset_anywhere`` (a reset in the middle of a step leaves a working core),
``early_exit_report`` (the SUMMARY leaves right after the deciding step, before
END_SAMPLE is sent) and ``queue_overflow`` (input events and neuron spikes that find the
event queue full: flagged, counted, dropped, compared packet for packet with the
protocol emulation :class:`spikestream.host.golden.GoldenTransport`; needs a core whose
queue is shallower than its inputs).

Parameters (``spikestream.sim.runner.tb_parameters``): ``core`` (CoreConfig dict),
``seeds``, ``samples``, ``pause`` (probability of an idle / backpressure cycle), ``fill``
(networks that use the whole core: ``RandomNetworkOptions.fill``) and ``results`` (path of
a JSON file the test writes: per seed its mismatches, the size of its network and the
golden model's spikes and dropped events).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamFrame

from spikestream.model import cycles
from spikestream.model.config import CoreConfig
from spikestream.host.golden import GoldenTransport
from spikestream.host.transport import TransportTimeout
from spikestream.model.golden import Counter
from spikestream.model.network import INPUT, Decision, DecisionMode, Network, Population, SynapseGroup
from spikestream.model.protocol import (ErrorFlag, InOpcode, OutOpcode, decode_fanout_table, decode_learned, decode_output,
                                        decode_synapse_rows,
                                        encode_load, encode_sample, header, parse_header, synapse_layout)
from spikestream.rtl.registers import REGISTERS, STATUS_BITS, version_word
from spikestream.sim import axi_ports
from spikestream.sim.axi_ports import CLOCK_NS, to_bytes, to_words
from spikestream.sim.cases import bad_input_packets, network_size, random_case, random_learning_case
from spikestream.sim.runner import tb_parameters
from spikestream.model import golden
from spikestream.sim.scoreboard import (Scoreboard, busy_cycles, expected_learning_sample, expected_queue_registers,
                                        expected_samples, inputs_from_packets,
                                        split_samples, stored_synapses)

#: Longest wait for one output packet: far above any step of the small test networks.
RECEIVE_TIMEOUT_CYCLES = 200_000


class CoreHarness:
    """Drivers and monitors around one DUT."""

    def __init__(self, dut, pause: float, seed: int):
        self.dut = dut
        self.source = axi_ports.stream_source(dut)
        self.input_monitor = axi_ports.stream_monitor(dut)
        self.sink = axi_ports.stream_sink(dut)
        self.registers = axi_ports.register_master(dut)
        self.observed_inputs: list[list[int]] = []
        axi_ports.add_pauses(self.source, self.sink, pause, seed)

    async def reset(self) -> None:
        await axi_ports.reset(self.dut)

    async def read(self, name: str) -> int:
        return await self.registers.read_dword(REGISTERS.offset(name))

    async def write(self, name: str, value: int) -> None:
        await self.registers.write_dword(REGISTERS.offset(name), value)

    async def send(self, packets: list[list[int]]) -> None:
        for packet in packets:
            await self.source.send(AxiStreamFrame(to_bytes(packet)))

    async def receive(self, count: int, timeout_cycles: int) -> list[list[int]]:
        packets = []
        for _ in range(count):
            frame = await with_timeout(self.sink.recv(), timeout_cycles * CLOCK_NS, "ns")
            packets.append(to_words(frame.tdata))
        return packets

    def drain_input_monitor(self) -> list[list[int]]:
        while not self.input_monitor.empty():
            self.observed_inputs.append(to_words(self.input_monitor.recv_nowait().tdata))
        return self.observed_inputs


async def _start(dut, pause: float, seed: int) -> CoreHarness:
    axi_ports.start(dut)
    harness = CoreHarness(dut, pause, seed)
    await harness.reset()
    return harness


@cocotb.test()
async def random_networks(dut):
    """Random networks and inputs: every output packet, state, counter and cycle equals the model."""
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    harness = await _start(dut, parameters.get("pause", 0.0), parameters["seeds"][0] if parameters["seeds"] else 0)
    assert await harness.read("version") == version_word()
    assert await harness.read("config_hash") == core.hash32(), "the build's config hash differs from the CoreConfig"
    report = {}
    all_ok = True
    for seed in parameters["seeds"]:
        try:
            case = random_case(core, seed, parameters.get("samples", 2), parameters.get("fill", False))
        except ValueError as error:  # a generator bug, not a core bug: report it, go on
            report[str(seed)] = {"mismatches": [f"seed {seed}: no case could be drawn: {error}"]}
            all_ok = False
            continue
        network = case.network
        await harness.write("control", 1)  # clear the counters
        harness.observed_inputs.clear()
        await harness.send(encode_load(network, core))
        layout = synapse_layout(network, core)
        rows = layout.rows.shape[0]
        if rows:  # read the synaptic memory back: the connectivity as stored
            await harness.send([[header(InOpcode.READ_SYNAPSES, 0), rows]])
        await harness.send([[header(InOpcode.READ_FANOUT, 0), network.n_sources]])
        for sample in case.inputs:
            await harness.send(encode_sample(sample))
            await harness.send([[header(InOpcode.READ_NEURONS)]])
        # Wait for every sample's NEURON_STATE packet (a hang fails on the timeout).
        received = []
        while sum(1 for p in received if parse_header(p[0])[0] == OutOpcode.NEURON_STATE) < len(case.inputs):
            received += await harness.receive(1, RECEIVE_TIMEOUT_CYCLES)
        await ClockCycles(dut.aclk, 4)
        observed = harness.drain_input_monitor()
        inputs = inputs_from_packets(observed, network.timesteps, network.n_inputs)
        scoreboard = Scoreboard(label=f"seed {seed}: ")
        scoreboard._check("samples seen by the input monitor", inputs.shape[0], len(case.inputs))
        # What the monitor saw on s_axis is what the case meant to send (a driver or encoder bug would
        # otherwise shrink the stimulus, and the expected results with it).
        scoreboard._check("input spikes seen by the input monitor", inputs, np.asarray(case.inputs, bool))
        expected = expected_samples(network, core, inputs)
        readback = [p for p in received if parse_header(p[0])[0] == OutOpcode.SYNAPSE_ROWS]
        pointers = [p for p in received if parse_header(p[0])[0] == OutOpcode.FANOUT_TABLE]
        received = [p for p in received if parse_header(p[0])[0] not in (OutOpcode.SYNAPSE_ROWS,
                                                                          OutOpcode.FANOUT_TABLE)]
        scoreboard._check("SYNAPSE_ROWS packets", len(readback), 1 if rows else 0)
        if readback:
            first_row, stored = decode_synapse_rows(readback[0], core.lanes)
            scoreboard._check("synaptic memory readback", stored, layout.rows)
        scoreboard._check("FANOUT_TABLE packets", len(pointers), 1)
        if pointers:
            first_source, table = decode_fanout_table(pointers[0])
            scoreboard._check("fan-out table readback", table,
                              np.stack([layout.first_row, layout.count, np.zeros_like(layout.count)], axis=1))
        for index, (wanted, packets) in enumerate(zip(expected, split_samples(received))):
            scoreboard.compare_sample(index, wanted, packets)
        counters = np.sum([w.counters for w in expected], axis=0) if expected else np.zeros(len(Counter))
        totals = counters.sum(axis=0)
        # Events of steps after an early exit are ignored, those that find the event queue full
        # dropped: neither is accepted.
        accepted = sum(int(sample[:w.summary.steps_run].sum()) for sample, w in zip(inputs, expected))
        accepted -= int(totals[Counter.INPUTS_DROPPED])
        scoreboard._check("register events_in", await harness.read("events_in"), accepted)
        scoreboard._check("register events_out", await harness.read("events_out"), int(totals[Counter.SPIKES]))
        scoreboard._check("register synaptic_ops", await harness.read("synaptic_ops"),
                          int(totals[Counter.SYNAPTIC_OPS]))
        queue = expected_queue_registers(expected)
        scoreboard._check("register dropped_packets", await harness.read("dropped_packets"), queue["dropped_packets"])
        # Inference leaves the learning state as the load made it: every synapse live, none
        # pruned or updated, the LFSR at its seed.
        scoreboard._check("register live_synapses", await harness.read("live_synapses"), network.synapses().count)
        scoreboard._check("register pruned_synapses", await harness.read("pruned_synapses"), 0)
        scoreboard._check("register learning_updates", await harness.read("learning_updates"), 0)
        scoreboard._check("register lfsr", await harness.read("lfsr"), golden.LFSR_SEED)
        if parameters.get("pause", 0.0) == 0.0:
            # Without backpressure the core never waits for FIFO room: its busy cycles are
            # exactly the cycle model's (load check, readbacks, steps, sample ends).
            busy = (cycles.CONFIG_COMMIT_CYCLES + (cycles.synapse_readback_cycles(core, rows) if rows else 0)
                    + cycles.fanout_readback_cycles(network.n_sources))
            for wanted in expected:
                busy += busy_cycles(wanted) + cycles.readback_cycles(network)
            scoreboard._check("register cycles (busy, no backpressure)", await harness.read("cycles"), busy)
        scoreboard._check("register errors", await harness.read("errors"), queue["errors"])
        await harness.write("errors", queue["errors"])  # clear the flags for the next case
        report[str(seed)] = _case_report(network, scoreboard, expected)
        all_ok &= scoreboard.ok
        dut._log.info("seed %d: %d checks, %d mismatches", seed, scoreboard.checked, len(scoreboard.mismatches))
        for line in scoreboard.mismatches[:10]:
            dut._log.error(line)
    if parameters.get("results"):
        Path(parameters["results"]).write_text(json.dumps(report, indent=1))
    assert all_ok, f"mismatches in seeds {[s for s, r in report.items() if r['mismatches']]}"


def _case_report(network: Network, scoreboard: Scoreboard, samples: list) -> dict:
    """A case's entry in the results file: its mismatches, how much of the core it used, and
    what its samples (ExpectedSample) gave the checks: spikes, events a full queue dropped."""
    totals = np.sum([sample.counters.sum(axis=0) for sample in samples], axis=0) if samples else np.zeros(len(Counter))
    return {"mismatches": scoreboard.mismatches, **network_size(network), "spikes": int(totals[Counter.SPIKES]),
            "events_dropped": int(totals[Counter.INPUTS_DROPPED] + totals[Counter.SPIKES_DROPPED])}


async def _run_and_collect(harness: CoreHarness, packets: list[list[int]]) -> list[list[int]]:
    """Send packets ending with READ_NEURONS and return the output up to that readback."""
    await harness.send(packets + [[header(InOpcode.READ_NEURONS)]])
    received = []
    while not received or parse_header(received[-1][0])[0] != OutOpcode.NEURON_STATE:
        received += await harness.receive(1, RECEIVE_TIMEOUT_CYCLES)
    return received


@cocotb.test()
async def bad_input(dut):
    """Malformed and out-of-range packets are flagged, counted and dropped; the sample is unharmed."""
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    seed = parameters["seeds"][0]
    harness = await _start(dut, parameters.get("pause", 0.0), seed)
    case = random_case(core, seed, 1)
    # No early exit: every injected packet must reach a running sample to be judged.
    network = dataclasses.replace(case.network, decision=Decision(case.network.decision.mode, early_exit=False))
    steps = network.timesteps
    duplicate_step = 1 if steps > 1 else 0
    raster = case.inputs[0].copy()
    raster[duplicate_step, 0] = True  # a channel to send twice
    expected = expected_samples(network, core, raster[None])[0]
    await harness.send(encode_load(network, core))
    await harness.write("control", 1)  # clear the counters
    scoreboard = Scoreboard(label="bad input: ")

    # Bad packets (bad_input_packets, the protocol emulation's tests send the same), each sent
    # alone after END_STEP(0): its flags, one dropped packet, then cleared.
    bad = bad_input_packets(network, core)
    sample = encode_sample(raster)
    # Duplicate events of one step (a channel spikes at most once per step): one inside
    # the step's EVENTS packet, one in a packet of its own after it.
    events_at = next(k for k, p in enumerate(sample) if parse_header(p[0]) == (InOpcode.EVENTS, duplicate_step))
    repeated = sample[events_at][1]
    sample[events_at] = sample[events_at] + [repeated]
    sample.insert(events_at + 1, [header(InOpcode.EVENTS, duplicate_step), repeated])
    first_end = next(k for k, p in enumerate(sample) if parse_header(p[0])[0] == InOpcode.END_STEP)
    await harness.send(sample[:first_end + 1])
    for index, (packet, flags) in enumerate(bad):
        await harness.send([packet])
        await harness.source.wait()
        await ClockCycles(dut.aclk, 8)  # the parser has taken the last word
        what = f"bad packet {index} {[hex(w) for w in packet[:3]]}"
        mask = sum(1 << flag for flag in flags)
        scoreboard._check(f"{what}: errors register", await harness.read("errors"), mask)
        scoreboard._check(f"{what}: dropped_packets register", await harness.read("dropped_packets"), index + 1)
        await harness.write("errors", mask)
    received = await _run_and_collect(harness, sample[first_end + 1:])
    scoreboard.compare_sample(0, expected, received)
    scoreboard._check("errors register (duplicate events)", await harness.read("errors"),
                      1 << ErrorFlag.DUPLICATE_EVENT)
    scoreboard._check("dropped_packets register", await harness.read("dropped_packets"), len(bad) + 2)
    scoreboard._check("events_in register (duplicates not accepted)", await harness.read("events_in"),
                      int(raster.sum()))
    await harness.write("errors", (1 << len(ErrorFlag)) - 1)
    scoreboard._check("errors register after clearing", await harness.read("errors"), 0)

    # The core carries on without a reset: the same sample, clean, gives the same result.
    received = await _run_and_collect(harness, encode_sample(raster))
    scoreboard.compare_sample(1, expected, received)
    scoreboard._check("errors register after a clean sample", await harness.read("errors"), 0)
    status = await harness.read("status")
    scoreboard._check("status configured", (status >> STATUS_BITS["configured"]) & 1, 1)
    for line in scoreboard.mismatches[:20]:
        dut._log.error(line)
    assert scoreboard.ok, f"{len(scoreboard.mismatches)} mismatches"


@cocotb.test()
async def reset_anywhere(dut):
    """A reset at any moment of a step leaves a core that loads and runs a sample exactly.

    The reset lands at successive cycles after the first STEP packet, that is inside the
    next steps' delivery and update, where accumulators hold partial sums.
    """
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    harness = await _start(dut, 0.0, 0)
    busy_seed = None
    for seed in parameters["seeds"]:  # a case whose step 1 delivers synapses
        case = random_case(core, seed, 1)
        expected = expected_samples(case.network, core, case.inputs)[0]
        if len(expected.steps) > 2 and expected.steps[1].synaptic_ops > 0:
            busy_seed = seed
            break
    assert busy_seed is not None, "no seed with synaptic work in step 1"
    scoreboard = Scoreboard(label=f"reset (seed {busy_seed}): ")
    for offset in range(0, 24, 3):
        await harness.send(encode_load(case.network, core) + encode_sample(case.inputs[0]))
        await harness.receive(1, RECEIVE_TIMEOUT_CYCLES)  # step 0 reported: step 1 is under way
        await ClockCycles(dut.aclk, offset)
        await harness.reset()
        harness.source.clear()
        harness.sink.clear()
        received = await _run_and_collect(harness, encode_load(case.network, core) + encode_sample(case.inputs[0]))
        scoreboard.compare_sample(offset, expected, [p for p in received if parse_header(p[0])[0] in (
            OutOpcode.STEP, OutOpcode.SUMMARY, OutOpcode.NEURON_STATE)])
    for line in scoreboard.mismatches[:20]:
        dut._log.error(line)
    assert scoreboard.ok, f"{len(scoreboard.mismatches)} mismatches"


def _packets_until(received: list[list[int]], opcode: OutOpcode) -> bool:
    return bool(received) and parse_header(received[-1][0])[0] == opcode


@cocotb.test()
async def early_exit_report(dut):
    """With early exit the SUMMARY follows the deciding step at once, before END_SAMPLE.

    The host sends a sample only up to the deciding END_STEP and must receive the SUMMARY;
    the rest of the sample (events and markers of later steps, END_SAMPLE) then produces
    no packet, no error and no counted event, and the next sample runs exactly.
    """
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    harness = await _start(dut, parameters.get("pause", 0.0), parameters["seeds"][0])
    chosen = None
    for seed in list(parameters["seeds"]) + list(range(1000, 1200)):  # a case that decides before its last step
        case = random_case(core, seed, 2)
        network = dataclasses.replace(case.network, decision=Decision(DecisionMode.FIRST_SPIKE, early_exit=True))
        expected = expected_samples(network, core, case.inputs)
        if 1 <= expected[0].summary.steps_run < network.timesteps:
            chosen = seed
            break
    assert chosen is not None, "no case decides before its last step"
    scoreboard = Scoreboard(label=f"early exit (seed {chosen}): ")
    await harness.send(encode_load(network, core))
    await harness.write("control", 1)  # clear the counters
    sample = encode_sample(case.inputs[0])
    deciding = expected[0].summary.steps_run - 1
    cut = next(k for k, p in enumerate(sample) if parse_header(p[0]) == (InOpcode.END_STEP, deciding)) + 1
    await harness.send(sample[:cut])
    first = []
    while not _packets_until(first, OutOpcode.SUMMARY):  # a hang fails on the timeout
        first += await harness.receive(1, RECEIVE_TIMEOUT_CYCLES)
    status = await harness.read("status")
    scoreboard._check("status sample_done after the SUMMARY", (status >> STATUS_BITS["sample_done"]) & 1, 1)
    scoreboard._check("status step after the SUMMARY", status >> STATUS_BITS["step"], deciding + 1)
    rest = await _run_and_collect(harness, sample[cut:])
    scoreboard._check("packets after the SUMMARY (only the readback)",
                      [parse_header(p[0])[0] for p in rest], [OutOpcode.NEURON_STATE])
    scoreboard.compare_sample(0, expected[0], first + rest)
    status = await harness.read("status")
    scoreboard._check("status sample_done after END_SAMPLE", (status >> STATUS_BITS["sample_done"]) & 1, 0)
    scoreboard._check("status step after END_SAMPLE", status >> STATUS_BITS["step"], 0)
    received = await _run_and_collect(harness, encode_sample(case.inputs[1]))
    scoreboard.compare_sample(1, expected[1], received)
    accepted = sum(int(raster[:w.summary.steps_run].sum()) for raster, w in zip(case.inputs, expected))
    scoreboard._check("register events_in", await harness.read("events_in"), accepted)
    scoreboard._check("register dropped_packets", await harness.read("dropped_packets"), 0)
    scoreboard._check("register errors", await harness.read("errors"), 0)
    for line in scoreboard.mismatches[:20]:
        dut._log.error(line)
    assert scoreboard.ok, f"{len(scoreboard.mismatches)} mismatches"


def _overflow_network(core: CoreConfig) -> Network:
    """Inputs that all excite every hidden neuron: a full step of input makes them all spike.

    Sized so that one step's input events, and one step's input events plus the hidden
    spikes, can exceed the event queue (needs ``event_queue_depth < max_inputs``).
    """
    n_inputs = core.max_inputs
    hidden = min(core.max_neurons - 2, core.event_queue_depth // 2 + 1)
    weight = (1 << (core.weight_bits - 1)) - 1
    return Network(
        n_inputs=n_inputs,
        populations=[Population("hidden", hidden, threshold=weight // 2), Population("out", 2, threshold=weight)],
        groups=[SynapseGroup(INPUT, "hidden", np.full((n_inputs, hidden), weight)),
                SynapseGroup("hidden", "out", np.ones((hidden, 2), np.int64))],
        timesteps=4, output="out", decision=Decision(DecisionMode.SPIKE_COUNT))


async def _against_emulation(harness: CoreHarness, emulation: GoldenTransport, packets: list[list[int]],
                             scoreboard: Scoreboard, label: str) -> list[list[int]]:
    """Send ``packets`` (+ READ_NEURONS) to the core and the emulation; compare every output packet."""
    for packet in packets + [[header(InOpcode.READ_NEURONS)]]:
        emulation.send(packet)
    wanted = []
    while True:  # the emulation answers at once: take everything it sent
        try:
            wanted.append(emulation.receive(timeout=0))
        except TransportTimeout:
            break
    received = await _run_and_collect(harness, packets)  # adds the READ_NEURONS
    scoreboard._check(f"{label}: number of output packets", len(received), len(wanted))
    for index, (observed, expected) in enumerate(zip(received, wanted)):
        scoreboard._check(f"{label}: output packet {index}", observed, expected)
    for name in ("errors", "dropped_packets", "events_in", "events_out", "synaptic_ops"):
        scoreboard._check(f"{label}: register {name}", await harness.read(name),
                          emulation.read(REGISTERS.offset(name)))
    return wanted


@cocotb.test()
async def queue_overflow(dut):
    """Input events and neuron spikes beyond the event queue: flagged, counted, dropped, recovered.

    Step 0 sends every input channel (more than the queue holds); step 1 delivers the
    events that fit, the hidden neurons all spike, and their spikes join step 1's input
    events in a queue too small for them. The core must drop exactly the events and
    spikes that do not fit (the protocol emulation says which), keep the neuron state,
    and run the next sample exactly, without a reset.
    """
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    depth = core.event_queue_depth
    assert depth < core.max_inputs, f"queue depth {depth} must be below max_inputs {core.max_inputs} to overflow"
    harness = await _start(dut, parameters.get("pause", 0.0), parameters["seeds"][0])
    network = _overflow_network(core)
    emulation = GoldenTransport(core, learning=False)
    scoreboard = Scoreboard(label="queue overflow: ")
    await harness.send(encode_load(network, core))
    await harness.write("control", 1)  # clear the counters
    for packet in encode_load(network, core):
        emulation.send(packet)
    emulation.write(REGISTERS.offset("control"), 1)

    raster = np.zeros((network.timesteps, network.n_inputs), bool)
    raster[0] = True  # every channel: more than the queue holds
    raster[1, :depth - 1] = True  # fits, but leaves room for one spike only
    wanted = await _against_emulation(harness, emulation, encode_sample(raster), scoreboard, "overflowing sample")
    step1 = decode_output([p for p in wanted if parse_header(p[0]) == (OutOpcode.STEP, 1)])[0][0]
    spikes_in_step1 = step1.spike_count
    dropped_spikes = spikes_in_step1 - 1
    # The scenario must really overflow both ways, or the test proves nothing.
    assert dropped_spikes > 0, f"step 1 should make more than one spike, made {spikes_in_step1}"
    scoreboard._check("errors register", await harness.read("errors"), 1 << ErrorFlag.QUEUE_OVERFLOW)
    scoreboard._check("dropped_packets register (one input packet, each spike)",
                      await harness.read("dropped_packets"), 1 + dropped_spikes)
    scoreboard._check("events_in register (the events that fit)", await harness.read("events_in"),
                      depth + depth - 1)
    scoreboard._check("step 1 delivered the events that fit", step1.events, depth)
    await harness.write("errors", (1 << len(ErrorFlag)) - 1)
    emulation.write(REGISTERS.offset("errors"), (1 << len(ErrorFlag)) - 1)

    # Recovery without reset: a sample that fits the queue equals the golden model.
    clean = np.zeros_like(raster)
    clean[0, :2] = True  # then the hidden spikes of step 1 alone: they fit
    expected = expected_samples(network, core, clean[None])[0]
    received = await _against_emulation(harness, emulation, encode_sample(clean), scoreboard, "clean sample")
    scoreboard.compare_sample(0, expected, received)
    scoreboard._check("errors register after the clean sample", await harness.read("errors"), 0)
    for line in scoreboard.mismatches[:20]:
        dut._log.error(line)
    assert scoreboard.ok, f"{len(scoreboard.mismatches)} mismatches"


def _enable_word(flags) -> int:
    return sum(1 << g for g, on in enumerate(flags) if on)


class _LearningRun:
    """One network on the core, sample after sample, each checked against ``golden.learn``."""

    def __init__(self, harness: CoreHarness, core: CoreConfig, network: Network, synapses: golden.SynapseState,
                 scoreboard: Scoreboard):
        self.harness, self.core, self.network, self.synapses = harness, core, network, synapses
        self.scoreboard = scoreboard
        self.rows = synapse_layout(network, core, synapses.live, synapses.weight).rows.shape[0]
        self.busy = 0  # counters are cleared after the load is in (_load_for_learning)
        self.updates = 0
        self.expected: list = []  # every sample's ExpectedSample (a full event queue's registers)

    async def sample(self, index: int, raster: np.ndarray, flags, reward: int) -> None:
        """Run one sample (+ REWARD when needed), read the synapses back, compare everything."""
        harness, core, network, scoreboard = self.harness, self.core, self.network, self.scoreboard
        await harness.write("learning_enable", _enable_word(flags))
        rewarded = any(f and g.learning is not None and g.learning.reward_modulated
                       for f, g in zip(flags, network.groups))
        readback = [[header(InOpcode.REWARD, reward)]] if rewarded else []
        readback.append([header(InOpcode.READ_FANOUT, 0), network.n_sources])
        if self.rows:
            readback.append([header(InOpcode.READ_SYNAPSES, 0), self.rows])
        await harness.send(encode_sample(raster) + readback + [[header(InOpcode.READ_NEURONS)]])
        received = []
        while not received or parse_header(received[-1][0])[0] != OutOpcode.NEURON_STATE:
            received += await harness.receive(1, RECEIVE_TIMEOUT_CYCLES)
        observed = inputs_from_packets(harness.drain_input_monitor(), network.timesteps, network.n_inputs)
        harness.observed_inputs.clear()
        scoreboard._check(f"sample {index}: samples seen by the input monitor", observed.shape[0], 1)
        scoreboard._check(f"sample {index}: input spikes seen by the input monitor", observed,
                          np.asarray(raster, bool)[None])
        wanted = expected_learning_sample(network, core, observed[0] if observed.shape[0] else raster, self.synapses,
                                          flags, reward if rewarded else None)
        by_kind = {}
        for packet in received:
            by_kind.setdefault(parse_header(packet[0])[0], []).append(packet)
        learning = any(f and g.learning is not None for f, g in zip(flags, network.groups))
        scoreboard._check(f"sample {index}: LEARNED packets", len(by_kind.get(OutOpcode.LEARNED, [])),
                          1 if learning else 0)
        if learning and by_kind.get(OutOpcode.LEARNED):
            observed_learned = decode_learned(by_kind[OutOpcode.LEARNED][0])
            for name in observed_learned._fields:
                scoreboard._check(f"sample {index}: LEARNED {name}", getattr(observed_learned, name),
                                  getattr(wanted.learned, name))
        main = [p for p in received if parse_header(p[0])[0] in (OutOpcode.STEP, OutOpcode.SUMMARY,
                                                                  OutOpcode.NEURON_STATE)]
        scoreboard.compare_sample(index, wanted.sample, main)
        self.synapses = synapses = wanted.synapses
        stored = stored_synapses(core, by_kind[OutOpcode.FANOUT_TABLE][0],
                                 by_kind[OutOpcode.SYNAPSE_ROWS][0] if self.rows else None)
        table = network.synapses()
        live = synapses.live
        expected_fields = {"source": table.source[live], "target": table.target[live],
                           "weight": synapses.weight[live], "group": table.group[live]}
        if core.pruning:
            expected_fields["prune_count"] = synapses.prune_count[live]
        for name, values in expected_fields.items():
            scoreboard._check(f"sample {index}: stored synapse {name}s", stored[name], values)
        scoreboard._check(f"sample {index}: pruned per source", stored["pruned_per_source"],
                          np.bincount(table.source[~live], minlength=network.n_sources))
        scoreboard._check(f"sample {index}: register lfsr", await harness.read("lfsr"), synapses.lfsr)
        scoreboard._check(f"sample {index}: register live_synapses", await harness.read("live_synapses"),
                          int(live.sum()))
        scoreboard._check(f"sample {index}: register pruned_synapses", await harness.read("pruned_synapses"),
                          int((~live).sum()))
        self.updates += int(wanted.sample.counters[:, golden.Counter.LEARNING_UPDATES].sum()) + wanted.learned.updates
        self.expected.append(wanted.sample)
        self.busy += busy_cycles(wanted.sample)
        if learning:
            self.busy += wanted.learned.cycles + cycles.FIFO_WAIT_CYCLES
        self.busy += (cycles.fanout_readback_cycles(network.n_sources) + cycles.readback_cycles(network)
                      + (cycles.synapse_readback_cycles(core, self.rows) if self.rows else 0))

    async def check_registers(self, pause: float) -> None:
        scoreboard, harness = self.scoreboard, self.harness
        scoreboard._check("register learning_updates", await harness.read("learning_updates"), self.updates)
        if pause == 0.0:
            scoreboard._check("register cycles (busy, no backpressure)", await harness.read("cycles"), self.busy)
        queue = expected_queue_registers(self.expected)
        scoreboard._check("register errors", await harness.read("errors"), queue["errors"])
        scoreboard._check("register dropped_packets", await harness.read("dropped_packets"), queue["dropped_packets"])
        await harness.write("errors", queue["errors"])  # clear the flags for the next case


async def _load_for_learning(harness: CoreHarness, core: CoreConfig, network: Network,
                             synapses: golden.SynapseState | None = None) -> None:
    """Load ``network`` (with a learned state's pruning counters and LFSR), then clear the counters."""
    counts = None if synapses is None or not core.pruning else synapses.prune_count
    await harness.send(encode_load(network, core, prune_count=counts))
    await harness.source.wait()  # the CONFIG (which reseeds the LFSR) is in before the LFSR is restored
    await ClockCycles(harness.dut.aclk, 4)
    if synapses is not None:
        await harness.write("lfsr", synapses.lfsr)
    await harness.write("control", 1)  # clear the counters
    harness.observed_inputs.clear()


@cocotb.test()
async def learning_networks(dut):
    """Learning and pruning: every packet, the stored synapses, LFSR and counters equal golden.learn after each sample."""
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    pause = parameters.get("pause", 0.0)
    harness = await _start(dut, pause, parameters["seeds"][0] if parameters["seeds"] else 0)
    report = {}
    all_ok = True
    for seed in parameters["seeds"]:
        case = random_learning_case(core, seed, parameters.get("samples", 4), parameters.get("fill", False))
        scoreboard = Scoreboard(label=f"learning seed {seed}: ")
        await _load_for_learning(harness, core, case.network)
        run = _LearningRun(harness, core, case.network, golden.initial_synapse_state(case.network), scoreboard)
        for index, (raster, flags, reward) in enumerate(zip(case.inputs, case.enabled, case.rewards)):
            await run.sample(index, raster, flags, reward)
        await run.check_registers(pause)
        await harness.write("learning_enable", 0)
        report[str(seed)] = _case_report(case.network, scoreboard, run.expected)
        all_ok &= scoreboard.ok
        dut._log.info("learning seed %d: %d checks, %d mismatches", seed, scoreboard.checked,
                      len(scoreboard.mismatches))
        for line in scoreboard.mismatches[:10]:
            dut._log.error(line)
    if parameters.get("results"):
        Path(parameters["results"]).write_text(json.dumps(report, indent=1))
    assert all_ok, f"mismatches in seeds {[s for s, r in report.items() if r['mismatches']]}"


def _edge_network(core: CoreConfig) -> Network:
    """Weights at the clamp bounds, a reward-modulated layer that prunes itself away, silent outputs."""
    from spikestream.model.network import LearningKind, LearningRule, PruningRule

    bound = min(40, core.weight_max)
    hidden = np.array([[bound, -bound, bound], [-bound, bound, -bound], [bound, bound, bound],
                       [-bound, -bound, -bound]])
    at_bounds = LearningRule(a_plus=255, a_minus=255, shift=0, soft_bound=True, w_min=-bound, w_max=bound,
                             pre_increment=min(200, core.trace_max), post_increment=min(200, core.trace_max),
                             trace_decay_shift=1, stochastic_rounding=True)
    rewarded = LearningRule(a_plus=60, a_minus=60, shift=2, w_min=-bound, w_max=bound, trace_decay_shift=1,
                            pre_increment=min(100, core.trace_max), post_increment=min(100, core.trace_max),
                            reward_modulated=True)
    ttfs = LearningRule(kind=LearningKind.TTFS, a_plus=20, a_minus=20, shift=0, w_min=-bound, w_max=bound,
                        reward_modulated=True, winner_only=True)
    return Network(4, [Population("hidden", 3, threshold=bound // 2, voltage_decay=1000),
                       Population("out", 2, threshold=core.state_max)],
                   [SynapseGroup(INPUT, "hidden", hidden, learning=at_bounds),
                    # |w| <= bound always: every rewarded update prunes (all fan-in of both outputs goes).
                    SynapseGroup("hidden", "out", np.full((3, 2), 3), learning=rewarded,
                                 pruning=PruningRule(threshold=bound, patience=1)),
                    SynapseGroup(INPUT, "out", np.full((4, 2), 2), learning=ttfs)],
                   6, "out", Decision(DecisionMode.MAX_POTENTIAL))


@cocotb.test()
async def learning_edge_cases(dut):
    """Clamp bounds, reward without an output spike, a neuron's whole fan-in pruned, learning off mid-run, reload.

    Samples: all groups learn at reward 0 (the reward-modulated layer only accumulates and
    is cleared), then at reward +1 (every synapse onto the outputs is pruned), then with
    the first group disabled at reward -1, then inference; then the pruned network is
    reloaded with its pruning counters and LFSR and learns on, as golden does from that state.
    """
    parameters = tb_parameters()
    core = CoreConfig.from_dict(parameters["core"])
    harness = await _start(dut, 0.0, 0)
    network = _edge_network(core)
    rng = np.random.default_rng(5)
    rasters = rng.random((6, network.timesteps, network.n_inputs)) < 0.6
    scoreboard = Scoreboard(label="learning edge cases: ")
    await _load_for_learning(harness, core, network)
    run = _LearningRun(harness, core, network, golden.initial_synapse_state(network), scoreboard)
    plan = [([True, True, True], 0), ([True, True, True], 1), ([False, True, True], -1), ([False] * 3, 0)]
    for index, (flags, reward) in enumerate(plan):
        await run.sample(index, rasters[index], flags, reward)
    state = run.synapses
    table = network.synapses()
    onto_outputs = table.group == 1
    scoreboard._check("every synapse onto the outputs is pruned", bool(state.live[onto_outputs].any()), False)
    scoreboard._check("weights reached the clamp bounds", bool(np.isin(
        state.weight[table.group == 0], [-min(40, core.weight_max), min(40, core.weight_max)]).all()), True)
    await run.check_registers(0.0)
    # Reload what was learned (the pruned network, its counters and LFSR) and learn on.
    learned = golden.network_with_synapses(network, state)
    kept = golden.SynapseState(state.weight[state.live], np.ones(int(state.live.sum()), bool),
                               state.prune_count[state.live], state.lfsr)
    await _load_for_learning(harness, core, learned, kept)
    run = _LearningRun(harness, core, learned, kept, scoreboard)
    for index in (4, 5):
        await run.sample(index, rasters[index], [True, True, True], 1)
    await run.check_registers(0.0)
    await harness.write("learning_enable", 0)
    for line in scoreboard.mismatches[:20]:
        dut._log.error(line)
    assert scoreboard.ok, f"{len(scoreboard.mismatches)} mismatches"
