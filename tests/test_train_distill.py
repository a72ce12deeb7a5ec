"""Knowledge distillation: the loss, the teacher's logits, soft targets that really teach, the CLI."""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from spikestream.cli import main as cli_main  # noqa: E402
from spikestream.model import golden  # noqa: E402
from spikestream.model.config import CoreConfig  # noqa: E402
from spikestream.model.train.export import export_network  # noqa: E402
from spikestream.model.train.layers import ArchitectureConfig, build_model  # noqa: E402
from spikestream.model.train.net import SpikingNetwork  # noqa: E402
from spikestream.model.train.synthetic import synthetic_dataset  # noqa: E402
from spikestream.model.train.trainer import (TrainConfig, logits_for, loss_for, predict, teacher_logits,  # noqa: E402
                                             train)

CORE = CoreConfig()
DATA = synthetic_dataset(classes=3, per_class=24, channels=12, timesteps=16, seed=3)
TRAIN, VALIDATION = DATA.subset(np.arange(54)), DATA.subset(np.arange(54, 72))


def _model(decision="max_potential", seed=0):
    config = ArchitectureConfig(hidden=(16,), decision=decision, weight_gain=2.0)
    return build_model(config, 12, 3, 16, CORE, torch.Generator().manual_seed(seed))


def test_loss_mixes_cross_entropy_and_temperature_scaled_kl():
    model = _model()
    with torch.no_grad():
        run = model(torch.as_tensor(TRAIN.inputs), exact=False)
    labels = torch.as_tensor(TRAIN.labels)
    student = logits_for(model, run, 0.2).detach().numpy()
    teacher = np.random.default_rng(0).normal(size=student.shape) * 3
    cross_entropy = float(F.cross_entropy(torch.as_tensor(student), labels))

    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    for weight, temperature in ((0.0, 2.0), (0.3, 2.0), (1.0, 4.0)):
        p, q = log_softmax(teacher / temperature), log_softmax(student / temperature)
        kl = float(np.mean(np.sum(np.exp(p) * (p - q), axis=1)))
        expected = (1 - weight) * cross_entropy + weight * temperature**2 * kl
        got = float(loss_for(model, run, labels, 0.2, torch.as_tensor(teacher), weight, temperature))
        assert got == pytest.approx(expected, rel=1e-9)
    # A student that already says what the teacher says has nothing left to learn from it.
    assert float(loss_for(model, run, labels, 0.2, torch.as_tensor(student), 1.0, 2.0)) == pytest.approx(0, abs=1e-12)


def test_teacher_logits_of_a_loaded_network_decide_as_the_golden_model():
    model = _model()
    train(model, TRAIN, VALIDATION, TrainConfig(float_epochs=3, quant_epochs=1, batch_size=18, threads=1),
          progress=False)
    network = model.to_network()
    logits = teacher_logits(SpikingNetwork(network, CORE, exponents="fixed"), DATA.inputs, 0.2, batch_size=20)
    assert logits.shape == (len(DATA), 3)
    # Where the largest logit is unique it is the golden decision; a tie (equal spike counts, or no output
    # spike) the core breaks by its own rule (first spike, then potential), which soft targets need not follow.
    top = np.sort(logits, axis=1)
    unique = top[:, -1] > top[:, -2]
    assert unique.mean() > 0.8, "most samples are decided without a tie"
    np.testing.assert_array_equal(np.argmax(logits, axis=1)[unique],
                                  golden.run(network, CORE, DATA.inputs).decision[unique])


def test_soft_targets_alone_teach_the_teachers_mapping():
    # The teacher says class (y + 1) mod 3 for every sample: a student that learns only from
    # the teacher (weight 1) must follow it, not the labels; with weight 0 it follows the labels.
    wrong = np.eye(3)[(TRAIN.labels + 1) % 3] * 8.0
    config = TrainConfig(float_epochs=14, quant_epochs=2, batch_size=18, threads=1, learning_rate=1e-2,
                         distill_temperature=1.0)
    taught = _model(seed=1)
    train(taught, TRAIN, VALIDATION, dataclasses.replace(config, distill_weight=1.0), progress=False, teacher=wrong)
    labelled = _model(seed=1)
    train(labelled, TRAIN, VALIDATION, config, progress=False, teacher=wrong)
    said = predict(taught, TRAIN.inputs, exact=True)
    assert np.mean(said == (TRAIN.labels + 1) % 3) > 0.8
    assert np.mean(predict(labelled, TRAIN.inputs, exact=True) == TRAIN.labels) > 0.8


def test_demo_training_needs_both_a_teacher_and_a_weight():
    from spikestream.model.train.data import Splits
    from spikestream.model.train.demo import train_demo_network

    splits = Splits(TRAIN, VALIDATION, VALIDATION, None, ("a", "b", "c"), None)
    settings = dict(hidden=(4,), float_epochs=1, quant_epochs=0, input_dropout=0.0, cosine=False)
    with pytest.raises(ValueError, match="teacher missing with distill_weight = 0.5"):
        train_demo_network(splits, settings, CORE, distill_weight=0.5, progress=False)
    teacher = _model().to_network()
    with pytest.raises(ValueError, match="teacher given with distill_weight = 0"):
        train_demo_network(splits, settings, CORE, teacher=teacher, progress=False)
    # With both, the teacher's exact logits are the soft targets, and the temperature defaults to TrainConfig's.
    _, _, training, _ = train_demo_network(splits, settings, CORE, teacher=teacher, distill_weight=0.5,
                                           progress=False, device="cpu")
    assert training.distill_weight == 0.5 and training.distill_temperature == TrainConfig().distill_temperature


