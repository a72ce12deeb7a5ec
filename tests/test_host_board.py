"""The board backend, off the board: fakes of exactly the pynq calls it makes (MMIO, DMA channels, allocate).

Behind the fakes sits the golden emulation of the core, so the real driver and the
real :class:`BoardTransport` run end to end; only the board itself is faked.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from spikestream.boards.pynq_z2.design import OverlayDesign
from spikestream.host.board import (BoardTransport, core_from_parameters, core_parameters, max_packet_words,
                                    send_buffer_words)
from spikestream.host.driver import CoreError, SpikeCore
from spikestream.host.golden import GoldenTransport
from spikestream.host.transport import TransportError
from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.sim.cases import SMALL_CORE, random_case


class FakeChannel:
    """One AXI DMA channel in simple mode, as pynq's ``_SDMAChannel`` presents it."""

    def __init__(self, name):
        self.name = name
        self.busy = False
        self.error = False
        self.transferred = 0
        self.transfers = []
        self._buffer = None

    @property
    def idle(self):
        return not self.busy

    def transfer(self, array, start=0, nbytes=0):
        if self.busy:
            raise RuntimeError("DMA channel not idle")
        self._buffer = array
        self.transfers.append((start, nbytes or array.nbytes - start))
        self.busy = True

    def wait(self):
        if self.busy:
            raise AssertionError("the transport waited on a busy channel (pynq's wait would spin)")
        self._buffer = None


