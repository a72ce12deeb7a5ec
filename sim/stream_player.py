"""Fast simulation of the core: a Verilog stream player feeds and records its streams at full rate.

The verification testbench (:mod:`spikestream.sim.core_tb`) moves every stream word
through Python (cocotbext-axi), which caps a simulation at ~100,000 core cycles per
second whatever Verilator does. For long runs (benchmarks, evaluating a network on the
RTL) this module wraps ``spikestream_core`` in ``spikestream_stream_player``, a
Verilog module that

* holds the input words in a memory, read once from a hex file (``$readmemh``), and
  offers them on ``s_axis`` at full rate, up to an index cocotb sets (``play_until``);
* records every ``m_axis`` beat in a second memory, counts SUMMARY packets, and writes
  the recorded words to a hex file (``$writememh``) when cocotb asks;
* optionally pauses both streams pseudo-randomly (a 32-bit xorshift register), the
  source keeping ``tvalid`` and the payload until accepted, as AXI4-Stream requires;
* performs register accesses on the core's AXI4-Lite port with its own small manager
  (cocotb asks through the ``register_*`` ports), between the timed parts;
* registers every input before it reaches the core (see :func:`player_verilog`).

The player also makes the clock (``always #5 aclk = ~aclk``, built with Verilator's
``--timing``): with cocotb's clock every edge was a VPI write and its callbacks, 20-30 %
of the simulation's time. cocotb (:mod:`spikestream.sim.player_tb`) reads registers
between jobs, sets ``play_until`` / ``summaries_wanted`` and sleeps until the player
raises ``done``: no Python runs while the core works. The build is a speed build
(:func:`spikestream.sim.runner.speed_build_args`: only the player's ports and its clock
are public).
Every run is still a checked run: the recorded packets are decoded and compared with
the golden and cycle models by the caller (``bench/bench_core.py``, the tests) or
decoded into decisions and cycles (:func:`run_network`). The verification testbench
with cocotbext-axi stays the reference for protocol corner cases (random backpressure
patterns, bad input, readback); this path is for long runs.

Hex files: one stream beat per line, ``{tlast}{tdata:08x}`` (9 hex digits, 33 bits).

>>> words = encode_beats([[0x11000005], [1, 2]])
>>> words
['111000005', '000000001', '100000002']
>>> decode_beats(words)
[[285212677], [1, 2]]
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spikestream.model.config import WORD_BITS, WORD_MASK, CoreConfig
from spikestream.model.network import Network
from spikestream.model.protocol import OPCODE_BITS, OPCODE_SHIFT, OutOpcode

__all__ = ["PLAYER_TOPLEVEL", "INPUT_ADDRESS_BITS", "OUTPUT_ADDRESS_BITS", "PlayerJob", "PlayedJob",
           "build_player", "decode_beats", "encode_beats", "pause_level", "play", "player_verilog", "run_network"]

log = logging.getLogger("spikestream.sim.stream_player")

PLAYER_TOPLEVEL = "spikestream_stream_player"
#: Input memory: 2**20 words (an audio sample is ~500 to 1,000 input words).
INPUT_ADDRESS_BITS = 20
#: Output memory: 2**20 words (~1,000 output words per audio sample).
OUTPUT_ADDRESS_BITS = 20
_HEX_DIGITS = (WORD_BITS + 1 + 3) // 4


def encode_beats(packets: Sequence[Sequence[int]]) -> list[str]:
    """Return the hex-file lines of ``packets``: one beat a line, ``tlast`` above the word."""
    return [f"{(int(last) << WORD_BITS) | (int(word) & WORD_MASK):0{_HEX_DIGITS}x}"
            for packet in packets for last, word in ((k == len(packet) - 1, w) for k, w in enumerate(packet))]


def decode_beats(lines: Sequence[str]) -> list[list[int]]:
    """Return the packets of hex-file lines (the inverse of :func:`encode_beats`).

    Raises ValueError if the last beat does not end a packet (the recording stopped
    inside one).
    """
    packets, current = [], []
    for line in lines:
        beat = int(line, 16)
        current.append(beat & WORD_MASK)
        if beat >> WORD_BITS:
            packets.append(current)
            current = []
    if current:
        raise ValueError(f"the recorded stream ends inside a packet ({len(current)} words without TLAST)")
    return packets


def _read_hex(path: Path) -> list[str]:
    # $writememh writes address comments ("// 0x...") on some simulators: skip them.
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("//", "@"))]


def pause_level(probability: float) -> int:
    """Return the player's ``pause_level`` (0-255) for a pause probability per cycle and stream."""
    if not 0.0 <= probability < 1.0:
        raise ValueError(f"pause probability {probability} is outside [0, 1)")
    return round(probability * 256)