def test_resuming_a_checkpoint_with_other_settings_is_refused(tmp_path):
    config = TrainConfig(float_epochs=1, quant_epochs=0, batch_size=27, threads=1)
    train(_model(), TRAIN, VALIDATION, config, checkpoint=tmp_path / "run.pt", progress=False)
    other = dataclasses.replace(config, freq_mask=2)
    with pytest.raises(ValueError, match="saved with other training settings \\(freq_mask: 0 there, 2 now\\)"):
        train(_model(), TRAIN, VALIDATION, other, checkpoint=tmp_path / "run.pt", progress=False)
    # Threads and device may change between the run and its resumption.
    train(_model(), TRAIN, VALIDATION, dataclasses.replace(config, threads=2), checkpoint=tmp_path / "run.pt",
          progress=False)


def test_bad_distillation_settings_are_refused():
    with pytest.raises(ValueError, match=r"distill_weight = 1.5, expected a value in \[0, 1\]"):
        TrainConfig(distill_weight=1.5)
    with pytest.raises(ValueError, match="distill_temperature = 0"):
        TrainConfig(distill_temperature=0)
    config = TrainConfig(float_epochs=1, quant_epochs=0, batch_size=18, threads=1, distill_weight=0.5)
    with pytest.raises(ValueError, match="needs teacher logits"):
        train(_model(), TRAIN, VALIDATION, config, progress=False)
    with pytest.raises(ValueError, match=r"teacher logits have shape \(54, 2\), expected \(54, 3\)"):
        train(_model(), TRAIN, VALIDATION, config, progress=False, teacher=np.zeros((54, 2)))


def test_cli_trains_a_student_from_an_exported_teacher(tmp_path, capsys, tiny_rasters):
    source, _ = tiny_rasters
    common = ["--hidden", "12", "--float-epochs", "2", "--quant-epochs", "1", "--batch-size", "12", "--no-progress",
              "--threads", "1", "--decision", "max_potential"]
    teacher = tmp_path / "teacher.spkn"
    assert cli_main(["train", str(source), "--out", str(teacher)] + common) == 0
    capsys.readouterr()
    student = tmp_path / "student.spkn"
    assert cli_main(["train", str(source), "--out", str(student), "--distill", str(teacher), "--distill-weight",
                     "0.7", "--prune", "magnitude", "--connectivity", "0.3", "--json"] + common) == 0
    training = json.loads(capsys.readouterr().out)["training"]
    assert training["distill_weight"] == 0.7 and training["distill_temperature"] == 2.0
    # Errors name what was wrong: a weight without a teacher, a teacher of other classes or shape.
    assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--distill-weight", "0.5"]
                    + common) == 2
    assert "--distill-weight needs a teacher network" in capsys.readouterr().err
    other = tmp_path / "other.spkn"
    export_network(other, _model().to_network(), CORE, None, ["p", "q", "r"])
    assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--distill", str(other)] + common) == 2
    assert "takes [T=16, C=12] rasters, the training data is [T=12, C=8]" in capsys.readouterr().err
    for options, message in (
            (["--distill", str(teacher), "--distill-weight", "0"], "--distill-weight 0.0: expected a value in (0, 1]"),
            (["--distill", str(teacher), "--distill-weight", "1.5"], "--distill-weight 1.5: expected a value in (0, 1]"),
            (["--distill", str(teacher), "--distill-temperature", "0"], "--distill-temperature 0.0: expected a value > 0"),
            (["--distill-temperature", "3"], "--distill-temperature needs a teacher network"),
            (["--distill", str(tmp_path / "missing.spkn")], "missing.spkn: no such network file"),
            (["--distill", str(teacher), "--search", "2"], "--distill and --search cannot be combined")):
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn")] + options + common) == 2, options
        assert message in capsys.readouterr().err
    counting = tmp_path / "counting.spkn"
    assert cli_main(["train", str(source), "--out", str(counting)] + common[:-2] + ["--decision", "spike_count"]) == 0
    capsys.readouterr()
    assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--distill", str(counting)] + common) == 2
    assert "the teacher decides by spike_count, the student by max_potential" in capsys.readouterr().err
    relabelled = tmp_path / "relabelled.spkn"
    export_network(relabelled, build_model(ArchitectureConfig(hidden=(4,), decision="max_potential"), 8, 3, 12, CORE,
                                           torch.Generator()).to_network(), CORE, None, ["p", "q", "r"])
    assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--distill", str(relabelled)]
                    + common) == 2
    assert "the teacher's classes ['p', 'q', 'r'] are not the data's ['x', 'y', 'z']" in capsys.readouterr().err
