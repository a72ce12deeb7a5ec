"""The learning phases of the core: PAIR traces and synapse walks with pruning by compaction.

Design and cycle formulas: ``docs/learning_engine.md`` and :mod:`spikestream.model.cycles`;
semantics: :mod:`spikestream.model.golden`. The states added here run after the update of
every step of a *learning sample* (a sample whose step 0 ran with a plastic group enabled
in ``learning_enable``), before the STEP trailer:

``LEARN_SELECT``
    Pick the lowest enabled PAIR group not yet done this step (one cycle; with none left,
    go on to the report). Its rule and ranges are read from the rule memory.
``TRACE``
    Walk the group's traces, one trace word (``trace_lanes`` pre entries, one per
    source, and as many post entries, one per target) per cycle, read then written back
    the next cycle. The pre trace stored is ``x(t)``
    (decayed, plus this step's increment); the post entry stored is ``(yd(t), post(t))``
    (decayed *without* this step's increment, and the spike flag), from which the next
    step forms ``y(t) = sat(yd(t) + inc * post(t))`` and decays it: exactly the two
    values the golden PAIR rule multiplies. At step 0 the stored entries read as 0 (the
    traces of a new sample). The walk also notes whether a source or target spiked.
``SWEEP``
    Only if something spiked (the golden model skips the group otherwise): walk every
    source of the group in ascending order, every row of its fan-out, one row (``lanes``
    synapses) per cycle, through the :class:`~spikestream.rtl.learning.LearningEngine`,
    lanes of other groups passing unchanged. This is canonical order within the group,
    so the LFSR draws are the golden model's. A source costs ``max(1, rows)`` cycles,
    back to back with the next; when its last row leaves the engine its pointer is
    rewritten (``count -= pruned``, ``pruned +=``) and the compactor writes its last rows
    (a second one through the compactor's spill buffer, in a later free write cycle).

After a learning sample's SUMMARY (and the host's REWARD when an enabled group is reward
modulated), ``LEARN_END`` walks each group that acts at the end with the same ``SWEEP``
in the engine's end-of-sample mode: the TTFS rule (first-spike steps from a per-source
memory and per-lane replicas for the targets) and the reward of reward-modulated PAIR
synapses, whose eligibilities (a memory beside the synaptic memory, moved with the
synapses by the compactor) the walk leaves at 0 for the next sample.

The :class:`~spikestream.rtl.compactor.RowCompactor` writes the survivors of each source
back packed from its first row, one row write per cycle, in place.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from spikestream.model.protocol import (LEARNED_WORDS, RULE_FIELDS, RULE_FLAGS, RULE_SIGNED_FIELDS, RULE_WORDS,
                                        ErrorFlag, InOpcode, OutOpcode, header, synapse_rows)

from .compactor import RowCompactor
from .learning import LEARNING_LATENCY, LearningEngine, learning_rule_layout

__all__ = ["add_learning_storage", "add_learning_states", "add_learned_states", "add_rules_payload",
           "go_to_sample_end", "record_first_spike", "rule_entry_layout", "trace_select_bits"]


def _bits(count: int) -> int:
    return max(1, (count - 1).bit_length())


def trace_select_bits(core) -> int:
    """Bits that pick an entry within a trace word (``trace_lanes`` entries, a power of two)."""
    return (core.trace_lanes - 1).bit_length()


def rule_entry_layout(core) -> data.StructLayout:
    """One entry of the rule memory: the engine's rule, the group's ranges and trace bases."""
    trace_bits = _bits(core.trace_entries + 1)
    return data.StructLayout({
        "rule": learning_rule_layout(core),
        "source_first": unsigned(_bits(core.num_sources)),
        "source_count": unsigned(_bits(core.num_sources + 1)),
        "target_first": unsigned(_bits(core.max_neurons)),
        "target_count": unsigned(_bits(core.max_neurons + 1)),
        "pre_base": unsigned(trace_bits),
        "post_base": unsigned(trace_bits),
    })


def add_learning_storage(m, e: SimpleNamespace) -> None:
    """Declare the learning storage and engine; add their names to ``e``."""
    core = e.core
    lanes = core.lanes
    entry_layout = rule_entry_layout(core)
    m.submodules.rules = rules_mem = Memory(shape=entry_layout, depth=core.max_groups, init=[])
    # Trace memories hold `trace_lanes` entries per word: the trace walk handles a word per cycle.
    words = core.trace_entries // core.trace_lanes
    m.submodules.pre_traces = pre_mem = Memory(
        shape=data.ArrayLayout(unsigned(core.trace_bits), core.trace_lanes), depth=words, init=[])
    post_layout = data.StructLayout({"decayed": unsigned(core.trace_bits), "spiked": unsigned(1)})
    post_mems = []
    for lane in range(lanes):
        # One replica per lane: a row's lanes read the traces of unrelated targets.
        memory = Memory(shape=data.ArrayLayout(post_layout, core.trace_lanes), depth=words, init=[])
        m.submodules[f"post_traces{lane}"] = memory
        post_mems.append(memory)
    # First-spike steps of the sample (TTFS rule): per source, and one replica per lane for
    # the targets; `input_fired` / `neuron_fired` say which entries belong to this sample.
    m.submodules.first_steps = first_mem = Memory(shape=unsigned(core.timestep_bits), depth=core.num_sources,
                                                  init=[])
    target_mems = []
    for lane in range(lanes):
        memory = Memory(shape=unsigned(core.timestep_bits), depth=core.max_neurons, init=[])
        m.submodules[f"target_first_steps{lane}"] = memory
        target_mems.append(memory)
    # Eligibilities of reward-modulated PAIR synapses: the synaptic memory's rows, lane for lane.
    m.submodules.eligibilities = elig_mem = Memory(shape=data.ArrayLayout(signed(core.eligibility_bits), lanes),
                                                   depth=synapse_rows(core), init=[])
    m.submodules.learning_engine = engine = LearningEngine(core, lanes=lanes)
    e.rules_w = rules_mem.write_port()
    e.rules_r = rules_mem.read_port()
    e.pre_w = pre_mem.write_port()
    e.pre_r = pre_mem.read_port()
    e.post_w = [memory.write_port() for memory in post_mems]
    e.post_r = [memory.read_port() for memory in post_mems]
    e.elig_w = elig_mem.write_port(granularity=1)
    e.elig_r = elig_mem.read_port()
    e.first_w = first_mem.write_port()
    e.first_r = first_mem.read_port()
    e.target_first_w = [memory.write_port() for memory in target_mems]
    e.target_first_r = [memory.read_port() for memory in target_mems]
    for port in (e.rules_r, e.pre_r, *e.post_r, e.first_r, *e.target_first_r, e.elig_r):
        m.d.comb += port.en.eq(0)
    e.trace_select_bits = trace_select_bits(core)
    e.input_fired = Signal(core.max_inputs)  # input channels that spiked in this sample
    e.neuron_fired = Signal(core.max_neurons)  # neurons that spiked in this sample
    e.ttfs_mask = Signal(core.max_groups)
    e.pending_end = Signal(core.max_groups)  # groups still to walk at the end of the sample
    e.end_walk = Signal()  # the sweep is an end-of-sample walk (TTFS rule, reward)
    e.reward = Signal(signed(2))
    e.reward_skip = Signal()  # dropping the rest of a packet that is not the awaited REWARD
    e.engine = engine
    e.entry_layout = entry_layout
    groups = core.max_groups
    e.plastic_mask = Signal(groups)  # groups with a rule
    e.pair_mask = Signal(groups)  # groups with a PAIR rule
    e.reward_mask = Signal(groups)
    e.learn_groups = Signal(groups)  # latched at step 0: learning_enable & plastic_mask
    e.pending_groups = Signal(groups)  # PAIR groups still to walk after this step
    e.neuron_spiked = Signal(core.max_neurons)  # neuron spikes of the current step
    e.step_updates = Signal(32)
    e.step_skipped = Signal(32)
    e.count_updates = Signal(range(lanes + 1))
    e.count_pruned = Signal(range(lanes + 1))
    e.count_loaded = Signal(range(core.max_neurons + 1))
    e.learned_updates = Signal(32)
    e.learned_pruned = Signal(32)
    e.live_synapses = Signal(32)
    e.pruned_synapses = Signal(32)


def go_to_sample_end(m, e: SimpleNamespace) -> None:
    """After a learning sample's SUMMARY: wait for REWARD if a reward-modulated group learns, then LEARNED."""
    with m.If((e.learn_groups & e.reward_mask) != 0):
        m.next = "REWARD_WAIT"
    with m.Else():
        m.next = "LEARNED_WAIT"


