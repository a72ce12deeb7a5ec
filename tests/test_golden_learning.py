"""Learning and pruning by hand: pair STDP, TTFS rule, reward modulation, LFSR, clamping, pruning."""

import numpy as np
import pytest

from spikestream.model import (INPUT, CoreConfig, LearningKind, LearningRule, Network, Population, PruningRule,
                               SynapseGroup)
from spikestream.model import golden
from spikestream.model.fileformat import dumps, loads
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.model.golden import Counter

CORE = CoreConfig()
RELAY = dict(current_decay=4095, voltage_decay=4095)  # spikes exactly when this step's input exceeds threshold
TEACHER_EXPONENT = 2  # 127 << 2 = 508 beats the post threshold; plastic weights (exponent 0) never do alone


def pre_post(rule: LearningRule, weights, pruning: PruningRule | None = None, post_size: int = 1,
             timesteps: int = 8, pre_rule: LearningRule | None = None) -> Network:
    """Pre population (one relay per input channel) -> plastic group -> post population.

    Channels ``0 .. P-1`` make pre neuron ``j`` spike one step later; channels ``P ..`` make
    post neuron ``i`` spike one step later (teacher). ``weights`` is ``[P, post_size]``.
    """
    weights = np.asarray(weights).reshape(-1, post_size)
    pre_size = weights.shape[0]
    channels = pre_size + post_size
    to_pre = np.zeros((channels, pre_size), int)
    to_pre[np.arange(pre_size), np.arange(pre_size)] = 1
    to_post = np.zeros((channels, post_size), int)
    to_post[pre_size + np.arange(post_size), np.arange(post_size)] = 127
    populations = [Population("pre", pre_size, threshold=0, **RELAY), Population("post", post_size, threshold=200,
                                                                                  **RELAY)]
    groups = [SynapseGroup(INPUT, "pre", to_pre, mask=to_pre != 0, learning=pre_rule),
              SynapseGroup(INPUT, "post", to_post, exponent=TEACHER_EXPONENT),
              SynapseGroup("pre", "post", weights, learning=rule, pruning=pruning)]
    return Network(channels, populations, groups, timesteps, output="post")


def stimulus(network: Network, pre: dict[int, list[int]], post: dict[int, list[int]] | list[int]) -> np.ndarray:
    """Input raster making pre neuron j spike at the steps ``pre[j]`` and post neuron i at ``post[i]``."""
    pre_size = network.population("pre").size
    if isinstance(post, list):
        post = {0: post}
    inputs = np.zeros((network.timesteps, network.n_inputs), bool)
    for j, steps in pre.items():
        inputs[np.asarray(steps, int) - 1, j] = True
    for i, steps in post.items():
        inputs[np.asarray(steps, int) - 1, pre_size + i] = True
    return inputs


def plastic_weights(network, synapses) -> list[int]:
    table = network.synapses()
    return synapses.weight[table.group == 2].tolist()


def learn_one(network, inputs, reward=None, synapses=None, core=CORE, **kwargs):
    results, synapses = golden.learn(network, core, inputs[None], None if reward is None else [reward], synapses,
                                     **kwargs)
    return results[0], synapses


ADDITIVE = LearningRule(a_plus=16, a_minus=16, shift=4, pre_increment=64, post_increment=64, trace_decay_shift=2)


def test_stimulus_makes_pre_and_post_spike_where_asked():
    network = pre_post(ADDITIVE, [[10], [10]])
    result = golden.run(network, CORE, stimulus(network, {0: [1, 5], 1: [4]}, [3]))
    assert [np.flatnonzero(result.spikes[0, :, k]).tolist() for k in range(3)] == [[1, 5], [4], [3]]


# ---- pair STDP -----------------------------------------------------------------------------

def test_pair_ltp_pre_before_post():
    network = pre_post(ADDITIVE, [[10]])
    result, synapses = learn_one(network, stimulus(network, {0: [1]}, [3]))
    # x: 64 after step 1, 64 - 16 = 48 after 2, 48 - 12 = 36 after 3; post at 3: +16*36 >> 4 = +36.
    assert plastic_weights(network, synapses) == [46]
    # The pre spike at step 1 is an update too (depression by an empty post trace: 0).
    assert result.counters[0, :, Counter.LEARNING_UPDATES].tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    assert synapses.lfsr == golden.LFSR_SEED  # no stochastic rounding: no draws


