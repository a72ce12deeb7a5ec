"""The synthetic TI46-style corpus: engines, speakers, splits by voice family, the build."""

import csv
import json
import shutil
from collections import defaultdict

import numpy as np
import pytest

from spikestream.model.audio import FrontendConfig, log_mel_features, read_wav
from spikestream.model.audio.corpus import (DIGITS, SAMPLE_RATE, Speaker, assign_splits, build_corpus,
                                            default_speakers, select_speakers, synthesize)

ENGINES = {"espeak-ng": Speaker("espeak-ng", "en-us+f3", "f3"), "flite": Speaker("flite", "slt", "slt"),
           "festival": Speaker("festival", "kal_diphone", "kal")}


def needs(engine):
    return pytest.mark.skipif(shutil.which(engine) is None, reason=f"{engine} is not installed (make system-deps)")


@pytest.mark.parametrize("engine", [pytest.param(e, marks=needs(e)) for e in ENGINES])
def test_each_engine_says_words_as_16khz_wav(tmp_path, engine):
    paths = synthesize(ENGINES[engine], ["seven", "a"], tmp_path)
    for path in paths:
        samples, rate = read_wav(path)
        assert rate == SAMPLE_RATE
        assert 0.15 < samples.size / rate < 2.0
        assert np.max(np.abs(samples)) == pytest.approx(0.5, abs=1e-3)


@needs("espeak-ng")
def test_warp_and_tempo_change_the_voice(tmp_path):
    plain = Speaker("espeak-ng", "en-us", "default")
    fast = Speaker("espeak-ng", "en-us", "default", tempo=1.5, warp=1.2)
    plain_samples = read_wav(synthesize(plain, ["seven"], tmp_path / "a")[0])[0]
    fast_samples = read_wav(synthesize(fast, ["seven"], tmp_path / "b")[0])[0]
    assert fast_samples.size < 0.8 * plain_samples.size


@needs("espeak-ng")
def test_digits_of_one_voice_are_recognised_in_another(tmp_path):
    """1-nearest-neighbour on the front-end features across two espeak voices: the chain keeps words apart."""
    config = FrontendConfig()
    voices = [Speaker("espeak-ng", "en-us+m3", "m3", pitch=40), Speaker("espeak-ng", "en-gb+f2", "f2", pitch=60)]
    features = []
    for index, voice in enumerate(voices):
        paths = synthesize(voice, DIGITS, tmp_path / str(index))
        features.append(np.stack([log_mel_features(*read_wav(p), config).ravel() for p in paths]))
    distances = ((features[0][:, None, :] - features[1][None, :, :]) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == np.arange(len(DIGITS))).sum() >= 7


def test_splits_are_by_voice_family_with_a_held_out_engine():
    speakers = default_speakers()
    assert len({s.name for s in speakers}) == len(speakers) >= 100
    splits = assign_splits(speakers)
    assert splits == assign_splits(default_speakers())  # deterministic
    family_splits = defaultdict(set)
    for speaker in speakers:
        family_splits[speaker.engine, speaker.family].add(splits[speaker.name])
        assert (splits[speaker.name] == "holdout") == (speaker.engine == "festival")
    assert all(len(s) == 1 for s in family_splits.values())  # a voice never spans two splits
    counts = {split: sum(v == split for v in splits.values()) for split in ("train", "val", "test")}
    assert counts["train"] > counts["test"] > counts["val"] > 0
    engines_in_test = {s.engine for s in speakers if splits[s.name] == "test"}
    assert engines_in_test == {"espeak-ng", "flite"}
    assert family_splits["flite", "slt"] == {"train"}  # the one recorded female voice always trains


def test_select_speakers_spreads_over_engines():
    speakers = default_speakers()
    chosen = select_speakers(speakers, 8)
    assert len(chosen) == 8 and {s.engine for s in chosen} == {"espeak-ng", "flite", "festival"}


@needs("espeak-ng")
@needs("flite")
def test_build_writes_a_dataset_and_reuses_it(tmp_path):
    speakers = [Speaker("espeak-ng", "en-us+m1", "m1"), Speaker("espeak-ng", "en-gb+f4", "f4"),
                Speaker("espeak-ng", "en-029+klatt", "klatt"), Speaker("flite", "kal", "kal"),
                Speaker("flite", "awb", "awb", tempo=1.1, warp=0.95)]
    folder = build_corpus("digits", tmp_path / "corpus", speakers=speakers, holdout_engine="flite", workers=2)
    with open(folder / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "label", "speaker", "engine", "split"]
    assert len(rows) == 50 and {r["label"] for r in rows} == set(DIGITS)
    assert {r["split"] for r in rows if r["engine"] == "flite"} == {"holdout"}
    assert all((folder / r["path"]).exists() for r in rows)
    assert (folder / "classes.txt").read_text().split() == list(DIGITS)
    manifest = json.loads((folder / "corpus.json").read_text())
    assert manifest["utterances"] == 50 and manifest["splits"]["holdout"]["speakers"] == 2
    stamp = (folder / "metadata.csv").stat().st_mtime_ns
    assert build_corpus("digits", folder, speakers=speakers, holdout_engine="flite") == folder
    assert (folder / "metadata.csv").stat().st_mtime_ns == stamp  # up to date: not rebuilt


def test_voice_of_reads_the_voice_back_from_every_speaker_name():
    from spikestream.model.audio.corpus import voice_of

    for speaker in default_speakers(variations=2):
        assert voice_of(speaker.name) == f"{speaker.engine}_{speaker.voice}", speaker.name
    assert voice_of("my_own_speaker") == "my_own_speaker"
