"""The learning engine datapath: STDP, TTFS and reward updates of synapses, with pruning.

The arithmetic is the one of the *Learning* and *Pruning* sections of the docstring of
:mod:`spikestream.model.golden` (its ``_pair_step``, ``_end_of_sample``, ``_rshift`` and
``_count_update``); this file does not restate it. Two blocks:

- :class:`LearningEngine` takes ``lanes`` synapses per cycle (one row of the synaptic
  memory, or one synapse with ``lanes=1``) with the operands the core gathered for them
  (weight, eligibility, pruning counter, the traces or first-spike times, the spike
  flags, and the rule of each synapse's group), and returns, a fixed number of cycles
  later, the new weight, eligibility and pruning counter, and whether the synapse was
  pruned. It owns the stochastic-rounding LFSR and draws from it in stream order
  (lane 0 first, LTP before LTD within a synapse), which is the golden model's order
  when the core presents the synapses in canonical order.
- :class:`TraceUpdate` decays and bumps one trace (``x - (x >> s)``, then a saturating
  add of the increment on a spike).

Multiplies are unsigned and split in two DSP-sized steps per term: ``a * trace``
(8 x ``trace_bits``) and then ``* factor`` (the soft-bound distance ``w_max - w`` or
``w - w_min``, ``weight_bits`` wide, or 1). They are unsigned because a weight never
leaves its group's clamp range (``Network.fit_problems`` refuses initial weights outside
it and every update clamps), so the soft-bound distances are never negative.
"""

from __future__ import annotations

import logging

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spikestream.model.config import CoreConfig
from spikestream.model.network import LearningKind, LearningRule, PruningRule

from .lfsr import LFSR_BITS, LFSR_SEED, lfsr_chain

__all__ = [
    "LEARNING_LATENCY", "AMPLITUDE_BITS", "SHIFT_BITS", "learning_rule_layout", "synapse_operands_layout",
    "synapse_result_layout", "learning_rule_const", "numerator_bits", "LearningEngine", "TraceUpdate",
]

log = logging.getLogger("spikestream.rtl.learning")

#: Cycles from a valid input to its valid output.
LEARNING_LATENCY = 4
#: Width of ``a_plus`` / ``a_minus`` (``LearningRule`` allows 0 .. 255).
AMPLITUDE_BITS = 8
#: Width of ``shift`` (``LearningRule`` allows 0 .. 24).
SHIFT_BITS = 5


def _bits_for_value(value: int) -> int:
    """Unsigned bits to hold ``0 .. value``."""
    return max(1, value.bit_length())


def learning_rule_layout(core: CoreConfig) -> data.StructLayout:
    """One group's learning and pruning rule, as stored in the core's rule table.

    ``enabled`` is "the group has a rule and learning is enabled for it this sample".
    ``prune_threshold`` is at most ``weight_max`` (``Network.fit_problems``), ``pruning``
    says whether the group has a pruning rule. The trace fields are read by
    :class:`TraceUpdate`, the others by :class:`LearningEngine`.
    """
    return data.StructLayout({
        "enabled": unsigned(1),
        "ttfs": unsigned(1),
        "a_plus": unsigned(AMPLITUDE_BITS),
        "a_minus": unsigned(AMPLITUDE_BITS),
        "shift": unsigned(SHIFT_BITS),
        "soft_bound": unsigned(1),
        "stochastic_rounding": unsigned(1),
        "reward_modulated": unsigned(1),
        "winner_only": unsigned(1),
        "w_min": signed(core.weight_bits),
        "w_max": signed(core.weight_bits),
        "pre_increment": unsigned(core.trace_bits),
        "post_increment": unsigned(core.trace_bits),
        "trace_decay_shift": unsigned(_bits_for_value(core.trace_bits)),
        "pruning": unsigned(1),
        "prune_threshold": unsigned(core.weight_bits - 1),
        "patience": unsigned(core.prune_counter_bits),
    })


