"""The driver on the golden backend: the emulation answers as the core, the driver checks what it must."""

import dataclasses

import numpy as np
import pytest

from spikestream.host.driver import CoreError, CoreMismatch, SpikeCore
from spikestream.host.golden import GoldenTransport
from spikestream.host.regmap import RegisterView
from spikestream.host.transport import LearningUnavailable, TransportError, TransportTimeout
from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.network import INPUT, LearningRule, Network, Population, PruningRule, SynapseGroup
from spikestream.model.protocol import ErrorFlag, InOpcode, encode_load, encode_sample, header
from spikestream.sim.cases import SHORT_QUEUE_CORE, SMALL_CORE, bad_input_packets, random_case
from spikestream.model.cycles import CONFIG_COMMIT_CYCLES, readback_cycles
from spikestream.sim.scoreboard import (Scoreboard, busy_cycles, expected_queue_registers, expected_samples,
                                        split_samples)

REGISTERS = RegisterView.default()


def _drain(transport: GoldenTransport) -> list[list[int]]:
    """Every packet the emulation has sent and the host not yet received."""
    received = []
    while True:
        try:
            received.append(transport.receive(0.0))
        except TransportError:
            return received




@pytest.mark.parametrize("core, seed, fill", [(SMALL_CORE, seed, False) for seed in range(12)]
                         + [(SHORT_QUEUE_CORE, seed, True) for seed in (1, 2, 6, 10, 11, 13)])
def test_emulation_sends_what_the_core_model_expects(core, seed, fill):
    """Packets in, packets out: every STEP, SUMMARY and NEURON_STATE equals the testbench's expectation,
    and so do the registers a full event queue changes (cases that fill a short-queue core drop events)."""
    case = random_case(core, seed, 3, fill=fill)
    transport = GoldenTransport(core)
    for packet in encode_load(case.network, core):
        transport.send(packet)
    for sample in case.inputs:
        for packet in encode_sample(sample):
            transport.send(packet)
        transport.send([header(InOpcode.READ_NEURONS)])
    received = _drain(transport)
    scoreboard = Scoreboard(label=f"seed {seed}: ")
    expected = expected_samples(case.network, core, case.inputs)
    for index, (wanted, packets) in enumerate(zip(expected, split_samples(received))):
        scoreboard.compare_sample(index, wanted, packets)
    assert len(split_samples(received)) == len(case.inputs)
    assert scoreboard.ok, scoreboard.mismatches[:5]
    queue = expected_queue_registers(expected)
    assert transport.read(REGISTERS.offset("errors")) == queue["errors"]
    assert transport.read(REGISTERS.offset("dropped_packets")) == queue["dropped_packets"]
    dropped = sum(int(w.counters[:, golden.Counter.INPUTS_DROPPED].sum()) for w in expected)
    sent = sum(int(sample[:w.summary.steps_run].sum()) for sample, w in zip(case.inputs, expected))
    assert transport.read(REGISTERS.offset("events_in")) == sent - dropped
    # The busy-cycle register, as the core counts it (the RTL tests check the same sum).
    busy = CONFIG_COMMIT_CYCLES + sum(busy_cycles(w) + readback_cycles(case.network) for w in expected)
    assert transport.read(REGISTERS.offset("cycles")) == busy
    assert (queue["dropped_packets"] > 0) == fill, "these short-queue cases drop events (6, 10, 11 input events too)"


def _loaded(seed=1):
    case = random_case(SMALL_CORE, seed, 2)
    transport = GoldenTransport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    return case, transport, chip


@pytest.mark.parametrize("packet, flag", [
    ([header(0x7F)], ErrorFlag.MALFORMED),  # unknown opcode
    ([header(InOpcode.END_STEP, 3)], ErrorFlag.STEP_ORDER),  # a step ahead of the core
    ([header(InOpcode.EVENTS, 0), 1000], ErrorFlag.INDEX_RANGE),  # no such channel
    ([header(InOpcode.END_SAMPLE), 5], ErrorFlag.MALFORMED),  # a marker with payload
    ([header(InOpcode.READ_SYNAPSES, 0)], ErrorFlag.MALFORMED),  # no row count
])
def test_malformed_packets_set_the_error_flags(packet, flag):
    _, transport, chip = _loaded()
    transport.send(packet)
    assert chip.errors() == [flag.name]
    assert chip.read_register("dropped_packets") == 1
    chip.clear_errors()
    assert chip.errors() == []


@pytest.mark.parametrize("core", [SMALL_CORE, dataclasses.replace(SMALL_CORE, lanes=1, learning=False,
                                                                   pruning=False)], ids=["small", "one-lane"])
