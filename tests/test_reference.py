"""The non-spiking reference classifier (model/train/reference.py) and bench/bench_features.py."""

import json

import numpy as np
import pytest

from spikestream.model.train.reference import ReferenceConfig, frame_counts, reference_accuracy
from spikestream.model.train.synthetic import synthetic_dataset
from spikestream.model.train.trainer import Dataset

FAST = ReferenceConfig(hidden=64, epochs=15, batch_size=32)


def _halves(data: Dataset) -> tuple[Dataset, Dataset]:
    """Two disjoint halves of one draw (same class prototypes)."""
    half = len(data) // 2
    return data.subset(np.arange(half)), data.subset(np.arange(half, len(data)))


def test_frame_counts_sums_each_frame_of_each_channel():
    rasters = np.zeros((1, 6, 2), bool)
    rasters[0, [0, 1, 2], 0] = True  # three spikes in frame 0 of channel 0
    rasters[0, 5, 1] = True          # one in frame 1 of channel 1
    counts = frame_counts(rasters, 3)
    assert counts.dtype == np.float32
    assert counts.tolist() == [[[3.0, 0.0], [0.0, 1.0]]]
    assert np.array_equal(frame_counts(rasters, 1), rasters.astype(np.float32))


@pytest.mark.parametrize("shape, steps, message", [((6, 2), 1, "expected \\[samples, timesteps, channels\\]"),
                                                   ((1, 6, 2), 4, "6 timesteps do not split into frames of 4")])
def test_frame_counts_refuses_what_it_cannot_split(shape, steps, message):
    with pytest.raises(ValueError, match=message):
        frame_counts(np.zeros(shape, bool), steps)


@pytest.mark.parametrize("field, value", [("steps_per_frame", 0), ("epochs", 0), ("epochs", 1.5), ("hidden", 0),
                                          ("seed", -1), ("input_dropout", 1.0), ("hidden_dropout", -0.1),
                                          ("learning_rate", 0.0), ("weight_decay", -1e-4)])
def test_config_refuses_values_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        ReferenceConfig(**{field: value})


def test_reference_learns_the_task_and_not_shuffled_labels():
    train, test = _halves(synthetic_dataset(classes=4, per_class=64, channels=16, timesteps=24, seed=3))
    learned = reference_accuracy(train, {"test": test}, 4, FAST)["test"]
    shuffled = Dataset(train.inputs, np.random.default_rng(0).permutation(train.labels))
    chance = reference_accuracy(shuffled, {"test": test}, 4, FAST)["test"]
    assert learned >= 0.9
    assert chance <= 0.5  # 4 classes: chance is 0.25
    # Seeded: the same run gives the same accuracy.
    assert reference_accuracy(train, {"test": test}, 4, FAST)["test"] == learned


def test_reference_uses_frames_not_step_timing():
    # Two classes that differ only in where inside a 4-step frame the spikes fall: at
    # frame resolution they are the same input, so the reference cannot tell them apart.
    rng = np.random.default_rng(1)
    inputs = np.zeros((200, 8, 3), bool)
    labels = np.arange(200) % 2
    inputs[labels == 0, 0, :] = True
    inputs[labels == 1, 3, :] = True
    inputs |= rng.random(inputs.shape) < 0.02
    train, test = _halves(Dataset(inputs, labels))
    by_step = reference_accuracy(train, {"test": test}, 2, FAST)["test"]
    by_frame = reference_accuracy(train, {"test": test}, 2, ReferenceConfig(steps_per_frame=4, hidden=64,
                                                                            epochs=15, batch_size=32))["test"]
    assert by_step >= 0.95
    assert by_frame <= 0.7


def test_reference_refuses_bad_labels_and_empty_sets():
    train = synthetic_dataset(classes=3, per_class=4, seed=0)
    with pytest.raises(ValueError, match="expected 0..1"):
        reference_accuracy(train, {}, 2, FAST)
    with pytest.raises(ValueError, match="'test' has no samples"):
        reference_accuracy(train, {"test": train.subset(np.arange(0))}, 3, FAST)


# --- bench/bench_features.py -------------------------------------------------------------

def test_voice_of_strips_only_the_corpus_variation(load_bench):
    bench = load_bench("bench_features")
    assert bench.voice_of("espeak-ng_en-gb-x-rp+iven3_p66_t1.02_w0.97") == "espeak-ng_en-gb-x-rp+iven3"
    assert bench.voice_of("flite_rms") == "flite_rms"
    assert bench.voice_of("festival_cmu_us_slt_arctic_hts_p50_t1.00_w1.00") == "festival_cmu_us_slt_arctic_hts"


