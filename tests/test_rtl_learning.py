"""LearningEngine and TraceUpdate in the Amaranth simulator against the golden model's own functions.

Each random case is one plastic group ``input -> post`` with a random rule, pruning rule,
weights (many at the clamp bounds), pruning counters, traces, eligibilities, spikes,
first-spike times, winner, reward and LFSR state. The golden model's ``_pair_step`` /
``_end_of_sample`` apply the rule to the whole group; the engine gets the group's live
synapses in canonical order (the order the core walks them), some lanes left idle, and
must return the same weights, eligibilities, pruning counters, pruned flags, update
count and final LFSR state, bit for bit.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from spikestream.model import INPUT, CoreConfig, LearningKind, LearningRule, Network, Population, PruningRule
from spikestream.model import golden
from spikestream.model.network import SynapseGroup
from spikestream.rtl.learning import (LEARNING_LATENCY, LearningEngine, TraceUpdate, learning_rule_const,
                                      numerator_bits)
from spikestream.rtl.lfsr import LFSR_SEED

SMALL = CoreConfig(max_neurons=32, max_inputs=32, max_synapses=1024)
#: Odd widths everywhere: the engine's datapath is generated from the configuration.
ODD = CoreConfig(max_neurons=32, max_inputs=32, max_synapses=1024, weight_bits=6, trace_bits=11,
                 eligibility_bits=9, prune_counter_bits=2, timestep_bits=5)


class Case(NamedTuple):
    """One random group and what the golden model made of it."""

    network: Network
    rule: LearningRule
    pruning: PruningRule | None
    enabled: bool
    end_of_sample: bool
    reward: int
    before: golden.SynapseState
    after: golden.SynapseState
    eligibility_before: np.ndarray
    eligibility_after: np.ndarray
    updates: int
    operands: list[dict]  #: per live synapse, canonical order: the engine's input fields


def _random_rule(rng: np.random.Generator, core: CoreConfig, kind: LearningKind) -> LearningRule:
    """A rule over the whole allowed ranges, biased towards the edges."""
    low, high = sorted(int(v) for v in rng.integers(core.weight_min, core.weight_max + 1, 2))
    w_min, w_max = [(core.weight_min, core.weight_max), (low, high), (low, low), (0, high if high > 0 else 1)][
        rng.integers(4)]
    shift = int(rng.choice([0, 0, 1, 3, 8, 15, 16, 17, 24, int(rng.integers(0, 25))]))

    def amplitude():
        return int(rng.choice([0, 1, 255, int(rng.integers(0, 256))]))

    return LearningRule(
        kind=kind, a_plus=amplitude(), a_minus=amplitude(), shift=shift, soft_bound=bool(rng.random() < 0.5),
        w_min=w_min, w_max=w_max, pre_increment=int(rng.integers(0, core.trace_max + 1)),
        post_increment=int(rng.integers(0, core.trace_max + 1)),
        trace_decay_shift=int(rng.integers(1, core.trace_bits + 1)),
        stochastic_rounding=bool(rng.random() < 0.5), reward_modulated=bool(rng.random() < 0.4),
        winner_only=kind is LearningKind.TTFS and bool(rng.random() < 0.3))


def _random_case(rng: np.random.Generator, core: CoreConfig, end_of_sample: bool) -> Case:
    kind = LearningKind.TTFS if end_of_sample and rng.random() < 0.6 else LearningKind.PAIR
    rule = _random_rule(rng, core, kind)
    pruning = None
    if rng.random() < 0.7:
        threshold = int(rng.choice([0, 1, 5, core.weight_max, int(rng.integers(0, core.weight_max + 1))]))
        patience = int(rng.choice([1, 1, 2, core.prune_patience_max]))
        pruning = PruningRule(threshold=threshold, patience=patience)
    pre_size, post_size = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    mask = rng.random((pre_size, post_size)) < rng.choice([0.3, 0.8, 1.0])
    # Weights at the bounds, next to them, and anywhere in between.
    weights = np.select([rng.random(mask.shape) < p for p in (0.2, 0.25, 0.1)],
                        [np.full(mask.shape, rule.w_min), np.full(mask.shape, rule.w_max),
                         np.full(mask.shape, min(rule.w_min + 1, rule.w_max))],
                        rng.integers(rule.w_min, rule.w_max + 1, mask.shape))
    network = Network(pre_size, [Population("post", post_size, threshold=100)],
                      [SynapseGroup(INPUT, "post", weights, mask=mask, learning=rule, pruning=pruning)],
                      timesteps=4, output="post")
    params = golden.compile_network(network, core)
    count = params.synapse_source.size
    patience = pruning.patience if pruning else 1
    before = golden.SynapseState(
        weight=network.synapses().weight.copy(),
        live=rng.random(count) < 0.9,  # a few already pruned: neither stored nor presented
        prune_count=rng.integers(0, patience, count) if pruning else np.zeros(count, np.int64),
        lfsr=int(rng.integers(1, 1 << 16)))
    eligibility = np.where(rng.random(count) < 0.2, rng.choice([-1, 1], count) * core.eligibility_max,
                           rng.integers(-core.eligibility_max, core.eligibility_max + 1, count))
    pre_trace = np.where(rng.random(pre_size) < 0.2, core.trace_max, rng.integers(0, core.trace_max + 1, pre_size))
    post_trace = np.where(rng.random(post_size) < 0.2, core.trace_max,
                          rng.integers(0, core.trace_max + 1, post_size))
    traces = golden._Traces([pre_trace.astype(np.int64)], [post_trace.astype(np.int64)], eligibility.astype(np.int64))
    enabled = bool(rng.random() < 0.9)
    plastic = golden._plastic_groups(network, params, [enabled])
    after = copy.deepcopy(before)
    after_traces = copy.deepcopy(traces)
    pre_spike = rng.random(pre_size) < 0.4
    post_spike = rng.random(post_size) < 0.4
    steps = network.timesteps
    pre_first = np.where(rng.random(pre_size) < 0.7, rng.integers(0, steps, pre_size), -1)
    post_first = np.where(rng.random(post_size) < 0.7, rng.integers(0, steps, post_size), -1)
    winner = int(rng.integers(0, post_size))
    reward = int(rng.choice([-1, 0, 1]))
    if end_of_sample:
        state = golden.initial_neuron_state(params, 1)._replace(first_spike_step=post_first[None].astype(np.int64))
        all_first = np.concatenate([pre_first, np.full(post_size, -1)]).astype(np.int64)
        updates, lfsr = golden._end_of_sample(network, params, plastic, after, after_traces, state, all_first, winner,
                                              reward, before.lfsr)
    else:
        spikes = np.concatenate([pre_spike, post_spike])
        updates, lfsr = golden._pair_step(network, params, plastic, after, after_traces, spikes, before.lfsr, core)
    after = after._replace(lfsr=lfsr)
    # What the core hands the engine: x after this step's update, yd decayed only.
    x = np.minimum(pre_trace - (pre_trace >> rule.trace_decay_shift) + rule.pre_increment * pre_spike,
                   core.trace_max)
    y_decayed = post_trace - (post_trace >> rule.trace_decay_shift)
    operands = []
    for k in np.flatnonzero(before.live):
        j, i = int(params.synapse_source[k]), int(params.synapse_target[k])
        operands.append(dict(
            weight=int(before.weight[k]), eligibility=int(eligibility[k]), prune_count=int(before.prune_count[k]),
            pre_spike=int(pre_spike[j]), post_spike=int(post_spike[i]), pre_trace=int(x[j]),
            post_trace_decayed=int(y_decayed[i]), pre_fired=int(pre_first[j] >= 0),
            pre_first_step=max(0, int(pre_first[j])), post_fired=int(post_first[i] >= 0),
            post_first_step=max(0, int(post_first[i])), post_is_winner=int(i == winner)))
    return Case(network, rule, pruning, enabled, end_of_sample, reward, before, after, eligibility,
                after_traces.eligibility, updates, operands)


def _run_engine(core: CoreConfig, lanes: int, cases: list[Case], seed: int) -> list[dict]:
    """Feed every case's live synapses to the engine (random idle lanes) and collect its results."""
    dut = LearningEngine(core, lanes=lanes, tag_bits=16)
    lanes = dut.lanes
    rng = np.random.default_rng(seed)
    operand_array = data.ArrayLayout(dut.operands_layout, lanes)
    rule_array = data.ArrayLayout(dut.rule_layout, lanes)
    idle = {name: 0 for name in dut.operands_layout.members}
    outputs = []

    async def bench(ctx):
        for case in cases:
            results = []
            ctx.set(dut.lfsr_load, 1)
            ctx.set(dut.lfsr_load_value, case.before.lfsr)
            await ctx.tick()
            ctx.set(dut.lfsr_load, 0)
            ctx.set(dut.in_end_of_sample, int(case.end_of_sample))
            ctx.set(dut.in_reward, case.reward)
            rule = learning_rule_const(core, case.rule, case.pruning, case.enabled).as_bits()
            ctx.set(dut.in_rule, rule_array.from_bits(sum(rule << (k * rule_array.elem_shape.size)
                                                          for k in range(lanes))))
            pending = list(case.operands)
            cycle = drained = 0
            while drained <= LEARNING_LATENCY:
                lanes_now = [k for k in range(lanes) if rng.random() < 0.75][:len(pending)]
                lane_operands = [idle] * lanes
                for k in lanes_now:
                    lane_operands[k] = pending.pop(0)
                ctx.set(dut.in_valid, sum(1 << k for k in lanes_now))
                ctx.set(dut.in_synapse, operand_array.const(lane_operands))
                ctx.set(dut.in_tag, cycle)
                valid = ctx.get(dut.out_valid)
                if valid:
                    result = ctx.get(dut.out_result)
                    assert ctx.get(dut.out_tag) == cycle - LEARNING_LATENCY
                    results.extend({name: getattr(result[k], name) for name in dut.result_layout.members}
                                   for k in range(lanes) if valid >> k & 1)
                await ctx.tick()
                cycle += 1
                drained += not pending
            results.append({"lfsr": ctx.get(dut.lfsr_state)})
            outputs.append(results)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outputs