def player_verilog(core: CoreConfig, input_address_bits: int = INPUT_ADDRESS_BITS,
                   output_address_bits: int = OUTPUT_ADDRESS_BITS) -> str:
    """Return the Verilog of ``spikestream_stream_player`` (without the core it instantiates).

    Ports (all sampled at the rising edge of ``aclk``; outputs are registers):

    ``aresetn``
        Active-low reset of the player and (one cycle later) of the core.
    ``aclk`` (not a port)
        The clock, generated inside with period ``CLOCK_NS`` (the cocotb testbenches'
        period), starting low; cocotb reads it (``RisingEdge(dut.aclk)``) and never drives it.
    ``load``
        At a rising edge with ``load`` high, the input memory is read from the file
        named by the ``+stimulus=PATH`` plusarg.
    ``play_until``
        The source offers input words ``sent .. play_until - 1``, in order.
    ``summaries_wanted``
        ``done`` rises once ``sent == play_until`` and this many SUMMARY packets were
        recorded (all counts are since reset).
    ``pause_level`` (8 bits), ``seed`` (32 bits)
        Per cycle the source starts no new beat, and the sink holds ``tready`` low,
        each with probability ``pause_level / 256`` (0: full rate); the pseudo-random
        sequence starts from ``seed`` at reset.
    ``dump``
        At a rising edge with ``dump`` high, recorded words ``0 .. recorded - 1`` go to
        the file named by ``+recording=PATH``.
    ``sent``, ``recorded``, ``summaries``, ``done`` (out)
        Input words accepted by the core, output words recorded, SUMMARY packets
        recorded, and the ``done`` condition above.
    ``register_request``, ``register_write``, ``register_address``, ``register_write_data``
        A register access: one cycle with ``register_request`` high starts an AXI4-Lite
        write (``register_write`` high) or read of the core's register at byte
        ``register_address``, which the player's AXI4-Lite manager performs on ``s_axi``.
    ``register_done``, ``register_read_data``, ``register_response`` (out)
        ``register_done`` falls when a request is taken and rises when its response
        arrived (read data and ``RRESP`` / ``BRESP``).
    any other port of ``spikestream_core``
        Passed through (inputs registered).

    Why every input is registered: Verilator 5 evaluates each combinational path from
    a top-level input on every evaluation (both clock edges), and Amaranth's next-state
    logic reads the reset and the bus handshakes, so with the core's ports at the top
    level most of the core's logic ran twice per cycle. Behind registers it runs once,
    after the rising edge.

    Parameters
    ----------
    core : CoreConfig
        Reads the ports of the core's top level for it (so new ports are passed through).
    input_address_bits, output_address_bits : int
        The memories hold ``2 ** bits`` words each.
    """
    from amaranth.hdl import Shape
    from amaranth.lib import wiring

    from spikestream.rtl.top import TOPLEVEL, SpikestreamCore
    from spikestream.sim.runner import CLOCK_NS

    def vector(width: int) -> str:
        return f"[{width - 1}:0] " if width > 1 else ""

    top = SpikestreamCore(core)
    top._MustUse__silence = True  # only its signature is read: no "created but never used" warning
    widths = {name: Shape.cast(member.shape).width for name, member in top.signature.members.items()}
    driven = {"aclk": "aclk", "aresetn": "core_aresetn"}  # core port -> player net
    extra_ports, extra_registers = [], []
    for name, member in top.signature.members.items():
        if name.startswith(("s_axis_", "m_axis_", "s_axi_")) or name in driven:
            driven.setdefault(name, name)
        elif member.flow == wiring.In:
            extra_ports.append(f"    input  wire {vector(widths[name])}{name},")
            extra_registers.append(f"        {name}_r <= {name};")
            driven[name] = f"{name}_r"
        else:
            extra_ports.append(f"    output wire {vector(widths[name])}{name},")
    connections = ",\n".join(f"        .{name}({net})" for name, net in driven.items())
    registered = [name for name, net in driven.items() if net == f"{name}_r"]
    declarations = "".join(f"    reg {vector(widths[name])}{name}_r;\n" for name in registered)
    address_width = widths["s_axi_awaddr"]
    ib, ob, w = input_address_bits, output_address_bits, WORD_BITS
    summary = int(OutOpcode.SUMMARY)
    return f"""
// Generated by spikestream.sim.stream_player: plays input words into {TOPLEVEL}'s s_axis
// at full rate (or with pseudo-random pauses), records its m_axis beats, and performs
// register accesses on its s_axi. Simulation only (uses $readmemh / $writememh).
module {PLAYER_TOPLEVEL} (
    input  wire        aresetn,
{"".join(line + chr(10) for line in extra_ports)}    input  wire        load,
    input  wire [{ib}:0] play_until,
    input  wire [31:0] summaries_wanted,
    input  wire [7:0]  pause_level,
    input  wire [31:0] seed,
    input  wire        dump,
    input  wire        register_request,
    input  wire        register_write,
    input  wire [{address_width - 1}:0] register_address,
    input  wire [31:0] register_write_data,
    output reg  [{ib}:0] sent,
    output reg  [{ob}:0] recorded,
    output reg  [31:0] summaries,
    output reg         done,
    output reg         register_done,
    output reg  [31:0] register_read_data,
    output reg  [1:0]  register_response
);
    // The clock is generated here (Verilator --timing), not by cocotb: no VPI write and
    // callback per clock edge.
    reg aclk = 1'b0;
    always #{CLOCK_NS / 2:g} aclk = ~aclk;  // {CLOCK_NS} ns period
    reg [{w}:0] input_words [0:{(1 << ib) - 1}];
    reg [{w}:0] output_words [0:{(1 << ob) - 1}];
    reg [8*1024-1:0] stimulus_file;
    reg [8*1024-1:0] recording_file;
    initial begin
        if (!$value$plusargs("stimulus=%s", stimulus_file)) stimulus_file = "stimulus.hex";
        if (!$value$plusargs("recording=%s", recording_file)) recording_file = "recording.hex";
    end

    // Inputs behind registers (see player_verilog's docstring: the core's logic then
    // runs once per cycle, not on both clock edges).
    reg core_aresetn;
    reg [{ib}:0] play_until_r;
    reg [7:0] pause_level_r;
{declarations}    always @(posedge aclk) begin
        core_aresetn <= aresetn;
        play_until_r <= play_until;
        pause_level_r <= pause_level;
{"".join(line + chr(10) for line in extra_registers)}    end

    wire [{w - 1}:0] s_axis_tdata;
    wire s_axis_tvalid, s_axis_tlast, s_axis_tready;
    wire [{w - 1}:0] m_axis_tdata;
    wire m_axis_tvalid, m_axis_tlast, m_axis_tready;

    // Pseudo-random pauses: xorshift32 (13, 17, 5), one step per cycle; two bytes decide.
    reg [31:0] noise;
    wire [31:0] noise_a = noise ^ (noise << 13);
    wire [31:0] noise_b = noise_a ^ (noise_a >> 17);
    wire [31:0] noise_next = noise_b ^ (noise_b << 5);
    wire source_pauses = noise[7:0] < pause_level_r;
    wire sink_pauses = noise[15:8] < pause_level_r;

    // Source: once offered, a beat stays offered (payload fixed: it is the word at
    // `sent`, which moves only on acceptance) until the core takes it.
    reg offering;
    wire have_words = sent != play_until_r;
    assign s_axis_tvalid = offering && have_words;
    assign s_axis_tdata = input_words[sent[{ib - 1}:0]][{w - 1}:0];
    assign s_axis_tlast = input_words[sent[{ib - 1}:0]][{w}];
    wire accepted = s_axis_tvalid && s_axis_tready;

    // Sink.
    assign m_axis_tready = !sink_pauses;
    wire delivered = m_axis_tvalid && m_axis_tready;
    reg at_packet_start;

    always @(posedge aclk) begin
        if (load) $readmemh(stimulus_file, input_words);
        if (dump && recorded != 0) $writememh(recording_file, output_words, 0, recorded - 1);
        if (!aresetn) begin
            noise <= seed | 32'h1;  // xorshift never leaves 0
            offering <= 1'b0;
            sent <= 0;
            recorded <= 0;
            summaries <= 0;
            at_packet_start <= 1'b1;
            done <= 1'b0;
        end else begin
            noise <= noise_next;
            if (accepted) sent <= sent + 1'b1;
            if (!offering || accepted) offering <= !source_pauses;
            if (delivered) begin
                output_words[recorded[{ob - 1}:0]] <= {{m_axis_tlast, m_axis_tdata}};
                recorded <= recorded + 1'b1;
                at_packet_start <= m_axis_tlast;
                if (at_packet_start && m_axis_tdata[{w - 1}:{OPCODE_SHIFT}] == {OPCODE_BITS}'d{summary})
                    summaries <= summaries + 1;
            end
            done <= !have_words && summaries >= summaries_wanted;
        end
    end

    // AXI4-Lite manager: one access at a time, every output a register.
    reg [{address_width - 1}:0] s_axi_awaddr, s_axi_araddr;
    reg [31:0] s_axi_wdata;
    reg [{widths["s_axi_wstrb"] - 1}:0] s_axi_wstrb;
    reg s_axi_awvalid, s_axi_wvalid, s_axi_bready, s_axi_arvalid, s_axi_rready;
    wire s_axi_awready, s_axi_wready, s_axi_bvalid, s_axi_arready, s_axi_rvalid;
    wire [1:0] s_axi_bresp, s_axi_rresp;
    wire [31:0] s_axi_rdata;
    always @(posedge aclk) begin
        if (!aresetn) begin
            {{s_axi_awvalid, s_axi_wvalid, s_axi_bready, s_axi_arvalid, s_axi_rready}} <= 5'b0;
            register_done <= 1'b1;
            register_read_data <= 32'b0;
            register_response <= 2'b0;
        end else if (register_request && register_done) begin
            register_done <= 1'b0;
            s_axi_awaddr <= register_address;
            s_axi_araddr <= register_address;
            s_axi_wdata <= register_write_data;
            s_axi_wstrb <= {{{widths["s_axi_wstrb"]}{{1'b1}}}};
            s_axi_awvalid <= register_write;
            s_axi_wvalid <= register_write;
            s_axi_bready <= register_write;
            s_axi_arvalid <= !register_write;
            s_axi_rready <= !register_write;
        end else begin
            if (s_axi_awvalid && s_axi_awready) s_axi_awvalid <= 1'b0;
            if (s_axi_wvalid && s_axi_wready) s_axi_wvalid <= 1'b0;
            if (s_axi_arvalid && s_axi_arready) s_axi_arvalid <= 1'b0;
            if (s_axi_bready && s_axi_bvalid) begin
                s_axi_bready <= 1'b0;
                register_response <= s_axi_bresp;
                register_done <= 1'b1;
            end
            if (s_axi_rready && s_axi_rvalid) begin
                s_axi_rready <= 1'b0;
                register_read_data <= s_axi_rdata;
                register_response <= s_axi_rresp;
                register_done <= 1'b1;
            end
        end
    end

    {TOPLEVEL} core (
{connections}
    );
endmodule
"""