def test_pair_ltd_post_before_pre():
    network = pre_post(ADDITIVE, [[10]])
    _, synapses = learn_one(network, stimulus(network, {0: [3]}, [1]))
    # y: 64 after 1, 48 after 2; at step 3 the decayed trace 36 meets the pre spike: -36.
    assert plastic_weights(network, synapses) == [-26]


def test_same_step_pair_potentiates():
    network = pre_post(ADDITIVE, [[10]])
    _, synapses = learn_one(network, stimulus(network, {0: [2]}, [2]))
    # The pre trace already holds this step's spike (64); depression sees the post trace before it (0).
    assert plastic_weights(network, synapses) == [74]


def test_two_synapses_and_their_update_counts():
    network = pre_post(ADDITIVE, [[10], [10]])
    result, synapses = learn_one(network, stimulus(network, {0: [1], 1: [4]}, [3]))
    # Synapse 0: +36 at step 3. Synapse 1: nothing at 3 (x = 0), at 4 the post trace is 64 - 16 = 48: -48.
    assert plastic_weights(network, synapses) == [46, -38]
    assert result.counters[0, :, Counter.LEARNING_UPDATES].tolist() == [0, 1, 0, 2, 1, 0, 0, 0]


def test_weights_are_clamped():
    network = pre_post(ADDITIVE.__class__(**{**ADDITIVE.__dict__, "w_min": -20, "w_max": 40}), [[10], [-10]])
    _, synapses = learn_one(network, stimulus(network, {0: [2], 1: [4]}, [2]))
    # Synapse 0: +64 (same step) -> 74, clamped to 40. Synapse 1: at 2 LTP with x = 0; at 4 the decayed post
    # trace is 64 -> 48 -> 36: -36 -> -46, clamped to -20.
    assert plastic_weights(network, synapses) == [40, -20]


def test_soft_bound_pair_rule():
    rule = LearningRule(a_plus=1, a_minus=1, shift=8, soft_bound=True, pre_increment=64, post_increment=64)
    network = pre_post(rule, [[0], [0]])
    _, synapses = learn_one(network, stimulus(network, {0: [1], 1: [5]}, [3]))
    # LTP: 1 * 36 * (127 - 0) = 4572 >> 8 = 17.  LTD at 5: y = 64, 48, 36 after 3, 4, 5 -> yd = 36:
    #      1 * 36 * (0 - (-128)) = 4608 >> 8 = 18.
    assert plastic_weights(network, synapses) == [17, -18]


def test_soft_bound_updates_shrink_near_the_bounds():
    rule = LearningRule(a_plus=1, a_minus=1, shift=8, soft_bound=True, pre_increment=64, post_increment=64)
    near_top = pre_post(rule, [[120]])
    _, synapses = learn_one(near_top, stimulus(near_top, {0: [1]}, [3]))
    assert plastic_weights(near_top, synapses) == [120 + (36 * 7 >> 8)]  # 252 >> 8 = 0: no change
    at_top = pre_post(rule, [[127]])
    _, synapses = learn_one(at_top, stimulus(at_top, {0: [2]}, [2]))
    assert plastic_weights(at_top, synapses) == [127]


# ---- LFSR and stochastic rounding ----------------------------------------------------------

def test_lfsr_first_states_by_hand():
    # 0xACE1 = 1010 1100 1110 0001: lsb 1 -> (0xACE1 >> 1) ^ 0xB400 = 0x5670 ^ 0xB400 = 0xE270
    # 0xE270: lsb 0 -> 0x7138 -> 0x389C -> 0x1C4E -> 0x0E27; lsb 1 -> 0x0713 ^ 0xB400 = 0xB313
    assert (golden.LFSR_SEED, golden.LFSR_TAPS) == (0xACE1, 0xB400)
    states, state = [], golden.LFSR_SEED
    for _ in range(6):
        state = golden.lfsr_next(state)
        states.append(state)
    assert states == [0xE270, 0x7138, 0x389C, 0x1C4E, 0x0E27, 0xB313]


