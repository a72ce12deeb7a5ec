"""The packet format: headers, synapse layout, encoders and decoders."""

from __future__ import annotations

import numpy as np
import pytest

from spikestream.model.config import CoreConfig
from spikestream.model.generate import random_inputs, random_network
from spikestream.model.protocol import (InOpcode, OutOpcode, ProtocolError, decode_output, decode_packets,
                                        encode_load, encode_sample, header, parse_header, synapse_format,
                                        synapse_layout, synapse_rows, to_signed)
from spikestream.sim.scoreboard import inputs_from_packets

CORE = CoreConfig(max_neurons=48, max_inputs=16, max_synapses=1024, lanes=4)


def test_header_round_trip():
    assert parse_header(header(InOpcode.EVENTS, 1234)) == (InOpcode.EVENTS, 1234)
    assert parse_header(header(OutOpcode.STEP, (1 << 24) - 1)) == (OutOpcode.STEP, (1 << 24) - 1)
    with pytest.raises(ProtocolError, match="does not fit 24 bits"):
        header(InOpcode.EVENTS, 1 << 24)


def test_synapse_layout_holds_the_canonical_table():
    rng = np.random.default_rng(3)
    network = random_network(rng, CORE)
    table = network.synapses()
    layout = synapse_layout(network, CORE)
    fmt = synapse_format(CORE)
    words = layout.rows.ravel()
    decoded = []
    for source in range(network.n_sources):
        start = layout.first_row[source] * CORE.lanes
        for word in words[start:start + layout.count[source]]:
            target = word & ((1 << fmt.target_bits) - 1)
            weight = to_signed(word >> fmt.weight_shift, fmt.weight_bits)
            group = word >> fmt.group_shift
            decoded.append((source, group, target, weight))
    assert decoded == list(zip(table.source.tolist(), table.group.tolist(), table.target.tolist(),
                               table.weight.tolist()))
    # Each fan-out starts on a fresh row; rows never exceed the core's memory.
    assert layout.rows.shape[0] <= synapse_rows(CORE)


def test_sample_packets_round_trip():
    rng = np.random.default_rng(4)
    network = random_network(rng, CORE)
    inputs = random_inputs(rng, network, 3)
    packets = [p for sample in inputs for p in encode_sample(sample)]
    assert np.array_equal(inputs_from_packets(packets, network.timesteps, network.n_inputs), inputs)
    ends = [p for p in packets if parse_header(p[0])[0] == InOpcode.END_STEP]
    assert len(ends) == 3 * network.timesteps


def test_load_packets_start_with_config_and_respect_payload_limit():
    network = random_network(np.random.default_rng(5), CORE)
    packets = encode_load(network, CORE, max_payload=16)
    assert parse_header(packets[0][0])[0] == InOpcode.CONFIG
    assert all(len(p) - 1 <= 16 for p in packets[1:])


def test_decode_output_rejects_garbage():
    with pytest.raises(ProtocolError, match="unknown output opcode"):
        decode_output([[header(0x7E)]])
    with pytest.raises(ProtocolError, match="without tlast"):
        decode_packets([1, 2, 3], [False, True, False])
    steps, summaries, states = decode_output([[header(OutOpcode.STEP, 2), 5, 7, 1, 9, 2, 3, 1, 30],
                                              [header(OutOpcode.SUMMARY), 1, 0xFFFFFFFF, 3, 12]])
    assert steps[0].step == 2 and steps[0].spikes == [5, 7] and steps[0].cycles == 30
    assert (steps[0].events, steps[0].spike_count, steps[0].learning_updates, steps[0].synapses_skipped) == (1, 2, 3, 1)
    assert summaries[0].decision_step == -1


# ---- protocol rules, on the packet-level emulation of the core (the RTL tests check the core) ----

def _emulated(network, core=CORE):
    from spikestream.host.golden import GoldenTransport

    transport = GoldenTransport(core, learning=False)
    for packet in encode_load(network, core):
        transport.send(packet)
    return transport


def _drain(transport) -> list[list[int]]:
    """Every packet the emulated core has sent so far."""
    from spikestream.host.transport import TransportTimeout

    packets = []
    while True:
        try:
            packets.append(transport.receive(timeout=0))
        except TransportTimeout:
            return packets