def learning_rule_const(core: CoreConfig, rule: LearningRule | None, pruning: PruningRule | None = None,
                        enabled: bool = True) -> data.Const:
    """Return the :func:`learning_rule_layout` value of one group (``rule=None``: not plastic)."""
    layout = learning_rule_layout(core)
    if rule is None:
        return layout.const({})
    return layout.const({
        "enabled": int(enabled),
        "ttfs": int(rule.kind is LearningKind.TTFS),
        "a_plus": rule.a_plus,
        "a_minus": rule.a_minus,
        "shift": rule.shift,
        "soft_bound": int(rule.soft_bound),
        "stochastic_rounding": int(rule.stochastic_rounding),
        "reward_modulated": int(rule.reward_modulated),
        "winner_only": int(rule.winner_only),
        "w_min": rule.w_min,
        "w_max": rule.w_max,
        "pre_increment": rule.pre_increment,
        "post_increment": rule.post_increment,
        "trace_decay_shift": rule.trace_decay_shift,
        "pruning": int(pruning is not None),
        "prune_threshold": 0 if pruning is None else pruning.threshold,
        "patience": 0 if pruning is None else pruning.patience,
    })


def synapse_operands_layout(core: CoreConfig) -> data.StructLayout:
    """What the core gathers for one synapse ``j -> i`` before presenting it.

    ``pre_trace`` is ``x[j]`` *after* this step's update, ``post_trace_decayed`` is
    ``yd[i]`` (decayed, *without* this step's increment): the two values the golden
    model's ``PAIR`` rule multiplies. The first-spike fields are for the ``TTFS`` rule
    (``*_fired`` = "has a first-spike time"); ``post_is_winner`` for ``winner_only``.
    Fields a rule does not use are ignored.
    """
    return data.StructLayout({
        "weight": signed(core.weight_bits),
        "eligibility": signed(core.eligibility_bits),
        "prune_count": unsigned(core.prune_counter_bits),
        "pre_spike": unsigned(1),
        "post_spike": unsigned(1),
        "pre_trace": unsigned(core.trace_bits),
        "post_trace_decayed": unsigned(core.trace_bits),
        "pre_fired": unsigned(1),
        "pre_first_step": unsigned(core.timestep_bits),
        "post_fired": unsigned(1),
        "post_first_step": unsigned(core.timestep_bits),
        "post_is_winner": unsigned(1),
    })


def synapse_result_layout(core: CoreConfig) -> data.StructLayout:
    """What the engine returns for one synapse (write it back; drop it if ``pruned``).

    ``updated`` is "the weight was updated": the synapse counts one learning update and
    its pruning counter advanced (a reward-modulated ``PAIR`` step only accumulates
    eligibility and is not an update).
    """
    return data.StructLayout({
        "weight": signed(core.weight_bits),
        "eligibility": signed(core.eligibility_bits),
        "prune_count": unsigned(core.prune_counter_bits),
        "updated": unsigned(1),
        "pruned": unsigned(1),
    })


def numerator_bits(core: CoreConfig) -> int:
    """Unsigned width of an update numerator ``a * trace * factor`` (it never overflows)."""
    return AMPLITUDE_BITS + core.trace_bits + core.weight_bits


def _clamp(m: Module, value, low, high, shape):
    """Clip ``value`` to ``[low, high]`` (the golden model's ``min(max(...))``)."""
    result = Signal(shape)
    with m.If(value < low):
        m.d.comb += result.eq(low)
    with m.Elif(value > high):
        m.d.comb += result.eq(high)
    with m.Else():
        m.d.comb += result.eq(value)
    return result