@dataclass(frozen=True)
class PlayerJob:
    """One job of a player run: set-up packets (untimed), then timed packets.

    Attributes
    ----------
    name : str
    setup : list of list of int
        Packets sent first, not timed (e.g. :func:`~spikestream.model.protocol.encode_load`);
        they must produce no SUMMARY.
    packets : list of list of int
        The timed packets (e.g. :func:`~spikestream.model.protocol.encode_sample` of each raster).
    summaries : int
        SUMMARY packets the timed packets make the core send (one per sample): the run
        waits for them.
    """

    name: str
    setup: list
    packets: list
    summaries: int

    @classmethod
    def samples(cls, name: str, network: Network, core: CoreConfig, inputs: np.ndarray) -> "PlayerJob":
        """Return the job that loads ``network`` and runs ``inputs`` (``bool [B, T, n_inputs]``)."""
        from spikestream.model.encoding import check_spike_batch
        from spikestream.model.protocol import encode_load, encode_sample

        inputs = check_spike_batch(inputs, network.timesteps, network.n_inputs)
        return cls(name, encode_load(network, core), [packet for raster in inputs for packet in encode_sample(raster)],
                   int(inputs.shape[0]))


@dataclass(frozen=True)
class PlayedJob:
    """What the player recorded for one :class:`PlayerJob`.

    Attributes
    ----------
    name : str
    packets : list of list of int
        Output packets of the timed part.
    setup_packets : list of list of int
        Output packets of the set-up part (normally none).
    seconds, cpu_seconds : float
        Wall and CPU (simulator process) seconds of the timed part: from handing the
        player its ``play_until`` to the ``done`` edge.
    clock_cycles : int
        ``aclk`` cycles of the timed part (simulation time / clock period).
    busy_cycles : int
        The core's ``cycles`` register over the timed part (cycles not waiting for input).
    errors, dropped_packets : int
        The ``errors`` and ``dropped_packets`` registers after the job.
    """

    name: str
    packets: list
    setup_packets: list
    seconds: float
    cpu_seconds: float
    clock_cycles: int
    busy_cycles: int
    errors: int
    dropped_packets: int


