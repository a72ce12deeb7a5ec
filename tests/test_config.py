"""CoreConfig: validation names the field and its range; derived ranges; identity."""

import dataclasses
import json

import pytest

from spikestream.model import PYNQ_Z2, ConfigError, CoreConfig


def test_default_is_the_pynq_z2_core():
    core = CoreConfig()
    assert core == PYNQ_Z2
    assert core.state_max == 2**23 - 1 and core.state_min == -(2**23 - 1)
    assert (core.weight_min, core.weight_max) == (-128, 127)
    assert core.num_sources == core.max_inputs + core.max_neurons


@pytest.mark.parametrize("field, value, low, high", [
    ("max_neurons", 0, 1, 1 << 16),
    ("max_synapses", (1 << 24) + 1, 1, 1 << 24),
    ("lanes", 65, 1, 64),
    ("state_bits", 7, 8, 32),
    ("weight_bits", 17, 2, 16),
    ("max_weight_exponent", -1, 0, 24),
    ("refractory_bits", 17, 0, 16),
    ("trace_bits", 1, 2, 16),
    ("prune_counter_bits", 0, 1, 16),
])
def test_out_of_range_field_is_named_with_its_range(field, value, low, high):
    with pytest.raises(ConfigError) as error:
        CoreConfig(**{field: value})
    assert str(error.value) == f"{field} = {value} is outside the allowed range [{low}, {high}]"


@pytest.mark.parametrize("field, value", [("lanes", 2.0), ("state_bits", True), ("max_inputs", "64")])
def test_non_integer_field_is_refused(field, value):
    with pytest.raises(ConfigError, match=f"^{field} must be an integer, got {value!r}"):
        CoreConfig(**{field: value})


def test_feature_switch_must_be_bool():
    with pytest.raises(ConfigError, match="adaptation must be a bool, got 1"):
        CoreConfig(adaptation=1)


def test_pruning_needs_learning():
    with pytest.raises(ConfigError, match="pruning = True needs learning = True"):
        CoreConfig(learning=False)
    assert not CoreConfig(learning=False, pruning=False).learning


@pytest.mark.parametrize("bits, state_max, trace_max, eligibility_max, patience_max, refractory_max", [
    (24, 2**23 - 1, 255, 2**15 - 1, 15, 15),
    (16, 2**15 - 1, 255, 2**15 - 1, 15, 15),
])
def test_derived_ranges_follow_the_bit_widths(bits, state_max, trace_max, eligibility_max, patience_max,
                                               refractory_max):
    core = CoreConfig(state_bits=bits)
    assert core.state_max == state_max and core.state_min == -state_max
    assert core.trace_max == trace_max
    assert core.eligibility_max == eligibility_max
    assert core.prune_patience_max == patience_max
    assert core.refractory_max == refractory_max
    assert CoreConfig(timestep_bits=8).max_timesteps == 255
    assert CoreConfig(weight_bits=4).weight_min == -8 and CoreConfig(weight_bits=4).weight_max == 7


def test_dict_and_json_round_trip():
    core = CoreConfig(max_neurons=300, lanes=4, adaptation=False)
    assert CoreConfig.from_dict(core.to_dict()) == core
    assert CoreConfig.from_dict(json.loads(core.to_json())) == core


def test_unknown_field_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown core configuration fields \['neurons'\]; expected a subset of"):
        CoreConfig.from_dict({"neurons": 3})


def test_hash_changes_with_any_field_and_differences_name_them():
    core = CoreConfig()
    assert 0 <= core.hash32() < 2**32
    assert core.hash32() == CoreConfig().hash32()
    for field in dataclasses.fields(CoreConfig):
        value = getattr(core, field.name)
        changes = {field.name: (not value) if isinstance(value, bool) else value - 1}
        if field.name == "learning":  # learning off needs pruning off too
            changes["pruning"] = False
        if field.name in ("neuron_lanes", "trace_lanes"):  # a power of two
            changes = {field.name: value // 2}
        if field.name == "trace_entries":  # a multiple of trace_lanes
            changes = {field.name: value - core.trace_lanes}
        other = dataclasses.replace(core, **changes)
        assert other.hash32() != core.hash32(), field.name
        assert any(d.startswith(f"{field.name}: ") for d in core.differences(other)), field.name
    assert core.differences(dataclasses.replace(core, lanes=4)) == ["lanes: 8 != 4"]
    assert core.differences(core) == []


def test_trace_lanes_must_divide_the_trace_memory():
    with pytest.raises(ConfigError, match=r"trace_lanes = 6 must be a power of two that divides trace_entries = 1024"):
        CoreConfig(trace_lanes=6)
    with pytest.raises(ConfigError, match=r"trace_lanes = 8 must be a power of two that divides trace_entries = 100"):
        CoreConfig(trace_entries=100)
    assert CoreConfig(trace_entries=100, trace_lanes=4).trace_lanes == 4


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CoreConfig().lanes = 4


def test_learning_core_limits_are_named():
    with pytest.raises(ConfigError, match=r"max_groups = 40: .*32-bit learning_enable register, so max_groups must "
                                          r"be <= 32 \(or learning = False\)"):
        CoreConfig(max_groups=40)
    with pytest.raises(ConfigError, match=r"max_inputs \+ max_neurons = 65664: .*16-bit fields"):
        CoreConfig(max_neurons=1 << 16)
    assert CoreConfig(max_groups=40, learning=False, pruning=False).max_groups == 40
    assert CoreConfig(max_neurons=1 << 16, learning=False, pruning=False).num_sources == (1 << 16) + 128


def test_numpy_scalars_are_the_values_they_hold():
    import numpy as np

    core = CoreConfig(lanes=np.int64(4), ttfs=np.bool_(True))
    assert core == CoreConfig(lanes=4) and type(core.lanes) is int and core.hash32() == CoreConfig(lanes=4).hash32()
    with pytest.raises(ConfigError, match="lanes must be an integer, got 4.0"):
        CoreConfig(lanes=np.float64(4.0))
    with pytest.raises(ConfigError, match="lanes must be an integer"):
        CoreConfig(lanes=np.array([4, 4]))


def test_a_synapse_must_fit_one_stream_word():
    # target 16 bits (65536 neurons) + weight 16 + group 5 (32 groups) = 37 bits: no stored synapse fits a word.
    with pytest.raises(ConfigError, match=r"a stored synapse needs 37 bits \(target 16 for max_neurons = 65536 \+ "
                                          r"weight 16 \+ group 5 for max_groups = 32 \+ pruning counter 0\), more than "
                                          r"one 32-bit word"):
        CoreConfig(max_neurons=65536, weight_bits=16, max_groups=32, learning=False, pruning=False)
    core = CoreConfig(max_neurons=65536, weight_bits=11, max_groups=32, learning=False, pruning=False)
    assert sum(core.synapse_field_bits) == 32  # exactly one word is fine
    assert CoreConfig().synapse_field_bits == (9, 8, 4, 4)  # 512 neurons, int8, 16 groups, 4-bit counter