def _check(case: Case, results: list[dict]) -> None:
    lfsr = results.pop()["lfsr"]
    live = np.flatnonzero(case.before.live)
    assert len(results) == live.size, f"{len(results)} results for {live.size} synapses"
    got = {name: np.array([r[name] for r in results], np.int64) for name in results[0]} if results else None
    where = f"(rule {case.rule}, pruning {case.pruning}, enabled {case.enabled}, reward {case.reward})"
    if results:
        np.testing.assert_array_equal(got["weight"], case.after.weight[live], err_msg=f"weights {where}")
        np.testing.assert_array_equal(got["eligibility"], case.eligibility_after[live],
                                      err_msg=f"eligibilities {where}")
        np.testing.assert_array_equal(got["prune_count"], case.after.prune_count[live],
                                      err_msg=f"pruning counters {where}")
        np.testing.assert_array_equal(got["pruned"], ~case.after.live[live], err_msg=f"pruned flags {where}")
        assert got["updated"].sum() == case.updates, f"updates {where}"
    assert lfsr == case.after.lfsr, f"LFSR {lfsr:#06x} != golden {case.after.lfsr:#06x} {where}"


def _coverage(cases: list[Case]) -> dict[str, int]:
    """Count the cases that exercised each edge the issue names (so the test cannot pass vacuously)."""
    counts = dict.fromkeys(["at_w_max", "at_w_min", "soft_at_bound", "shift0_stochastic", "stochastic_off",
                            "stochastic_on", "patience1_pruned", "reward-1", "reward0", "reward+1", "draws"], 0)
    for c in cases:
        changed = c.after.weight != c.before.weight
        counts["at_w_max"] += bool((changed & (c.after.weight == c.rule.w_max)).any())
        counts["at_w_min"] += bool((changed & (c.after.weight == c.rule.w_min)).any())
        at_bound = (c.before.weight == c.rule.w_max) | (c.before.weight == c.rule.w_min)
        counts["soft_at_bound"] += bool(c.rule.soft_bound and (at_bound & c.before.live).any() and c.updates)
        counts["shift0_stochastic"] += bool(c.rule.shift == 0 and c.rule.stochastic_rounding
                                            and c.after.lfsr != c.before.lfsr)
        counts["stochastic_off"] += bool(not c.rule.stochastic_rounding and c.updates)
        counts["stochastic_on"] += bool(c.rule.stochastic_rounding and c.updates)
        newly_pruned = (c.before.live & ~c.after.live).any()
        counts["patience1_pruned"] += bool(c.pruning and c.pruning.patience == 1 and newly_pruned)
        if c.end_of_sample and c.rule.reward_modulated:
            counts[f"reward{c.reward:+d}" if c.reward else "reward0"] += 1
        counts["draws"] += c.after.lfsr != c.before.lfsr
    return counts


