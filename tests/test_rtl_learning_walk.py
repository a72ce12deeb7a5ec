"""Amaranth-simulator tests of the learning phases' small pieces (rtl/learning_walk.py).

The RULES decoder against the host packing: random rules packed by
:func:`spikestream.model.protocol.pack_rules` and decoded by the RTL equal
:func:`spikestream.rtl.learning.learning_rule_const` (the engine's reference), ranges and
trace bases included; out-of-range words are refused.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from spikestream.model.config import CoreConfig
from spikestream.model.generate import RandomNetworkOptions, random_network
from spikestream.model.protocol import RULE_FIELDS, RULE_FLAGS, RULE_WORDS, pack_rule_fields, pack_rules, trace_layout
from spikestream.rtl.learning import learning_rule_const
from spikestream.rtl.learning_walk import parse_rule, rule_entry_layout

CORES = [CoreConfig(max_neurons=48, max_inputs=16, max_synapses=1024, max_groups=8, lanes=4, timestep_bits=6),
         CoreConfig(max_neurons=40, max_inputs=12, max_synapses=512, max_groups=6, lanes=2, weight_bits=6,
                    trace_bits=11, prune_counter_bits=2, timestep_bits=6, trace_entries=128)]


def _decoder(core: CoreConfig):
    m = Module()
    words = [Signal(32, name=f"w{k}") for k in range(RULE_WORDS)]
    e = SimpleNamespace(core=core, entry_layout=rule_entry_layout(core),
                        n_inputs=Signal(range(core.max_inputs + 1), name="n_inputs"))
    entry, ok, _ = parse_rule(m, e, words)
    return m, words, entry, ok, e.n_inputs


@pytest.mark.parametrize("core", CORES, ids=["small", "odd-widths"])
def test_rules_decode_as_packed(core):
    m, words, entry, ok, n_inputs = _decoder(core)
    rng = np.random.default_rng(3)
    networks = [random_network(rng, core, RandomNetworkOptions(learning=True, pruning=core.pruning, max_inputs=8,
                                                               max_population_size=10)) for _ in range(12)]
    checked = []

    async def bench(ctx):
        for network in networks:
            ctx.set(n_inputs, network.n_inputs)  # the CONFIG before the RULES
            packed = pack_rules(network, core)
            traces = trace_layout(network, core)
            for index, group in enumerate(network.groups):
                for k in range(RULE_WORDS):
                    ctx.set(words[k], int(packed[index, k]))
                assert ctx.get(ok) == 1, f"group {index} refused: {packed[index]}"
                expected = learning_rule_const(core, group.learning, group.pruning)
                decoded = ctx.get(entry.rule)
                if group.learning is None:
                    assert decoded.enabled == 0
                else:
                    assert decoded.as_value().value == expected.as_value().value, (group.learning, group.pruning)
                assert ctx.get(entry.source_first) == network.source_offset(group.source)
                assert ctx.get(entry.source_count) == network.source_size(group.source)
                assert ctx.get(entry.target_first) == network.neuron_offset(group.target)
                assert ctx.get(entry.target_count) == network.population(group.target).size
                if group.learning is not None and group.learning.kind.name == "PAIR":
                    assert ctx.get(entry.pre_base) == traces.pre_base[index]
                    assert ctx.get(entry.post_base) == traces.post_base[index]
                checked.append(group.learning is not None)
            # A clamp outside the weight range is refused.
            bad = packed[0].copy()
            bad[0] |= 1 << RULE_FLAGS["plastic"]
            bad[1] = pack_rule_fields({"w_min": core.weight_min - 1, "w_max": 0})[1]
            for k in range(RULE_WORDS):
                ctx.set(words[k], int(bad[k]))
            assert ctx.get(ok) == 0
            # Trace bases must start a trace word (trace_lanes entries).
            pair = [i for i, g in enumerate(network.groups) if g.learning is not None and g.learning.kind.name == "PAIR"]
            if pair:
                for name in ("pre_trace_base", "post_trace_base"):
                    word, low, _ = RULE_FIELDS[name]
                    shifted = packed[pair[0]].copy()
                    shifted[word] += 1 << low
                    for k in range(RULE_WORDS):
                        ctx.set(words[k], int(shifted[k]))
                    assert ctx.get(ok) == 0, f"{name} off a trace word accepted"
                misaligned.append(name)
                # A PAIR group's sources are the input channels or neurons, never both (moving the
                # input/neuron boundary into the range needs a CONFIG the core takes: n_inputs <= max_inputs).
                first = network.source_offset(network.groups[pair[0]].source)
                if network.source_size(network.groups[pair[0]].source) > 1 and first + 1 <= core.max_inputs:
                    for k in range(RULE_WORDS):
                        ctx.set(words[k], int(packed[pair[0], k]))
                    ctx.set(n_inputs, first + 1)
                    assert ctx.get(ok) == 0, "a source range across the input channels and neurons accepted"
                    ctx.set(n_inputs, network.n_inputs)
                    spanning.append(first)

    misaligned, spanning = [], []
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert sum(checked) >= 5, "too few plastic groups drawn to prove anything"
    assert misaligned, "no PAIR group drawn: the trace-word alignment went untested"
    assert spanning, "no PAIR group with 2 sources drawn: the source-range check went untested"


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_sliding_window_reads_any_bit_range(width):
    """The trace walk's spike-flag window: bits base + (index - 1) * width .. of a vector, zeros past its end."""
    from spikestream.rtl.learning_walk import _sliding_window

    rng = np.random.default_rng(width)
    length = 21
    m = Module()
    vector = Signal(length)
    base = Signal(range(length + 1))
    index = Signal(range(length + 2))
    window = _sliding_window(m, vector, base, index, width, "window")
    checked = []

    async def bench(ctx):
        for _ in range(12):
            bits = int(rng.integers(0, 1 << length))
            start = int(rng.integers(0, length + 1))
            ctx.set(vector, bits)
            ctx.set(base, start)
            for k in range(-(-(length - start) // width) + 2):
                ctx.set(index, k)
                if k > 0:  # the window of word k - 1: this cycle's word and the last one's
                    low = start + (k - 1) * width
                    expected = (bits >> low) & ((1 << width) - 1) if low < length else 0
                    assert ctx.get(window) == expected, (bits, start, k)
                    checked.append(low)
                await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert max(checked) + width > length, "the window never reached past the vector's end"


class _MemoryModel:
    """A naive synaptic memory: rows of lane values, written whole."""

    def __init__(self, rows: int, lanes: int):
        self.rows = np.full((rows, lanes), -1, np.int64)  # -1: never written

    def write(self, address: int, row: list) -> None:
        self.rows[address] = row


@pytest.mark.parametrize("lanes", [1, 3, 4, 8])
def test_compactor_packs_survivors_in_place(lanes):
    """Random sources back to back, no cycle between them: the survivors end up packed, padded with 0.

    Every write lands in an already read row (in place is safe), the spill buffer is never
    needed twice (``overrun``) and is written in the first idle cycle after the walk.
    """
    from amaranth.hdl import unsigned

    from spikestream.rtl.compactor import RowCompactor

    dut = RowCompactor(unsigned(16), lanes, 9)
    rng = np.random.default_rng(lanes)
    memory = _MemoryModel(512, lanes)
    sources, first_row, value = [], 0, 1
    for _ in range(60):
        count = int(rng.integers(0, 3 * lanes + 2))
        rows = -(-count // lanes)
        values = list(range(value, value + count))
        value += count
        keep = rng.random(count) < rng.choice([0.0, 0.5, 0.9, 1.0])
        sources.append((first_row, rows, values, keep))
        first_row += rows
    spills = []

    async def bench(ctx):
        for first, rows, values, keep in sources:
            ctx.set(dut.in_first_row, first)
            tokens = [(r == rows - 1, values[r * lanes:(r + 1) * lanes], keep[r * lanes:(r + 1) * lanes])
                      for r in range(rows)] or [(True, [], [])]
            for r, (end, lane_values, lane_keep) in enumerate(tokens):
                ctx.set(dut.in_valid, 1)
                ctx.set(dut.in_end, end)
                ctx.set(dut.in_keep, sum(int(k) << i for i, k in enumerate(lane_keep)))
                for lane in range(lanes):
                    ctx.set(dut.in_lanes[lane], lane_values[lane] if lane < len(lane_values) else 0)
                assert not ctx.get(dut.overrun), f"spill buffer needed twice at source row {first}"
                spills.append(ctx.get(dut.spill_pending))
                if ctx.get(dut.write_en):
                    address = ctx.get(dut.write_address)
                    assert address <= first + r, f"write at row {address} before row {first + r} was read"
                    memory.write(address, [ctx.get(dut.write_row[lane]) for lane in range(lanes)])
                await ctx.tick()
        ctx.set(dut.in_valid, 0)
        if ctx.get(dut.write_en):  # the walk's first idle cycle writes the spill buffer
            memory.write(ctx.get(dut.write_address), [ctx.get(dut.write_row[lane]) for lane in range(lanes)])
        await ctx.tick()
        assert not ctx.get(dut.spill_pending) and not ctx.get(dut.write_en)
        assert ctx.get(dut.fill) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    pruned = []
    for first, rows, values, keep in sources:
        survivors = [v for v, k in zip(values, keep) if k]
        used = -(-len(survivors) // lanes)
        stored = memory.rows[first:first + used].reshape(-1)
        expected = survivors + [0] * (used * lanes - len(survivors))
        assert stored.tolist() == expected, (first, rows, values, keep.tolist())
        pruned.append(len(values) - len(survivors))
    assert sum(pruned) > 0 and any(c == 0 for c in pruned), "both pruned and intact sources must occur"
    if lanes > 1:
        assert any(spills), "no source spilled a second output row: the buffer went untested"