@functools.lru_cache(maxsize=8)
def build_player(core: CoreConfig):
    """Build (or reuse) the speed build of the player around the core of ``core``; return the SimBuild.

    Only the player's ports (inputs writable, outputs readable) and its clock (readable)
    are public: see :func:`spikestream.sim.runner.speed_build_args` for why that matters;
    its clock needs Verilator's timing support (:data:`~spikestream.sim.runner.TIMING_BUILD_ARGS`). Remembered per
    configuration for the life of the process: generating the core's Verilog, which the
    build cache's key needs, takes seconds.
    """
    from spikestream.rtl.top import generate_verilog
    from spikestream.sim.runner import TIMING_BUILD_ARGS, build_verilog, speed_build_args

    player = player_verilog(core)
    header = player[player.index(f"module {PLAYER_TOPLEVEL}"):player.index(");")]
    ports = re.findall(r"^\s*(input|output)\s+(?:wire|reg)\s*(?:\[[^]]*\])?\s*(\w+)", header, re.MULTILINE)
    inputs = [name for direction, name in ports if direction == "input"]
    outputs = [name for direction, name in ports if direction == "output"]
    return build_verilog(generate_verilog(core) + player, PLAYER_TOPLEVEL,
                         build_args=(*speed_build_args(PLAYER_TOPLEVEL, inputs, [*outputs, "aclk"]),
                                     *TIMING_BUILD_ARGS))


