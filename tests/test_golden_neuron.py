"""Single-neuron traces derived by hand from the equations in the golden model's docstring."""

import numpy as np
import pytest

from spikestream.model import INPUT, CoreConfig, Network, Population, ResetMode, SynapseGroup
from spikestream.model import golden

CORE = CoreConfig()
S = CORE.state_max  # 2**23 - 1 = 8388607


def compile_one(**parameters) -> golden.Params:
    network = Network(1, [Population("n", 1, **parameters)], [SynapseGroup(INPUT, "n", [[1]])], timesteps=16,
                      output="n")
    return golden.compile_network(network, CORE)


def trace(params: golden.Params, synaptic_inputs) -> list[tuple[int, int, int, bool]]:
    """Step one neuron with the given synaptic input per step; return (u, v, theta, spike) after each step."""
    state = golden.initial_neuron_state(params, 1)
    rows = []
    for step, value in enumerate(synaptic_inputs):
        state, spikes = golden.neuron_step(params, state, np.array([[value]], np.int64), step)
        rows.append((int(state.u[0, 0]), int(state.v[0, 0]), int(state.theta[0, 0]), bool(spikes[0, 0])))
    return rows


def test_decay_truncates_toward_zero():
    values = np.array([1000, -1000, 1, -1, 4096, -4096, 0])
    # 1000 * 4095 / 4096 = 999.76 -> 999 and -999 (floor would give -1000); +-1 * 4095/4096 -> 0.
    assert golden.decay(values, np.int64(1)).tolist() == [999, -999, 0, 0, 4095, -4095, 0]
    # d = 0 keeps everything; d = 4095 keeps 1/4096: 4096 -> 1, 4095 -> 0.
    assert golden.decay(values, np.int64(0)).tolist() == values.tolist()
    assert golden.decay(np.array([4096, 4095, -4096]), np.int64(4095)).tolist() == [1, 0, -1]
    # 3 * 2048 / 4096 = 1.5 -> 1 and -1.
    assert golden.decay(np.array([3, -3]), np.int64(2048)).tolist() == [1, -1]


def test_current_and_voltage_decay_trace():
    params = compile_one(threshold=10**6, current_decay=2048, voltage_decay=1024)
    # u decays by (du + 1) = 2049: keeps 2047/4096; v keeps 3072/4096.
    #   t0: u = 1000,                         v = 0 + 1000 = 1000
    #   t1: u = 1000*2047/4096 = 499.76 -> 499, v = 1000*3072/4096 = 750 + 499 = 1249
    #   t2: u = 499*2047/4096 = 249.38 -> 249,  v = 1249*3072/4096 = 936.75 -> 936 + 249 = 1185
    assert [(u, v) for u, v, _, _ in trace(params, [1000, 0, 0])] == [(1000, 1000), (499, 1249), (249, 1185)]
    # The same with negative values: truncation toward zero makes it exactly symmetric.
    assert [(u, v) for u, v, _, _ in trace(params, [-1000, 0, 0])] == [(-1000, -1000), (-499, -1249), (-249, -1185)]


def test_current_decay_has_the_loihi_plus_one_offset():
    # du = 0 still decays u by 1/4096 (ds_offset = 1): 4096 -> 4095 -> 4094.
    params = compile_one(threshold=10**6, current_decay=0)
    assert [u for u, *_ in trace(params, [4096, 0, 0])] == [4096, 4095, 4094]
    # du = 4095 means du + 1 = 4096: the current lasts exactly one step.
    params = compile_one(threshold=10**6, current_decay=4095)
    assert [u for u, *_ in trace(params, [5000, 0, 7])] == [5000, 0, 7]
    # dv = 0 has no offset: the voltage integrates without loss.
    params = compile_one(threshold=10**6, current_decay=4095, voltage_decay=0)
    assert [v for _, v, _, _ in trace(params, [5000, 0, 7])] == [5000, 5000, 5007]