def record_first_spike(m, e: SimpleNamespace, step, channel=None, neuron=None) -> None:
    """Note the first spike in this sample of input ``channel`` or of ``neuron`` (a source and a target)."""
    fired, index = (e.input_fired, channel) if neuron is None else (e.neuron_fired, neuron)
    with m.If(~fired.bit_select(index, 1)):
        m.d.sync += fired.bit_select(index, 1).eq(1)
        source = index if neuron is None else neuron + e.n_inputs
        m.d.comb += [e.first_w.en.eq(1), e.first_w.addr.eq(source), e.first_w.data.eq(step)]
        if neuron is not None:
            for port in e.target_first_w:
                m.d.comb += [port.en.eq(1), port.addr.eq(neuron), port.data.eq(step)]


def source_fired(m, e: SimpleNamespace, source):
    """Whether source ``source`` (inputs, then neurons) spiked in this sample."""
    neuron = Signal(len(source) + 1)
    m.d.comb += neuron.eq(source - e.n_inputs)
    return Mux(source < e.n_inputs, e.input_fired.bit_select(source[:e.channel_bits], 1),
               e.neuron_fired.bit_select(neuron[:e.neuron_bits], 1))


def parse_rule(m, e: SimpleNamespace, words) -> tuple:
    """Decode the :data:`RULE_WORDS` RULES words of one group; return ``(entry, ok, flags)``."""
    core = e.core
    entry = Signal(e.entry_layout)
    rule = entry.rule
    flag = {name: words[0][bit] for name, bit in RULE_FLAGS.items()}

    def field(name: str):
        word, low, bits = RULE_FIELDS[name]
        value = words[word][low:low + bits]
        return value.as_signed() if name in RULE_SIGNED_FIELDS else value

    w_min, w_max = field("w_min"), field("w_max")
    pre_increment, post_increment = field("pre_increment"), field("post_increment")
    trace_decay_shift = field("trace_decay_shift")
    threshold, patience = field("prune_threshold"), field("patience")
    source_first, source_count = field("source_first"), field("source_count")
    target_first, target_count = field("target_first"), field("target_count")
    pre_base, post_base = field("pre_trace_base"), field("post_trace_base")
    m.d.comb += [
        rule.enabled.eq(flag["plastic"]), rule.ttfs.eq(flag["ttfs"]),
        rule.a_plus.eq(field("a_plus")), rule.a_minus.eq(field("a_minus")), rule.shift.eq(field("shift")),
        rule.soft_bound.eq(flag["soft_bound"]), rule.stochastic_rounding.eq(flag["stochastic_rounding"]),
        rule.reward_modulated.eq(flag["reward_modulated"]), rule.winner_only.eq(flag["winner_only"]),
        rule.w_min.eq(w_min), rule.w_max.eq(w_max),
        rule.pre_increment.eq(pre_increment), rule.post_increment.eq(post_increment),
        rule.trace_decay_shift.eq(trace_decay_shift), rule.pruning.eq(flag["pruning"]),
        rule.prune_threshold.eq(threshold), rule.patience.eq(patience),
        entry.source_first.eq(source_first), entry.source_count.eq(source_count),
        entry.target_first.eq(target_first), entry.target_count.eq(target_count),
        entry.pre_base.eq(pre_base), entry.post_base.eq(post_base),
    ]
    pair = flag["plastic"] & ~flag["ttfs"]
    select_bits = trace_select_bits(core)  # a group's traces start a trace word
    ok = Signal()
    m.d.comb += ok.eq(
        (w_min >= core.weight_min) & (w_max <= core.weight_max) & (w_min <= w_max)
        & (pre_increment <= core.trace_max) & (post_increment <= core.trace_max)
        & (trace_decay_shift <= core.trace_bits)
        & (threshold <= core.weight_max) & (patience <= core.prune_patience_max)
        & (~flag["pruning"] | ((patience != 0) & core.pruning))
        & (source_first + source_count <= core.num_sources) & (target_first + target_count <= core.max_neurons)
        & (~pair | ((pre_base + source_count <= core.trace_entries) & (post_base + target_count <= core.trace_entries)
                    & (pre_base[:select_bits] == 0) & (post_base[:select_bits] == 0)
                    # the trace walk reads a PAIR group's source spikes from one bitmap:
                    # the input channels or the neurons, not both (as pack_rules sends them)
                    & ((source_first >= e.n_inputs) | (source_first + source_count <= e.n_inputs)))))
    return entry, ok, flag