def _timeout_cycles(core: CoreConfig, words: int) -> int:
    # A hang guard, far above any legal run: a word can at most start a step that
    # delivers every synapse and updates every neuron.
    return words * (core.max_synapses // core.lanes + 2 * core.max_neurons + 64) + 100_000


def play(core: CoreConfig, jobs: Sequence[PlayerJob], *, pause: float = 0.0, seed: int = 1,
         work_dir: str | Path | None = None, keep_files: bool = False,
         timeout_cycles: int | None = None) -> list[PlayedJob]:
    """Run ``jobs`` in order on one simulation of the player build of ``core``.

    Parameters
    ----------
    core : CoreConfig
    jobs : sequence of PlayerJob
    pause : float
        Probability per cycle that the player's source starts no new beat and, apart,
        that its sink refuses one (0: full rate).
    seed : int
        Start of the player's pseudo-random pause sequence.
    work_dir : path, optional
        Where the stimulus, recording, parameters and log go (a temporary directory,
        deleted after a successful run unless ``keep_files``, if omitted).
    timeout_cycles : int, optional
        Clock cycles each part of a job may take before the run fails as hung (default:
        a bound far above any legal run, from the job's words and the core's size).

    Returns
    -------
    list of PlayedJob
        Raises :class:`~spikestream.sim.runner.SimulationError` or AssertionError (with
        the log's tail) if the simulation did not finish every job.
    """
    from spikestream.sim.runner import SimulationError, run_cocotb

    lines, boundaries = [], []
    for job in jobs:
        start = len(lines)
        lines += encode_beats(job.setup)
        setup_end = len(lines)
        lines += encode_beats(job.packets)
        boundaries.append({"name": job.name, "setup_end": setup_end, "end": len(lines), "summaries": job.summaries,
                           "timeout_cycles": timeout_cycles or _timeout_cycles(core, len(lines) - start)})
    if len(lines) > 1 << INPUT_ADDRESS_BITS:
        raise ValueError(f"{len(lines)} input words do not fit the player's {1 << INPUT_ADDRESS_BITS}-word memory: "
                         "split the jobs over several runs")
    build = build_player(core)
    temporary = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="spikestream-player-")) if temporary else Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    stimulus, recording, results_path = work / "stimulus.hex", work / "recording.hex", work / "results.json"
    stimulus.write_text("\n".join(lines) + "\n")
    recording.unlink(missing_ok=True)
    run = run_cocotb(build, "spikestream.sim.player_tb",
                     parameters={"jobs": boundaries, "pause_level": pause_level(pause), "seed": seed & 0xFFFFFFFF,
                                 "results": str(results_path)},
                     plusargs=[f"+stimulus={stimulus}", f"+recording={recording}"], test_dir=work / "run")
    run.check()
    if not results_path.is_file():
        raise SimulationError(f"the player run wrote no results; log {run.log_file}")
    results = json.loads(results_path.read_text())
    total = results[-1]["recorded"] if results else 0
    if total > 1 << OUTPUT_ADDRESS_BITS:
        raise SimulationError(f"the core sent {total} words, more than the player's {1 << OUTPUT_ADDRESS_BITS}-word "
                              "recording: split the jobs over several runs")
    words = _read_hex(recording) if total else []
    if len(words) != total:
        raise SimulationError(f"the recording {recording} holds {len(words)} words, the player counted {total}")
    played, start = [], 0
    for result in results:
        played.append(PlayedJob(
            result["name"], decode_beats(words[result["setup_recorded"]:result["recorded"]]),
            decode_beats(words[start:result["setup_recorded"]]), result["seconds"], result["cpu_seconds"],
            result["clock_cycles"], result["busy_cycles"], result["errors"], result["dropped_packets"]))
        start = result["recorded"]
    if temporary and not keep_files:
        shutil.rmtree(work, ignore_errors=True)
    return played