def test_lfsr_has_maximal_period():
    state, period = golden.lfsr_next(golden.LFSR_SEED), 1
    seen_zero = False
    while state != golden.LFSR_SEED:
        seen_zero |= state == 0
        state, period = golden.lfsr_next(state), period + 1
    assert period == 2**16 - 1 and not seen_zero


def test_stochastic_rounding_uses_one_draw_per_term():
    rule = LearningRule(a_plus=16, a_minus=16, shift=5, pre_increment=50, post_increment=64,
                        stochastic_rounding=True)
    network = pre_post(rule, [[10]])
    _, synapses = learn_one(network, stimulus(network, {0: [1]}, [3]))
    # Step 1: the depression term (trace 0) draws 0xE270; (0 + (0xE270 & 31 = 16)) >> 5 = 0.
    # Step 3: x = 50 -> 38 -> 29; 16 * 29 = 464, draw 0x7138 & 31 = 24: (464 + 24) >> 5 = 15 (floor: 14).
    assert plastic_weights(network, synapses) == [25]
    assert synapses.lfsr == 0x7138
    floor = pre_post(LearningRule(**{**rule.__dict__, "stochastic_rounding": False}), [[10]])
    _, synapses = learn_one(floor, stimulus(floor, {0: [1]}, [3]))
    assert plastic_weights(floor, synapses) == [24]


def test_lfsr_persists_across_samples():
    rule = LearningRule(a_plus=16, a_minus=16, shift=5, stochastic_rounding=True)
    network = pre_post(rule, [[10]])
    inputs = stimulus(network, {0: [1]}, [3])
    _, once = learn_one(network, inputs)
    _, twice = learn_one(network, inputs, synapses=once)
    assert once.lfsr == 0x7138 and twice.lfsr == 0x1C4E  # two more draws


# ---- TTFS rule -----------------------------------------------------------------------------

TTFS = LearningRule(kind=LearningKind.TTFS, a_plus=40, a_minus=20, shift=2)


def test_ttfs_rule_additive():
    network = pre_post(TTFS, [[0], [0], [0], [0]])
    inputs = stimulus(network, {0: [1, 6], 1: [3], 2: [5]}, [3, 4])
    result, synapses = learn_one(network, inputs)
    # Post first fires at 3. Pre 0 first at 1 <= 3 and pre 1 at 3 <= 3: +40 >> 2 = +10;
    # pre 2 first at 5 > 3 and pre 3 never: -20 >> 2 = -5. Applied at the end of the sample.
    assert plastic_weights(network, synapses) == [10, 10, -5, -5]
    assert int(result.end_learning_updates[0]) == 4
    assert not result.counters[0, :, Counter.LEARNING_UPDATES].any()


def test_ttfs_rule_needs_the_target_to_fire():
    network = pre_post(TTFS, [[0], [0]])
    result, synapses = learn_one(network, stimulus(network, {0: [1], 1: [2]}, []))
    assert plastic_weights(network, synapses) == [0, 0]
    assert int(result.end_learning_updates[0]) == 0


def test_ttfs_rule_soft_bound():
    rule = LearningRule(kind=LearningKind.TTFS, a_plus=4, a_minus=4, shift=4, soft_bound=True)
    network = pre_post(rule, [[27], [-28]])
    _, synapses = learn_one(network, stimulus(network, {0: [1], 1: [5]}, [3]))
    # +4 * (127 - 27) >> 4 = 25;  -(4 * (-28 + 128) >> 4) = -25.
    assert plastic_weights(network, synapses) == [52, -53]


def test_ttfs_rule_winner_only():
    rule = LearningRule(kind=LearningKind.TTFS, a_plus=40, a_minus=20, shift=2, winner_only=True)
    network = pre_post(rule, [[0, 0], [0, 0]], post_size=2)
    _, synapses = learn_one(network, stimulus(network, {0: [1], 1: [6]}, {0: [4], 1: [3]}))
    # Post 1 fires first (step 3) and wins: only synapses onto it learn (+10 for pre 0, -5 for pre 1).
    assert plastic_weights(network, synapses) == [0, 10, 0, -5]  # canonical order: (pre 0: post 0, 1), (pre 1: ...)


# ---- reward modulation ---------------------------------------------------------------------