def add_rules_payload(m, e: SimpleNamespace) -> None:
    """Parse one RULES payload word (inside the parser's payload switch)."""
    core, sub, item, staged, word = e.core, e.sub, e.item, e.staged, e.word
    with m.If(sub == RULE_WORDS - 1):
        m.d.sync += [sub.eq(0), item.eq(item + 1)]
        entry, ok, flag = parse_rule(m, e, [staged[k] for k in range(RULE_WORDS - 1)] + [word])
        with m.If((item < core.max_groups) & ok):
            m.d.comb += [e.rules_w.en.eq(1), e.rules_w.addr.eq(item), e.rules_w.data.eq(entry)]
            group = item[:len(e.plastic_mask)] if len(item) > len(e.plastic_mask) else item
            for mask, value in ((e.plastic_mask, flag["plastic"]), (e.pair_mask, flag["plastic"] & ~flag["ttfs"]),
                                (e.ttfs_mask, flag["plastic"] & flag["ttfs"]),
                                (e.reward_mask, flag["plastic"] & flag["reward_modulated"])):
                m.d.sync += mask.bit_select(group, 1).eq(value)
        with m.Else():
            e.flag(ErrorFlag.INDEX_RANGE)
    with m.Else():
        m.d.sync += [staged[sub].eq(word), sub.eq(sub + 1)]
        with m.If(e.ports.in_last):
            e.flag(ErrorFlag.MALFORMED)  # a partial rule is dropped


