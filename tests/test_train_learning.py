"""Training: gradients flow, the loss falls, decisions survive export, pruning reaches its target."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.train.layers import ArchitectureConfig, build_model
from spikestream.model.train.prune import PruningConfig, Pruner, useful_synapses
from spikestream.model.train.synthetic import synthetic_dataset
from spikestream.model.train.trainer import TrainConfig, loss_for, predict, train

CORE = CoreConfig()
DATA = synthetic_dataset(classes=3, per_class=24, channels=12, timesteps=16, seed=3)
TRAIN, VALIDATION = DATA.subset(np.arange(54)), DATA.subset(np.arange(54, 72))


def _model(architecture="feedforward", decision="spike_count", hidden=(16,), seed=0, **kwargs):
    # The synthetic inputs are sparse (about one spike per step): a larger initial gain.
    kwargs.setdefault("weight_gain", 2.0)
    config = ArchitectureConfig(architecture=architecture, hidden=hidden, decision=decision, **kwargs)
    return build_model(config, 12, 3, 16, CORE, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("exact", [False, True])
def test_gradients_reach_weights_thresholds_and_decays(exact):
    model = _model("recurrent", tau_syn=3.0)
    run = model(torch.as_tensor(TRAIN.inputs), exact=exact)
    loss_for(model, run, torch.as_tensor(TRAIN.labels), 0.5).backward()
    for name in ("threshold", "voltage_decay", "current_decay", "weights.0", "weights.1", "weights.2"):
        gradient = dict(model.named_parameters())[name].grad
        assert gradient is not None and float(gradient.abs().sum()) > 0, name


@pytest.mark.parametrize("architecture,decision", [
    ("feedforward", "spike_count"), ("self_recurrent", "first_spike"), ("skip", "max_potential"),
    ("recurrent", "spike_count")])
def test_loss_decreases_and_golden_agrees_on_every_sample(architecture, decision):
    model = _model(architecture, decision)
    result = train(model, TRAIN, VALIDATION, TrainConfig(float_epochs=6, quant_epochs=2, batch_size=18, threads=1, logit_scale=0.5,
                                                         learning_rate=1e-2), progress=False)
    losses = [record["loss"] for record in result.history]
    assert losses[-1] < 0.85 * losses[0]
    network = model.to_network()
    reference = golden.run(network, CORE, DATA.inputs)
    np.testing.assert_array_equal(predict(model, DATA.inputs, exact=True), reference.decision)


def test_adaptation_refractory_and_early_exit_train_and_agree():
    model = _model("feedforward", "first_spike", adaptation=4, refractory=2, early_exit=True, reset="zero")
    train(model, TRAIN, VALIDATION, TrainConfig(float_epochs=2, quant_epochs=2, batch_size=27, threads=1), progress=False)
    network = model.to_network()
    assert network.decision.early_exit and network.populations[0].refractory.max() == 2
    reference = golden.run(network, CORE, DATA.inputs)
    np.testing.assert_array_equal(predict(model, DATA.inputs, exact=True), reference.decision)


def test_same_seed_reproduces_the_run_exactly():
    networks = []
    for _ in range(2):
        model = _model(seed=5)
        train(model, TRAIN, VALIDATION, TrainConfig(float_epochs=2, quant_epochs=1, batch_size=18, seed=5, threads=1),
              progress=False)
        networks.append(model.to_network())
    assert networks[0] == networks[1]


def test_checkpoints_from_before_useful_only_resume_as_plain_magnitude(tmp_path):
    """A saved pruning config without ``useful_only`` pruned plainly (it predates the flag)."""
    from spikestream.model.train.trainer import _check_resumed_config

    def saved(method):
        config = TrainConfig(pruning=PruningConfig(method, target=0.3)).to_dict()
        del config["pruning"]["useful_only"]
        return config

    path = tmp_path / "old.pt"
    with pytest.raises(ValueError, match="pruning: .*'useful_only': False.* there, .*'useful_only': True.* now"):
        _check_resumed_config(path, saved("magnitude"), TrainConfig(pruning=PruningConfig("magnitude", target=0.3)))
    _check_resumed_config(path, saved("magnitude"),
                          TrainConfig(pruning=PruningConfig("magnitude", target=0.3, useful_only=False)))
    for method in ("none", "rewire"):  # the flag means nothing there: either value resumes
        for useful_only in (True, False):
            _check_resumed_config(path, saved(method),
                                  TrainConfig(pruning=PruningConfig(method, target=0.3, useful_only=useful_only)))


def test_checkpoint_resume_continues_the_same_run(tmp_path):
    config = TrainConfig(float_epochs=2, quant_epochs=2, batch_size=18, seed=1, threads=1)
    straight = _model(seed=1)
    train(straight, TRAIN, VALIDATION, config, progress=False)
    checkpoint = tmp_path / "run.pt"
    interrupted = _model(seed=1)

    def stop_after_the_float_phase(epoch, record):
        if epoch == 1:
            raise KeyboardInterrupt  # the checkpoint of epoch 1 is saved before this hook runs

    with pytest.raises(KeyboardInterrupt):
        train(interrupted, TRAIN, VALIDATION, config, checkpoint=checkpoint, progress=False,
              on_epoch=stop_after_the_float_phase)
    resumed = _model(seed=1)
    train(resumed, TRAIN, VALIDATION, config, checkpoint=checkpoint, progress=False)
    assert resumed.to_network() == straight.to_network()


@pytest.mark.parametrize("method", ["magnitude", "rewire"])
def test_pruning_reaches_target_and_masks_are_honoured(method):
    model = _model(hidden=(24,))
    config = TrainConfig(float_epochs=3, quant_epochs=1, batch_size=18, threads=1,
                         pruning=PruningConfig(method, target=0.3, start=0.0, end=0.5, min_synapses=64))
    train(model, TRAIN, VALIDATION, config, progress=False)
    network = model.to_network()
    for group in network.groups:  # input->hidden0 (288) and hidden0->output (72) are both >= 64
        assert int(group.mask.sum()) == round(0.3 * group.mask.size), group.name
    assert network.synapses().count == sum(int((g.mask & (g.weights != 0)).sum()) for g in network.groups)
    # A pruned synapse does not exist: changing its latent weight changes nothing.
    before = model(torch.as_tensor(DATA.inputs), exact=True).spikes
    with torch.no_grad():
        pruned = ~model.live_mask(0)
        model.weights[0][pruned] = 5.0
    after = model(torch.as_tensor(DATA.inputs), exact=True).spikes
    assert torch.equal(before, after)


@pytest.mark.parametrize("useful_only", [True, False])
def test_magnitude_pruning_spends_its_budget_on_useful_synapses(useful_only):
    """Hidden neurons whose outgoing synapses are all pruned take their incoming synapses with them.

    Hidden neurons 0-11 of 24 get tiny outgoing weights, so keeping 25 % of hidden -> output
    (18 of 72) leaves them without fan-out (and each of 12-23 with some); their input
    synapses are the largest, so plain
    magnitude keeps them (useless: deployment removes them), and ``useful_only`` spends the
    input budget on neurons 12-23 instead.
    """
    from spikestream.model.network import remove_dead_neurons

    model = _model(hidden=(24,))
    with torch.no_grad():
        model.weights[0].clamp_(-0.5, 0.5)
        model.weights[0][:, :12] = 1.0  # the largest input synapses go to neurons 0-11
        model.weights[1][:12] = 1e-4
        model.weights[1][12:] = 1e-2
        model.weights[1][torch.arange(12, 24), torch.arange(12) % 3] = 1.0  # each of 12-23 keeps one
    pruner = Pruner(model, PruningConfig("magnitude", target=0.25, useful_only=useful_only), total_steps=1)
    pruner.finish(model)
    kept_in, kept_out = model.live_mask(0), model.live_mask(1)
    assert int(kept_in.sum()) == 72 and int(kept_out.sum()) == 18  # 25 % of 288 and of 72: the budget is spent
    assert not kept_out[:12].any()
    network = model.to_network()
    deployed, _ = remove_dead_neurons(network)
    if useful_only:
        assert not kept_in[:, :12].any()
        assert deployed.synapses().count == network.synapses().count  # as trained is as deployed
    else:
        # The 144 largest go to neurons 0-11, which reach nothing, and 12-23 hear nothing:
        # every synapse is wasted, deployment removes them all.
        assert not kept_in[:, 12:].any()
        assert deployed.synapses().count == 0 < network.synapses().count


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0])
def test_activity_weighting_scores_a_synapse_by_what_it_adds_per_sample(exponent, tmp_path):
    """Input 0 spikes once per sample, input 1 sixteen times; a synapse from input 0 is 3x larger.

    ``|w|`` keeps the synapses from input 0; ``|w| * a`` keeps those from input 1 (3 < 16), and
    ``|w| * a**0.5`` too (3 < 4). Hidden -> output reads the neurons' activity at their offset
    after the inputs: hidden neurons 0 and 2 spike 16 times, 1 once, and their synapses weigh
    0.1 / 0.3 / 0.09: ``|w|`` keeps rows 0 and 1, the weighted scores rows 0 and 2 (reading
    the inputs' activity there instead would keep rows 1 and 0). The activity is averaged
    with ACTIVITY_MEMORY.
    """
    from spikestream.model.train.prune import ACTIVITY_MEMORY

    model = _model(hidden=(24,))
    n_neurons = model.template.n_neurons
    with torch.no_grad():
        model.weights[0].fill_(1e-3)
        model.weights[0][0] = 0.3
        model.weights[0][1] = 0.1
        model.weights[1].fill_(1e-3)
        model.weights[1][0] = 0.1
        model.weights[1][1] = 0.3
        model.weights[1][2] = 0.09
    pruner = Pruner(model, PruningConfig("magnitude", target=24 / 288, useful_only=False,
                                         activity_exponent=exponent), total_steps=1)
    inputs = torch.zeros(2, 16, 12)
    inputs[:, 0, 0] = 1
    inputs[:, :, 1] = 1
    counts = torch.ones(2, n_neurons)
    counts[:, [0, 2]] = 16
    pruner.observe(inputs, counts)
    if exponent:
        first = [1.0, 16.0] + [0.0] * 10 + [16.0, 1.0, 16.0] + [1.0] * (n_neurons - 3)
        assert pruner.activity.tolist() == first
        pruner.observe(inputs * 0, counts * 0)  # a silent batch: the average keeps ACTIVITY_MEMORY of the past
        assert pruner.activity.tolist() == pytest.approx([ACTIVITY_MEMORY * a for a in first])
    else:
        assert pruner.activity is None  # nothing to weigh: no work per batch
    pruner.finish(model)
    kept_in, kept_out = model.live_mask(0), model.live_mask(1)
    assert int(kept_in.sum()) == 24 and int(kept_out.sum()) == 6  # 1/12 of 288 and of 72
    assert bool(kept_in[0].all()) == (exponent == 0) and bool(kept_in[1].all()) == (exponent > 0)
    assert bool(kept_out[0].all())
    assert bool(kept_out[1].all()) == (exponent == 0) and bool(kept_out[2].all()) == (exponent > 0)
    # The state survives a checkpoint file; a checkpoint from before activity weighting has none.
    torch.save(pruner.state_dict(), tmp_path / "pruner.pt")
    restored = Pruner(model, pruner.config, total_steps=1)
    restored.load_state_dict(torch.load(tmp_path / "pruner.pt", weights_only=False))
    assert (restored.activity is None) if not exponent else torch.equal(restored.activity, pruner.activity)
    restored.load_state_dict({"steps": 3, "signs": {}})
    assert restored.activity is None and restored.steps == 3
    if exponent:  # wherever the checkpoint was mapped to, the average goes on in float64 on the CPU
        restored.load_state_dict({"steps": 3, "signs": {}, "activity": pruner.activity.float()})
        assert restored.activity.dtype == torch.float64 and restored.activity.device.type == "cpu"
        restored.observe(inputs, counts)


def test_activity_exponent_is_checked_and_old_checkpoints_resume_without_it(tmp_path):
    from spikestream.model.train.trainer import _check_resumed_config

    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"activity exponent {bad} must be a finite number >= 0"):
            PruningConfig("magnitude", target=0.3, activity_exponent=bad)
    for method in ("none", "rewire"):
        with pytest.raises(ValueError, match=f"weighs the magnitude score; pruning method is {method}"):
            PruningConfig(method, target=0.3, activity_exponent=1.0)
    saved = TrainConfig(pruning=PruningConfig("magnitude", target=0.3)).to_dict()
    del saved["pruning"]["activity_exponent"]
    path = tmp_path / "old.pt"
    _check_resumed_config(path, saved, TrainConfig(pruning=PruningConfig("magnitude", target=0.3)))
    with pytest.raises(ValueError, match="'activity_exponent': 0.0.* there, .*'activity_exponent': 1.0.* now"):
        _check_resumed_config(path, saved, TrainConfig(pruning=PruningConfig("magnitude", target=0.3,
                                                                             activity_exponent=1.0)))


def test_activity_weighted_training_observes_every_batch(monkeypatch):
    """In training the pruner sees each batch's inputs and spikes (shapes as the model runs them)."""
    model = _model(hidden=(24,))
    config = TrainConfig(float_epochs=2, quant_epochs=1, batch_size=18, threads=1,
                         pruning=PruningConfig("magnitude", target=0.3, start=0.0, end=0.5, activity_exponent=1.0))
    seen = []
    original = Pruner.observe

    def observe(self, inputs, spike_count):
        seen.append((tuple(inputs.shape), tuple(spike_count.shape)))
        original(self, inputs, spike_count)

    monkeypatch.setattr(Pruner, "observe", observe)
    train(model, TRAIN, VALIDATION, config, progress=False)
    assert len(seen) == 3 * 3  # 54 samples in batches of 18, 3 epochs
    assert seen[0] == ((18, 16, 12), (18, model.template.n_neurons))
    network = model.to_network()
    assert all(int(g.mask.sum()) <= round(0.3 * g.mask.size) for g in network.groups)


def test_useful_synapses_follow_recurrent_chains():
    """Usefulness crosses a recurrent group one synapse at a time: input -> 0 -> 1 -> 2 -> output."""
    model = _model("recurrent", hidden=(6,))
    groups = {(g.source, g.target): i for i, g in enumerate(model.template.groups)}
    recurrent, readout = groups[("hidden0", "hidden0")], groups[("hidden0", "output")]
    masks = {i: torch.zeros_like(model.structure_mask(i)) for i in range(model.n_groups)}
    masks[groups[("input", "hidden0")]][3, 0] = True
    for pre, post in ((0, 1), (1, 2), (4, 5)):
        masks[recurrent][pre, post] = True
    masks[readout][2, 1] = True
    masks[readout][5, 0] = True  # neuron 5 reaches the output but never spikes (4 is never heard)
    with torch.no_grad():
        model.bias.zero_()
    useful = useful_synapses(model, masks)
    assert {tuple(ix) for ix in torch.nonzero(useful[recurrent] & masks[recurrent]).tolist()} == {(0, 1), (1, 2)}
    assert bool(useful[readout][2, 1]) and not bool(useful[readout][5, 0])
    assert bool(useful[groups[("input", "hidden0")]][3, 0])
    with torch.no_grad():
        model.bias[model.template.neuron_offset("hidden0") + 4] = 1.0  # a positive bias: neuron 4 spikes alone
    useful = useful_synapses(model, masks)
    assert bool(useful[recurrent][4, 5]) and bool(useful[readout][5, 0])


@pytest.mark.parametrize("architecture", ["feedforward", "self_recurrent", "skip", "recurrent"])
def test_useful_synapses_are_those_remove_dead_neurons_keeps(architecture):
    """On random masks, the useful live synapses are exactly the synapses deployment keeps."""
    from spikestream.model.network import remove_dead_neurons

    for seed in range(4):
        model = _model(architecture, hidden=(10,), seed=seed)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            model.bias.zero_()
            for i in range(model.n_groups):
                model.weights[i].fill_(0.5)  # every live synapse is stored (no weight rounds to 0)
                keep = torch.rand(model.structure_mask(i).shape, generator=generator) < (0.08 + 0.1 * seed)
                model.set_prune_mask(i, keep)
        live = {i: model.live_mask(i) for i in range(model.n_groups)}
        useful = useful_synapses(model, live)
        expected = sum(int((live[i] & useful[i]).sum()) for i in live)
        assert remove_dead_neurons(model.to_network())[0].synapses().count == expected, (architecture, seed)


def test_rewiring_keeps_connectivity_while_synapses_move():
    model = _model(hidden=(24,))
    pruner = Pruner(model, PruningConfig("rewire", target=0.5), total_steps=10)
    first = model.live_mask(0).clone()
    assert abs(pruner.connectivity(model) - 0.5) < 0.01
    with torch.no_grad():
        model.weights[0].neg_()  # every live synapse now points against its sign
    pruner.step(model)
    assert not torch.equal(first, model.live_mask(0))
    assert int(model.live_mask(0).sum()) <= int(first.sum())


def test_datasets_refuse_what_they_would_lose():
    from spikestream.model.train.trainer import Dataset

    inputs, labels = DATA.inputs[:16], DATA.labels[:16]
    for value in (2.0, 0.5, float("nan")):
        bad = inputs.astype(np.float64)
        bad[3, 4, 5] = value
        with pytest.raises(ValueError, match=f"input spike value {value} is not 0 or 1"):
            Dataset(bad, labels)
    with pytest.raises(ValueError, match=r"Dataset labels have shape \(10,\), expected \[16\]: one label per input"):
        Dataset(inputs, labels[:10])
    with pytest.raises(ValueError, match=r"Dataset inputs have shape \(16, 192\), expected \[samples, timesteps"):
        Dataset(inputs.reshape(16, -1), labels)
    for bad, shown in ((labels + 0.7, "0.7"), (labels - 3, "-3"), (np.where(labels == 0, np.nan, labels), "nan")):
        with pytest.raises(ValueError, match=f"Dataset label {shown} .* is not a whole class index >= 0"):
            Dataset(inputs, bad)
    # 0/1 in any dtype and whole labels in any dtype lose nothing: stored as bool and int64.
    same = Dataset(inputs.astype(np.float32), labels.astype(np.float64))
    assert same.inputs.dtype == bool and same.labels.dtype == np.int64
    np.testing.assert_array_equal(same.inputs, inputs)
    np.testing.assert_array_equal(same.labels, labels)
    assert len(same.subset(np.arange(4))) == 4


def test_predict_refuses_values_other_than_spikes():
    bad = VALIDATION.inputs.astype(np.float64)
    bad[0, 0, 0] = 2
    with pytest.raises(ValueError, match="input spike value 2.0 is not 0 or 1"):
        predict(_model(), bad, exact=True)


def test_training_refuses_labels_outside_the_model_and_shifts_longer_than_the_rasters():
    from spikestream.model.train.trainer import Dataset

    config = TrainConfig(float_epochs=1, quant_epochs=0, batch_size=18, threads=1)
    wide = Dataset(VALIDATION.inputs, np.where(VALIDATION.labels == 2, 3, VALIDATION.labels))
    with pytest.raises(ValueError, match=r"training label 3 is not a class of the model's 3 outputs \(expected "
                                         r"labels 0 to 2\)"):
        train(_model(), wide, VALIDATION, config, progress=False)
    with pytest.raises(ValueError, match="validation label 3 is not a class of the model's 3 outputs"):
        train(_model(), TRAIN, wide, config, progress=False)
    with pytest.raises(ValueError, match="shift = 17 is longer than the 16 timesteps of the inputs"):
        train(_model(), TRAIN, VALIDATION, TrainConfig(shift=17, threads=1), progress=False)


@pytest.mark.parametrize("settings,message", [
    (dict(batch_size=0), "batch_size = 0, expected a whole number >= 1"),
    (dict(batch_size=8.5), "batch_size = 8.5, expected a whole number >= 1"),
    (dict(float_epochs=-1), "float_epochs = -1, expected a whole number >= 0"),
    (dict(quant_epochs=-2), "quant_epochs = -2, expected a whole number >= 0"),
    (dict(shift=-3), "shift = -3, expected a whole number >= 0"),
    (dict(threads=-1), "threads = -1, expected a whole number >= 0"),
    (dict(input_dropout=1.5), r"input_dropout = 1.5, expected a probability in \[0, 1\)"),
    (dict(input_dropout=float("nan")), r"input_dropout = nan, expected a probability in \[0, 1\)"),
    (dict(learning_rate=float("nan")), "learning_rate = nan, expected a finite number > 0"),
    (dict(quant_learning_rate=0.0), "quant_learning_rate = 0.0, expected a finite number > 0"),
    (dict(logit_scale=0), "logit_scale = 0, expected a finite number > 0"),
    (dict(distill_temperature=float("nan")), "distill_temperature = nan, expected a finite number > 0"),
    (dict(rate_penalty=-0.1), "rate_penalty = -0.1, expected a finite number >= 0"),
    (dict(time_mask=1.5), "time_mask = 1.5, expected a whole number >= 0"),
    (dict(pruning={"method": "magnitude", "fraction": 0.3}), r"pruning has unknown fields \['fraction'\]"),
    (dict(pruning="magnitude"), "pruning = 'magnitude', expected a PruningConfig or a dict of its fields"),
])
def test_training_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_training_settings_read_a_pruning_dict_as_its_config():
    config = TrainConfig(pruning={"method": "magnitude", "target": 0.3})
    assert config.pruning == PruningConfig("magnitude", target=0.3)
    assert config == TrainConfig(pruning=PruningConfig("magnitude", target=0.3))


def test_checkpoints_that_saved_the_pruning_method_as_an_enum_still_resume(tmp_path):
    """Checkpoints written before to_dict() named the method hold a PruningMethod there."""
    import dataclasses

    from spikestream.model.train.trainer import _check_resumed_config

    config = TrainConfig(pruning=PruningConfig("magnitude", target=0.3))
    saved = dataclasses.asdict(config)
    _check_resumed_config(tmp_path / "old.pt", saved, config)
    with pytest.raises(ValueError, match="pruning: .*'method': 'magnitude'.* there, .*'method': 'rewire'.* now"):
        _check_resumed_config(tmp_path / "old.pt", saved, TrainConfig(pruning=PruningConfig("rewire", target=0.3)))


@pytest.mark.parametrize("settings,message", [
    (dict(hidden=(64.7,)), r"hidden = \(64.7,\), expected a non-empty tuple of whole numbers >= 1"),
    (dict(hidden=64), "hidden = 64, expected a non-empty tuple of whole numbers >= 1"),
    (dict(hidden=()), r"hidden = \(\), expected a non-empty tuple"),
    (dict(hidden=(16, 0)), r"hidden = \(16, 0\), expected"),
    (dict(tau_mem=-5), "tau_mem = -5, expected a finite number of steps >= 1"),
    (dict(tau_mem=0.5), "tau_mem = 0.5, expected a finite number of steps >= 1"),
    (dict(tau_mem=float("inf")), "tau_mem = inf, expected a finite number of steps >= 1"),
    (dict(tau_syn=-1.0), "tau_syn = -1.0, expected a finite number of steps >= 0"),
    (dict(tau_syn=float("nan")), "tau_syn = nan, expected a finite number of steps >= 0"),
    (dict(adapt_tau=0.0), "adapt_tau = 0.0, expected a finite number of steps >= 1"),
    (dict(adaptation=-1), "adaptation = -1, expected a whole number >= 0"),
    (dict(refractory=1.5), "refractory = 1.5, expected a whole number >= 0"),
    (dict(weight_gain=float("inf")), "weight_gain = inf, expected a finite number > 0"),
    (dict(weight_gain=-0.5), "weight_gain = -0.5, expected a finite number > 0"),
    (dict(unit=1000), "unit = 1000, expected a power of two"),
])
def test_architecture_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ArchitectureConfig(**settings)


def test_architecture_hidden_sizes_may_be_a_list_of_any_integers():
    assert ArchitectureConfig(hidden=[16, np.int64(8)]).hidden == (16, 8)
    assert ArchitectureConfig(tau_mem=1.0, tau_syn=0.0).tau_syn == 0.0


@pytest.mark.parametrize("tau_syn, stored", [(0.0, 4095), (1.0, 4095), (2.0, 2047), (4.0, 1023)])
def test_synaptic_time_constant_sets_the_removed_fraction(tau_syn, stored):
    """The core removes ``du + 1`` of 4096 per step: tau_syn <= 1 must store 4095, so a current lasts one
    step (4094 would leave trunc(u / 4096) behind for a second step)."""
    from spikestream.model.train.layers import build_network

    config = ArchitectureConfig(hidden=(3,), tau_syn=tau_syn)
    network = build_network(config, 2, 2, 4, CoreConfig())
    assert network.population("hidden0").current_decay.tolist() == [stored] * 3
    if tau_syn <= 1:  # the golden model's current decay (du + 1) leaves nothing of the largest current
        limit = CoreConfig().state_max
        assert golden.decay(np.array([limit, -limit]), np.int64(stored + 1)).tolist() == [0, 0]


def test_input_channel_budget_removes_whole_channels_lowest_mass_per_event_first():
    """12 input channels, 9 kept: channels 0-2 spike 16 times per sample with little weight mass, 3 spikes 16
    times with much, the others once. Mass per event removes 0, 1 and 2 whole (no synapse left from them),
    keeps busy but heavy channel 3, and the synapse budget is spent on the kept channels."""
    model = _model(hidden=(24,))
    with torch.no_grad():
        model.weights[0].fill_(0.05)
        model.weights[0][:3] = 0.2  # heavier than the quiet channels per synapse, lighter per event
        model.weights[0][3] = 1.0
    config = PruningConfig("magnitude", target=0.5, useful_only=False, input_channels=9 / 12)
    pruner = Pruner(model, config, total_steps=1)
    inputs = torch.zeros(2, 16, 12)
    inputs[:, :, :4] = 1
    inputs[:, 0, 4:] = 1
    pruner.observe(inputs, torch.ones(2, model.template.n_neurons))
    pruner.finish(model)
    live = model.live_mask(0)
    assert live[:3].sum() == 0 and live[3].all()
    assert int(live.any(1).sum()) <= 9  # the synapse budget may empty more (channels 4-11 tie here)
    assert int(live.sum()) == pruner._keep_count(model, 0, 0.5)
    for bad, method in ((0.0, "magnitude"), (1.5, "magnitude")):
        with pytest.raises(ValueError, match=r"input channel fraction .* is outside \(0, 1\]"):
            PruningConfig(method, target=0.3, input_channels=bad)
    with pytest.raises(ValueError, match="input channel fraction 0.5 is a magnitude-pruning budget"):
        PruningConfig("rewire", target=0.3, input_channels=0.5)