def test_bad_packets_in_a_sample_are_flagged_as_the_core_flags_them(core):
    """The list core_tb.bad_input sends the RTL: each packet alone raises exactly its flags and
    counts one dropped packet, and the sample around them runs as if they had not been sent."""
    case = random_case(core, 3, 1)
    network = dataclasses.replace(case.network, decision=dataclasses.replace(case.network.decision,
                                                                             early_exit=False))
    transport = GoldenTransport(core)
    for packet in encode_load(network, core):
        transport.send(packet)
    sample = encode_sample(case.inputs[0])
    first_end = next(k for k, p in enumerate(sample) if p[0] >> 24 == InOpcode.END_STEP)
    for packet in sample[:first_end + 1]:
        transport.send(packet)
    bad = bad_input_packets(network, core)
    assert {flag for _, flags in bad for flag in flags} == {ErrorFlag.MALFORMED, ErrorFlag.INDEX_RANGE,
                                                           ErrorFlag.TOO_LARGE, ErrorFlag.STEP_ORDER}
    for index, (packet, flags) in enumerate(bad):
        transport.send(packet)
        mask = sum(1 << flag for flag in flags)
        assert transport.read(REGISTERS.offset("errors")) == mask, (index, [hex(w) for w in packet[:3]])
        assert transport.read(REGISTERS.offset("dropped_packets")) == index + 1
        transport.write(REGISTERS.offset("errors"), mask)
    for packet in sample[first_end + 1:] + [[header(InOpcode.READ_NEURONS)]]:
        transport.send(packet)
    received = _drain(transport)
    scoreboard = Scoreboard(label="bad input: ")
    scoreboard.compare_sample(0, expected_samples(network, core, case.inputs)[0], received)
    assert scoreboard.ok, scoreboard.mismatches[:5]
    assert transport.read(REGISTERS.offset("errors")) == 0


def test_learning_registers_of_a_core_built_without_learning():
    """As the RTL: learning_enable keeps what is written (it never makes a sample learn), the LFSR is a constant."""
    core = dataclasses.replace(SMALL_CORE, learning=False, pruning=False)
    transport = GoldenTransport(core)
    transport.write(REGISTERS.offset("learning_enable"), 5)
    transport.write(REGISTERS.offset("lfsr"), 0x1234)
    assert transport.read(REGISTERS.offset("learning_enable")) == 5
    assert transport.read(REGISTERS.offset("lfsr")) == golden.LFSR_SEED


def test_rules_in_the_middle_of_a_learning_sample_are_not_emulated():
    network = _plastic_network(SMALL_CORE, False)
    transport = GoldenTransport(SMALL_CORE)
    for packet in encode_load(network, SMALL_CORE):
        transport.send(packet)
    transport.write(REGISTERS.offset("learning_enable"), 1)
    transport.send([header(InOpcode.END_STEP, 0)])
    rules = [p for p in encode_load(network, SMALL_CORE) if p[0] >> 24 == InOpcode.RULES]
    with pytest.raises(TransportError, match="RULES in the middle of a learning sample: not emulated"):
        transport.send(rules[0])


def test_tables_load_before_a_config_as_on_the_core():
    """NEURONS, FANOUT and SYNAPSES (and their readbacks) need no CONFIG; the core writes them as they come."""
    network = random_case(SMALL_CORE, 3, 1).network
    packets = encode_load(network, SMALL_CORE)
    configs = [p for p in packets if p[0] >> 24 == InOpcode.CONFIG]
    transport = GoldenTransport(SMALL_CORE)
    for packet in [p for p in packets if p[0] >> 24 != InOpcode.CONFIG and p[0] >> 24 != InOpcode.RULES] + configs \
            + [p for p in packets if p[0] >> 24 == InOpcode.RULES]:
        transport.send(packet)
    assert transport.read(REGISTERS.offset("errors")) == 0
    reference = GoldenTransport(SMALL_CORE)
    for packet in packets:
        reference.send(packet)
    sample = encode_sample(random_case(SMALL_CORE, 3, 1).inputs[0])
    for emulation in (transport, reference):
        for packet in sample:
            emulation.send(packet)
    assert list(transport._output) == list(reference._output)


def test_registers_refuse_bad_accesses():
    transport = GoldenTransport(SMALL_CORE)
    with pytest.raises(TransportError, match="read-only"):
        transport.write(REGISTERS.offset("version"), 0)
    with pytest.raises(TransportError, match="no register at offset 0x400"):
        transport.read(0x400)


def test_identity_mismatch_names_the_differing_fields():
    other = dataclasses.replace(SMALL_CORE, lanes=2, max_neurons=40)
    case = random_case(other, 2, 1)
    chip = SpikeCore(GoldenTransport(SMALL_CORE), SMALL_CORE)
    with pytest.raises(CoreMismatch) as error:
        chip.load(case.network, other)
    message = str(error.value)
    assert "lanes: 2 != 4" in message and "max_neurons: 40 != 48" in message and "max_inputs" not in message


def test_identity_mismatch_without_hardware_metadata_says_so():
    other = dataclasses.replace(SMALL_CORE, lanes=2)
    chip = SpikeCore(GoldenTransport(SMALL_CORE), registers=REGISTERS)
    chip.hardware = None
    with pytest.raises(CoreMismatch, match="cannot be named"):
        chip.check_identity(other)


def test_a_wrong_version_register_is_refused():
    view = dataclasses.replace(REGISTERS, version=REGISTERS.version + 1)
    chip = SpikeCore(GoldenTransport(SMALL_CORE), SMALL_CORE, registers=view)
    with pytest.raises(CoreMismatch, match="version register reads"):
        chip.check_identity(SMALL_CORE)


def test_run_matches_the_golden_model_and_counts():
    case, transport, chip = _loaded(3)
    chip.clear_counters()
    batch = chip.run(case.inputs, read_state=True)
    reference = golden.run(case.network, SMALL_CORE, case.inputs)
    assert np.array_equal(batch.decisions, reference.decision)
    assert np.array_equal(batch.spikes, reference.spikes)
    assert np.array_equal(batch.states[:, :, 1], reference.state.v)
    assert chip.counters()["events_out"] == int(reference.spikes.sum())
    assert chip.status()["configured"] == 1


