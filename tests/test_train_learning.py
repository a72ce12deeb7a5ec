"""Training: gradients flow, the loss falls, decisions survive export, pruning reaches its target."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikestream.model import golden
from spikestream.model.config import CoreConfig
from spikestream.model.train.layers import ArchitectureConfig, build_model
from spikestream.model.train.prune import PruningConfig, Pruner
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