@pytest.mark.parametrize("core, lanes, seed", [(SMALL, 1, 1), (SMALL, 3, 2), (SMALL, None, 4), (ODD, 2, 3)],
                         ids=["default-widths-1-lane", "default-widths-3-lanes", "default-widths-core-lanes",
                              "odd-widths-2-lanes"])
def test_engine_matches_golden(core, lanes, seed):
    rng = np.random.default_rng(seed)
    cases = [_random_case(rng, core, end_of_sample=bool(n % 2)) for n in range(120)]
    outputs = _run_engine(core, lanes, cases, seed)
    for case, results in zip(cases, outputs):
        _check(case, results)
    coverage = _coverage(cases)
    assert all(coverage.values()), f"edge cases not exercised: {coverage}"


def test_lfsr_matches_golden_over_a_long_run():
    """One draw per present term, across cycles and lanes: hundreds of draws in a row."""
    core = SMALL
    rule = LearningRule(a_plus=255, a_minus=255, shift=16, stochastic_rounding=True)
    lanes = 4
    dut = LearningEngine(core, lanes=lanes)
    operand_array = data.ArrayLayout(dut.operands_layout, lanes)
    rule_array = data.ArrayLayout(dut.rule_layout, lanes)
    rule_bits = learning_rule_const(core, rule).as_bits()
    rule_size = dut.rule_layout.size
    rng = np.random.default_rng(5)
    # Per lane and cycle: valid, pre spike, post spike (0, 1 or 2 draws).
    plan = rng.integers(0, 2, (150, lanes, 3))
    expected = LFSR_SEED
    expected_states = []
    for cycle in plan:
        expected_states.append(expected)
        for valid, pre, post in cycle:
            for _ in range(valid * (pre + post)):
                expected = golden.lfsr_next(expected)
    expected_states.append(expected)
    seen = []

    async def bench(ctx):
        ctx.set(dut.in_rule, rule_array.from_bits(sum(rule_bits << (k * rule_size) for k in range(lanes))))
        for cycle in plan:
            seen.append(ctx.get(dut.lfsr_state))
            ctx.set(dut.in_valid, sum(int(v) << k for k, (v, _, _) in enumerate(cycle)))
            operands = [dict(pre_spike=int(pre), post_spike=int(post)) for _, pre, post in cycle]
            ctx.set(dut.in_synapse, operand_array.const(operands))
            await ctx.tick()
        seen.append(ctx.get(dut.lfsr_state))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == expected_states
    assert (plan[..., 0] * (plan[..., 1] + plan[..., 2])).sum() > 250, "too few draws to mean anything"


