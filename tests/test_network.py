"""Network description: validation messages, fit check reasons, synapse numbering."""

import dataclasses

import numpy as np
import pytest

from spikestream.model import (INPUT, CoreConfig, Decision, DecisionMode, LearningKind, LearningRule, Network,
                               NetworkDoesNotFit, NetworkError, Population, PruningRule, ResetMode, SynapseGroup)


def small_network(**overrides) -> Network:
    """Two inputs -> hidden(3) -> out(2), with a skip and a self-recurrent group."""
    populations = [Population("hidden", 3, threshold=100), Population("out", 2, threshold=50)]
    groups = [
        SynapseGroup(INPUT, "hidden", [[1, 0, 3], [4, 5, 0]]),
        SynapseGroup("hidden", "out", [[1, 2], [3, 4], [5, 6]]),
        SynapseGroup(INPUT, "out", [[7, 0], [0, 8]]),
        SynapseGroup("out", "out", [[0, -1], [-2, 0]]),
    ]
    fields = dict(n_inputs=2, populations=populations, groups=groups, timesteps=10, output="out")
    fields.update(overrides)
    return Network(**fields)


# ---- validation names the field, the index and the allowed range -------------------------

@pytest.mark.parametrize("parameter, values, message", [
    ("current_decay", [0, 4096, 5], r"^p\.current_decay\[1\] = 4096 is outside the allowed range \[0, 4095\]$"),
    ("voltage_decay", [-1, 0, 0], r"^p\.voltage_decay\[0\] = -1 is outside the allowed range \[0, 4095\]$"),
    ("adapt_decay", [0, 0, 9999], r"^p\.adapt_decay\[2\] = 9999 is outside the allowed range \[0, 4095\]$"),
    ("threshold", [-5, -6, 1], r"^p\.threshold\[0\] = -5 is outside the allowed range \[0, \d+\] "
                               r"\(2 values out of range\)$"),
    ("refractory", [0, -1, 0], r"^p\.refractory\[1\] = -1 is outside the allowed range"),
])
def test_population_parameter_errors_name_field_index_and_range(parameter, values, message):
    with pytest.raises(NetworkError, match=message):
        Population("p", 3, **{parameter: values})


def test_population_shape_dtype_and_name_errors():
    with pytest.raises(NetworkError, match=r"p\.bias has shape \(2,\), expected a scalar or shape \(3,\)"):
        Population("p", 3, bias=[1, 2])
    with pytest.raises(NetworkError, match=r"p\.threshold must hold integers, got dtype float64"):
        Population("p", 2, threshold=[1.5, 2.0])
    with pytest.raises(NetworkError, match=r"population name 'input' must be an identifier other than 'input'"):
        Population(INPUT, 1)
    with pytest.raises(NetworkError, match=r"population 'p' size = 0 is outside the allowed range \[1, "):
        Population("p", 0)
    assert Population("p", 2, threshold=[3.0, 4.0]).threshold.tolist() == [3, 4]  # integral floats are fine


@pytest.mark.parametrize("field, value, message", [
    ("a_plus", 256, r"learning\.a_plus = 256 is outside the allowed range \[0, 255\]"),
    ("shift", 25, r"learning\.shift = 25 is outside the allowed range \[0, 24\]"),
    ("trace_decay_shift", 0, r"learning\.trace_decay_shift = 0 is outside the allowed range \[1, 16\]"),
    ("w_max", -129, r"learning\.w_max = -129 is outside the allowed range \[-128, 32767\]"),
    ("soft_bound", 1, r"learning\.soft_bound must be a bool, got 1"),
    ("winner_only", True, r"learning\.winner_only needs kind = ttfs"),
])
def test_learning_rule_errors(field, value, message):
    with pytest.raises(NetworkError, match=message):
        LearningRule(**{field: value})