def _lowest_bit(m, value, name: str):
    """Index of the lowest set bit of ``value`` (0 when none is set)."""
    index = Signal(range(max(2, len(value))), name=name)
    for bit in reversed(range(len(value))):
        with m.If(value[bit]):
            m.d.comb += index.eq(bit)
    return index


def _sliding_window(m, vector, base, index, width: int, name: str):
    """Bits ``base + (index - 1) * width ..`` (``width`` of them) of ``vector``, zeros past its end.

    Called in a state that advances ``index`` by one every cycle: each cycle reads one
    ``width``-bit word (``index`` words after the one holding bit ``base``) and keeps it
    for the next, so the window of the words read in the last two cycles costs one word
    multiplexer and a ``width``-bit funnel shifter, instead of ``width`` bit selects over
    the whole vector.
    """
    select_bits = (width - 1).bit_length()
    words = -(-len(vector) // width) + 1
    padded = Cat(vector, Const(0, words * width - len(vector)))
    current = Signal(width, name=f"{name}_word")
    m.d.comb += current.eq(padded.word_select((base >> select_bits) + index, width))
    previous = Signal(width, name=f"{name}_previous")
    m.d.sync += previous.eq(current)
    window = Signal(width, name=name)
    m.d.comb += window.eq(Cat(previous, current).bit_select(base[:select_bits] if select_bits else 0, width))
    return window


def add_learning_states(m, e: SimpleNamespace) -> None:
    """Add ``LEARN_SELECT``, ``TRACE`` and ``SWEEP`` to the engine FSM (see the module docstring)."""
    core = e.core
    entry = e.rules_r.data
    rule = entry.rule
    step_cycles = e.step_cycles
    trace_max = core.trace_max

    def source_spiked(source):
        """Whether source ``source`` (inputs, then neurons) spiked in this step."""
        neuron = Signal(len(source) + 1)
        m.d.comb += neuron.eq(source - e.n_inputs)
        return Mux(source < e.n_inputs, e.channel_seen.bit_select(source[:e.channel_bits], 1),
                   e.neuron_spiked.bit_select(neuron[:e.neuron_bits], 1))

    e.source_spiked = source_spiked
    e.current_group = Signal(range(max(2, core.max_groups)))
    sweep = _sweep_signals(m, e)
    e.sweep = sweep

    # ---- LEARN_SELECT --------------------------------------------------------------
    trace_index = Signal(range(core.num_sources + 2))
    trace_stage = Signal()  # the entry read last cycle is written back this cycle
    trace_at = Signal.like(trace_index)
    group_spiked = Signal()

    with m.State("LEARN_SELECT"):
        m.d.sync += step_cycles.eq(step_cycles + 1)
        _write_compacted(m, e)
        group = _lowest_bit(m, e.pending_groups, "learn_group")
        with m.If(e.pending_groups == 0):
            m.d.sync += e.report_index.eq(0)
            m.next = "REPORT"
        with m.Else():
            m.d.comb += [e.rules_r.en.eq(1), e.rules_r.addr.eq(group)]
            m.d.sync += [e.pending_groups.bit_select(group, 1).eq(0), trace_index.eq(0), trace_stage.eq(0),
                         group_spiked.eq(0), e.current_group.eq(group), e.end_walk.eq(0)]
            m.next = "TRACE"

    # ---- TRACE ---------------------------------------------------------------------
    width, select_bits = core.trace_lanes, e.trace_select_bits
    with m.State("TRACE"):
        m.d.sync += step_cycles.eq(step_cycles + 1)
        entries = Mux(entry.source_count > entry.target_count, entry.source_count, entry.target_count)
        issuing = (trace_index << select_bits) < entries  # words of `width` entries
        pre_word = Signal.like(e.pre_r.addr)
        post_word = Signal.like(e.post_r[0].addr)
        m.d.comb += [pre_word.eq((entry.pre_base >> select_bits) + trace_index),
                     post_word.eq((entry.post_base >> select_bits) + trace_index)]
        m.d.comb += [e.pre_r.en.eq(issuing), e.pre_r.addr.eq(pre_word),
                     e.post_r[0].en.eq(issuing), e.post_r[0].addr.eq(post_word)]
        with m.If(issuing):
            m.d.sync += trace_index.eq(trace_index + 1)
        m.d.sync += [trace_stage.eq(issuing), trace_at.eq(trace_index)]
        # Write back the word read last cycle (a new sample's traces start at 0).
        fresh = e.step == 0
        shift = rule.trace_decay_shift
        first_entry = Signal(len(trace_at) + select_bits)
        m.d.comb += first_entry.eq(trace_at << select_bits)
        # The spike flags of the word written back (index trace_at = trace_index - 1). A
        # group's sources are the input channels or one population, never both: in the
        # flags of all sources (channels, then neurons) they start at `source_bit`.
        source_bit = Signal(range(core.max_inputs + core.max_neurons + 1))
        m.d.comb += source_bit.eq(Mux(entry.source_first < e.n_inputs, entry.source_first,
                                      entry.source_first - e.n_inputs + core.max_inputs))
        pre_spikes = _sliding_window(m, Cat(e.channel_seen, e.neuron_spiked), source_bit, trace_index, width,
                                     "trace_source_spikes")
        post_spikes = _sliding_window(m, e.neuron_spiked, entry.target_first, trace_index, width,
                                      "trace_target_spikes")
        spiked_now = group_spiked
        for k in range(width):
            at = first_entry + k
            old_pre = Mux(fresh, 0, e.pre_r.data[k])
            pre_spike = pre_spikes[k]
            pre_sum = Signal(core.trace_bits + 1, name=f"trace_pre_sum{k}")
            m.d.comb += pre_sum.eq(old_pre - (old_pre >> shift) + Mux(pre_spike, rule.pre_increment, 0))
            old_post = Signal.like(e.post_r[0].data[k], name=f"trace_old_post{k}")
            m.d.comb += old_post.eq(Mux(fresh, 0, e.post_r[0].data[k]))
            post_sum = Signal(core.trace_bits + 1, name=f"trace_post_sum{k}")  # y(t-1) = sat(yd + inc * post)
            m.d.comb += post_sum.eq(old_post.decayed + Mux(old_post.spiked, rule.post_increment, 0))
            post_full = Signal(core.trace_bits, name=f"trace_post_full{k}")
            m.d.comb += post_full.eq(Mux(post_sum > trace_max, trace_max, post_sum))
            post_spike = post_spikes[k]
            # Entries past the group's sources / targets pad the word: written, never read.
            pre_valid = trace_stage & (at < entry.source_count)
            post_valid = trace_stage & (at < entry.target_count)
            m.d.comb += e.pre_w.data[k].eq(Mux(pre_sum > trace_max, trace_max, pre_sum))
            for port in e.post_w:
                m.d.comb += [port.data[k].decayed.eq(post_full - (post_full >> shift)),
                             port.data[k].spiked.eq(post_spike)]
            spiked_now = spiked_now | (pre_valid & pre_spike) | (post_valid & post_spike)
        m.d.comb += [e.pre_w.en.eq(trace_stage & (first_entry < entry.source_count)),
                     e.pre_w.addr.eq((entry.pre_base >> select_bits) + trace_at)]
        for port in e.post_w:
            m.d.comb += [port.en.eq(trace_stage & (first_entry < entry.target_count)),
                         port.addr.eq((entry.post_base >> select_bits) + trace_at)]
        m.d.sync += group_spiked.eq(spiked_now)
        with m.If(~issuing):  # this cycle writes the last word
            with m.If(spiked_now):
                _start_sweep(m, e, sweep)
                m.next = "SWEEP"
            with m.Else():
                m.next = "LEARN_SELECT"

    # ---- SWEEP ---------------------------------------------------------------------
    _add_sweep_state(m, e, sweep)


def _sweep_signals(m, e: SimpleNamespace) -> SimpleNamespace:
    core = e.core
    lanes = core.lanes
    # A lane of the compactor: the stored synapse and its eligibility (kept side by side).
    lane_layout = data.StructLayout({"synapse": e.synapse_row_layout.elem_shape,
                                     "eligibility": signed(core.eligibility_bits)})
    row_layout = data.ArrayLayout(lane_layout, lanes)
    token_layout = data.StructLayout({
        "valid": unsigned(1),
        "end": unsigned(1),  # the source's last row (or the one token of a source without synapses)
        "row": unsigned(e.row_bits),
        "mask": unsigned(lanes),
        "source": unsigned(_bits(core.num_sources)),
        "first_row": unsigned(e.row_bits),
        "count": unsigned(e.neuron_bits + 1),
        "pruned": unsigned(e.neuron_bits + 1),
        "pre_trace": unsigned(core.trace_bits),
        "pre_spike": unsigned(1),
        "pre_fired": unsigned(1),
        "pre_first_step": unsigned(core.timestep_bits),
    })
    s = SimpleNamespace(token_layout=token_layout, row_layout=row_layout)
    s.next_index = Signal(_bits(core.num_sources + 1))  # next source to fetch, from the group's first
    s.pointer_valid = Signal()
    s.pointer_source = Signal(_bits(core.num_sources))
    s.busy = Signal()  # issuing rows of the current source
    select_shape = unsigned(max(1, e.trace_select_bits))
    s.pre_select = Signal(select_shape)  # the fetched source's entry in the pre-trace word read
    s.post_select = [Signal(select_shape, name=f"post_select{lane}") for lane in range(lanes)]
    s.row = Signal(e.row_bits)
    s.left = Signal(e.neuron_bits + 1)
    s.current = Signal(token_layout)  # the current source's fields (row, mask, end unused)
    # Pipeline: token issued (row read), +1 (post trace reads), +2 (engine input), +6 (engine output).
    s.stages = [Signal(token_layout, name=f"sweep_token{k}") for k in range(2 + LEARNING_LATENCY)]
    s.rows = [Signal(row_layout, name=f"sweep_row{k}") for k in range(1 + LEARNING_LATENCY)]
    s.pruned = Signal(e.neuron_bits + 1)
    m.submodules.compactor = e.compactor = RowCompactor(lane_layout, lanes, e.row_bits)
    return s


def _start_sweep(m, e: SimpleNamespace, s: SimpleNamespace) -> None:
    m.d.sync += [s.next_index.eq(0), s.pointer_valid.eq(0), s.busy.eq(0), s.pruned.eq(0)]
    m.d.sync += [stage.valid.eq(0) for stage in s.stages]


def _write_compacted(m, e: SimpleNamespace) -> None:
    """Write the row the compactor offers this cycle, if any (synapses and eligibilities).

    ``SWEEP`` calls this every cycle; so do ``LEARN_SELECT`` and ``LEARN_END``, where every
    walk ends, to write a spill left in the compactor's buffer: nothing else writes the
    synaptic memory there, and nothing reads it before.
    """
    compactor, all_lanes = e.compactor, (1 << e.core.lanes) - 1
    with m.If(compactor.write_en):
        m.d.comb += [e.synapse_w.addr.eq(compactor.write_address), e.synapse_w.en.eq(all_lanes),
                     e.elig_w.addr.eq(compactor.write_address), e.elig_w.en.eq(all_lanes)]
        for lane in range(e.core.lanes):
            m.d.comb += [e.synapse_w.data[lane].eq(compactor.write_row[lane].synapse),
                         e.elig_w.data[lane].eq(compactor.write_row[lane].eligibility)]


def _popcount(bits, width: int):
    return sum((bits[k] for k in range(width)), Const(0, 1))


def _add_sweep_state(m, e: SimpleNamespace, s: SimpleNamespace) -> None:
    core = e.core
    lanes = core.lanes
    engine = e.engine
    entry = e.rules_r.data
    rule = entry.rule
    pointer_r, synapse_r = e.pointer_r, e.synapse_r

    with m.State("SWEEP"):
        m.d.sync += e.step_cycles.eq(e.step_cycles + 1)
        # Fetch the pointers ahead of the issuer (as the delivery does).
        issuer_free = ~s.busy
        pointer_take = ~s.pointer_valid | issuer_free
        fetching = s.next_index < entry.source_count
        next_source = Signal(len(s.pointer_source) + 1)
        m.d.comb += next_source.eq(entry.source_first + s.next_index)
        select_bits = e.trace_select_bits
        pre_entry = Signal(len(entry.pre_base) + 1)
        m.d.comb += pre_entry.eq(entry.pre_base + s.next_index)
        m.d.comb += [pointer_r.en.eq(pointer_take), pointer_r.addr.eq(next_source),
                     e.pre_r.en.eq(pointer_take), e.pre_r.addr.eq(pre_entry >> select_bits),
                     e.first_r.en.eq(pointer_take), e.first_r.addr.eq(next_source)]
        with m.If(pointer_take):
            m.d.sync += [s.pointer_valid.eq(fetching), s.pointer_source.eq(next_source),
                         s.pre_select.eq(pre_entry[:select_bits])]
            with m.If(fetching):
                m.d.sync += s.next_index.eq(s.next_index + 1)

        # Issue: the rows of a source, one per cycle (one token for a source without synapses).
        token = Signal(s.token_layout)
        fanout = pointer_r.data
        load = issuer_free & s.pointer_valid
        loaded = Signal(s.token_layout)
        m.d.comb += [loaded.valid.eq(0), loaded.end.eq(0), loaded.row.eq(fanout.first_row), loaded.mask.eq(0),
                     loaded.source.eq(s.pointer_source), loaded.first_row.eq(fanout.first_row),
                     loaded.count.eq(fanout.count), loaded.pruned.eq(fanout.pruned),
                     loaded.pre_trace.eq(e.pre_r.data[s.pre_select]),
                     loaded.pre_spike.eq(e.source_spiked(s.pointer_source)),
                     loaded.pre_fired.eq(source_fired(m, e, s.pointer_source)),
                     loaded.pre_first_step.eq(e.first_r.data)]
        fields = Mux(load, loaded, s.current)
        left = Mux(load, fanout.count, s.left)
        row = Mux(load, fanout.first_row, s.row)
        with m.If(load):
            m.d.sync += s.current.eq(loaded)
        m.d.comb += token.eq(fields)
        m.d.comb += [token.row.eq(row), token.mask.eq(Cat(left > lane for lane in range(lanes)))]
        with m.If(load & (fanout.count == 0)):
            m.d.comb += [token.valid.eq(1), token.end.eq(1), token.mask.eq(0)]
        with m.Elif(s.busy | load):
            m.d.comb += [token.valid.eq(1), token.end.eq(left <= lanes)]
            m.d.sync += [s.row.eq(row + 1), s.left.eq(left - lanes), s.busy.eq(left > lanes)]
        m.d.comb += [synapse_r.en.eq(1), synapse_r.addr.eq(token.row), e.elig_r.en.eq(1), e.elig_r.addr.eq(token.row)]

        # Stage 1: the row is read; read each lane's post trace.
        t1 = s.stages[0]
        m.d.sync += t1.eq(token)
        row_data = synapse_r.data
        for lane in range(lanes):
            post_entry = Signal(len(entry.post_base) + 1, name=f"post_entry{lane}")
            m.d.comb += post_entry.eq(entry.post_base + row_data[lane].target - entry.target_first)
            m.d.comb += [e.post_r[lane].en.eq(1), e.post_r[lane].addr.eq(post_entry >> select_bits),
                         e.target_first_r[lane].en.eq(1), e.target_first_r[lane].addr.eq(row_data[lane].target)]
            m.d.sync += s.post_select[lane].eq(post_entry[:select_bits])
        # Stage 2: present the row to the engine (lanes of this group only).
        t2 = s.stages[1]
        m.d.sync += t2.eq(t1)
        for lane in range(lanes):
            m.d.sync += [s.rows[0][lane].synapse.eq(row_data[lane]), s.rows[0][lane].eligibility.eq(e.elig_r.data[lane])]
        row2 = [s.rows[0][lane].synapse for lane in range(lanes)]
        group_index = Signal(len(row2[0].group))
        m.d.comb += group_index.eq(e.current_group)
        for lane in range(lanes):
            synapse = row2[lane]
            operands = engine.in_synapse[lane]
            post = e.post_r[lane].data[s.post_select[lane]]
            m.d.comb += [
                engine.in_valid[lane].eq(t2.valid & t2.mask[lane] & (synapse.group == group_index)),
                engine.in_rule[lane].eq(rule),
                operands.weight.eq(synapse.weight),
                operands.pre_spike.eq(t2.pre_spike), operands.post_spike.eq(post.spiked),
                operands.pre_trace.eq(t2.pre_trace), operands.post_trace_decayed.eq(post.decayed),
            ]
            m.d.comb += operands.prune_count.eq(synapse.count if core.pruning else 0)
            # The TTFS operands: first-spike steps of the source and of the lane's target.
            m.d.comb += [operands.pre_fired.eq(t2.pre_fired), operands.pre_first_step.eq(t2.pre_first_step),
                         operands.post_fired.eq(e.neuron_fired.bit_select(synapse.target, 1)),
                         operands.post_first_step.eq(e.target_first_r[lane].data),
                         operands.post_is_winner.eq(synapse.target == e.winner),
                         operands.eligibility.eq(s.rows[0][lane].eligibility)]
        m.d.comb += [engine.in_end_of_sample.eq(e.end_walk), engine.in_reward.eq(e.reward), engine.in_tag.eq(0)]
        # Stages 3 .. 6 keep the row beside the engine's pipeline.
        for k in range(2, 2 + LEARNING_LATENCY):
            m.d.sync += s.stages[k].eq(s.stages[k - 1])
        for k in range(1, 1 + LEARNING_LATENCY):
            m.d.sync += s.rows[k].eq(s.rows[k - 1])
        out = s.stages[-1]
        out_row = s.rows[-1]

        # Compactor: survivors packed behind `fill`, the current output row written every cycle.
        new_row = Signal(s.row_layout)
        survive = Signal(lanes)
        pruned_now = Signal(lanes)
        updated_now = Signal(lanes)
        for lane in range(lanes):
            result = engine.out_result[lane]
            taken = engine.out_valid[lane]
            m.d.comb += [new_row[lane].eq(out_row[lane]),
                         pruned_now[lane].eq(out.mask[lane] & taken & result.pruned),
                         updated_now[lane].eq(out.mask[lane] & taken & result.updated),
                         survive[lane].eq(out.mask[lane] & ~pruned_now[lane])]
            with m.If(taken):
                # The end walk leaves every eligibility of its group at 0 (the next sample's start).
                m.d.comb += [new_row[lane].synapse.weight.eq(result.weight),
                             new_row[lane].eligibility.eq(Mux(e.end_walk, 0, result.eligibility))]
                if core.pruning:
                    m.d.comb += new_row[lane].synapse.count.eq(result.prune_count)
        compactor = e.compactor
        m.d.comb += [compactor.in_valid.eq(out.valid), compactor.in_end.eq(out.end), compactor.in_keep.eq(survive),
                     compactor.in_lanes.eq(new_row), compactor.in_first_row.eq(out.first_row)]
        _write_compacted(m, e)
        pruned_total = Signal.like(s.pruned)  # this source's synapses pruned so far, this row included
        m.d.comb += pruned_total.eq(s.pruned + _popcount(pruned_now, lanes))
        with m.If(out.valid):
            m.d.comb += [e.count_updates.eq(_popcount(updated_now, lanes)),
                         e.count_pruned.eq(_popcount(pruned_now, lanes))]
            m.d.sync += s.pruned.eq(pruned_total)
            with m.If(e.end_walk):
                m.d.sync += [e.learned_updates.eq(e.learned_updates + _popcount(updated_now, lanes)),
                             e.learned_pruned.eq(e.learned_pruned + _popcount(pruned_now, lanes))]
            with m.Else():
                m.d.sync += e.step_updates.eq(e.step_updates + _popcount(updated_now, lanes))
        with m.If(out.valid & out.end):
            # The source's last row: rewrite its pointer.
            m.d.comb += [e.pointer_w.en.eq(1), e.pointer_w.addr.eq(out.source),
                         e.pointer_w.data.first_row.eq(out.first_row),
                         e.pointer_w.data.count.eq(out.count - pruned_total),
                         e.pointer_w.data.pruned.eq(out.pruned + pruned_total)]
            m.d.sync += s.pruned.eq(0)
        in_flight = Cat(stage.valid for stage in s.stages[:-1])
        done = ~fetching & ~s.pointer_valid & ~s.busy & (in_flight == 0)
        with m.If(done & e.end_walk):
            m.next = "LEARN_END"
        with m.Elif(done):
            m.next = "LEARN_SELECT"


def add_learned_states(m, e: SimpleNamespace) -> None:
    """Add ``REWARD_WAIT``, ``LEARNED_WAIT``, ``LEARN_END`` and ``LEARNED``: the end of a learning sample.

    ``REWARD_WAIT`` (when an enabled group is reward modulated) takes the host's REWARD;
    any other packet is dropped and flagged MALFORMED. ``LEARNED_WAIT`` waits
    (uncounted) for room for the packet; ``LEARN_END`` picks, one per cycle, the next
    group that acts at the end (an enabled TTFS group, not reward modulated or with a
    reward != 0; an enabled reward-modulated PAIR group at any reward) and walks it
    (``SWEEP`` with ``end_walk``: the engine's end-of-sample mode); ``LEARNED`` sends ``updates, pruned, live_synapses, cycles`` and starts the
    next sample.
    """
    report_index, step_cycles, ports = e.report_index, e.step_cycles, e.ports

    with m.State("REWARD_WAIT"):
        m.d.comb += ports.in_ready.eq(1)
        with m.If(e.beat & e.reward_skip):
            with m.If(ports.in_last):
                m.d.sync += e.reward_skip.eq(0)
        with m.Elif(e.beat):
            argument = e.word_argument.as_signed()
            with m.If((e.word_opcode == InOpcode.REWARD) & ports.in_last):
                with m.If((argument >= -1) & (argument <= 1)):
                    m.d.sync += e.reward.eq(argument)
                    m.next = "LEARNED_WAIT"
                with m.Else():
                    e.flag(ErrorFlag.INDEX_RANGE)
            with m.Else():
                e.flag(ErrorFlag.MALFORMED)  # the core waits for the sample's REWARD
                with m.If(~ports.in_last):
                    m.d.sync += e.reward_skip.eq(1)

    with m.State("LEARNED_WAIT"):
        with m.If(e.fifo_has_room(LEARNED_WORDS + 1)):
            # TTFS groups act unless reward modulated at reward 0; reward-modulated PAIR groups
            # are walked at any reward (at 0 the walk only clears their eligibilities).
            acting = e.learn_groups & ((e.ttfs_mask & ~Mux(e.reward == 0, e.reward_mask, 0))
                                       | (e.pair_mask & e.reward_mask))
            m.d.sync += [step_cycles.eq(0), e.learned_updates.eq(0), e.learned_pruned.eq(0),
                         e.pending_end.eq(acting)]
            m.next = "LEARN_END"

    with m.State("LEARN_END"):
        m.d.sync += [step_cycles.eq(step_cycles + 1), report_index.eq(0)]
        _write_compacted(m, e)
        group = _lowest_bit(m, e.pending_end, "end_group")
        with m.If(e.pending_end == 0):
            m.next = "LEARNED"
        with m.Else():
            m.d.comb += [e.rules_r.en.eq(1), e.rules_r.addr.eq(group)]
            m.d.sync += [e.pending_end.bit_select(group, 1).eq(0), e.current_group.eq(group), e.end_walk.eq(1)]
            _start_sweep(m, e, e.sweep)
            m.next = "SWEEP"

    with m.State("LEARNED"):
        m.d.sync += [step_cycles.eq(step_cycles + 1), report_index.eq(report_index + 1)]
        words = Array([header(OutOpcode.LEARNED, 0), e.learned_updates, e.learned_pruned, e.live_synapses,
                       step_cycles + 1])
        e.emit(words[report_index], report_index == LEARNED_WORDS)
        with m.If(report_index == LEARNED_WORDS):
            e.reset_sample()
            m.next = "RECEIVE"