@pytest.mark.parametrize("core", [SMALL, ODD], ids=["trace-8-bits", "trace-11-bits"])
def test_trace_update_matches_golden(core):
    """Every trace the golden model's _pair_step leaves behind, and the decayed yd, over random rules."""
    rng = np.random.default_rng(11)
    dut = TraceUpdate(core)
    vectors = []  # (trace, spike, shift, increment, expected updated, expected decayed)
    for _ in range(40):
        case_rule = _random_rule(rng, core, LearningKind.PAIR)
        size = 8
        network = Network(size, [Population("post", size)],
                          [SynapseGroup(INPUT, "post", np.full((size, size), case_rule.w_min), learning=case_rule)],
                          timesteps=2, output="post")
        params = golden.compile_network(network, core)
        before = [np.where(rng.random(size) < 0.2, core.trace_max, rng.integers(0, core.trace_max + 1, size))
                  for _ in range(2)]
        traces = golden._Traces([before[0].copy()], [before[1].copy()], np.zeros(params.synapse_source.size, np.int64))
        spikes = rng.random(2 * size) < 0.5
        synapses = golden.initial_synapse_state(network)
        golden._pair_step(network, params, golden._plastic_groups(network, params, [True]), synapses, traces, spikes,
                          LFSR_SEED, core)
        for side, (increment, after) in enumerate(((case_rule.pre_increment, traces.pre[0]),
                                                   (case_rule.post_increment, traces.post[0]))):
            for n in range(size):
                x = int(before[side][n])
                vectors.append((x, int(spikes[side * size + n]), case_rule.trace_decay_shift, increment,
                                int(after[n]), x - (x >> case_rule.trace_decay_shift)))

    async def bench(ctx):
        for trace, spike, shift, increment, updated, decayed in vectors:
            ctx.set(dut.trace, trace)
            ctx.set(dut.spike, spike)
            ctx.set(dut.decay_shift, shift)
            ctx.set(dut.increment, increment)
            assert (ctx.get(dut.updated), ctx.get(dut.decayed)) == (updated, decayed), (trace, spike, shift, increment)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert any(v[4] == core.trace_max and v[1] for v in vectors), "saturation never exercised"