def test_pruning_rule_errors():
    with pytest.raises(NetworkError, match=r"pruning\.patience = 0 is outside the allowed range \[1, 65535\]"):
        PruningRule(patience=0)
    with pytest.raises(NetworkError, match=r"pruning\.threshold = -1 is outside the allowed range"):
        PruningRule(threshold=-1)


def test_synapse_group_errors():
    with pytest.raises(NetworkError, match=r"group input->a: weights must be 2-D"):
        SynapseGroup(INPUT, "a", [1, 2])
    with pytest.raises(NetworkError, match=r"group input->a: mask must be bool"):
        SynapseGroup(INPUT, "a", [[1, 2]], mask=[[1, 0]])
    with pytest.raises(NetworkError, match=r"group input->a: mask shape \(2, 1\) differs from weights shape \(1, 2\)"):
        SynapseGroup(INPUT, "a", [[1, 2]], mask=np.ones((2, 1), bool))
    with pytest.raises(NetworkError, match=r"group input->a exponent = 65 is outside the allowed range \[0, 64\]"):
        SynapseGroup(INPUT, "a", [[1]], exponent=65)
    with pytest.raises(NetworkError, match=r"group input->a: pruning needs a learning rule"):
        SynapseGroup(INPUT, "a", [[1]], pruning=PruningRule())


def test_sparse_group_builder():
    group = SynapseGroup.sparse(INPUT, "a", (3, 2), pre=[2, 0], post=[1, 0], weight=[-5, 7])
    assert group.weights.tolist() == [[7, 0], [0, 0], [0, -5]]
    assert group.mask.tolist() == [[True, False], [False, False], [False, True]]
    with pytest.raises(NetworkError, match=r"group input->a post\[1\] = 2 is outside the allowed range \[0, 1\]"):
        SynapseGroup.sparse(INPUT, "a", (3, 2), pre=[0, 1], post=[0, 2], weight=[1, 1])
    with pytest.raises(NetworkError, match=r"a \(pre, post\) pair is listed twice"):
        SynapseGroup.sparse(INPUT, "a", (3, 2), pre=[1, 1], post=[0, 0], weight=[1, 1])
    with pytest.raises(NetworkError, match=r"pre, post and weight lists differ in length"):
        SynapseGroup.sparse(INPUT, "a", (3, 2), pre=[1], post=[0, 1], weight=[1, 1])


def test_network_structure_errors():
    network = small_network()
    with pytest.raises(NetworkError, match=r"groups\[0\] \(input->hidden\) weights have shape \(1, 3\), expected "
                                           r"\(2, 3\) \[source size, target size\]"):
        small_network(groups=[SynapseGroup(INPUT, "hidden", [[1, 1, 1]])])
    with pytest.raises(NetworkError, match=r"groups\[1\] source 'nowhere' is neither 'input' nor one of"):
        small_network(groups=[network.groups[0], SynapseGroup("nowhere", "out", [[1, 1]])])
    with pytest.raises(NetworkError, match=r"groups\[1\] \(input->hidden\) repeats a source/target pair"):
        small_network(groups=[network.groups[0], network.groups[0]])
    with pytest.raises(NetworkError, match=r"output population 'nope' is not one of \['hidden', 'out'\]"):
        small_network(output="nope")
    with pytest.raises(NetworkError, match=r"population names must be unique; repeated: \['out'\]"):
        small_network(populations=[Population("out", 3), Population("out", 2)])
    with pytest.raises(NetworkError, match=r"timesteps = 0 is outside the allowed range"):
        small_network(timesteps=0)
    with pytest.raises(NetworkError, match=r"groups\[0\] \(input->hidden\) learns winner_only, so its target must "
                                           r"be the output population 'out'"):
        small_network(groups=[SynapseGroup(INPUT, "hidden", np.ones((2, 3), int),
                                           learning=LearningRule(kind=LearningKind.TTFS, winner_only=True))])
    with pytest.raises(NetworkError, match=r"decision\.early_exit needs mode = first_spike"):
        Decision(DecisionMode.SPIKE_COUNT, early_exit=True)