def test_choose_voices_takes_whole_voices(load_bench):
    bench = load_bench("bench_features")
    speakers = np.array([f"v{k}_p50_t1.00_w1.0{variant}" for k in range(8) for variant in range(3)])
    keep = bench.choose_voices(speakers, 0.5, np.random.default_rng(0))
    chosen = {bench.voice_of(s) for s in speakers[keep]}
    assert len(chosen) == 4 and keep.sum() == 12  # every variant of each chosen voice
    assert bench.choose_voices(speakers, 0.01, np.random.default_rng(0)).sum() == 3  # at least one voice
    with pytest.raises(ValueError, match="fraction 0"):
        bench.choose_voices(speakers, 0.0, np.random.default_rng(0))


#: Three tone "words" said by 6 training voices, 2 test voices and 1 holdout voice, each in
#: two variants (the corpus's ``_p<pitch>_t<tempo>_w<warp>`` names) that sound the same.
TONE_VOICES = [(split, f"{voice}_p{pitch}_t1.00_w1.00", shift)
               for split, voice, shift in [("train", f"tone_v{k}", 1.0 + 0.03 * k) for k in range(6)]
               + [("test", "tone_t0", 1.04), ("test", "tone_t1", 0.97), ("holdout", "tone_h0", 1.02)]
               for pitch in (40, 60)]
TONE_WORDS = {"low": 300.0, "mid": 900.0, "high": 2700.0}


def test_bench_features_reports_reference_and_voice_curve(load_bench, tmp_path, monkeypatch, tone_folder):
    bench = load_bench("bench_features")
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    corpus = tone_folder(tmp_path / "tones", TONE_VOICES, TONE_WORDS)
    out = tmp_path / "bench.json"
    assert bench.main(["--subset", str(corpus), "--copies", "1", "--epochs", "20", "--fractions", "0.5", "1",
                       "--draws", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rasters = report["rasters"]
    assert rasters["training_samples"] == 2 * 36 and rasters["augmented_copies"] == 1
    assert rasters["reference"]["test"] >= 0.9 and rasters["reference"]["holdout"] >= 0.9
    half, full = report["voices"]
    assert half["fraction"] == 0.5 and half["voices_of"] == 6 and len(half["runs"]) == 2
    assert all(run["voices"] == 3 and run["samples"] == 18 for run in half["runs"])
    assert len(full["runs"]) == 1 and full["runs"][0]["voices"] == 6 and full["runs"][0]["samples"] == 36
    assert full["mean_test"] == full["runs"][0]["test"]
    assert report["reference"]["steps_per_frame"] == report["frontend"]["steps_per_frame"]


def test_bench_features_refuses_a_network_of_other_classes(load_bench, tmp_path, monkeypatch, tone_folder):
    import torch

    from spikestream.model.config import CoreConfig
    from spikestream.model.network import DecisionMode
    from spikestream.model.train.export import export_network
    from spikestream.model.train.layers import ArchitectureConfig, build_model

    bench = load_bench("bench_features")
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    corpus = tone_folder(tmp_path / "tones", TONE_VOICES, TONE_WORDS)
    frontend = bench.demo_frontend(bench.DEMO_SETTINGS["full"])
    model = build_model(ArchitectureConfig(hidden=(4,), decision=DecisionMode.MAX_POTENTIAL), frontend.channels, 3,
                        frontend.timesteps, CoreConfig(), torch.Generator().manual_seed(0))
    path = tmp_path / "other.spkn"
    export_network(path, model.to_network(), CoreConfig(), frontend, ["zero", "one", "two"])
    with pytest.raises(ValueError, match="decides between \\['zero', 'one', 'two'\\] but .* has the classes"):
        bench.main(["--subset", str(corpus), "--copies", "0", "--network", str(path), "--only", "rasters"])


def test_bench_features_refuses_bad_arguments(load_bench, capsys):
    bench = load_bench("bench_features")
    with pytest.raises(SystemExit):
        bench.main(["--fractions", "1.5"])
    assert "--fractions: 1.5 is not in (0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--draws", "0"])
    assert "expected copies >= 0 and draws >= 1" in capsys.readouterr().err