def test_numerator_width_holds_the_largest_update():
    core = SMALL
    largest = 255 * core.trace_max * (core.weight_max - core.weight_min)
    assert largest < 1 << numerator_bits(core) <= 2 * largest + 2


def test_rule_const_holds_the_extreme_rules():
    """Every field of the widest allowed rule fits its layout (data.Const raises on overflow otherwise)."""
    for core in (SMALL, ODD):
        rule = LearningRule(a_plus=255, a_minus=255, shift=24, w_min=core.weight_min, w_max=core.weight_max,
                            pre_increment=core.trace_max, post_increment=core.trace_max,
                            trace_decay_shift=core.trace_bits, stochastic_rounding=True, reward_modulated=True,
                            soft_bound=True)
        value = learning_rule_const(core, rule, PruningRule(core.weight_max, core.prune_patience_max))
        assert (value.w_min, value.w_max) == (core.weight_min, core.weight_max)
        assert (value.prune_threshold, value.patience) == (core.weight_max, core.prune_patience_max)
        assert (value.shift, value.trace_decay_shift, value.pre_increment) == (24, core.trace_bits, core.trace_max)


def test_engine_converts_to_verilog_at_the_default_size():
    """The default core's engine (8 lanes, 16 unrolled draws) elaborates and converts through Yosys."""
    from amaranth.back import verilog

    text = verilog.convert(LearningEngine(CoreConfig(), tag_bits=16), name="learning_engine")
    assert "module learning_engine" in text
    assert text.count("lfsr_after_") >= 16  # the unrolled draw chain stays one signal per draw


# ---- whole samples: the engine driven the way docs/learning_engine.md says the core will ----------

def _learning_network(rng: np.random.Generator) -> Network:
    """input -> hidden (PAIR, stochastic), hidden -> out (TTFS, reward), input -> out (PAIR, reward)."""
    relay = dict(current_decay=4095, voltage_decay=4095)  # v is this step's input: spikes follow the weights
    n_in, n_hidden, n_out = 6, 5, 3
    pair = LearningRule(a_plus=30, a_minus=4, shift=10, soft_bound=True, w_min=0, w_max=100, pre_increment=120,
                        post_increment=90, trace_decay_shift=2, stochastic_rounding=True)
    ttfs = LearningRule(kind=LearningKind.TTFS, a_plus=60, a_minus=40, shift=7, w_min=0, w_max=90,
                        stochastic_rounding=True, reward_modulated=True, soft_bound=True)
    modulated = LearningRule(a_plus=25, a_minus=25, shift=9, w_min=-60, w_max=60, pre_increment=200,
                             post_increment=200, trace_decay_shift=3, reward_modulated=True)
    prune = PruningRule(threshold=12, patience=2)
    groups = [
        SynapseGroup(INPUT, "hidden", rng.integers(0, 60, (n_in, n_hidden)), learning=pair,
                     pruning=PruningRule(threshold=5, patience=3)),
        SynapseGroup("hidden", "out", rng.integers(0, 80, (n_hidden, n_out)), mask=rng.random((n_hidden, n_out)) < 0.8,
                     learning=ttfs, pruning=PruningRule(threshold=8, patience=1)),
        SynapseGroup(INPUT, "out", rng.integers(-15, 25, (n_in, n_out)), learning=modulated, pruning=prune),
    ]
    populations = [Population("hidden", n_hidden, threshold=50, **relay),
                   Population("out", n_out, threshold=45, single_spike=True, **relay)]
    return Network(n_in, populations, groups, timesteps=10, output="out")


