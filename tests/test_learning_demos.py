"""The learning demonstrations (model/learning_demos.py) at test size, on spoken words.

Words are synthesised with espeak-ng (four words, a dozen voices: about two seconds) and
encoded by the front end, as the board notebook does. Every figure a demonstration
reports is checked against an independent recomputation (golden model reruns, the cycle
model) or against a property it must have.
"""

import dataclasses
import shutil

import numpy as np
import pytest

from spikestream.host.demo import class_templates, spoken_words, template_network
from spikestream.model import cycles, golden, learning_demos
from spikestream.model.audio import FrontendConfig
from spikestream.model.audio.corpus import default_speakers
from spikestream.model.network import Decision, DecisionMode

CORE = learning_demos.LEARNING_CORE
WORDS = ("yes", "no", "up", "down")


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make system-deps)")
    folder = tmp_path_factory.mktemp("words")
    espeak = [s for s in default_speakers() if s.engine == "espeak-ng"]
    frontend = FrontendConfig()
    return spoken_words(WORDS, espeak[:8], frontend, folder), spoken_words(WORDS, espeak[8:12], frontend, folder)


def test_readout_separates_separable_features_and_not_shuffled_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (3, 5))
    labels = np.repeat(np.arange(3), 40)
    features = centres[labels] + rng.normal(0, 1, (120, 5))
    train, test = np.arange(0, 120, 2), np.arange(1, 120, 2)
    clean = learning_demos.readout_accuracy(features[train], labels[train], features[test], labels[test])
    assert clean["nearest_centroid"] > 0.95 and clean["logistic"] > 0.95
    noise = rng.normal(0, 1, (120, 5))  # features that say nothing about the labels
    blind = learning_demos.readout_accuracy(noise[train], labels[train], noise[test], labels[test])
    assert blind["logistic"] < 0.6 and blind["chance"] == pytest.approx(1 / 3)


def test_stdp_pruning_shrinks_connectivity_and_learning_cycles(words):
    train, test = words
    inputs = train.rasters[np.random.default_rng(1).permutation(len(train.labels))]
    runs = {}
    for name, pruning in (("pruning", learning_demos.STDP_PRUNING), ("no_pruning", None)):
        network = learning_demos.stdp_network(inputs.shape[2], inputs.shape[1], hidden=16, pruning=pruning)
        runs[name] = learning_demos.stdp_learning(network, CORE, inputs, (train.rasters, train.labels, test.rasters,
                                                                         test.labels), checkpoints=2)
    live = runs["pruning"]["per_sample"]["live_synapses"]
    assert all(b <= a for a, b in zip(live, live[1:])), "pruned synapses never come back"
    assert live[-1] < runs["pruning"]["stored_synapses"], "STDP with pruning removes synapses"
    assert set(runs["no_pruning"]["per_sample"]["live_synapses"]) == {runs["no_pruning"]["stored_synapses"]}
    # The same samples, learnt with fewer synapses, cost fewer cycles once pruning has started.
    pruned_cycles = np.array(runs["pruning"]["per_sample"]["cycles"])
    dense_cycles = np.array(runs["no_pruning"]["per_sample"]["cycles"])
    assert pruned_cycles[-8:].sum() < dense_cycles[-8:].sum()
    # Recomputed in one batch: golden.learn gives the same final weights, the cycle model the same cycles.
    network = learning_demos.stdp_network(inputs.shape[2], inputs.shape[1], hidden=16)
    _, learned = golden.learn(network, CORE, inputs)
    assert learning_demos._digest(learned) == runs["pruning"]["weight_digest"]
    results, synapses, per_sample = cycles.learning_cycles(network, CORE, inputs)
    assert learning_demos._digest(synapses) == runs["pruning"]["weight_digest"]
    assert [int(c.total) for c in per_sample] == pruned_cycles.tolist()
    assert [int(r.counters[0, :, golden.Counter.SYNAPTIC_OPS].sum()) for r in results] == \
        runs["pruning"]["per_sample"]["synaptic_ops"]
    checkpoint = runs["pruning"]["checkpoints"][-1]
    assert checkpoint["live_synapses"] == live[-1] and checkpoint["samples_seen"] == len(inputs)
    assert checkpoint["logistic"] > 1.5 * checkpoint["chance"], "the learned hidden spikes tell the words apart"