class FakeBoard:
    """MMIO and DMA in front of the golden emulation; a transfer completes when ``step`` says so."""

    def __init__(self, core, stall_sends=0):
        self.core_model = GoldenTransport(core, learning=False)
        # As pynq's DMA driver reads it from the handoff: the board build's length register.
        self.buffer_max_size = (1 << OverlayDesign().dma_length_bits) - 1
        self.sendchannel = FakeChannel("MM2S")
        self.recvchannel = FakeChannel("S2MM")
        self.stall_sends = stall_sends  # polls a send stays busy (the core accepting slowly)
        self._stalled = 0

    # MMIO of the core's register window
    def read(self, offset):
        self.step()
        return self.core_model.read(offset)

    def write(self, offset, value):
        self.core_model.write(offset, value)

    def step(self):
        """Let the fabric move: finish a send, deliver one output packet into an armed receive."""
        send = self.sendchannel
        if send.busy:
            if self._stalled < self.stall_sends:
                self._stalled += 1
            else:
                self._stalled = 0
                start, nbytes = send.transfers[-1]
                words = send._buffer[start // 4:(start + nbytes) // 4]
                self.core_model.send([int(w) for w in words])
                send.busy = False
        receive = self.recvchannel
        if receive.busy and self.core_model._output:
            packet = self.core_model._output.popleft()
            if len(packet) * 4 > receive._buffer.nbytes:
                receive.error = True
                return
            receive._buffer[:len(packet)] = packet
            receive.transferred = 4 * len(packet)
            receive.busy = False


class SteppingChannel(FakeChannel):
    """A channel whose ``idle`` lets the fake fabric advance (the transport polls it)."""

    def __init__(self, name, board):
        super().__init__(name)
        self.board = board

    @property
    def idle(self):
        self.board.step()
        return not self.busy


def board_transport(core, stall_sends=0, max_send_words=None):
    board = FakeBoard(core, stall_sends)
    board.sendchannel = SteppingChannel("MM2S", board)
    board.recvchannel = SteppingChannel("S2MM", board)
    allocate = lambda shape, dtype: np.zeros(shape, dtype)  # noqa: E731 (pynq.allocate's signature)
    return board, BoardTransport(board, board, allocate, core, max_send_words=max_send_words)


@pytest.mark.parametrize("stall_sends", [0, 3])
def test_driver_over_dma_equals_the_golden_backend(stall_sends):
    case = random_case(SMALL_CORE, 5, 3)
    board, transport = board_transport(SMALL_CORE, stall_sends)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    batch = chip.run(case.inputs, read_state=True)
    reference = golden.run(case.network, SMALL_CORE, case.inputs)
    assert np.array_equal(batch.decisions, reference.decision)
    assert np.array_equal(batch.spikes, reference.spikes)
    assert np.array_equal(batch.states[:, :, 0], reference.state.u)
    assert chip.synapses().weight.size == case.network.synapses().count  # READ_SYNAPSES over DMA
    # One MM2S transfer per packet (tlast ends each), every one 32-bit aligned.
    assert len(board.sendchannel.transfers) == transport.transfers_sent
    assert all(start == 0 and nbytes % 4 == 0 for start, nbytes in board.sendchannel.transfers)


def test_receive_buffer_fits_the_longest_packet():
    from spikestream.model.protocol import synapse_rows

    assert max_packet_words(SMALL_CORE) >= 1 + 4 * SMALL_CORE.max_neurons
    assert max_packet_words(SMALL_CORE) >= 1 + synapse_rows(SMALL_CORE) * SMALL_CORE.lanes


def test_the_fanout_table_of_every_source_fits_the_receive_buffer():
    """A core with many sources and few synapse rows: READ_FANOUT's answer is its longest packet."""
    from spikestream.model import INPUT, Decision, DecisionMode, Network, Population, SynapseGroup
    from spikestream.model.protocol import FANOUT_TABLE_WORDS

    core = CoreConfig(max_neurons=16, max_inputs=64, max_synapses=64, lanes=1, learning=False, pruning=False)
    assert max_packet_words(core) == 1 + FANOUT_TABLE_WORDS * core.num_sources
    rng = np.random.default_rng(4)
    mask = np.zeros((64, 16), bool)
    mask[rng.choice(64, 48, replace=False), rng.integers(0, 16, 48)] = True
    network = Network(64, [Population("out", 16, threshold=50)],
                      [SynapseGroup(INPUT, "out", rng.integers(1, 60, (64, 16)), mask)], 4, "out",
                      Decision(DecisionMode.SPIKE_COUNT))
    _, transport = board_transport(core)
    chip = SpikeCore(transport, core)
    chip.load(network, core)
    assert chip.connectivity()["live"] == int(mask.sum())  # READ_FANOUT of 80 sources: 241 words


def test_the_send_buffer_fits_every_packet_the_driver_sends():
    from spikestream.model.protocol import encode_load, encode_sample

    case = random_case(SMALL_CORE, 6, 1)
    longest = max(len(p) for p in encode_load(case.network, SMALL_CORE) + encode_sample(np.ones((2, SMALL_CORE.max_inputs), bool)))
    assert send_buffer_words(SMALL_CORE) >= longest
    assert send_buffer_words(CoreConfig(max_inputs=4095)) == 4096  # EVENTS with every channel


def test_dma_errors_say_which_channel():
    case = random_case(SMALL_CORE, 6, 1)
    board, transport = board_transport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    board.recvchannel.error = True
    with pytest.raises(TransportError, match="S2MM"):
        chip.run(case.inputs)


def test_a_core_that_stops_accepting_input_times_out():
    case = random_case(SMALL_CORE, 6, 1)
    board, transport = board_transport(SMALL_CORE, stall_sends=10**9)
    transport.send_timeout = 0.05
    chip = SpikeCore(transport, SMALL_CORE, timeout=0.05)
    with pytest.raises(CoreError, match=r"sending load packet \d+ of \d+ failed .*MM2S.*chip.resync\(\)"):
        chip.load(case.network, SMALL_CORE)
    with pytest.raises(CoreError, match="the packet stream may be out of step: sending load packet"):
        chip.load(case.network, SMALL_CORE)


def test_buffers_longer_than_the_dma_length_register_are_refused():
    """A DMA built with Vivado's default 14-bit length register cannot move the default core's readbacks."""
    board = FakeBoard(CoreConfig())
    board.buffer_max_size = (1 << 14) - 1
    allocate = lambda shape, dtype: np.zeros(shape, dtype)  # noqa: E731
    with pytest.raises(TransportError, match=r"the receive buffer needs 151556 bytes, the AXI DMA's length register "
                                             r"counts to 16383"):
        BoardTransport(board, board, allocate, CoreConfig())
    board.buffer_max_size = (1 << OverlayDesign().dma_length_bits) - 1
    BoardTransport(board, board, allocate, CoreConfig())


def test_packets_longer_than_the_send_buffer_are_refused():
    _, transport = board_transport(SMALL_CORE, max_send_words=8)
    with pytest.raises(TransportError, match="exceeds the send buffer of 8"):
        transport.send(list(range(9)))


def test_core_parameters_round_trip():
    core = CoreConfig(max_neurons=100, lanes=2, ttfs=False, learning=False, pruning=False)
    parameters = core_parameters(core)
    assert parameters["CORE_MAX_NEURONS"] == "100" and parameters["CORE_TTFS"] == "false"
    assert core_from_parameters(parameters) == core
    assert core_from_parameters({"C_BASEADDR": "0x0"}) is None


def test_the_driver_registers_with_real_pynq(pynq_python):
    """In a venv with pynq 4.0.0 (numpy < 2): bindto registers the driver for the core's VLNV."""
    script = ("from spikestream.host.board import register_driver, VLNV\n"
              "import pynq.overlay\n"
              "driver = register_driver()\n"
              "assert pynq.overlay._ip_drivers[VLNV] is driver, pynq.overlay._ip_drivers.get(VLNV)\n"
              "print('ok')\n")
    completed = subprocess.run([str(pynq_python), "-c", script], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0 and "ok" in completed.stdout, completed.stderr[-2000:]


#: What the board runs: the driver, its backends, the demos' helpers and the audio front end.
BOARD_MODULES = ("spikestream.host.board", "spikestream.host.driver", "spikestream.host.transport",
                 "spikestream.host.regmap", "spikestream.host.demo", "spikestream.model.protocol",
                 "spikestream.model.network", "spikestream.model.fileformat", "spikestream.model.encoding",
                 "spikestream.model.cycles", "spikestream.model.golden", "spikestream.model.learning_demos",
                 "spikestream.model.audio", "spikestream.model.audio.corpus")


def test_the_board_side_needs_numpy_and_pynq_only(pynq_python):
    """In the pynq venv (pynq, numpy < 2, this checkout; none of the build, training or plotting
    packages): the board's modules import, and so does each notebook's set-up cell (plots are optional)."""
    import json

    notebooks = sorted((Path(__file__).resolve().parents[1] / "boards" / "pynq_z2" / "notebooks").glob("*.ipynb"))
    setup_cells = ["".join(json.loads(path.read_text())["cells"][1]["source"]) for path in notebooks]
    script = (
        "import importlib, importlib.util, json, sys\n"
        "absent = [m for m in ('amaranth', 'torch', 'scipy', 'cocotb', 'matplotlib', 'h5py') "
        "if importlib.util.find_spec(m)]\n"
        "assert not absent, f'the venv is not board-like: it has {absent}'\n"
        f"for name in {BOARD_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"for cell in {setup_cells!r}:\n"
        "    scope = {}\n"
        "    exec(cell, scope)\n"
        "    assert scope['plt'] is None and scope['BACKEND'] == 'golden', scope['BACKEND']\n"
        "print('ok', len(sys.modules))\n")
    completed = subprocess.run([str(pynq_python), "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0 and "ok" in completed.stdout, completed.stderr[-2000:]