@pytest.mark.parametrize("reward, expected, updates", [(1, 46, 1), (-1, -26, 1), (0, 10, 0)])
def test_reward_modulated_pair_rule(reward, expected, updates):
    rule = LearningRule(**{**ADDITIVE.__dict__, "reward_modulated": True})
    network = pre_post(rule, [[10]])
    result, synapses = learn_one(network, stimulus(network, {0: [1]}, [3]), reward=reward)
    # The eligibility collects +36 (as in test_pair_ltp_pre_before_post); the weight waits for the reward.
    assert plastic_weights(network, synapses) == [expected]
    assert not result.counters[0, :, Counter.LEARNING_UPDATES].any()
    assert int(result.end_learning_updates[0]) == updates


def test_eligibility_saturates_at_its_bit_width():
    rule = LearningRule(**{**ADDITIVE.__dict__, "reward_modulated": True})
    network = pre_post(rule, [[10]])
    small = CoreConfig(eligibility_bits=5)  # eligibility in [-15, 15]
    _, synapses = learn_one(network, stimulus(network, {0: [1]}, [3]), reward=1, core=small)
    assert plastic_weights(network, synapses) == [25]


@pytest.mark.parametrize("reward, expected", [(1, [10, -5]), (-1, [-10, 5]), (0, [0, 0])])
def test_reward_modulated_ttfs_rule(reward, expected):
    rule = LearningRule(kind=LearningKind.TTFS, a_plus=40, a_minus=20, shift=2, reward_modulated=True)
    network = pre_post(rule, [[0], [0]])
    _, synapses = learn_one(network, stimulus(network, {0: [1], 1: [5]}, [3]), reward=reward)
    assert plastic_weights(network, synapses) == expected


def test_rewards_are_checked():
    network = pre_post(TTFS, [[0]])
    inputs = stimulus(network, {0: [1]}, [3])[None].repeat(2, 0)
    with pytest.raises(ValueError, match=r"rewards must be one of -1, 0, 1 per sample \(2 samples\), got \[2, 0\]"):
        golden.learn(network, CORE, inputs, rewards=[2, 0])
    with pytest.raises(ValueError, match=r"got \[1\]"):
        golden.learn(network, CORE, inputs, rewards=[1])


# ---- pruning -------------------------------------------------------------------------------

def ttfs_sample(network, potentiate: bool) -> np.ndarray:
    """Pre 0 spikes before (potentiate) or after (depress) post."""
    return stimulus(network, {0: [1] if potentiate else [5]}, [3])


def test_pruning_patience_and_counter_reset():
    rule = LearningRule(kind=LearningKind.TTFS, a_plus=8, a_minus=8, shift=0, w_min=0)
    network = pre_post(rule, [[8]], pruning=PruningRule(threshold=10, patience=3))
    synapses = None
    history = []
    for potentiate in [False, True, True, False, False, True]:
        _, synapses = learn_one(network, ttfs_sample(network, potentiate), synapses=synapses)
        history.append((plastic_weights(network, synapses)[0], int(synapses.prune_count[-1]),
                        bool(synapses.live[-1])))
    # |w| <= 10 counts up; 16 > 10 resets the count; the third update in a row at <= 10 removes it.
    assert history == [(0, 1, True), (8, 2, True), (16, 0, True), (8, 1, True), (0, 2, True), (8, 3, False)]