def _register(transport, name: str) -> int:
    from spikestream.rtl.registers import REGISTERS

    return transport.read(REGISTERS.offset(name))


def test_a_duplicate_event_is_flagged_dropped_and_harmless():
    from spikestream.model.protocol import ErrorFlag

    rng = np.random.default_rng(5)
    network = random_network(rng, CORE)
    raster = random_inputs(rng, network, 1)[0]
    raster[0, 0] = True
    clean = _emulated(network)
    for packet in encode_sample(raster):
        clean.send(packet)
    doubled = _emulated(network)
    for packet in encode_sample(raster):
        if parse_header(packet[0]) == (InOpcode.EVENTS, 0):
            packet = packet + [0]  # channel 0 twice in one packet
        doubled.send(packet)
        if parse_header(packet[0]) == (InOpcode.EVENTS, 0):
            doubled.send([header(InOpcode.EVENTS, 0), 0])  # and once more in a packet of its own
    assert _drain(doubled) == _drain(clean)
    assert _register(doubled, "errors") == 1 << ErrorFlag.DUPLICATE_EVENT
    assert _register(doubled, "dropped_packets") == 2
    assert _register(doubled, "events_in") == _register(clean, "events_in") == int(raster.sum())


def test_early_exit_sends_the_summary_right_after_the_deciding_step():
    import dataclasses

    from spikestream.model.network import Decision, DecisionMode

    rng = np.random.default_rng(8)
    for _ in range(200):  # a network and sample that decide before the last step
        network = dataclasses.replace(random_network(rng, CORE),
                                      decision=Decision(DecisionMode.FIRST_SPIKE, early_exit=True))
        raster = random_inputs(rng, network, 1)[0]
        transport = _emulated(network)
        sample = encode_sample(raster)
        outputs = []
        for index, packet in enumerate(sample[:-1]):
            transport.send(packet)
            outputs.append(_drain(transport))
            if any(parse_header(p[0])[0] == OutOpcode.SUMMARY for p in outputs[-1]):
                break
        else:
            continue
        if parse_header(packet[0])[1] < network.timesteps - 1:
            break
    else:
        pytest.fail("no random network decided before its last step")
    deciding = parse_header(packet[0])[1]
    assert parse_header(packet[0])[0] == InOpcode.END_STEP
    assert [parse_header(p[0]) for p in outputs[-1]] == [(OutOpcode.STEP, deciding), (OutOpcode.SUMMARY, 0)]
    steps, summaries, _ = decode_output(outputs[-1])
    assert summaries[0].steps_run == deciding + 1
    for packet in sample[index + 1:]:  # later events and markers, END_SAMPLE: ignored, no second SUMMARY
        transport.send(packet)
    assert _drain(transport) == [] and _register(transport, "errors") == 0
    transport.send(encode_sample(raster)[0])  # the next sample starts at step 0
    assert _register(transport, "errors") == 0


def test_rules_words_round_trip_every_field():
    from spikestream.model.protocol import pack_rules, trace_layout, unpack_rule_fields
    from spikestream.sim.cases import SMALL_CORE, random_learning_case

    for seed in range(6):
        network = random_learning_case(SMALL_CORE, seed).network
        words, traces = pack_rules(network, SMALL_CORE), trace_layout(network, SMALL_CORE)
        for index, group in enumerate(network.groups):
            fields = unpack_rule_fields(words[index])
            assert (fields["source_first"], fields["source_count"]) == (network.source_offset(group.source),
                                                                        network.source_size(group.source))
            assert (fields["target_first"], fields["target_count"]) == (network.neuron_offset(group.target),
                                                                        network.population(group.target).size)
            rule = group.learning
            assert fields["plastic"] == (rule is not None)
            if rule is None:
                continue
            for name in ("a_plus", "a_minus", "shift", "w_min", "w_max", "pre_increment", "post_increment",
                         "trace_decay_shift", "soft_bound", "stochastic_rounding", "reward_modulated", "winner_only"):
                assert fields[name] == getattr(rule, name), (seed, index, name)
            assert fields["ttfs"] == (rule.kind.name == "TTFS")
            assert (fields["pre_trace_base"], fields["post_trace_base"]) == (traces.pre_base[index],
                                                                             traces.post_base[index])
            assert fields["pruning"] == (group.pruning is not None)
            if group.pruning is not None:
                assert (fields["prune_threshold"], fields["patience"]) == (group.pruning.threshold,
                                                                           group.pruning.patience)