def test_a_backend_is_checked_against_the_golden_and_cycle_models(words, monkeypatch):
    from spikestream.host.demo import DEMO_CORE
    from spikestream.host.driver import SpikeCore

    train, _ = words
    network = learning_demos.stdp_network(train.rasters.shape[2], train.rasters.shape[1], hidden=8)
    chip = SpikeCore.golden(DEMO_CORE)
    checked = learning_demos.stdp_learning(network, DEMO_CORE, train.rasters[:6], checkpoints=2, chip=chip)
    alone = learning_demos.stdp_learning(network, DEMO_CORE, train.rasters[:6], checkpoints=2)
    assert checked == alone
    # A backend that learnt one weight differently is caught.
    learnt = chip.synapses
    monkeypatch.setattr(chip, "synapses", lambda: learnt()._replace(weight=learnt().weight + 1))
    with pytest.raises(RuntimeError, match="weight of synapse"):
        learning_demos.stdp_learning(network, DEMO_CORE, train.rasters[:2], checkpoints=1, chip=chip)


def test_unsupervised_summary_is_consistent(words):
    train, test = words
    result = learning_demos.unsupervised_stdp(train.rasters, train.labels, test.rasters, test.labels,
                                              learning_samples=12, hidden=8, checkpoints=1)
    summary, runs = result["summary"], result["runs"]
    assert summary["learning_samples"] == 12 and summary["window_samples"] == 1
    for name in ("pruning", "no_pruning"):
        cycles_per_sample = runs[name]["per_sample"]["cycles"]
        assert summary[name]["cycles_reduction"] == pytest.approx(cycles_per_sample[0] / cycles_per_sample[-1])
    assert summary["pruning"]["cycles_vs_no_pruning_end"] == pytest.approx(
        runs["no_pruning"]["per_sample"]["cycles"][-1] / runs["pruning"]["per_sample"]["cycles"][-1])
    assert summary["goal_cycles_4x"] == (summary["pruning"]["cycles_vs_no_pruning_end"] >= 4)
    # The first sample (the whole first window here) learns faster with every synapse pruned.
    bound = summary["pruning"]["cycles_all_pruned_first_window"]
    assert bound < runs["no_pruning"]["per_sample"]["cycles"][0]
    assert summary["pruning"]["cycles_reduction_bound"] == pytest.approx(
        runs["no_pruning"]["per_sample"]["cycles"][0] / bound)


def _first_spike_templates(train):
    templates = class_templates(train.rasters, train.labels, len(WORDS))
    return template_network(templates, threshold=150, decision=Decision(DecisionMode.FIRST_SPIKE))


def test_reward_adaptation_matches_a_golden_rerun(words):
    train, test = words
    network = _first_spike_templates(train)
    adapt, held_out = learning_demos.split_by_speaker(test.speakers)
    assert not set(np.asarray(test.speakers)[adapt]) & set(np.asarray(test.speakers)[held_out])
    result = learning_demos.reward_adaptation(network, CORE, test.rasters[adapt], test.labels[adapt],
                                              test.rasters[held_out], test.labels[held_out], rounds=2,
                                              retain=(train.rasters, train.labels))
    assert len(result["eval_accuracy"]) == 3 and result["accuracy_before"] == result["eval_accuracy"][0]
    # Rerun: the same samples in the same order with the same rewards; each reward must be +1
    # exactly when the decision golden makes at that point is the spoken word.
    plastic = learning_demos._plastic_output(network, learning_demos.REWARD_RULE)
    synapses = golden.initial_synapse_state(plastic)
    inputs, labels = test.rasters[adapt], test.labels[adapt]
    for order, rewards, online in zip(result["orders"], result["rewards"], result["online_accuracy"]):
        assert online == pytest.approx(np.mean(np.array(rewards) == 1))
        for index, reward in zip(order, rewards):
            decision = golden.run(plastic, CORE, inputs[index], synapses).decision[0]
            assert reward == (1 if decision == labels[index] else -1)
            _, synapses = golden.learn(plastic, CORE, inputs[index][None], [reward], synapses)
    assert learning_demos._digest(synapses) == result["weight_digest"]
    after = golden.run(plastic, CORE, test.rasters[held_out], synapses).decision
    assert result["accuracy_after"] == pytest.approx(np.mean(after == test.labels[held_out]))
    assert result["synapses_changed"] > 0 and result["updates"] > 0