def test_pruned_synapse_is_neither_delivered_nor_learned_and_counts_as_skipped():
    rule = LearningRule(kind=LearningKind.TTFS, a_plus=0, a_minus=0, shift=0)
    network = pre_post(rule, [[9], [50]], pruning=PruningRule(threshold=10, patience=2), timesteps=6)
    learning_sample = stimulus(network, {0: [1], 1: [1]}, [3])
    _, synapses = golden.learn(network, CORE, learning_sample[None].repeat(2, 0))
    table = network.synapses()
    plastic = np.flatnonzero(table.group == 2)
    assert synapses.live[plastic].tolist() == [False, True]  # |9| <= 10 for 2 updates; 50 stays
    params = golden.compile_network(network, CORE)
    # input -> pre: 2 synapses, input -> post: 1 (zeros of fixed groups are not stored), pre -> post: 2 - 1.
    assert golden.live_synapse_counts(params, synapses).tolist() == [2, 1, 1]
    assert golden.live_synapse_counts(params, golden.initial_synapse_state(network)).tolist() == [2, 1, 2]

    probe = stimulus(network, {0: [4], 1: [4]}, [])  # delivered to post at step 5, the last step
    before = golden.run(network, CORE, probe)
    after = golden.run(network, CORE, probe, synapses)
    post = network.neuron_offset("post")
    assert int(before.state.u[0, post]) == 9 + 50
    assert int(after.state.u[0, post]) == 50
    assert before.counters[0, 5, Counter.SYNAPTIC_OPS] == 2 and before.counters[0, 5, Counter.SYNAPSES_SKIPPED] == 0
    assert after.counters[0, 5, Counter.SYNAPTIC_OPS] == 1 and after.counters[0, 5, Counter.SYNAPSES_SKIPPED] == 1

    results, later = golden.learn(network, CORE, learning_sample[None], synapses=synapses)
    assert int(results[0].end_learning_updates[0]) == 1  # only the live synapse is updated
    assert later.prune_count[plastic[0]] == synapses.prune_count[plastic[0]]
    assert later.live[plastic].tolist() == [False, True]


def test_pair_rule_pruning_within_a_sample():
    rule = LearningRule(a_plus=0, a_minus=0, shift=0)
    network = pre_post(rule, [[3]], pruning=PruningRule(threshold=5, patience=2), timesteps=8)
    result, synapses = learn_one(network, stimulus(network, {0: [1, 2, 4]}, []))
    # Updates at steps 1 and 2 (pre spikes, delta 0): removed after step 2. The spike of step 4 is
    # delivered at 5 to a removed synapse: skipped.
    counters = result.counters[0]
    assert counters[:, Counter.LEARNING_UPDATES].tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
    assert counters[5, Counter.SYNAPSES_SKIPPED] == 1 and counters[5, Counter.SYNAPTIC_OPS] == 0
    assert counters[2, Counter.SYNAPTIC_OPS] == 2  # step 1: pre 0 -> post still delivered, and input -> pre 0
    assert not synapses.live[-1]


# ---- enabling learning per group and per sample --------------------------------------------

def two_plastic_groups() -> Network:
    pre_rule = LearningRule(kind=LearningKind.TTFS, a_plus=4, a_minus=4, shift=0, w_min=0, w_max=127)
    return pre_post(ADDITIVE, [[10]], pre_rule=pre_rule)


def test_learning_enabled_per_group():
    network = two_plastic_groups()
    inputs = stimulus(network, {0: [1]}, [3])
    table = network.synapses()
    for enabled, pre_weight, post_weight in [([True, False, True], 5, 46), ([True, False, False], 5, 10),
                                             ([False, False, True], 1, 46), ([False, False, False], 1, 10)]:
        _, synapses = learn_one(network, inputs, learning_enabled=enabled)
        # Input channel 0 -> pre 0 first fires at 0, pre 0 at 1: potentiated by 4.
        assert synapses.weight[table.group == 0].tolist() == [pre_weight], enabled
        assert synapses.weight[table.group == 2].tolist() == [post_weight], enabled


def test_learning_enabled_per_sample():
    network = two_plastic_groups()
    inputs = stimulus(network, {0: [1]}, [3])[None].repeat(3, 0)
    table = network.synapses()
    enabled = [[False, False, False], [False, False, True], [True, False, False]]
    results, synapses = golden.learn(network, CORE, inputs, learning_enabled=enabled)
    assert synapses.weight[table.group == 0].tolist() == [5]
    assert synapses.weight[table.group == 2].tolist() == [46]
    assert [int(r.counters[0, :, Counter.LEARNING_UPDATES].sum()) for r in results] == [0, 2, 0]
    assert [int(r.end_learning_updates[0]) for r in results] == [0, 0, 1]