def run_network(network: Network, core: CoreConfig, inputs: np.ndarray,
                batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Run ``inputs`` (``bool [B, timesteps, n_inputs]``) on the player simulation of the core.

    The same contract as :func:`spikestream.sim.network_run.run_network` (decisions and
    cycles per sample, cycles as :func:`spikestream.model.cycles.sample_cycles` defines
    them), for long evaluations: the samples stream at full rate with no Python per
    word. Samples go in jobs of ``batch`` (each reloads the network), so any number
    fits the player's memories. Raises RuntimeError if the core flags an error.
    """
    from spikestream.model.cycles import input_cycles
    from spikestream.model.encoding import check_spike_batch
    from spikestream.model.protocol import decode_output, parse_header

    if batch < 1:
        raise ValueError(f"batch = {batch}: samples per player job must be at least 1")
    inputs = check_spike_batch(inputs, network.timesteps, network.n_inputs)
    jobs = [PlayerJob.samples(f"samples {start}-{start + len(chunk) - 1}", network, core, chunk)
            for start, chunk in ((k, inputs[k:k + batch]) for k in range(0, inputs.shape[0], batch))]
    decisions, cycles = [], []
    for job in play(core, jobs):
        if job.errors or job.dropped_packets:
            raise RuntimeError(f"the simulated core flagged errors ({job.errors:#x}, {job.dropped_packets} dropped "
                               f"packets) while running {job.name}")
        sample = []  # the packets of one sample: its STEP reports, then its SUMMARY
        for packet in job.packets:
            sample.append(packet)
            if parse_header(packet[0])[0] != OutOpcode.SUMMARY:
                continue
            steps, (summary,), _ = decode_output(sample)
            b = len(decisions)
            if b >= inputs.shape[0]:
                raise RuntimeError(f"the core reported more than {inputs.shape[0]} samples")
            decisions.append(summary.decision)
            # As the driver counts compute cycles (BatchResult.sample_cycles), plus the input words.
            cycles.append(input_cycles(inputs[b], summary.steps_run) + sum(step.cycles for step in steps)
                          + summary.cycles)
            sample = []
    if len(decisions) != inputs.shape[0]:
        raise RuntimeError(f"the core reported {len(decisions)} decisions for {inputs.shape[0]} samples")
    return np.asarray(decisions, np.int64), np.asarray(cycles, np.int64)