def test_threshold_is_strict_and_reset_to_zero():
    params = compile_one(threshold=100, current_decay=4095, voltage_decay=0)
    # v = 100 is not above 100; v = 101 is, and the voltage resets to 0 (current is not reset).
    assert trace(params, [100, 0, 1, 0]) == [(100, 100, 0, False), (0, 100, 0, False), (1, 0, 0, True),
                                             (0, 0, 0, False)]


def test_reset_by_subtraction():
    params = compile_one(threshold=100, current_decay=4095, voltage_decay=0, reset=ResetMode.SUBTRACT)
    # 130 > 100: v = 130 - 100 = 30; then 30 + 80 = 110 > 100: v = 10.
    assert [(v, spike) for _, v, _, spike in trace(params, [130, 80, 0])] == [(30, True), (10, True), (10, False)]


def test_refractory_period_holds_the_voltage_but_not_the_current():
    params = compile_one(threshold=10, bias=25, current_decay=0, voltage_decay=4095, refractory=2,
                         reset=ResetMode.SUBTRACT)
    rows = trace(params, [0, 100, 0, 0, 0])
    #   t0: v = 25 > 10: spike, v = 15, 2 steps of refractory
    #   t1: u = 100 (input arrives), v held at 15   t2: u = 100*4095/4096 -> 99, v held
    #   t3: u = 99*4095/4096 = 98.98 -> 98; v = 15*1/4096 -> 0, + 98 + 25 = 123 > 10: spike, v = 113
    #   t4: held again
    assert rows == [(0, 15, 0, True), (100, 15, 0, False), (99, 15, 0, False), (98, 113, 0, True),
                    (97, 113, 0, False)]


def test_threshold_adaptation_jumps_and_decays():
    params = compile_one(threshold=10, bias=20, voltage_decay=4095, adapt_increment=50, adapt_decay=2048)
    rows = trace(params, [0] * 7)
    # theta decays by 2048/4096 (halves, truncating) before the comparison, jumps by 50 on a spike:
    #   t0: theta 0, v 20 > 10 spike -> theta 50     t1: theta 25, 20 > 35? no
    #   t2: theta 12, 20 > 22? no                     t3: theta 6, 20 > 16 spike -> 56
    #   t4: 28  t5: 14  t6: 7, 20 > 17 spike -> 57
    assert [theta for _, _, theta, _ in rows] == [50, 25, 12, 56, 28, 14, 57]
    assert [spike for *_, spike in rows] == [True, False, False, True, False, False, True]


def test_states_saturate_at_plus_minus_state_max_instead_of_wrapping():
    params = compile_one(threshold=S, current_decay=0, voltage_decay=0)
    big = 1 << 30
    assert trace(params, [big, big, 0]) == [(S, S, 0, False), (S, S, 0, False), (S - (S >> 12) - 1, S, 0, False)]
    assert trace(params, [-big, -big]) == [(-S, -S, 0, False), (-S, -S, 0, False)]
    # A bias of -S on top of a current of -S still stops at -S.
    params = compile_one(threshold=0, bias=-S, current_decay=0, voltage_decay=0)
    assert trace(params, [-big]) == [(-S, -S, 0, False)]


def test_adaptation_saturates_at_state_max():
    params = compile_one(threshold=0, bias=S, voltage_decay=4095, adapt_increment=S, adapt_decay=0)
    rows = trace(params, [0, 0])
    assert rows[0] == (0, 0, S, True)
    assert rows[1][2] == S  # theta = min(S + S, S); v = S is not above 0 + S: no spike
    assert not rows[1][3]


def test_single_spike_mode_fires_once():
    params = compile_one(threshold=10, bias=20, voltage_decay=4095, single_spike=True)
    assert [spike for *_, spike in trace(params, [0] * 5)] == [True, False, False, False, False]
    params = compile_one(threshold=10, bias=20, voltage_decay=4095, single_spike=False)
    assert [spike for *_, spike in trace(params, [0] * 5)] == [True] * 5