# ---- the fit check lists every reason ------------------------------------------------------

def test_small_network_fits_the_default_core():
    assert small_network().fit_problems(CoreConfig()) == []
    small_network().check_fits(CoreConfig())


def test_every_capacity_is_a_separate_reason():
    network = small_network()
    core = CoreConfig(max_inputs=1, max_neurons=4, max_populations=1, max_groups=3, timestep_bits=3, max_synapses=10)
    with pytest.raises(NetworkDoesNotFit) as error:
        network.check_fits(core)
    assert error.value.reasons == [
        "n_inputs = 2 exceeds the core's 1",
        "neurons = 5 exceeds the core's 4",
        "populations = 2 exceeds the core's 1",
        "groups = 4 exceeds the core's 3",
        "timesteps = 10 exceeds the core's 7",
        "stored synapses = 14 exceeds the core's 10",
    ]
    assert str(error.value).startswith("network does not fit the core configuration: n_inputs = 2 exceeds")


def test_every_feature_switch_is_a_separate_reason():
    populations = [
        Population("hidden", 3, adapt_increment=5, refractory=2, single_spike=True),
        Population("out", 2),
    ]
    network = small_network(populations=populations)
    learning = LearningRule()
    groups = list(network.groups)
    groups[1] = dataclasses.replace(groups[1], learning=learning, pruning=PruningRule())
    network = network.with_groups(groups)
    core = CoreConfig(adaptation=False, refractory=False, ttfs=False, learning=False, pruning=False)
    assert network.fit_problems(core) == [
        "hidden uses threshold adaptation, which the core is built without",
        "hidden uses a refractory period, which the core is built without",
        "hidden is single-spike (TTFS), which the core is built without",
        "groups[1] (hidden->out) learns, but the core is built without learning",
        "groups[1] (hidden->out) prunes, but the core is built without pruning",
    ]


def test_value_ranges_against_the_core():
    populations = [Population("hidden", 3, threshold=[0, 2**23, 0], refractory=[0, 0, 16], bias=-(2**23)),
                   Population("out", 2)]
    network = small_network(populations=populations)
    groups = list(network.groups)
    groups[0] = SynapseGroup(INPUT, "hidden", [[1, 0, 3], [4, 200, 0]], exponent=16)
    groups[1] = dataclasses.replace(groups[1], learning=LearningRule(w_min=-5, w_max=200, pre_increment=300,
                                                                     trace_decay_shift=9),
                                    pruning=PruningRule(threshold=128, patience=16))
    problems = network.with_groups(groups).fit_problems(CoreConfig())
    assert problems == [
        "hidden.threshold[1] = 8388608 is outside the core's range [0, 8388607]",
        "hidden.bias[0] = -8388608 is outside the core's range [-8388607, 8388607]",
        "hidden.refractory[2] = 16 is outside the core's range [0, 15]",
        "groups[0] (input->hidden) weight 200 at (1, 1) is outside int8 [-128, 127]",
        "groups[0] (input->hidden) exponent = 16 exceeds the core's 15",
        "groups[1] (hidden->out) learning clamp [-5, 200] is outside int8 [-128, 127]",
        "groups[1] (hidden->out) learning.pre_increment = 300 exceeds the core's 255",
        "groups[1] (hidden->out) learning.trace_decay_shift = 9 exceeds the core's 8",
        "groups[1] (hidden->out) pruning.patience = 16 exceeds the core's 15",
        "groups[1] (hidden->out) pruning.threshold = 128 exceeds the core's 127",
    ]


def test_weights_outside_the_learning_clamp_do_not_fit():
    network = small_network()
    groups = list(network.groups)
    groups[1] = dataclasses.replace(groups[1], learning=LearningRule(w_min=0, w_max=5))
    assert network.with_groups(groups).fit_problems(CoreConfig()) == [
        "groups[1] (hidden->out) weight 6 at (2, 1) is outside its learning clamp [0, 5]"]


