"""cocotb tests of :class:`spikestream.rtl.csr.AxiLiteCsr` through cocotbext-axi's AxiLiteMaster.

The design under test is :class:`CsrHarness`: the bridge plus the simplest user-side
storage (a flop per RW register, a sticky flop per W1C register, an input per RO
register) and a counter of ``w_stb`` / ``r_stb`` pulses per register. The register map
reaches the simulator as the run's parameters (``{"register_map": RegisterMap.to_json()}``),
so the testbench knows offsets and access rights only from the exported map.

A naive model (a dict of values) predicts every read and every response; the AXI
channels run with random pauses on all five channels.
"""

from __future__ import annotations

import random

import cocotb
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from spikestream.rtl.axi import forward_ports
from spikestream.rtl.csr import Access, AxiLiteCsr, RegisterMap, axi_lite_members
from spikestream.sim.runner import tb_parameters

#: Simulated-time limit of each test: a lost response fails the test instead of hanging.
TEST_TIMEOUT_US = 2000

#: Width of the per-register strobe counters of the harness.
STROBE_COUNTER_BITS = 8


class CsrHarness(wiring.Component):
    """AxiLiteCsr with naive user-side storage, for simulation and formal checks.

    ``bridge`` is the bridge class (a deliberately broken subclass in the tests that
    prove the formal checks can fail).

    Ports: the ``s_axi_*`` ports of the bridge; ``ro__<name>`` (In) drives each RO
    register's ``r_data``; ``set__<name>`` (In) sets bits of each W1C register in the
    cycle it is high (set wins over a clear in the same cycle); ``writes__<name>`` and
    ``reads__<name>`` (Out) count the ``w_stb`` / ``r_stb`` pulses (wrapping).
    """

    def __init__(self, register_map: RegisterMap, *, address_width: int | None = None,
                 bridge: type[AxiLiteCsr] = AxiLiteCsr) -> None:
        self.register_map = register_map
        self.bridge = bridge
        self.address_width = address_width or register_map.address_width
        members = axi_lite_members(self.address_width)
        for register in register_map:
            if register.access is Access.RO:
                members[f"ro__{register.name}"] = In(register.width)
            if register.access is Access.W1C:
                members[f"set__{register.name}"] = In(register.width)
            members[f"writes__{register.name}"] = Out(STROBE_COUNTER_BITS)
            members[f"reads__{register.name}"] = Out(STROBE_COUNTER_BITS)
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.csr = csr = self.bridge(self.register_map, address_width=self.address_width)
        forward_ports(m, self, csr, "s_axi")
        for register in self.register_map:
            port = csr.register_port(register.name)
            writes = getattr(self, f"writes__{register.name}")
            reads = getattr(self, f"reads__{register.name}")
            with m.If(port.w_stb):
                m.d.sync += writes.eq(writes + 1)
            with m.If(port.r_stb):
                m.d.sync += reads.eq(reads + 1)
            if register.access is Access.RO:
                m.d.comb += port.r_data.eq(getattr(self, f"ro__{register.name}"))
                continue
            value = Signal(register.width, init=register.reset, name=f"value_{register.name}")
            m.d.comb += port.r_data.eq(value)
            if register.access is Access.RW:
                with m.If(port.w_stb):
                    m.d.sync += value.eq(port.w_data)
            else:
                set_bits = getattr(self, f"set__{register.name}")
                clear_bits = Mux(port.w_stb, port.w_data, 0)
                m.d.sync += value.eq((value & ~clear_bits) | set_bits)
        return m


class RegisterModel:
    """What the host should see: register values and the response to each access."""

    def __init__(self, regmap_json: dict) -> None:
        self.registers = regmap_json["registers"]
        self.by_offset = {entry["offset"]: (name, entry) for name, entry in self.registers.items()}
        self.values = {name: entry["reset"] for name, entry in self.registers.items()}

    def write(self, offset: int, data: int, strobe: int) -> AxiResp:
        if offset not in self.by_offset:
            return AxiResp.SLVERR
        name, entry = self.by_offset[offset]
        mask = sum(0xFF << (8 * lane) for lane in range(4) if strobe >> lane & 1)
        width_mask = (1 << entry["width"]) - 1
        if entry["access"] == Access.RO.value:
            return AxiResp.SLVERR
        if entry["access"] == Access.RW.value:
            self.values[name] = ((data & mask) | (self.values[name] & ~mask)) & width_mask
        else:
            self.values[name] &= ~(data & mask) & width_mask
        return AxiResp.OKAY

    def read(self, offset: int) -> tuple[int, AxiResp]:
        if offset not in self.by_offset:
            return 0, AxiResp.SLVERR
        name, _ = self.by_offset[offset]
        return self.values[name], AxiResp.OKAY


def _pauses(probability: float, rng: random.Random):
    while True:
        yield int(rng.random() < probability)