def test_first_spike_step_and_voltage_are_recorded():
    params = compile_one(threshold=100, current_decay=4095, voltage_decay=0)
    state = golden.initial_neuron_state(params, 1)
    for step, value in enumerate([50, 60, 200]):
        state, _ = golden.neuron_step(params, state, np.array([[value]]), step)
    # 50 + 60 = 110 > 100 at step 1 (the voltage before reset is recorded); 200 > 100 at step 2.
    assert int(state.first_spike_step[0, 0]) == 1
    assert int(state.first_spike_voltage[0, 0]) == 110
    assert int(state.spike_count[0, 0]) == 2


@pytest.mark.parametrize("weight, exponent, expected", [(3, 4, 48), (-3, 4, -48), (127, 15, S), (-128, 15, -S),
                                                        (1, 0, 1)])
def test_input_weight_is_scaled_by_the_group_exponent(weight, exponent, expected):
    network = Network(1, [Population("n", 1, threshold=S, current_decay=4095, voltage_decay=4095)],
                      [SynapseGroup(INPUT, "n", [[weight]], exponent=exponent)], timesteps=2, output="n")
    inputs = np.array([[1], [0]], bool)
    result = golden.run(network, CORE, inputs)
    # Delivered at step 1 (one step after the input event at step 0).
    assert int(result.state.u[0, 0]) == min(max(weight << exponent, -S), S)


def lava_cuba_step(u, v, activation, du, dv, vth_mantissa, bias):
    """One step of lava-nc's bit-accurate CUBA LIF (``AbstractPyLifModelFixed`` + ``PyLifModelBitAcc``).

    Restated from the published equations: 12-bit decays with ``ds_offset = 1`` on the
    current, products truncated toward zero, synaptic input and threshold MSB-aligned by
    ``<< 6``, ``u`` wraps at 24 bits, ``v`` clips to +-(2**23 - 1), spike on ``v > vth``,
    reset to 0.
    """
    def truncate(x, d):
        product = np.int64(x) * (4096 - d)
        return int(np.sign(product) * (abs(product) >> 12))

    max_uv = 2**23
    u = truncate(u, du + 1) + (activation << 6)
    if u > max_uv:  # lava wraps the current; the golden model saturates (not reached below)
        u -= 2 * max_uv
    elif u <= -max_uv:
        u += 2 * max_uv
    v = min(max(truncate(v, dv) + u + bias, -max_uv + 1), max_uv - 1)
    spike = v > (vth_mantissa << 6)
    return u, (0 if spike else v), spike


@pytest.mark.parametrize("seed", range(5))
def test_matches_lava_bit_accurate_cuba_lif(seed):
    # lava's activation a (already w << weight_exp from its Dense) enters as a << 6: our exponent is
    # weight_exp + 6; lava's vth mantissa maps to threshold vth << 6; lava's bias_mant << bias_exp is our bias.
    rng = np.random.default_rng(seed)
    du, dv = (int(d) for d in rng.integers(0, 4096, 2))
    vth_mantissa, bias = int(rng.integers(50, 500)), int(rng.integers(-200, 200))
    params = compile_one(threshold=vth_mantissa << 6, current_decay=du, voltage_decay=dv, bias=bias)
    activations = rng.integers(-400, 800, 60)
    rows = trace(params, [int(a) << 6 for a in activations])
    u = v = 0
    spikes = 0
    for (golden_u, golden_v, _, golden_spike), activation in zip(rows, activations):
        u, v, spike = lava_cuba_step(u, v, int(activation), du, dv, vth_mantissa, bias)
        assert (golden_u, golden_v, golden_spike) == (u, v, spike)
        spikes += spike
    assert abs(u) < 2**23  # the comparison stayed in the range where wrapping and saturating agree
    assert spikes > 0