# ---- numbering ---------------------------------------------------------------------------

def test_offsets_and_parameters():
    network = small_network()
    assert network.n_neurons == 5 and network.n_sources == 7
    assert network.neuron_offset("out") == 3
    assert network.source_offset(INPUT) == 0 and network.source_offset("hidden") == 2
    assert network.neuron_parameter("threshold").tolist() == [100, 100, 100, 50, 50]


def test_synapse_table_is_in_canonical_order():
    table = small_network().synapses()
    # Non-plastic zero weights are not stored; order is source, then group, then target.
    rows = list(zip(table.source.tolist(), table.group.tolist(), table.target.tolist(), table.weight.tolist()))
    assert rows == [
        (0, 0, 0, 1), (0, 0, 2, 3), (0, 2, 3, 7),
        (1, 0, 0, 4), (1, 0, 1, 5), (1, 2, 4, 8),
        (2, 1, 3, 1), (2, 1, 4, 2),
        (3, 1, 3, 3), (3, 1, 4, 4),
        (4, 1, 3, 5), (4, 1, 4, 6),
        (5, 3, 4, -1),
        (6, 3, 3, -2),
    ]


def test_plastic_groups_store_zero_weights_and_masks_hide_weights():
    group = SynapseGroup(INPUT, "a", [[0, 9]], mask=np.array([[True, False]]), learning=LearningRule())
    assert group.weights.tolist() == [[0, 0]]  # masked-out weight is dropped
    assert group.stored_mask.tolist() == [[True, False]]  # a plastic zero weight can grow: stored
    assert SynapseGroup(INPUT, "a", [[0, 9]]).stored_mask.tolist() == [[False, True]]


def test_description_is_immutable_and_compares_by_value():
    network = small_network()
    assert network == small_network()
    assert network != small_network(timesteps=11)
    with pytest.raises(ValueError):
        network.groups[0].weights[0, 0] = 5
    assert Population("p", 2, reset="subtract").reset is ResetMode.SUBTRACT


def test_values_are_not_truncated_wrapped_or_taken_for_another_type():
    for pre, post, weight, message in (([0], [1], [1.7], "weight must hold integers"),
                                       ([0.9], [1], [1], "pre must hold integers"),
                                       ([0], [1], [2 ** 70], "weight holds 1180591620717411303424, far outside")):
        with pytest.raises(NetworkError, match=message):
            SynapseGroup.sparse(INPUT, "h", (3, 4), pre, post, weight)
    for bias in (np.uint64(2 ** 64 - 1), 1e19, 2 ** 63):
        with pytest.raises(NetworkError, match="h.bias holds .* far outside any core's range"):
            Population("h", 4, bias=bias)
    for decision in ("first_spike", None):
        with pytest.raises(NetworkError, match="decision must be a Decision"):
            Network(3, [Population("o", 2)], [], 5, "o", decision)
    with pytest.raises(NetworkError, match="learning must be a LearningRule or None"):
        SynapseGroup(INPUT, "o", np.ones((3, 2), int), learning={"a_plus": 3})
    with pytest.raises(NetworkError, match=r"populations\[0\] must be a Population"):
        Network(3, ["o"], [], 5, "o")


def test_enum_fields_list_their_choices_and_numpy_flags_are_flags():
    with pytest.raises(NetworkError, match=r"h.reset 'bogus' is not one of \['zero', 'subtract'\]"):
        Population("h", 2, reset="bogus")
    with pytest.raises(NetworkError, match="decision.mode 'x' is not one of"):
        Decision("x")
    with pytest.raises(NetworkError, match=r"learning.kind 'z' is not one of \['pair', 'ttfs'\]"):
        LearningRule(kind="z")
    assert Decision(DecisionMode.FIRST_SPIKE, early_exit=np.True_).early_exit is True
    assert LearningRule(soft_bound=np.True_).soft_bound is True