def test_a_silent_core_is_reported_with_its_state():
    _, transport, chip = _loaded()
    transport._output = type("LostOutput", (list,), {"append": lambda self, packet: None})()  # output is lost
    with pytest.raises(CoreError, match="no SUMMARY packet for sample 0 .* status: configured=1 .* step="):
        chip.run(np.zeros((1, chip.network.timesteps, chip.network.n_inputs), bool))


class LateTransport(GoldenTransport):
    """The emulation, with its answers held back for the next ``late`` receives (a slow or stalled link)."""

    late = 0

    def receive(self, timeout):
        if self.late:
            self.late -= 1
            raise TransportTimeout("held back")
        return super().receive(timeout)


def test_an_answer_that_comes_too_late_is_not_taken_for_the_next_ones():
    """After a timeout the late STEP / SUMMARY packets would answer the next sample: the driver refuses to go
    on until resync() has drained them, and then runs as before."""
    case = random_case(SMALL_CORE, 1, 3)
    transport = LateTransport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE, timeout=0.01)
    chip.load(case.network, SMALL_CORE)
    transport.late = 1
    with pytest.raises(CoreError, match=r"no SUMMARY packet for sample 0 .*chip.resync"):
        chip.run(case.inputs[:1])
    for command in (lambda: chip.run(case.inputs[1:]), chip.read_state, chip.synapses,
                    lambda: chip.load(case.network, SMALL_CORE)):
        with pytest.raises(CoreError, match="the packet stream may be out of step: no SUMMARY packet for sample 0"):
            command()
    assert chip.resync(quiet=0.0) == len(expected_samples(case.network, SMALL_CORE, case.inputs[:1])[0].steps) + 1
    batch = chip.run(case.inputs[1:])
    assert np.array_equal(batch.decisions, golden.run(case.network, SMALL_CORE, case.inputs[1:]).decision)
    assert chip.resync(quiet=0.0) == 0


class InterruptingTransport(GoldenTransport):
    """The emulation, interrupted (Ctrl-C) at the ``at``-th call of ``method``."""

    method, at, calls, error = "receive", None, 0, KeyboardInterrupt

    def _maybe_interrupt(self):
        self.calls += 1
        if self.calls == self.at:
            raise self.error("interrupted")

    def receive(self, timeout):
        if self.method == "receive":
            self._maybe_interrupt()
        return super().receive(timeout)

    def send(self, words):
        if self.method == "send":
            self._maybe_interrupt()
        super().send(words)


@pytest.mark.parametrize("method, at", [("receive", 2), ("send", 2)], ids=["while-receiving", "between-sends"])
def test_an_interrupted_sample_is_not_merged_into_the_next(method, at):
    """Ctrl-C while a sample's answers come, or after its step-0 EVENTS went but before its END_STEP: the next
    command refuses, resync ends the begun sample and drains it, and then the results are those of a clean core."""
    case = random_case(SMALL_CORE, 0, 3)
    assert case.inputs[0, 0].any(), "step 0 has events (the interrupt falls between them and END_STEP)"
    transport = InterruptingTransport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    transport.method, transport.at, transport.calls = method, at, 0
    with pytest.raises(KeyboardInterrupt):
        chip.run(case.inputs[:1])
    with pytest.raises(CoreError, match="out of step: sample 0 did not finish"):
        chip.run(case.inputs[1:])
    chip.resync(quiet=0.0)
    batch = chip.run(case.inputs[1:])
    reference = golden.run(case.network, SMALL_CORE, case.inputs[1:])
    assert np.array_equal(batch.decisions, reference.decision)
    assert np.array_equal(batch.events, reference.counters[..., golden.Counter.EVENTS])


def test_a_load_that_does_not_finish_leaves_no_network_to_run():
    first, second = random_case(SMALL_CORE, 1, 1), random_case(SMALL_CORE, 2, 1)
    transport = InterruptingTransport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(first.network, SMALL_CORE)
    transport.method, transport.at, transport.calls = "send", 3, 0
    with pytest.raises(KeyboardInterrupt):
        chip.load(second.network, SMALL_CORE)
    with pytest.raises(RuntimeError, match="no network loaded"):
        chip.run(first.inputs)
    with pytest.raises(CoreError, match="out of step: loading the network did not finish"):
        chip.load(second.network, SMALL_CORE)
    chip.resync(quiet=0.0)
    chip.load(second.network, SMALL_CORE)
    assert np.array_equal(chip.run(second.inputs).decisions, golden.run(second.network, SMALL_CORE,
                                                                         second.inputs).decision)