def test_pair_groups_beyond_the_trace_memories_are_refused():
    import dataclasses

    from spikestream.model import golden
    from spikestream.model.network import INPUT, LearningRule, Network, NetworkDoesNotFit, Population, SynapseGroup
    from spikestream.model.protocol import encode_load, trace_layout
    from spikestream.sim.cases import SMALL_CORE

    core = dataclasses.replace(SMALL_CORE, trace_entries=8)
    weights = np.full((12, 4), 5)
    network = Network(12, [Population("out", 4, threshold=50)],
                      [SynapseGroup(INPUT, "out", weights, weights != 0, learning=LearningRule())], 6, "out")
    message = (r"the PAIR groups need 16 pre-trace and 8 post-trace entries \(each group from a multiple of "
               r"trace_lanes = 8\), the core has 8 of each \(CoreConfig.trace_entries\)")
    with pytest.raises(ProtocolError, match=message):
        trace_layout(network, core)
    # The network does not fit the core: refused before any packet is made or any model runs.
    assert any("pre-trace" in problem for problem in network.fit_problems(core))
    with pytest.raises(NetworkDoesNotFit, match=message):
        encode_load(network, core)
    with pytest.raises(NetworkDoesNotFit, match=message):
        golden.learn(network, core, np.zeros((1, 6, 12), bool))


def test_pair_group_traces_start_a_trace_word():
    """Each PAIR group's traces start at a multiple of trace_lanes (the trace walk reads whole words)."""
    from spikestream.model.network import INPUT, LearningKind, LearningRule, Network, Population, SynapseGroup
    from spikestream.model.protocol import trace_layout
    from spikestream.sim.cases import SMALL_CORE

    weights = np.full((5, 3), 5)
    network = Network(5, [Population("a", 3, threshold=50), Population("b", 3, threshold=50)],
                      [SynapseGroup(INPUT, "a", weights, learning=LearningRule()),
                       SynapseGroup(INPUT, "b", weights, learning=LearningRule(kind=LearningKind.TTFS)),
                       SynapseGroup("a", "b", np.full((3, 3), 5), learning=LearningRule())], 6, "b")
    traces = trace_layout(network, SMALL_CORE)
    lanes = SMALL_CORE.trace_lanes
    assert lanes > 1
    assert traces.pre_base.tolist() == [0, 0, lanes] and traces.post_base.tolist() == [0, 0, lanes]
    assert (traces.pre_entries, traces.post_entries) == (2 * lanes, 2 * lanes)


def test_rule_fields_that_do_not_fit_are_refused_not_cut():
    from spikestream.model.protocol import RULE_FIELDS, pack_rule_fields, unpack_rule_fields

    fields = {"a_plus": 255, "w_min": -32768, "w_max": 32767, "plastic": 1}
    unpacked = unpack_rule_fields(pack_rule_fields(fields))
    assert {name: unpacked[name] for name in fields} == {"a_plus": 255, "w_min": -32768, "w_max": 32767,
                                                          "plastic": True}
    bits = RULE_FIELDS["a_plus"][2]
    for name, value, message in (("a_plus", 1 << bits, rf"a_plus = 256 does not fit its {bits} bits \[0, 255\]"),
                                 ("a_plus", -1, r"a_plus = -1 does not fit"),
                                 ("w_max", 32768, r"w_max = 32768 does not fit its 16 bits \[-32768, 32767\]"),
                                 ("plastic", 2, r"plastic = 2 does not fit its 1 bits \[0, 1\]"),
                                 ("bogus", 1, r"RULES has no field 'bogus'")):
        with pytest.raises(ProtocolError, match=message):
            pack_rule_fields({name: value})
