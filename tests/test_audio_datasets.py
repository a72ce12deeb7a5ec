"""Loaders: metadata.csv folders, TI46 (SPHERE), SHD and N-TIDIGITS (HDF5), the feature cache."""

import csv

import numpy as np
import pytest

from spikestream.model.audio import FrontendConfig, TimeAlignment, audio_to_raster
from spikestream.model.audio import datasets
from spikestream.model.audio.datasets import bin_spikes, describe_dataset, load_dataset, read_metadata, scan_ti46
from spikestream.model.audio.wavio import write_sphere, write_wav

RATE = 16000
#: Made-up "words": each is a sweep between two frequencies, easy to tell apart.
SWEEPS = {"low": (300, 500), "high": (3000, 2500), "up": (400, 4000)}


def word(label, speaker_index, rate=RATE):
    start, stop = SWEEPS[label]
    t = np.arange(int(0.4 * rate)) / rate
    scale = 1 + 0.05 * speaker_index
    phase = 2 * np.pi * scale * (start * t + (stop - start) * t**2 / (2 * t[-1]))
    return 0.3 * np.sin(phase) * np.hanning(t.size)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_folder(folder, speakers=("s1", "s2", "s3"), with_classes=True):
    folder.mkdir()
    rows = []
    for index, speaker in enumerate(speakers):
        for label in SWEEPS:
            path = f"{speaker}_{label}.wav"
            write_wav(folder / path, word(label, index), RATE)
            split = "test" if speaker == "s3" else "train"
            rows.append({"path": path, "label": label, "speaker": speaker, "split": split})
    with open(folder / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    if with_classes:
        (folder / "classes.txt").write_text("up\nlow\nhigh\n")
    return rows


def test_metadata_folder_loads_with_class_order_and_splits(tmp_path, cache):
    rows = write_folder(tmp_path / "words")
    config = FrontendConfig(bands=16, frames=8)
    data = load_dataset(tmp_path / "words", config)
    assert data.X.shape == (9, config.timesteps, config.channels) and data.X.dtype == bool
    assert data.classes == ("up", "low", "high")
    assert [data.classes[i] for i in data.y] == [r["label"] for r in rows]
    np.testing.assert_array_equal(data.X[0], audio_to_raster(word("low", 0), RATE, config))
    test = load_dataset(tmp_path / "words", config, split="test")
    assert len(test) == 3 and set(test.speakers) == {"s3"}
    assert test.events(0).shape[1] == 2
    with pytest.raises(ValueError, match="no rows of split 'val'"):
        load_dataset(tmp_path / "words", config, split="val")


def test_minimal_metadata_needs_only_path_and_label(tmp_path, cache):
    folder = tmp_path / "mine"
    folder.mkdir()
    write_wav(folder / "a.wav", word("up", 0), RATE)
    (folder / "metadata.csv").write_text("path,label\na.wav,up\n")
    rows, classes = read_metadata(folder)
    assert rows == [{"path": "a.wav", "label": "up", "speaker": "", "split": ""}] and classes == ("up",)
    (folder / "metadata.csv").write_text("file,word\na.wav,up\n")
    with pytest.raises(ValueError, match="missing column"):
        read_metadata(folder)


def test_encoded_rasters_are_cached(tmp_path, cache, monkeypatch):
    write_folder(tmp_path / "words")
    config = FrontendConfig(bands=16, frames=8)
    first = load_dataset(tmp_path / "words", config)
    assert len(list((cache / "features").glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("encoded again instead of reading the cache")

    monkeypatch.setattr(datasets, "encode_files", fail)
    np.testing.assert_array_equal(load_dataset(tmp_path / "words", config).X, first.X)
    with pytest.raises(AssertionError, match="encoded again"):
        load_dataset(tmp_path / "words", config.replace(bands=20))  # another front end, another cache entry


def test_ti46_folder_of_sphere_files(tmp_path, cache):
    root = tmp_path / "ti46"
    words = {"00": "zero", "01": "one", "13": "help"}
    for split in ("train", "test"):
        for speaker in ("f1", "m2"):
            folder = root / "ti20" / split / speaker
            folder.mkdir(parents=True)
            for index, (code, _) in enumerate(words.items()):
                token = "set0" if split == "train" else "s1t0"
                label = list(SWEEPS)[index]
                write_sphere(folder / f"{code}{speaker}{token}.sph", word(label, 0, rate=12500), 12500,
                             big_endian=(speaker == "m2"))
    rows, classes = scan_ti46(root)
    assert classes == ("zero", "one", "help")
    assert len(rows) == 12 and {r["speaker"] for r in rows} == {"f1", "m2"}
    config = FrontendConfig(bands=16, frames=8)
    train = load_dataset(root, config, split="train")
    assert len(train) == 6
    one = [i for i in range(len(train)) if train.classes[train.y[i]] == "one" and train.speakers[i] == "m2"][0]
    np.testing.assert_array_equal(train.X[one], audio_to_raster(word("high", 0, rate=12500), 12500, config))
    alpha = root / "ti_alpha" / "test" / "m2"
    alpha.mkdir(parents=True)
    for letter in ("a", "f", "m"):  # letters that look like speaker ids must still parse
        write_sphere(alpha / f"{letter}m2s1t0.sph", word("up", 1, rate=12500), 12500)
    rows, classes = scan_ti46(root)
    assert classes == ("zero", "one", "help", "a", "f", "m")
    assert [(r["label"], r["speaker"], r["split"]) for r in rows if "ti_alpha" in r["path"]] == [
        ("a", "m2", "test"), ("f", "m2", "test"), ("m", "m2", "test")]
    (root / "ti20" / "train" / "f1" / "readme.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="TI46"):
        scan_ti46(root)


def test_bin_spikes_stretch_and_onset():
    times = np.array([0.10, 0.35, 0.60, 0.60, 1.10])
    units = np.array([0, 699, 350, 351, 10])
    stretch = FrontendConfig(bands=4, frames=5, steps_per_frame=1)
    raster = bin_spikes(times, units, 700, stretch)
    assert sorted(map(tuple, np.argwhere(raster).tolist())) == [(0, 0), (1, 3), (2, 2), (4, 0)]
    onset = stretch.replace(alignment=TimeAlignment.ONSET, window_s=0.5)
    raster = bin_spikes(times, units, 700, onset)
    assert sorted(map(tuple, np.argwhere(raster).tolist())) == [(0, 0), (2, 3)]  # later spikes fall outside
    with pytest.raises(ValueError, match="unit 700"):
        bin_spikes(np.array([0.0]), np.array([700]), 700, stretch)


def test_shd_file(tmp_path):
    h5py = pytest.importorskip("h5py")
    config = FrontendConfig(bands=7, frames=10, steps_per_frame=1)
    rng = np.random.default_rng(0)
    samples = [(np.sort(rng.uniform(0, 0.9, 40)), rng.integers(0, 700, 40)) for _ in range(4)]
    with h5py.File(tmp_path / "shd_test.h5", "w") as handle:
        times = handle.create_dataset("spikes/times", (4,), dtype=h5py.vlen_dtype(np.float32))
        units = handle.create_dataset("spikes/units", (4,), dtype=h5py.vlen_dtype(np.uint16))
        for index, (t, u) in enumerate(samples):
            times[index], units[index] = t.astype(np.float32), u.astype(np.uint16)
        handle["labels"] = np.array([0, 3, 19, 3], np.uint16)
        handle["extra/speaker"] = np.array([1, 2, 1, 5], np.uint16)
        handle["extra/keys"] = np.array([f"word{i}".encode() for i in range(20)])
    data = load_dataset(tmp_path / "shd_test.h5", config)
    assert data.X.shape == (4, 10, 7)
    assert data.y.tolist() == [0, 3, 19, 3] and data.speakers.tolist() == ["1", "2", "1", "5"]
    assert data.classes[19] == "word19"
    t, u = samples[2]
    np.testing.assert_array_equal(data.X[2], bin_spikes(t.astype(np.float32), u, 700, config))


def test_ntidigits_file_keeps_isolated_digits(tmp_path):
    h5py = pytest.importorskip("h5py")
    config = FrontendConfig(bands=8, frames=5, steps_per_frame=2)
    ids = ["man-ae-1", "woman-cf-z", "man-ae-17o", "boy-xy-o"]
    with h5py.File(tmp_path / "n-tidigits.hdf5", "w") as handle:
        handle["train_labels"] = np.array([i.encode() for i in ids])
        for index, sample_id in enumerate(ids):
            handle[f"train_timestamps/{sample_id}"] = np.linspace(0, 0.5, 20 + index)
            handle[f"train_addresses/{sample_id}"] = (np.arange(20 + index) * 3 % 64).astype(np.uint8)
        handle["test_labels"] = np.array([b"girl-ab-9"])
        handle["test_timestamps/girl-ab-9"] = np.array([0.0, 0.2])
        handle["test_addresses/girl-ab-9"] = np.array([63, 0], np.uint8)
    train = load_dataset(tmp_path / "n-tidigits.hdf5", config, split="train")
    assert [train.classes[i] for i in train.y] == ["one", "zero", "oh"]
    assert train.speakers.tolist() == ["ae", "cf", "xy"]
    assert describe_dataset(tmp_path / "n-tidigits.hdf5")["splits"] == {
        "train": {"utterances": 3, "speakers": 3}, "test": {"utterances": 1, "speakers": 1}}
    test = load_dataset(tmp_path / "n-tidigits.hdf5", config, split="test")
    assert test.classes[test.y[0]] == "nine"
    assert np.argwhere(test.X[0]).tolist() == [[0, 7], [9, 0]]


def test_unknown_hdf5_layout_is_reported(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["images"] = np.zeros(3)
    with pytest.raises(ValueError, match="neither SHD"):
        load_dataset(tmp_path / "other.h5")


def test_describe_counts_splits(tmp_path):
    write_folder(tmp_path / "words")
    summary = describe_dataset(tmp_path / "words")
    assert summary["utterances"] == 9
    assert summary["splits"] == {"train": {"utterances": 6, "speakers": 2}, "test": {"utterances": 3, "speakers": 1}}


def test_augmented_copies_are_reproducible_and_cached_apart(tmp_path, cache):
    pytest.importorskip("scipy")
    from spikestream.model.audio.augment import Augmenter
    write_folder(tmp_path / "words")
    config = FrontendConfig(bands=16, frames=8)
    augmenter = Augmenter(reverb_probability=0.0, speed_probability=1.0, noise_probability=1.0)
    clean = load_dataset(tmp_path / "words", config)
    noisy = load_dataset(tmp_path / "words", config, augmenter=augmenter, seed=1)
    assert noisy.X.shape == clean.X.shape and not np.array_equal(noisy.X, clean.X)
    np.testing.assert_array_equal(load_dataset(tmp_path / "words", config, augmenter=augmenter, seed=1, cache=False).X,
                                  noisy.X)
    assert not np.array_equal(load_dataset(tmp_path / "words", config, augmenter=augmenter, seed=2).X, noisy.X)
    assert len(list((cache / "features").glob("*.npz"))) == 3


def test_load_augmented_stacks_clean_and_perturbed_copies(tmp_path, cache):
    pytest.importorskip("scipy")
    from spikestream.model.audio.augment import Augmenter
    from spikestream.model.audio.datasets import load_augmented
    write_folder(tmp_path / "words")
    config = FrontendConfig(bands=16, frames=8)
    augmenter = Augmenter(reverb_probability=0.0)
    data = load_augmented(tmp_path / "words", config, split="train", copies=2, augmenter=augmenter)
    clean = load_dataset(tmp_path / "words", config, split="train")
    assert len(data) == 3 * len(clean)
    np.testing.assert_array_equal(data.X[:len(clean)], clean.X)
    np.testing.assert_array_equal(data.y, np.tile(clean.y, 3))
    with pytest.raises(ValueError, match="differ"):
        datasets.SpikeDataset.concatenate([clean, load_dataset(tmp_path / "words", config.replace(bands=8), "train")])


def test_training_splits_say_when_channels_are_mel_bands(tmp_path, cache):
    # Frequency masks (TrainConfig.freq_mask) silence channel c as band c % mel_bands: right for
    # rasters the front end encoded from audio, wrong for spike datasets spread over all channels.
    pytest.importorskip("torch")
    h5py = pytest.importorskip("h5py")
    from spikestream.model.train.data import load_splits

    write_folder(tmp_path / "words")
    config = FrontendConfig(bands=16, frames=8, encoder="rate_delta")
    assert load_splits(tmp_path / "words", config).mel_bands == 16
    with h5py.File(tmp_path / "shd.h5", "w") as handle:
        times = handle.create_dataset("spikes/times", (3,), dtype=h5py.vlen_dtype(np.float32))
        units = handle.create_dataset("spikes/units", (3,), dtype=h5py.vlen_dtype(np.uint16))
        for index in range(3):
            times[index], units[index] = np.array([0.1, 0.5], np.float32), np.array([3, 600], np.uint16)
        handle["labels"] = np.array([0, 1, 0], np.uint16)
        handle["extra/speaker"] = np.array([1, 2, 3], np.uint16)
        handle["extra/keys"] = np.array([b"a", b"b"])
    assert load_splits(tmp_path / "shd.h5", config).mel_bands == 0


def test_a_folder_named_like_a_subset_says_it_shadows_the_corpus(tmp_path, cache, monkeypatch):
    (tmp_path / "digits").mkdir()  # e.g. a results folder in the working directory
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="no .sph or .wav files found.*folder 'digits' here shadows the built-in "
                                         "subset 'digits': run from another directory"):
        load_dataset("digits")
    with pytest.raises(ValueError, match="no .sph or .wav files found \\(expected a TI46 folder or a metadata.csv\\)$"):
        load_dataset(str(tmp_path / "digits"))  # an explicit folder: no hint about subsets


def test_training_splits_name_the_speaker_of_every_sample(tmp_path, cache):
    pytest.importorskip("torch")
    from spikestream.model.train.data import load_splits, save_npz

    write_folder(tmp_path / "words")  # s1, s2 train; s3 test; no val: validation is test
    splits = load_splits(tmp_path / "words", FrontendConfig(bands=16, frames=8), augment_copies=2)
    words = len(SWEEPS)
    assert sorted(splits.speakers) == ["test", "train", "validation"]  # no holdout in this source
    assert splits.speakers["train"].tolist() == (["s1"] * words + ["s2"] * words) * 3  # + 2 augmented copies
    assert splits.speakers["test"].tolist() == ["s3"] * words == splits.speakers["validation"].tolist()
    for name in ("train", "validation", "test"):
        assert len(splits.speakers[name]) == len(getattr(splits, name))
    # The class limit keeps the speakers of the samples it keeps.
    limited = load_splits(tmp_path / "words", FrontendConfig(bands=16, frames=8), class_limit=1)
    assert limited.speakers["train"].tolist() == ["s1", "s2"]
    # Rasters without speakers: every name is empty.
    save_npz(tmp_path / "r.npz", np.zeros((4, 3, 2), bool), np.array([0, 1, 0, 1]),
             np.array(["train", "train", "test", "holdout"]))
    rasters = load_splits(tmp_path / "r.npz")
    assert rasters.speakers["holdout"].tolist() == [""] and rasters.speakers["train"].tolist() == ["", ""]


def _metadata(folder, rows, header="path,label,speaker,split"):
    folder.mkdir()
    (folder / "metadata.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("rows, message", [
    (["a.wav,yes,s1,train", "b.wav,no,s1,trian"], r"line 3: split 'trian' is not one of \('train', 'val', 'test', "
                                                  r"'holdout'\)"),
    (["a.wav,yes,s1,train", "a.wav,no,s2,test"], r"line 3: a.wav is listed again \(first on line 2\)"),
    (["a.wav,yes,s1,train", "b.wav"], r"line 3: every row needs a path and a label"),
    (["a.wav,,s1,train"], r"line 2: every row needs a path and a label"),
])
def test_metadata_rows_that_would_be_lost_or_mislabelled_are_refused(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        read_metadata(_metadata(tmp_path / "words", rows))


def test_metadata_that_is_not_text_and_files_that_are_not_datasets_are_named(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "metadata.csv").write_bytes(b"path,label\n\xff\xfe,yes\n")
    with pytest.raises(ValueError, match=r"metadata.csv is not UTF-8 text"):
        read_metadata(folder)
    pytest.importorskip("h5py")
    (tmp_path / "a.wav").write_bytes(b"RIFF....")
    with pytest.raises(ValueError, match=r"a.wav is a file but not an HDF5 dataset"):
        load_dataset(tmp_path / "a.wav")


@pytest.mark.parametrize("arrays, message", [
    (dict(inputs=np.zeros((4, 3, 2), bool), labels=np.array([0, 1, 0])), r"the arrays disagree on the number of "
                                                                         r"samples \({'inputs': 4, 'labels': 3}\)"),
    (dict(inputs=np.zeros((3, 3, 2), bool), labels=np.array([0, 1, 0]), split=np.array(["train", "test"])),
     r"'split': 2"),
    (dict(inputs=np.zeros((3, 3, 2), bool), labels=np.array([0.0, 1.7, 0.0])), r"labels are float64 of shape \(3,\)"),
    (dict(inputs=np.zeros((3, 3, 2), bool), labels=np.array([0, 1, 0]), split=np.array(["train", "trian", "test"])),
     r"split values \['trian'\] are not train, val, test or holdout"),
    (dict(inputs=np.zeros((2, 3, 2), bool), labels=np.array([0, 1]), classes=np.array(["a", "a"]),
          split=np.array(["train", "test"])), r"classes \['a', 'a'\] name a class twice"),
    (dict(inputs=np.zeros((2, 3, 2), bool), labels=np.array([0, 2]), classes=np.array(["a", "b"]),
          split=np.array(["train", "test"])), r"labels span 0 .. 2, expected 0 .. 1"),
    (dict(inputs=np.zeros((0, 3, 2), bool), labels=np.zeros(0, np.int64)), r"inputs have shape \(0, 3, 2\)"),
])
def test_rasters_files_whose_arrays_disagree_are_refused(tmp_path, arrays, message):
    from spikestream.model.train.data import load_splits

    np.savez(tmp_path / "r.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_splits(tmp_path / "r.npz")


def test_augmenting_rasters_is_refused(tmp_path):
    from spikestream.model.train.data import load_splits, save_npz

    save_npz(tmp_path / "r.npz", np.zeros((2, 3, 2), bool), np.array([0, 1]), np.array(["train", "test"]))
    with pytest.raises(ValueError, match=r"holds spike rasters, not audio: augment_copies"):
        load_splits(tmp_path / "r.npz", augment_copies=1)