def test_engine_learns_whole_samples_like_golden():
    """Several samples with learning, pruning, rewards and per-sample enables, one synapse walk per group.

    The testbench plays the core of the design document: traces stored as ``x`` and
    ``(yd, post)``, a PAIR walk per enabled group after each step (every source of the
    group when a target spiked, else the spiking sources), then the end-of-sample walk;
    weights, eligibilities and counters live in "memory" between walks, pruned synapses
    leave it. After every sample the memory must equal the golden model's state.
    """
    core = SMALL
    rng = np.random.default_rng(21)
    network = _learning_network(rng)
    params = golden.compile_network(network, core)
    samples = 8
    inputs = rng.random((samples, network.timesteps, network.n_inputs)) < 0.35
    rewards = rng.choice([-1, 0, 1], samples)
    enables = [[bool(rng.random() < 0.8) for _ in network.groups] for _ in range(samples)]
    golden_states, golden_results = [], []
    state = golden.initial_synapse_state(network)
    for b in range(samples):
        results, state = golden.learn(network, core, inputs[b:b + 1], [int(rewards[b])], state,
                                      learning_enabled=enables[b])
        golden_states.append(state)
        golden_results.append(results[0])

    lanes = 2
    dut = LearningEngine(core, lanes=lanes)
    operand_array = data.ArrayLayout(dut.operands_layout, lanes)
    rule_array = data.ArrayLayout(dut.rule_layout, lanes)
    idle = {name: 0 for name in dut.operands_layout.members}
    memory = golden.initial_synapse_state(network)  # what the core stores (weights of pruned synapses unused)
    n_sources = network.n_inputs + network.n_neurons
    checked = []

    async def walk(ctx, group: int, synapse_operands: list[tuple[int, dict]], end: bool, reward: int,
                   eligibility: np.ndarray) -> int:
        """Present ``(k, operands)`` in order, ``lanes`` per cycle; write the results back; return updates."""
        rule = network.groups[group]
        bits = learning_rule_const(core, rule.learning, rule.pruning).as_bits()
        ctx.set(dut.in_rule, rule_array.from_bits(sum(bits << (n * dut.rule_layout.size) for n in range(lanes))))
        ctx.set(dut.in_end_of_sample, int(end))
        ctx.set(dut.in_reward, reward)
        chunks = [synapse_operands[n:n + lanes] for n in range(0, len(synapse_operands), lanes)]
        in_flight, updates = [], 0
        for cycle in range(len(chunks) + LEARNING_LATENCY):
            chunk = chunks[cycle] if cycle < len(chunks) else []
            ctx.set(dut.in_valid, (1 << len(chunk)) - 1)
            ctx.set(dut.in_synapse, operand_array.const([op for _, op in chunk] + [idle] * (lanes - len(chunk))))
            in_flight.append([k for k, _ in chunk])
            if cycle >= LEARNING_LATENCY:
                result = ctx.get(dut.out_result)
                for lane, k in enumerate(in_flight[cycle - LEARNING_LATENCY]):
                    out = result[lane]
                    memory.weight[k], memory.prune_count[k] = out.weight, out.prune_count
                    eligibility[k] = out.eligibility
                    memory.live[k] &= not out.pruned
                    updates += out.updated
            await ctx.tick()
        return updates

    def operands(k: int, x, y_decayed, spikes, first, winner) -> dict:
        g = params.synapse_group[k]
        source = params.synapse_source[k]
        target = params.synapse_target[k]
        j = source - network.source_offset(network.groups[g].source)
        i = target - network.neuron_offset(network.groups[g].target)
        post_source = network.n_inputs + target
        return dict(weight=int(memory.weight[k]), eligibility=int(eligibility[k]),
                    prune_count=int(memory.prune_count[k]),
                    pre_spike=int(spikes[source]), post_spike=int(spikes[post_source]),
                    pre_trace=int(x[g][j]) if g in x else 0, post_trace_decayed=int(y_decayed[g][i]) if g in x else 0,
                    pre_fired=int(first[source] >= 0), pre_first_step=max(0, int(first[source])),
                    post_fired=int(first[post_source] >= 0), post_first_step=max(0, int(first[post_source])),
                    post_is_winner=int(target == winner))

    eligibility = np.zeros(params.synapse_source.size, np.int64)

    async def bench(ctx):
        for b in range(samples):
            result = golden_results[b]
            enabled = [g for g, group in enumerate(network.groups) if group.learning is not None and enables[b][g]]
            pair_groups = [g for g in enabled if network.groups[g].learning.kind is LearningKind.PAIR]
            eligibility[:] = 0
            x = {g: np.zeros(network.source_size(network.groups[g].source), np.int64) for g in pair_groups}
            y_decayed = {g: np.zeros(network.population(network.groups[g].target).size, np.int64) for g in pair_groups}
            post_before = {g: np.zeros_like(y_decayed[g], bool) for g in pair_groups}
            first = np.full(n_sources, -1)
            step_updates = []
            for t in range(int(result.steps_run[0])):
                spikes = np.concatenate([inputs[b, t], result.spikes[0, t]])
                first = np.where((first < 0) & spikes, t, first)
                updates = 0
                for g in pair_groups:
                    rule = network.groups[g].learning
                    source = slice(network.source_offset(network.groups[g].source), None)
                    pre = spikes[source][:x[g].size]
                    target = network.n_inputs + network.neuron_offset(network.groups[g].target)
                    post = spikes[target:target + y_decayed[g].size]
                    # The trace walk: y(t-1) from the stored (yd, post), then decay; x decays and jumps.
                    y = np.minimum(y_decayed[g] + rule.post_increment * post_before[g], core.trace_max)
                    y_decayed[g], post_before[g] = y - (y >> rule.trace_decay_shift), post
                    x[g] = np.minimum(x[g] - (x[g] >> rule.trace_decay_shift) + rule.pre_increment * pre,
                                      core.trace_max)
                    if not (pre.any() or post.any()):
                        continue
                    mine = (params.synapse_group == g) & memory.live
                    if not post.any():  # no LTP anywhere: only the spiking sources' rows
                        mine &= spikes[params.synapse_source]
                    walk_list = [(k, operands(k, x, y_decayed, spikes, first, -1)) for k in np.flatnonzero(mine)]
                    updates += await walk(ctx, g, walk_list, False, 0, eligibility)
                step_updates.append(updates)
            winner = params.output_slice.start + int(result.decision[0])
            end_updates = 0
            for g in enabled:
                walk_list = [(k, operands(k, {}, {}, np.zeros(n_sources, bool), first, winner))
                             for k in np.flatnonzero((params.synapse_group == g) & memory.live)]
                end_updates += await walk(ctx, g, walk_list, True, int(rewards[b]), eligibility)
            expected = golden_states[b]
            live = expected.live
            assert np.array_equal(memory.live, live), f"sample {b}: connectivity differs"
            assert np.array_equal(memory.weight[live], expected.weight[live]), f"sample {b}: weights differ"
            assert np.array_equal(memory.prune_count[live], expected.prune_count[live]), f"sample {b}: counters differ"
            assert ctx.get(dut.lfsr_state) == expected.lfsr, f"sample {b}: LFSR differs"
            assert step_updates == result.counters[0, :len(step_updates), golden.Counter.LEARNING_UPDATES].tolist()
            assert end_updates == result.end_learning_updates[0]
            checked.append(b)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert checked == list(range(samples))
    # The run must have exercised what it claims to: learning changed weights, pruning removed synapses,
    # and both TTFS and reward-modulated PAIR updates happened.
    initial = golden.initial_synapse_state(network)
    assert (golden_states[-1].weight != initial.weight).sum() > 10
    assert 0 < (~golden_states[-1].live).sum() < initial.live.size
    assert sum(r.end_learning_updates[0] for r in golden_results) > 0