def test_a_send_the_transport_failed_needs_a_reload():
    """A transport failure may leave part of a packet in the core's parser: resync refuses to guess."""
    case = random_case(SMALL_CORE, 1, 1)
    transport = InterruptingTransport(SMALL_CORE)
    chip = SpikeCore(transport, SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    transport.method, transport.at, transport.calls, transport.error = "send", 2, 0, TransportError
    with pytest.raises(TransportError):
        chip.run(case.inputs)
    with pytest.raises(CoreError, match="a send did not finish .*may hold part of a packet.*reload the bitstream"):
        chip.resync(quiet=0.0)


def test_resync_refuses_a_core_stuck_inside_a_sample():
    case, transport, chip = _loaded()
    transport.send([header(InOpcode.END_STEP, 0)])  # a sample begun and never ended
    chip._out_of_step = "a test"
    with pytest.raises(CoreError, match="still inside a sample or busy .* reload the bitstream"):
        chip.resync(quiet=0.0)
    with pytest.raises(CoreError, match="out of step: a test"):
        chip.run(case.inputs[:1])


def test_synapse_readback_catches_a_corrupted_memory():
    _, transport, chip = _loaded(4)
    assert chip.synapses().weight.size == chip.network.synapses().count
    transport._rows[0, 0] ^= 1 << 3  # one flipped bit in the stored weights / targets
    with pytest.raises(CoreError, match="does not have"):
        chip.synapses()


def _plastic_network(core: CoreConfig, reward_modulated: bool) -> Network:
    rng = np.random.default_rng(7)
    weights = rng.integers(-40, 80, (6, 3))
    rule = LearningRule(a_plus=40, a_minus=30, shift=4, reward_modulated=reward_modulated)
    group = SynapseGroup(INPUT, "out", weights, weights != 0, learning=rule,
                         pruning=PruningRule(threshold=6, patience=2))
    return Network(6, [Population("out", 3, threshold=60, voltage_decay=400)], [group], 10, "out")


@pytest.mark.parametrize("reward_modulated", [False, True])
def test_learning_equals_golden_learn(reward_modulated, tmp_path):
    network = _plastic_network(SMALL_CORE, reward_modulated)
    inputs = np.random.default_rng(8).random((6, 10, 6)) < 0.4
    rewards = [1, -1, 0, 1, 1, -1]
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    batch = chip.learn(inputs, rewards)
    results, synapses = golden.learn(network, SMALL_CORE, inputs, rewards)
    assert np.array_equal(batch.decisions, [r.decision[0] for r in results])
    assert np.array_equal(batch.spikes, np.concatenate([r.spikes for r in results]))
    learned = chip.synapses()
    assert np.array_equal(learned.live, synapses.live)
    assert np.array_equal(learned.weight[synapses.live], synapses.weight[synapses.live])
    assert np.array_equal(learned.prune_count[synapses.live], synapses.prune_count[synapses.live])
    assert learned.lfsr == synapses.lfsr
    # Inference afterwards runs on the learned, compacted synapses.
    assert np.array_equal(chip.run(inputs).decisions, golden.run(network, SMALL_CORE, inputs, synapses).decision)
    path = tmp_path / "learned.spkn"
    chip.save(path)
    fresh = SpikeCore.golden(SMALL_CORE)
    fresh.load(path)
    assert fresh.connectivity()["live"] == int(synapses.live.sum())


def test_rewards_from_a_function_see_each_decision():
    network = _plastic_network(SMALL_CORE, True)
    inputs = np.random.default_rng(9).random((5, 10, 6)) < 0.4
    seen = []

    def reward(sample, decision):
        seen.append((sample, decision))
        return 1 if decision == 0 else -1

    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    batch = chip.learn(inputs, reward)
    assert seen == list(enumerate(batch.decisions.tolist()))
    _, synapses = golden.learn(network, SMALL_CORE, inputs, [1 if d == 0 else -1 for d in batch.decisions])
    learned = chip.synapses()
    assert np.array_equal(learned.live, synapses.live)
    assert np.array_equal(learned.weight[synapses.live], synapses.weight[synapses.live])


@pytest.mark.parametrize("bad", [lambda sample, decision: 2, lambda sample, decision: 1 / 0])
def test_a_failing_reward_function_leaves_the_core_usable(bad):
    """The core waits for each REWARD: a bad or raising reward function still gets it one (0)."""
    network = _plastic_network(SMALL_CORE, True)
    inputs = np.random.default_rng(9).random((3, 10, 6)) < 0.4
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    with pytest.raises((ValueError, ZeroDivisionError)):
        chip.learn(inputs, bad)
    assert chip.errors() == [] and chip.read_register("dropped_packets") == 0
    # Sample 0 learnt with reward 0; the core then loads, runs and learns as if nothing had happened.
    _, after_zero = golden.learn(network, SMALL_CORE, inputs[:1], [0])
    assert np.array_equal(chip.synapses().live, after_zero.live)
    chip.load(network, SMALL_CORE)
    assert np.array_equal(chip.run(inputs).decisions, golden.run(network, SMALL_CORE, inputs).decision)
    batch = chip.learn(inputs, [1, -1, 1])
    results, _ = golden.learn(network, SMALL_CORE, inputs, [1, -1, 1])
    assert np.array_equal(batch.decisions, [r.decision[0] for r in results])


def test_events_the_core_drops_during_a_run_are_an_error():
    """A step with more events than the event queue holds: the driver raises (the results are not the network's)."""
    core = dataclasses.replace(SMALL_CORE, event_queue_depth=2)
    weights = np.full((6, 3), 90)
    network = Network(6, [Population("out", 3, threshold=10**6)], [SynapseGroup(INPUT, "out", weights)], 4, "out")
    chip = SpikeCore.golden(core)
    chip.load(network, core)
    quiet = np.zeros((1, 4, 6), bool)
    quiet[0, 0, :2] = True
    chip.run(quiet)  # two events a step fit
    with pytest.raises(CoreError, match=r"flagged \['QUEUE_OVERFLOW'\] and dropped [1-9].* during the batch of 2"):
        chip.run(np.concatenate([quiet, np.ones((1, 4, 6), bool)]))


def test_the_golden_backend_runs_on_the_register_map_of_a_bitstream(monkeypatch):
    """On the board (no amaranth) the emulation takes the map that came with the bitstream."""
    from spikestream.host.regmap import describe_registers

    view = RegisterView.from_json(describe_registers())

    def no_amaranth(cls):
        raise ImportError("the register declaration needs amaranth")

    monkeypatch.setattr(RegisterView, "default", classmethod(no_amaranth))
    with pytest.raises(ImportError):
        SpikeCore.golden(SMALL_CORE)
    chip = SpikeCore.golden(SMALL_CORE, registers=view)
    assert chip.registers is view and chip.transport._map is view
    case = random_case(SMALL_CORE, 3, 2)
    chip.load(case.network, SMALL_CORE)
    assert np.array_equal(chip.run(case.inputs).decisions, golden.run(case.network, SMALL_CORE, case.inputs).decision)


def test_learning_is_refused_without_a_rule_or_engine():
    network = _plastic_network(SMALL_CORE, False)
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    with pytest.raises(LearningUnavailable, match="no synapse group"):
        chip.learn(np.zeros((1, 10, 6), bool), enabled=[False])
    lean = dataclasses.replace(SMALL_CORE, learning=False, pruning=False)
    still = dataclasses.replace(network, groups=[dataclasses.replace(network.groups[0], learning=None, pruning=None)])
    chip = SpikeCore.golden(lean)
    chip.load(still, lean)
    with pytest.raises(LearningUnavailable, match="built without learning"):
        chip.learn(np.zeros((1, 10, 6), bool))
    chip.transport.send([header(InOpcode.REWARD, 1)])  # no sample waits for it: ignored, as by the RTL
    assert chip.errors() == []


def test_rules_with_bad_trace_ranges_are_flagged_and_dropped():
    """A PAIR group whose traces start off a trace word, or whose sources span the input
    channels and the neurons, is refused (INDEX_RANGE) as by the RTL's RULES decoder."""
    from spikestream.model.protocol import RULE_FIELDS, pack_rules

    network = _plastic_network(SMALL_CORE, False)
    packed = pack_rules(network, SMALL_CORE)[0]
    inputs = np.random.default_rng(11).random((2, 10, 6)) < 0.5
    results, final = golden.learn(network, SMALL_CORE, inputs)
    for name, change in (("pre_trace_base", 1), ("post_trace_base", 1), ("source_first", 4)):
        word, low, _ = RULE_FIELDS[name]
        bad = packed.copy()
        bad[word] += change << low  # sources 4 .. 9 of a network with 6 input channels
        chip = SpikeCore.golden(SMALL_CORE)
        chip.load(network, SMALL_CORE)
        assert chip.errors() == []
        chip.transport.send([header(InOpcode.RULES, 0), *[int(w) for w in bad]])
        assert chip.errors() == ["INDEX_RANGE"], name
        chip.clear_errors()
        # The loaded rule is kept: learning goes on exactly as golden.learn.
        batch = chip.learn(inputs)
        assert np.array_equal(batch.spikes, np.concatenate([r.spikes for r in results])), name
        assert np.array_equal(chip.synapses().weight, final.weight), name


def test_reload_after_pruning_goes_on_learning_exactly(tmp_path):
    """Save what was learned (.spkn and the exact state), reload it, learn on: equal to one long golden run."""
    network = _plastic_network(SMALL_CORE, False)
    inputs = np.random.default_rng(10).random((8, 10, 6)) < 0.5
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    chip.learn(inputs[:4])
    state = chip.synapses()
    assert not state.live.all(), "the case should prune"
    fresh = SpikeCore.golden(SMALL_CORE)
    fresh.load(network, SMALL_CORE, synapses=state)  # weights, connectivity, counters, LFSR
    batch = fresh.learn(inputs[4:])
    results, final = golden.learn(network, SMALL_CORE, inputs)
    assert np.array_equal(batch.spikes, np.concatenate([r.spikes for r in results[4:]]))
    again = fresh.synapses()
    assert np.array_equal(again.live, final.live) and again.lfsr == final.lfsr
    assert np.array_equal(again.weight[final.live], final.weight[final.live])
    chip.save(tmp_path / "pruned.spkn")  # the file keeps the pruned connectivity, the counters and the LFSR
    reloaded = SpikeCore.golden(SMALL_CORE)
    reloaded.load(tmp_path / "pruned.spkn")
    assert reloaded.connectivity()["live"] == int(state.live.sum())


def test_a_saved_file_goes_on_learning_where_the_chip_stopped(tmp_path):
    """save() keeps the pruning counters and the LFSR: a chip that loads the file learns on identically."""
    from spikestream.model.fileformat import load_learning_state, load_network, save_network

    rng = np.random.default_rng(12)
    weights = rng.integers(-40, 80, (6, 3))
    rule = LearningRule(a_plus=40, a_minus=30, shift=4, stochastic_rounding=True)
    group = SynapseGroup(INPUT, "out", weights, weights != 0, learning=rule, pruning=PruningRule(threshold=30, patience=2))
    network = Network(6, [Population("out", 3, threshold=60, voltage_decay=400)], [group], 10, "out")
    inputs = rng.random((10, 10, 6)) < 0.5
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    for seen in range(1, 8):  # stop where live synapses carry counters and the LFSR has moved
        chip.learn(inputs[seen - 1:seen])
        state = chip.synapses()
        if state.prune_count[state.live].any() and state.lfsr != golden.LFSR_SEED and not state.live.all():
            break
    else:
        raise AssertionError("the case should prune, count and round stochastically")
    chip.save(tmp_path / "learned.spkn")
    reloaded = SpikeCore.golden(SMALL_CORE)
    reloaded.load(tmp_path / "learned.spkn")
    loaded = reloaded.synapses()
    assert np.array_equal(loaded.prune_count, state.prune_count[state.live]) and loaded.lfsr == state.lfsr
    on_reloaded, on_original = reloaded.learn(inputs[seen:]), chip.learn(inputs[seen:])
    assert np.array_equal(on_reloaded.spikes, on_original.spikes)
    assert reloaded.synapses().lfsr == chip.synapses().lfsr
    assert reloaded.learned_network() == chip.learned_network()
    # A file without the state (saved before the format carried it) loads with counters at 0 and the seed.
    plain = tmp_path / "plain.spkn"
    save_network(plain, *load_network(tmp_path / "learned.spkn"))
    assert load_learning_state(plain) is None
    stateless = SpikeCore.golden(SMALL_CORE)
    stateless.load(plain)
    assert not stateless.synapses().prune_count.any() and stateless.synapses().lfsr == golden.LFSR_SEED


def test_learning_disabled_mid_run_is_inference():
    network = _plastic_network(SMALL_CORE, False)
    inputs = np.random.default_rng(11).random((3, 10, 6)) < 0.5
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    chip.learn(inputs[:1])
    before = chip.synapses()
    batch = chip.run(inputs[1:])  # learning_enable back at 0: weights stay
    assert batch.learned == [None, None] and not batch.learning_updates.any()
    after = chip.synapses()
    assert np.array_equal(after.live, before.live) and np.array_equal(after.weight, before.weight)


def test_inputs_are_checked():
    case, _, chip = _loaded()
    with pytest.raises(ValueError, match=r"expected \[batch, timesteps, channels\]"):
        chip.run(np.zeros((1, 3, 2), bool))
    with pytest.raises(ValueError, match="0 or 1"):
        chip.run(np.full((1, case.network.timesteps, case.network.n_inputs), 2))


@pytest.mark.parametrize("seed", range(10))
def test_random_learning_on_the_emulation_equals_golden_and_the_cycle_model(seed):
    """Every rule (PAIR, TTFS, reward, pruning) through the driver's packets: spikes, cycles, LEARNED, synapses."""
    from spikestream.model.cycles import learning_cycles
    from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network

    rng = np.random.default_rng(seed)
    options = RandomNetworkOptions(max_populations=3, max_population_size=12, max_inputs=12, timesteps=(3, 10),
                                   learning=True, pruning=True)
    network = random_network(rng, SMALL_CORE, options)
    while not any(g.learning is not None for g in network.groups):  # every seed tests a learning network
        network = random_network(rng, SMALL_CORE, options)
    inputs = random_inputs(rng, network, 4)
    rewards = rng.integers(-1, 2, 4).tolist()
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    batch = chip.learn(inputs, rewards)
    results, final, cycles = learning_cycles(network, SMALL_CORE, inputs, rewards)
    assert np.array_equal(batch.spikes, np.concatenate([r.spikes for r in results]))
    assert np.array_equal(batch.step_cycles, np.stack([c.steps for c in cycles]))
    assert np.array_equal(batch.learning_updates,
                          np.concatenate([r.counters[:, :, golden.Counter.LEARNING_UPDATES] for r in results]))
    assert [l.cycles for l in batch.learned] == [c.learned for c in cycles]
    assert [l.updates for l in batch.learned] == [int(r.end_learning_updates[0]) for r in results]
    assert batch.learned[-1].live_synapses == int(final.live.sum())
    learned = chip.synapses()
    assert np.array_equal(learned.live, final.live) and learned.lfsr == final.lfsr
    assert np.array_equal(learned.weight[final.live], final.weight[final.live])
    assert chip.read_register("live_synapses") == int(final.live.sum())
    assert chip.read_register("pruned_synapses") == int((~final.live).sum())


@pytest.mark.parametrize("change, message", [
    (lambda s: s._replace(weight=np.where(np.arange(s.weight.size) == 0, 300, s.weight)),
     r"synapses.weight\[0\] = 300 is outside the core's weight range \[-128, 127\]"),
    (lambda s: s._replace(lfsr=0x12345), r"synapses.lfsr = 74565 must be a non-zero 16-bit LFSR state"),
    (lambda s: s._replace(lfsr=0), r"synapses.lfsr = 0 must be a non-zero 16-bit LFSR state"),
    (lambda s: s._replace(live=s.live[:3]), r"synapses.live has shape \(3,\), expected \(\d+,\): one entry per synapse"),
])
def test_loading_a_learned_state_checks_it_first(change, message):
    network = _plastic_network(SMALL_CORE, False)
    chip = SpikeCore.golden(SMALL_CORE)
    with pytest.raises(ValueError, match=message):
        chip.load(network, SMALL_CORE, synapses=change(golden.initial_synapse_state(network)))
    assert chip.network is None, "nothing was loaded"


def test_a_learned_state_outside_its_groups_clamp_is_refused():
    # Soft-bound learning multiplies by w_max - w and w - w_min, which the core holds unsigned:
    # a live weight outside the clamp would wrap them, so no such state is loaded.
    plastic = _plastic_network(SMALL_CORE, False)
    group = plastic.groups[0]
    rule = dataclasses.replace(group.learning, soft_bound=True, w_min=-40, w_max=80)
    network = plastic.with_groups([dataclasses.replace(group, learning=rule)])
    state = golden.initial_synapse_state(network)
    outside = state._replace(weight=np.where(np.arange(state.weight.size) == 2, 100, state.weight))
    chip = SpikeCore.golden(SMALL_CORE)
    with pytest.raises(ValueError, match=r"synapses.weight\[2\] = 100 is outside the learning clamp \[-40, 80\] "
                                         r"of its group 0 \(input->out\)"):
        chip.load(network, SMALL_CORE, synapses=outside)
    with pytest.raises(ValueError, match="outside the learning clamp"):
        golden.learn(network, SMALL_CORE, np.zeros((1, 10, 6), bool), synapses=outside)
    # A pruned synapse's weight is not stored: it may be anything in the core's range.
    chip.load(network, SMALL_CORE, synapses=outside._replace(live=np.arange(state.weight.size) != 2))


def test_learning_takes_one_flag_per_group_for_the_whole_batch():
    """Per-sample lists (golden.learn takes them) would all read as True here: refused."""
    network = _plastic_network(SMALL_CORE, False)
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    inputs = np.zeros((2, 10, 6), bool)
    for enabled in ([[False]], [1], ["yes"]):  # one list for one group: the length fits, the type does not
        with pytest.raises(ValueError, match="enabled must be one bool per synapse group"):
            chip.learn(inputs[:1], enabled=enabled)
    for rewards in ([0.5, 1], [1.7, 0]):  # not truncated to a reward
        with pytest.raises(ValueError, match="rewards must be one of -1, 0, 1 per sample"):
            chip.learn(inputs, rewards)
    assert chip.learn(inputs, [np.int64(1), 1.0], enabled=[np.True_]).decisions.shape == (2,)


def test_readback_of_a_corrupted_synapse_target_is_an_error():
    from spikestream.model.protocol import synapse_format

    core = CoreConfig(max_inputs=8, max_neurons=16, max_synapses=256, lanes=2, timestep_bits=5)
    network = Network(2, [Population("a", 2, threshold=10), Population("b", 2, threshold=10)],
                      [SynapseGroup(INPUT, "a", np.full((2, 2), 11), np.ones((2, 2), bool)),
                       SynapseGroup(INPUT, "b", np.full((2, 2), 22), np.ones((2, 2), bool))], 4, "b")
    chip = SpikeCore.golden(core)
    chip.load(network, core)
    assert chip.synapses().live.all()
    target_mask = (1 << synapse_format(core).target_bits) - 1
    rows = chip.transport._rows  # the emulated synaptic memory: corrupt one stored target (0 -> 6 of 4 neurons)
    rows[0, 0] = (int(rows[0, 0]) & ~target_mask) | 6
    with pytest.raises(CoreError, match="the core stores a synapse the network does not have: source 0 -> neuron 6"):
        chip.synapses()


@pytest.mark.parametrize("enabled", [[True, False], [False, True], None])
def test_learning_only_the_enabled_groups_equals_golden(enabled):
    rng = np.random.default_rng(3)
    w1, w2 = rng.integers(-40, 80, (6, 4)), rng.integers(-40, 80, (4, 3))
    network = Network(6, [Population("h", 4, threshold=40, voltage_decay=400),
                          Population("out", 3, threshold=40, voltage_decay=400)],
                      [SynapseGroup(INPUT, "h", w1, w1 != 0, learning=LearningRule(a_plus=40, a_minus=30, shift=4),
                                    pruning=PruningRule(6, 2)),
                       SynapseGroup("h", "out", w2, w2 != 0,
                                    learning=LearningRule(a_plus=40, a_minus=30, shift=4, reward_modulated=True))],
                      10, "out")
    inputs, rewards = rng.random((6, 10, 6)) < 0.5, [1, -1, 1, 1, -1, 1]
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(network, SMALL_CORE)
    batch = chip.learn(inputs, rewards, enabled=enabled)
    results, expected = golden.learn(network, SMALL_CORE, inputs, rewards, learning_enabled=enabled)
    learned = chip.synapses()
    assert np.array_equal(batch.decisions, [r.decision[0] for r in results])
    assert np.array_equal(learned.live, expected.live) and learned.lfsr == expected.lfsr
    assert np.array_equal(learned.weight[expected.live], expected.weight[expected.live])
    changed = expected.weight != golden.initial_synapse_state(network).weight
    group = network.synapses().group
    for index, on in enumerate(enabled or [True, True]):
        assert changed[group == index].any() == on, f"group {index} learnt although disabled, or did not learn"


def test_the_scoreboard_reports_each_corrupted_field():
    """The checker every RTL test relies on: correct packets pass, and each corruption is named."""
    case = random_case(SMALL_CORE, 4, 1)
    transport = GoldenTransport(SMALL_CORE)
    for packet in encode_load(case.network, SMALL_CORE) + encode_sample(case.inputs[0]):
        transport.send(packet)
    transport.send([header(InOpcode.READ_NEURONS)])
    packets = _drain(transport)
    wanted = expected_samples(case.network, SMALL_CORE, case.inputs)[0]
    assert any(step.spikes for step in wanted.steps), "a case with spikes to corrupt"

    def mismatches(corrupt) -> list[str]:
        copy = [list(packet) for packet in packets]
        corrupt(copy)
        scoreboard = Scoreboard(label="x: ")
        scoreboard.compare_sample(0, wanted, copy)
        return scoreboard.mismatches

    assert mismatches(lambda p: None) == []
    spiking = next(k for k, step in enumerate(wanted.steps) if step.spikes)
    step_report = spiking  # the STEP packets come first, one per step, in order

    def add_cycle(p):
        p[step_report][-1] += 1  # the trailer's last word: the step's cycles

    found = mismatches(add_cycle)
    assert len(found) == 1 and found[0].startswith(f"x: sample 0 step {spiking} cycles: observed")
    found = mismatches(lambda p: p.pop(len(wanted.steps)))  # the SUMMARY
    assert "x: sample 0 SUMMARY packets: observed 0, expected 1" in found

    def flip_state(p):
        p[-1][1] ^= 1  # the first neuron's u
    found = mismatches(flip_state)
    assert len(found) == 1 and found[0].startswith("x: sample 0 final u: observed")
    found = mismatches(lambda p: p[0].pop())  # a STEP packet one word short: the trailer slides over a spike
    assert any(line.startswith("x: sample 0 step 0 cycles: observed") for line in found)

    def cut(p):
        p[0][:] = p[0][:4]  # shorter than a STEP trailer
    found = mismatches(cut)
    assert len(found) == 1 and "undecodable output" in found[0]


@pytest.mark.parametrize("name, value, message", [
    ("lfsr", 1 << 16, r"register 'lfsr' holds 16 bits: expected an integer in \[0, 65535\], got 65536"),
    ("lfsr", 0, r"lfsr register value = 0 must be a non-zero 16-bit LFSR state"),
    ("lfsr", 1.7, r"register 'lfsr' holds 16 bits: expected an integer .*got 1.7"),
    ("learning_enable", -1, r"register 'learning_enable' holds 32 bits: expected an integer in \[0, 4294967295\]"),
    ("learning_enable", True, r"got True"),
    ("version", 1, r"register 'version' is read-only; writable registers are \["),
    ("no_such", 1, r"no register named 'no_such'"),
])
def test_register_writes_the_core_cannot_hold_are_refused(name, value, message):
    """The core keeps a write's low bits: a value that does not fit would come back as another one."""
    _, transport, chip = _loaded()
    before = transport.read(REGISTERS.offset("lfsr"))
    with pytest.raises((ValueError, KeyError), match=message):
        chip.write_register(name, value)
    assert transport.read(REGISTERS.offset("lfsr")) == before
    chip.write_register("lfsr", 0xFFFF)
    assert chip.read_register("lfsr") == 0xFFFF


def test_driver_calls_with_bad_arguments_say_what_they_expected():
    case, _, chip = _loaded()
    rows = chip.read_synapse_rows()
    assert rows.shape[0] > 0
    for first, count, message in ((-1, 1, r"first_row = -1, expected a whole number >= 0"),
                                  (0, -1, r"count = -1, expected a whole number >= 0"),
                                  (0.5, 1, r"first_row = 0.5"),
                                  (10**6, 1, r"rows 1000000 \+ 1 reach beyond the core's \d+ synapse rows")):
        with pytest.raises(ValueError, match=message):
            chip.read_synapse_rows(first, count)
    assert np.array_equal(chip.read_synapse_rows(0, 1), rows[:1])
    with pytest.raises(TypeError, match="network is a int: expected a Network or a .spkn file path"):
        chip.load(42)
    with pytest.raises(TypeError, match="core is a str: expected a CoreConfig"):
        chip.load(case.network, "small")
    with pytest.raises(TypeError, match="core is a dict: expected a CoreConfig"):
        SpikeCore.golden(SMALL_CORE.to_dict())
    with pytest.raises(TypeError, match="core is a NoneType: expected a CoreConfig"):
        case.network.check_fits(None)
    with pytest.raises(ValueError, match="run_audio: no clips"):
        chip.run_audio([], 16000, None)


@pytest.mark.parametrize("core", [dataclasses.replace(SMALL_CORE, weight_bits=16),
                                  CoreConfig(max_neurons=65535, max_inputs=16, learning=False, pruning=False)],
                         ids=["16-bit-weights", "65535-neurons"])
def test_bad_input_packets_leave_out_values_a_field_cannot_carry(core):
    """A 16-bit clamp field holds no w_max above 16-bit weights' (nor a 16-bit count 65536 targets):
    the core can never receive those, so the list leaves them out instead of failing to build."""
    case = random_case(SMALL_CORE, 3, 1)
    packets = bad_input_packets(case.network, core)
    rules = [packet for packet, _ in packets if packet[0] >> 24 == InOpcode.RULES]
    assert len(rules) >= 3 and len(packets) >= 25


def test_leaving_unused_inputs_out_keeps_the_results_in_fewer_cycles():
    """Channels without a synapse: their events are not sent, and nothing but the counts and cycles changes."""
    from spikestream.model.network import NetworkError, leave_out_unused_inputs, unused_inputs

    for seed in range(40):
        case = random_case(SMALL_CORE, seed, 3)
        if unused_inputs(case.network).any() and case.inputs[..., unused_inputs(case.network)].any():
            break
    else:
        raise AssertionError("no random case with events on an unused channel")
    chip = SpikeCore.golden(SMALL_CORE)
    chip.load(case.network, SMALL_CORE)
    whole = chip.run(case.inputs, read_state=True)
    lean = chip.run(case.inputs, read_state=True, leave_out_unused_inputs=True)
    assert np.array_equal(lean.decisions, whole.decisions) and np.array_equal(lean.spikes, whole.spikes)
    assert np.array_equal(lean.states, whole.states)
    assert lean.sample_cycles.sum() < whole.sample_cycles.sum() and lean.events.sum() < whole.events.sum()
    sent = leave_out_unused_inputs(case.network, SMALL_CORE, case.inputs)
    assert not sent[..., unused_inputs(case.network)].any()
    assert np.array_equal(lean.events, golden.run(case.network, SMALL_CORE, sent).counters[..., golden.Counter.EVENTS])
    with pytest.raises(NetworkError, match="event queue holds 4 events, fewer than the network's"):
        leave_out_unused_inputs(case.network, dataclasses.replace(SMALL_CORE, event_queue_depth=4), case.inputs)