def test_reward_adaptation_refuses_a_network_without_first_spike_decisions(words):
    train, test = words
    templates = class_templates(train.rasters, train.labels, len(WORDS))
    with pytest.raises(ValueError, match="first-spike"):
        learning_demos.reward_adaptation(template_network(templates), CORE, test.rasters, test.labels,
                                         test.rasters, test.labels)


def test_first_spike_readout_picks_the_best_calibrated_threshold(words):
    train, _ = words
    templates = class_templates(train.rasters, train.labels, len(WORDS))
    network, calibration = learning_demos.first_spike_readout(template_network(templates), CORE, train.rasters,
                                                              train.labels, thresholds=[50, 150, 400, 10 ** 6])
    assert network.decision.mode is DecisionMode.FIRST_SPIKE and network.population("words").single_spike
    table = calibration["calibration"]
    best = max(table, key=lambda row: row["accuracy_by_spike"])
    assert int(network.population("words").threshold[0]) == best["threshold"]
    result = golden.run(network, CORE, train.rasters)
    assert np.mean(result.decision == train.labels) == best["accuracy"]
    assert np.mean(result.decision_step >= 0) == best["decided_by_spike"]
    # A threshold no neuron reaches decides nothing by spike, whatever its accuracy by potential.
    assert table[-1]["decided_by_spike"] == 0 and table[-1]["accuracy_by_spike"] == 0


def test_magnitude_pruning_cuts_synaptic_work_monotonically(words):
    train, test = words
    templates = class_templates(train.rasters, train.labels, len(WORDS))
    dense = template_network(templates)
    fractions = (0.6, 0.3, 0.1)
    result = learning_demos.pruned_inference(dense, CORE, test.rasters, test.labels, keep_fractions=fractions,
                                             max_loss_points=100.0)
    stored = dense.synapses().count
    rows = [result["candidates"][f"magnitude_keep_{f:g}"] for f in fractions]
    assert [r["stored_synapses"] for r in rows] == [round(f * stored) for f in fractions]
    # One layer fed by the inputs only: synaptic operations shrink with every synapse removed.
    ops = [result["dense"]["synaptic_ops"]] + [r["synaptic_ops"] for r in rows]
    assert all(b < a for a, b in zip(ops, ops[1:]))
    assert rows[-1]["speedup"] > 1.0
    # Removing dead neurons never costs cycles, and the network it gives is what the speed-up counts.
    assert all(r["speedup"] >= r["speedup_as_pruned"] for r in rows)
    assert all(r["deployed"]["neurons"] <= r["neurons"] for r in rows)
    expected = cycles.sample_cycles(learning_demos.magnitude_prune(dense, 0.1), CORE, test.rasters,
                                    golden.run(learning_demos.magnitude_prune(dense, 0.1), CORE, test.rasters))
    assert rows[-1]["cycles"] == pytest.approx(expected.mean())
    # With an unlimited loss budget the best candidate is the largest cut.
    assert result["summary"]["best"] == "magnitude_keep_0.1"
    assert result["summary"]["goal_cut_90"] == (result["summary"]["deployed"]["connectivity_cut"] >= 0.9)
    # Deployment stores no more than pruning kept: its cut is at least the as-pruned one.
    assert all(r["deployed"]["connectivity_cut"] >= r["connectivity_cut"] for r in rows)
    assert rows[-1]["deployed"]["connectivity_cut"] == pytest.approx(
        1 - rows[-1]["deployed"]["stored_synapses"] / result["dense"]["deployed"]["stored_synapses"])


def test_deployed_network_drops_rules_and_dead_neurons_and_keeps_decisions():
    from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network

    plastic = shrunk = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        network = random_network(rng, CORE, RandomNetworkOptions(learning=True, pruning=True, max_population_size=16))
        network = network.with_groups([dataclasses.replace(g, mask=g.mask & (rng.random(g.mask.shape) < 0.3))
                                       for g in network.groups])
        deployed = learning_demos.deployed_network(network)
        plastic += any(g.plastic for g in network.groups)
        shrunk += deployed.n_neurons < network.n_neurons
        assert not any(g.plastic for g in deployed.groups)
        assert deployed.n_neurons <= network.n_neurons
        inputs = random_inputs(rng, network, 4)
        assert np.array_equal(golden.run(deployed, CORE, inputs).decision, golden.run(network, CORE, inputs).decision)
    assert plastic >= 6 and shrunk >= 3  # the loop exercised learning networks and removals