# ---- learned networks ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_network_with_synapses_runs_like_the_learned_state(seed):
    rng = np.random.default_rng(seed)
    core = CoreConfig(max_neurons=48, max_inputs=16)
    options = RandomNetworkOptions(learning=True, pruning=True, recurrent=True)
    network = random_network(rng, core, options)
    while not any(g.pruning is not None for g in network.groups):
        network = random_network(rng, core, options)
    inputs = random_inputs(rng, network, 6, rate=0.4)
    _, synapses = golden.learn(network, core, inputs, rewards=rng.integers(-1, 2, 6))
    learned = golden.network_with_synapses(network, synapses)
    assert golden.initial_synapse_state(learned).weight.tolist() == synapses.weight[synapses.live].tolist()
    probe = random_inputs(rng, network, 4, rate=0.3)
    expected = golden.run(network, core, probe, synapses)
    actual = golden.run(learned, core, probe)
    assert np.array_equal(actual.spikes, expected.spikes)
    assert np.array_equal(actual.decision, expected.decision)
    kept = [c for c in Counter if c is not Counter.SYNAPSES_SKIPPED]  # removed synapses are not stored at all
    assert np.array_equal(actual.counters[..., kept], expected.counters[..., kept])
    assert loads(dumps(learned, core))[0] == learned


def test_learning_enabled_is_checked():
    network = two_plastic_groups()
    inputs = stimulus(network, {0: [1]}, [3])[None].repeat(2, 0)
    wrong_shape = r"learning_enabled has shape \({}\): expected one flag per synapse group \(3,\) or one such list per sample \(2, 3\)"
    with pytest.raises(ValueError, match=wrong_shape.format("2,")):
        golden.learn(network, CORE, inputs, learning_enabled=[True, False])
    with pytest.raises(ValueError, match=wrong_shape.format("1, 3")):
        golden.learn(network, CORE, inputs, learning_enabled=[[True, False, True]])
    # Flags are 0 / 1: "no", 0.5 or 2 are not cast to True (they would turn learning on).
    for flags in (["no", "no", "no"], [0.5, 0, 0], [[2, 0, 0], [0, 0, 0]]):
        with pytest.raises(ValueError, match=r"learning_enabled: learning_enabled value .* is not 0 or 1"):
            golden.learn(network, CORE, inputs, learning_enabled=flags)
    with pytest.raises(ValueError, match=r"learning_enabled: .*expected one 0/1 flag per synapse group"):
        golden.learn(network, CORE, inputs, learning_enabled=[[1, 0, 0], [1, 0]])
    # 0 / 1 integers are flags, like bools, per group or per sample.
    as_ints = golden.learn(network, CORE, inputs, learning_enabled=[[0, 0, 1], [1, 0, 0]])[1]
    as_bools = golden.learn(network, CORE, inputs, learning_enabled=[[False, False, True], [True, False, False]])[1]
    assert as_ints.weight.tolist() == as_bools.weight.tolist()


def test_a_given_synapse_state_is_checked_before_it_is_used():
    """An integer live mask is a mask (not indices); states of the wrong size or range are refused."""
    rng = np.random.default_rng(3)
    network = random_network(rng, CORE)
    while network.synapses().count < 2:
        network = random_network(rng, CORE)
    inputs = random_inputs(rng, network, 2, 0.5)
    start = golden.initial_synapse_state(network)
    as_ints = start._replace(live=start.live.astype(np.int64))
    assert np.array_equal(golden.run(network, CORE, inputs, as_ints).spikes, golden.run(network, CORE, inputs).spikes)
    bad = {"live": (start._replace(live=np.full(start.live.size, 2)), "synapses.live value 2 is not 0 or 1"),
           "size": (start._replace(weight=start.weight[:-1]), r"synapses.weight has shape"),
           "weight": (start._replace(weight=start.weight + 1000), "outside the core's weight range"),
           "float": (start._replace(weight=start.weight + 0.5), "must hold whole numbers"),
           "count": (start._replace(prune_count=start.prune_count - 1), "outside the core's pruning counter range"),
           "lfsr": (start._replace(lfsr=1.5), r"synapses.lfsr = 1.5 must be a non-zero 16-bit LFSR state")}
    for state, message in bad.values():
        with pytest.raises(ValueError, match=message):
            golden.run(network, CORE, inputs, state)
        with pytest.raises(ValueError, match=message):
            golden.learn(network, CORE, inputs, synapses=state)
    with pytest.raises(ValueError, match="rewards must be one of -1, 0, 1"):
        golden.learn(network, CORE, inputs, rewards=[0.5, 0.9])