async def _setup(dut, pause_probability: float):
    parameters = tb_parameters()
    rng = random.Random(parameters.get("seed", 0))
    model = RegisterModel(parameters["register_map"])
    for name, entry in model.registers.items():
        if entry["access"] == Access.RO.value:
            getattr(dut, f"ro__{name}").value = entry["reset"]
        if entry["access"] == Access.W1C.value:
            getattr(dut, f"set__{name}").value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)
    if pause_probability:
        for channel in (master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel,
                        master.read_if.ar_channel, master.read_if.r_channel):
            channel.set_pause_generator(_pauses(pause_probability, rng))
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return master, model, rng, parameters


async def _check_read(master, model, offset: int) -> None:
    expected, expected_resp = model.read(offset)
    response = await master.read(offset, 4)
    assert response.resp == expected_resp, f"read at {offset:#x}: response {response.resp!r}, expected {expected_resp!r}"
    value = int.from_bytes(response.data, "little")
    assert value == expected, f"read at {offset:#x}: {value:#x}, expected {expected:#x}"


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def reset_values_read_back(dut):
    """Every mapped register reads its reset value; every unmapped word answers SLVERR."""
    master, model, _, parameters = await _setup(dut, 0.0)
    for offset in range(0, 1 << parameters["address_width"], 4):
        await _check_read(master, model, offset)


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def random_accesses_match_model(dut):
    """Random full and partial writes and reads, with random pauses on all channels."""
    master, model, rng, parameters = await _setup(dut, 0.3)
    span = 1 << parameters["address_width"]
    writes = {name: 0 for name in model.registers}
    for _ in range(parameters.get("accesses", 200)):
        offset = rng.randrange(0, span, 4)
        if rng.random() < 0.5:
            lanes = sorted(rng.sample(range(4), rng.randint(1, 4)))
            lanes = list(range(lanes[0], lanes[-1] + 1))  # AxiLiteMaster writes contiguous bytes
            data = rng.getrandbits(32)
            strobe = sum(1 << lane for lane in lanes)
            payload = bytes((data >> (8 * lane)) & 0xFF for lane in lanes)
            expected = model.write(offset, data, strobe)
            if expected == AxiResp.OKAY:
                writes[model.by_offset[offset][0]] += 1
            response = await master.write(offset + lanes[0], payload)
            assert response.resp == expected, f"write at {offset:#x}: {response.resp!r}, expected {expected!r}"
        else:
            await _check_read(master, model, offset)
    await ClockCycles(dut.clk, 2)
    for name, count in writes.items():
        observed = int(getattr(dut, f"writes__{name}").value)
        assert observed == count % (1 << STROBE_COUNTER_BITS), f"{name}: {observed} w_stb pulses for {count} writes"


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def concurrent_reads_and_writes_complete(dut):
    """Many reads and writes in flight at once all complete with the right responses."""
    master, model, rng, parameters = await _setup(dut, 0.2)
    span = 1 << parameters["address_width"]
    # Only reads of RO registers / unmapped words and writes elsewhere run concurrently,
    # so that the model's answers do not depend on the order the bridge picks.
    read_only = [o for o in range(0, span, 4) if o not in model.by_offset or
                 model.by_offset[o][1]["access"] == Access.RO.value]
    writable = [o for o in model.by_offset if model.by_offset[o][1]["access"] != Access.RO.value]

    async def reader():
        for _ in range(40):
            await _check_read(master, model, rng.choice(read_only))

    async def writer():
        for _ in range(40):
            offset = rng.choice(writable)
            data = rng.getrandbits(32)
            expected = model.write(offset, data, 0xF)
            response = await master.write(offset, data.to_bytes(4, "little"))
            assert response.resp == expected

    tasks = [cocotb.start_soon(reader()), cocotb.start_soon(writer()), cocotb.start_soon(reader())]
    for task in tasks:
        await task
    for offset in writable:
        await _check_read(master, model, offset)


@cocotb.test(timeout_time=TEST_TIMEOUT_US, timeout_unit="us")
async def w1c_clears_only_written_ones(dut):
    """W1C registers: hardware sets bits, the host clears exactly the ones it writes."""
    master, model, rng, _ = await _setup(dut, 0.0)
    for name, entry in model.registers.items():
        if entry["access"] != Access.W1C.value:
            continue
        pattern = rng.getrandbits(entry["width"]) | 1
        getattr(dut, f"set__{name}").value = pattern
        await RisingEdge(dut.clk)
        getattr(dut, f"set__{name}").value = 0
        model.values[name] |= pattern
        await _check_read(master, model, entry["offset"])
        clear = pattern & rng.getrandbits(entry["width"])
        assert model.write(entry["offset"], clear, 0xF) == AxiResp.OKAY
        await master.write(entry["offset"], clear.to_bytes(4, "little"))
        await _check_read(master, model, entry["offset"])