class LearningEngine(wiring.Component):
    """Apply the learning rule to ``lanes`` synapses per cycle (fully pipelined, no stalls).

    ``lanes`` defaults to ``core.lanes`` (one row of the synaptic memory per cycle).

    Ports
    -----
    in_valid : In(lanes)
        Lane ``k`` carries a synapse this cycle. A lane that is not valid, or whose rule
        is not ``enabled``, draws nothing and changes nothing.
    in_end_of_sample : In(1)
        0: the ``PAIR`` step of the current timestep (``TTFS`` synapses are left alone).
        1: the end-of-sample walk: the ``TTFS`` rule, and the reward of reward-modulated
        ``PAIR`` synapses (``w += R * elig``); non-modulated ``PAIR`` synapses are left alone.
    in_reward : In(signed(2))
        The sample's reward ``R`` in {-1, 0, +1}; read with ``in_end_of_sample``.
    in_rule : In(ArrayLayout(learning_rule_layout, lanes))
        The rule of each lane's group.
    in_synapse : In(ArrayLayout(synapse_operands_layout, lanes))
        Each lane's operands. Precondition: ``w_min <= weight <= w_max`` and
        ``prune_count < patience`` (what the core stores always satisfies both).
    in_tag : In(tag_bits)
        Passed through unchanged (e.g. the synaptic-memory row to write back).
    out_valid, out_result, out_tag : Out
        The same lanes ``LEARNING_LATENCY`` cycles after ``in_valid``: the new values
        (:func:`synapse_result_layout`). Combinational from the last pipeline register;
        the core must take them in that cycle. A synapse must not be presented again
        before its result is written back (the core never does within one walk).
    lfsr_state : Out(16)
        The LFSR state before this cycle's draws (``LFSR_SEED`` after reset).
    lfsr_load, lfsr_load_value : In
        Replace the LFSR state at the end of this cycle (overrides this cycle's draws;
        the core loads the seed with a network and a saved state on a reload).

    A stochastic-rounding synapse draws once per present term (``PAIR``: LTP on a post
    spike, then LTD on a pre spike; ``TTFS``: one), lanes in order 0, 1, ...; the next
    cycle continues from the last draw. Lane ``k``'s draws are the
    ``(d_0 + ... + d_{k-1}) + 1``-th and following states, so ``lanes`` synapses take one
    cycle whatever their draws.
    """

    def __init__(self, core: CoreConfig, lanes: int | None = None, tag_bits: int = 1):
        lanes = core.lanes if lanes is None else lanes
        if lanes < 1:
            raise ValueError(f"lanes = {lanes} must be at least 1")
        self.core = core
        self.lanes = lanes
        self.rule_layout = learning_rule_layout(core)
        self.operands_layout = synapse_operands_layout(core)
        self.result_layout = synapse_result_layout(core)
        super().__init__({
            "in_valid": In(lanes),
            "in_end_of_sample": In(1),
            "in_reward": In(signed(2)),
            "in_rule": In(data.ArrayLayout(self.rule_layout, lanes)),
            "in_synapse": In(data.ArrayLayout(self.operands_layout, lanes)),
            "in_tag": In(tag_bits),
            "out_valid": Out(lanes),
            "out_result": Out(data.ArrayLayout(self.result_layout, lanes)),
            "out_tag": Out(tag_bits),
            "lfsr_state": Out(LFSR_BITS, init=LFSR_SEED),
            "lfsr_load": In(1),
            "lfsr_load_value": In(LFSR_BITS),
        })
        log.debug("LearningEngine: %d lanes, numerator %d bits, latency %d", lanes, numerator_bits(core),
                  LEARNING_LATENCY)

    def _carry_layout(self) -> data.StructLayout:
        """What travels down the pipeline beside the products, per lane."""
        core = self.core
        return data.StructLayout({
            "valid": unsigned(1),
            "ltp": unsigned(1),  # the potentiation term is present
            "ltd": unsigned(1),  # the depression term is present
            "updated": unsigned(1),  # the weight is updated (one learning update)
            "accumulate": unsigned(1),  # delta goes to the eligibility, not the weight
            "reward_end": unsigned(1),  # delta is the eligibility (reward of a PAIR synapse)
            "negate": unsigned(1),  # the reward is -1
            "weight": signed(core.weight_bits),
            "eligibility": signed(core.eligibility_bits),
            "prune_count": unsigned(core.prune_counter_bits),
            "shift": unsigned(SHIFT_BITS),
            "w_min": signed(core.weight_bits),
            "w_max": signed(core.weight_bits),
            "pruning": unsigned(1),
            "prune_threshold": unsigned(core.weight_bits - 1),
            "patience": unsigned(core.prune_counter_bits),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self.core
        lanes = self.lanes
        carry_layout = self._carry_layout()
        weight_bits = core.weight_bits
        product_bits = AMPLITUDE_BITS + core.trace_bits
        numerator_width = numerator_bits(core)
        rounded_bits = max(numerator_width, LFSR_BITS) + 1
        reward = self.in_reward
        end = self.in_end_of_sample

        # The LFSR: a chain of 2 * lanes draws from the current state; each lane picks its
        # draws at the running count of draws of the lanes before it.
        chain = Array(lfsr_chain(m, self.lfsr_state, 2 * lanes))
        draws_before = Signal(range(2 * lanes + 1))
        m.d.comb += draws_before.eq(0)

        tags = [self.in_tag]
        valids = [self.in_valid]
        for _ in range(LEARNING_LATENCY):
            tags.append(Signal.like(self.in_tag))
            valids.append(Signal(lanes))
            m.d.sync += [tags[-1].eq(tags[-2]), valids[-1].eq(valids[-2])]
        m.d.comb += [self.out_tag.eq(tags[-1]), self.out_valid.eq(valids[-1])]

        for lane in range(lanes):
            rule = self.in_rule[lane]
            synapse = self.in_synapse[lane]
            active = self.in_valid[lane] & rule.enabled

            # Input: which terms are present, the draws, the multiplier operands.
            pair_step = Signal(name=f"pair_step_{lane}")
            ttfs_end = Signal(name=f"ttfs_end_{lane}")
            reward_end = Signal(name=f"reward_end_{lane}")
            potentiate = Signal(name=f"potentiate_{lane}")
            carry0 = Signal(carry_layout, name=f"carry0_{lane}")
            m.d.comb += [
                pair_step.eq(active & ~end & ~rule.ttfs),
                # A reward-modulated group with reward 0 changes nothing and draws nothing.
                ttfs_end.eq(active & end & rule.ttfs & synapse.post_fired
                            & (~rule.winner_only | synapse.post_is_winner)
                            & ~(rule.reward_modulated & (reward == 0))),
                reward_end.eq(active & end & ~rule.ttfs & rule.reward_modulated & (reward != 0)),
                potentiate.eq(synapse.pre_fired & (synapse.pre_first_step <= synapse.post_first_step)),
                carry0.valid.eq(self.in_valid[lane]),
                carry0.ltp.eq((pair_step & synapse.post_spike) | (ttfs_end & potentiate)),
                carry0.ltd.eq((pair_step & synapse.pre_spike) | (ttfs_end & ~potentiate)),
                carry0.accumulate.eq(pair_step & rule.reward_modulated),
                carry0.updated.eq((pair_step & ~rule.reward_modulated & (synapse.post_spike | synapse.pre_spike))
                                  | ttfs_end | reward_end),
                carry0.reward_end.eq(reward_end),
                carry0.negate.eq(end & rule.reward_modulated & (reward < 0)),
                carry0.weight.eq(synapse.weight),
                carry0.eligibility.eq(synapse.eligibility),
                carry0.prune_count.eq(synapse.prune_count),
                carry0.shift.eq(rule.shift),
                carry0.w_min.eq(rule.w_min),
                carry0.w_max.eq(rule.w_max),
                carry0.pruning.eq(rule.pruning),
                carry0.prune_threshold.eq(rule.prune_threshold),
                carry0.patience.eq(rule.patience),
            ]
            draws = Signal(range(3), name=f"draws_{lane}")
            m.d.comb += draws.eq(Mux(rule.stochastic_rounding, carry0.ltp + carry0.ltd, 0))
            first_draw = chain[draws_before + 1]
            second_draw = chain[draws_before + 2]
            draws_after = Signal(range(2 * lanes + 1), name=f"draws_after_{lane}")
            m.d.comb += draws_after.eq(draws_before + draws)
            draws_before = draws_after

            # The soft-bound distances are >= 0 because the weight is inside its clamp range.
            factor_p = Signal(unsigned(weight_bits), name=f"factor_p_{lane}")
            factor_q = Signal(unsigned(weight_bits), name=f"factor_q_{lane}")
            m.d.comb += [
                factor_p.eq(Mux(rule.soft_bound, rule.w_max - synapse.weight, 1)),
                factor_q.eq(Mux(rule.soft_bound, synapse.weight - rule.w_min, 1)),
            ]
            trace_p = Mux(rule.ttfs, 1, synapse.pre_trace)
            trace_q = Mux(rule.ttfs, 1, synapse.post_trace_decayed)

            # Stage 1: a * trace (DSP, unsigned 8 x trace_bits).
            carry1 = Signal(carry_layout, name=f"carry1_{lane}")
            product_p1 = Signal(unsigned(product_bits), name=f"product_p1_{lane}")
            product_q1 = Signal(unsigned(product_bits), name=f"product_q1_{lane}")
            factor_p1 = Signal.like(factor_p, name=f"factor_p1_{lane}")
            factor_q1 = Signal.like(factor_q, name=f"factor_q1_{lane}")
            draw_p1 = Signal(LFSR_BITS, name=f"draw_p1_{lane}")
            draw_q1 = Signal(LFSR_BITS, name=f"draw_q1_{lane}")
            m.d.sync += [
                carry1.eq(carry0),
                product_p1.eq(rule.a_plus * trace_p),
                product_q1.eq(rule.a_minus * trace_q),
                factor_p1.eq(factor_p), factor_q1.eq(factor_q),
                # Without stochastic rounding the rshift adds nothing (and the LFSR holds).
                draw_p1.eq(Mux(rule.stochastic_rounding, first_draw, 0)),
                # LTP draws first: LTD takes the second draw when both terms are present.
                draw_q1.eq(Mux(rule.stochastic_rounding, Mux(carry0.ltp, second_draw, first_draw), 0)),
            ]

            # Stage 2: numerator = (a * trace) * factor (DSP, product_bits x weight_bits).
            carry2 = Signal(carry_layout, name=f"carry2_{lane}")
            numerator_p2 = Signal(unsigned(numerator_width), name=f"numerator_p2_{lane}")
            numerator_q2 = Signal(unsigned(numerator_width), name=f"numerator_q2_{lane}")
            draw_p2 = Signal(LFSR_BITS, name=f"draw_p2_{lane}")
            draw_q2 = Signal(LFSR_BITS, name=f"draw_q2_{lane}")
            m.d.sync += [
                carry2.eq(carry1),
                numerator_p2.eq(product_p1 * factor_p1),
                numerator_q2.eq(product_q1 * factor_q1),
                draw_p2.eq(draw_p1), draw_q2.eq(draw_q1),
            ]

            # Stage 3: rshift (floor; with stochastic rounding the draw's low `shift` bits
            # are added first; without it the draw is 0). An absent term counts 0.
            carry3 = Signal(carry_layout, name=f"carry3_{lane}")
            rounded_p3 = Signal(unsigned(rounded_bits), name=f"rounded_p3_{lane}")
            rounded_q3 = Signal(unsigned(rounded_bits), name=f"rounded_q3_{lane}")
            below_shift = ~(Const((1 << LFSR_BITS) - 1, LFSR_BITS) << carry2.shift)[:LFSR_BITS]
            m.d.sync += [
                carry3.eq(carry2),
                rounded_p3.eq(Mux(carry2.ltp, (numerator_p2 + (draw_p2 & below_shift)) >> carry2.shift, 0)),
                rounded_q3.eq(Mux(carry2.ltd, (numerator_q2 + (draw_q2 & below_shift)) >> carry2.shift, 0)),
            ]

            # Stage 4: delta, reward, clamps.
            delta = Signal(signed(rounded_bits + 1), name=f"delta_{lane}")
            m.d.comb += delta.eq(rounded_p3 - rounded_q3)
            step = Signal(signed(max(rounded_bits, core.eligibility_bits) + 2), name=f"step_{lane}")
            chosen = Mux(carry3.reward_end, carry3.eligibility, delta)
            m.d.comb += step.eq(Mux(carry3.negate, -chosen, chosen))
            new_weight = _clamp(m, carry3.weight + step, carry3.w_min, carry3.w_max, signed(weight_bits))
            limit = core.eligibility_max
            new_eligibility = _clamp(m, carry3.eligibility + delta, -limit, limit, signed(core.eligibility_bits))
            carry4 = Signal(carry_layout, name=f"carry4_{lane}")
            m.d.sync += [
                carry4.eq(carry3),
                carry4.weight.eq(Mux(carry3.updated, new_weight, carry3.weight)),
                carry4.eligibility.eq(Mux(carry3.accumulate & (carry3.ltp | carry3.ltd), new_eligibility,
                                          carry3.eligibility)),
            ]

            # Output (combinational from stage 4): the pruning counter of an updated synapse.
            result = self.out_result[lane]
            magnitude = Signal(unsigned(weight_bits), name=f"magnitude_{lane}")
            m.d.comb += magnitude.eq(Mux(carry4.weight < 0, -carry4.weight, carry4.weight))
            small = magnitude <= carry4.prune_threshold
            count_next = Signal(unsigned(core.prune_counter_bits + 1), name=f"count_next_{lane}")
            m.d.comb += [
                count_next.eq(carry4.prune_count + 1),
                result.weight.eq(carry4.weight),
                result.eligibility.eq(carry4.eligibility),
                result.updated.eq(carry4.updated),
                result.prune_count.eq(carry4.prune_count),
            ]
            with m.If(carry4.updated & carry4.pruning):
                m.d.comb += [
                    result.prune_count.eq(Mux(small, count_next, 0)),
                    result.pruned.eq(small & (count_next >= carry4.patience)),
                ]

        with m.If(self.lfsr_load):
            m.d.sync += self.lfsr_state.eq(self.lfsr_load_value)
        with m.Else():
            m.d.sync += self.lfsr_state.eq(chain[draws_before])
        return m


class TraceUpdate(wiring.Component):
    """Decay one STDP trace and add a spike's increment (combinational).

    Ports
    -----
    trace : In(trace_bits)
        The trace before this step, ``0 .. trace_max``.
    spike, decay_shift, increment : In
        Whether the trace's neuron or source spiked this step; the group's
        ``trace_decay_shift`` (1 .. trace_bits) and increment (0 .. trace_max).
    decayed : Out(trace_bits)
        ``trace - (trace >> decay_shift)`` (the ``yd`` that LTD multiplies).
    updated : Out(trace_bits)
        ``min(decayed + increment * spike, trace_max)``: the trace after this step (the
        ``x`` that LTP multiplies, and what is written back).
    """

    def __init__(self, core: CoreConfig):
        self.core = core
        super().__init__({
            "trace": In(core.trace_bits),
            "spike": In(1),
            "decay_shift": In(_bits_for_value(core.trace_bits)),
            "increment": In(core.trace_bits),
            "decayed": Out(core.trace_bits),
            "updated": Out(core.trace_bits),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        limit = self.core.trace_max
        total = Signal(self.core.trace_bits + 1)
        m.d.comb += [
            self.decayed.eq(self.trace - (self.trace >> self.decay_shift)),
            total.eq(self.decayed + Mux(self.spike, self.increment, 0)),
            self.updated.eq(Mux(total > limit, limit, total)),
        ]
        return m
