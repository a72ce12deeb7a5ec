"""Datasets as encoded spike rasters: built-in corpus, any ``metadata.csv`` folder, TI46, SHD, N-TIDIGITS.

One call gives training and evaluation what they need::

    data = load_dataset("digits", FrontendConfig(), split="train")
    data.X  # bool [n, timesteps, channels]
    data.y  # int64 [n], indices into data.classes
    data.speakers  # str [n]

Sources
-------
``"digits"``, ``"letters"``, ``"all"``
    The built-in synthetic corpus (:mod:`.corpus`), built on first use.
a folder with ``metadata.csv``
    Columns ``path`` (relative to the folder) and ``label``; optional ``speaker`` and
    ``split``. Optional ``classes.txt`` (one label a line) fixes the class order,
    otherwise labels are sorted.
a TI46 folder (NIST SPHERE ``.sph`` or ``.wav`` files, no ``metadata.csv``)
    ``.../<train|test>/<speaker>/<word><speaker>...``: the word code is what precedes
    the speaker id in the file name (``00``-``09`` digits, ``10``-``19`` the TI-20
    command words, a letter for TI-alpha), e.g. ``ti20/train/f1/00f1set0.sph``.
an HDF5 file of Spiking Heidelberg Digits (``spikes/times``, ``spikes/units``, ``labels``,
``extra/speaker``, ``extra/keys``) or N-TIDIGITS (``<split>_labels``, ``<split>_timestamps/<id>``,
``<split>_addresses/<id>``; isolated digits only)
    Already spikes: times are binned into ``frontend.timesteps`` steps (the frontend's
    ``alignment`` says over which window: from the first to the last spike, or
    ``window_s`` from the first spike) and unit ``u`` of ``U`` goes to channel
    ``u * frontend.channels // U``; several spikes in one bin are one spike.

Augmented training copies: ``load_augmented(source, frontend, "train", copies=2)``.
Audio results are cached as ``npz`` under ``<cache>/features`` keyed by the source,
its ``metadata.csv``, the frontend and the augmentation, so a second call costs a file
read. The front end is numpy only; the HDF5 loaders need ``h5py`` (``data`` extra).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from ..encoding import raster_to_events
from .config import FrontendConfig, TimeAlignment
from .corpus import SUBSETS, build_corpus, cache_root, corpus_dir
from .encoders import audio_to_raster
from .wavio import read_audio

__all__ = ["SpikeDataset", "load_dataset", "load_augmented", "describe_dataset", "read_metadata", "scan_ti46",
           "load_shd", "load_ntidigits",
           "bin_spikes", "encode_files", "TI20_WORDS"]

log = logging.getLogger("spikestream.audio")

#: TI-20 word codes 00-19 (TI46 documentation order).
TI20_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
              "enter", "erase", "go", "help", "no", "rubout", "repeat", "stop", "start", "yes")
NTIDIGITS_WORDS = {"z": "zero", "o": "oh", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
                   "6": "six", "7": "seven", "8": "eight", "9": "nine"}


@dataclasses.dataclass
class SpikeDataset:
    """Encoded utterances of one split.

    Attributes
    ----------
    X : np.ndarray
        ``bool [n, timesteps, channels]`` input rasters.
    y : np.ndarray
        ``int64 [n]`` class indices into ``classes``.
    speakers : np.ndarray
        ``str [n]`` speaker of each sample ("" when unknown).
    classes : tuple of str
        Class labels in index order.
    paths : np.ndarray
        ``str [n]`` where each sample came from (file, or ``file#index`` for HDF5).
    frontend : FrontendConfig
        The configuration that produced ``X``.
    """

    X: np.ndarray
    y: np.ndarray
    speakers: np.ndarray
    classes: tuple[str, ...]
    paths: np.ndarray
    frontend: FrontendConfig

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> "SpikeDataset":
        """Return the samples selected by a boolean mask or index array."""
        return dataclasses.replace(self, X=self.X[mask], y=self.y[mask], speakers=self.speakers[mask],
                                   paths=self.paths[mask])

    @classmethod
    def concatenate(cls, parts: list["SpikeDataset"]) -> "SpikeDataset":
        """Join datasets of the same classes and front end (e.g. clean plus augmented copies)."""
        first = parts[0]
        for part in parts[1:]:
            if part.classes != first.classes or part.frontend != first.frontend:
                raise ValueError("datasets to concatenate differ in classes or front end")
        return cls(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                   np.concatenate([p.speakers for p in parts]), first.classes,
                   np.concatenate([p.paths for p in parts]), first.frontend)

    def events(self, index: int) -> np.ndarray:
        """Return sample ``index`` as the core's ``(timestep, channel)`` events."""
        return raster_to_events(self.X[index])


#: The values of a ``split`` column ("" leaves the choice to the loader).
SPLIT_NAMES = ("", "train", "val", "test", "holdout")


def read_metadata(folder: str | Path) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """Read ``metadata.csv`` (and ``classes.txt``) of a dataset folder: rows and class order.

    Every row gets ``speaker`` and ``split`` keys ("" when the file has no such column).
    """
    folder = Path(folder)
    path = folder / "metadata.csv"
    if not path.exists():
        raise FileNotFoundError(f"{folder} has no metadata.csv (columns path,label[,speaker][,split])")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in ("path", "label") if c not in columns]
            if missing:
                raise ValueError(f"{path}: missing column(s) {missing}; found {columns}, need "
                                 f"path,label[,speaker][,split]")
            rows = [{"path": r["path"], "label": r["label"], "speaker": r.get("speaker") or "",
                     "split": r.get("split") or ""} for r in reader]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error})") from None
    if not rows:
        raise ValueError(f"{path} lists no utterances")
    seen = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        if not row["path"] or not row["label"]:
            raise ValueError(f"{path} line {line}: every row needs a path and a label, got {row}")
        if row["split"] not in SPLIT_NAMES:
            raise ValueError(f"{path} line {line}: split {row['split']!r} is not one of {SPLIT_NAMES[1:]} "
                             f"(or empty)")
        if row["path"] in seen:
            raise ValueError(f"{path} line {line}: {row['path']} is listed again (first on line {seen[row['path']]})")
        seen[row["path"]] = line
    labels = sorted({r["label"] for r in rows})
    classes_path = folder / "classes.txt"
    if classes_path.exists():
        classes = tuple(line.strip() for line in classes_path.read_text().splitlines() if line.strip())
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            raise ValueError(f"{path}: labels {unknown[:5]} are not in {classes_path}")
    else:
        classes = tuple(labels)
    return rows, classes


_TI46_NAME = re.compile(r"^(?P<word>[a-z0-9_]+?)_?(?P<speaker>[fm]\d+)(?P<rest>.*)\.(sph|wav)$", re.IGNORECASE)


def scan_ti46(root: str | Path) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """Find TI46 utterances (``.sph``/``.wav``) under ``root``: rows like :func:`read_metadata`."""
    root = Path(root)
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".sph", ".wav")):
        match = _TI46_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path}: name does not follow TI46's <word><speaker>... pattern (e.g. 00f1set0.sph)")
        word = match["word"].lower().strip("_")
        if word.isdigit():
            if int(word) >= len(TI20_WORDS):
                raise ValueError(f"{path}: word code {word} is not a TI-20 code 00-19")
            word = TI20_WORDS[int(word)]
        parts = [p.lower() for p in path.relative_to(root).parts[:-1]]
        split = "train" if "train" in parts else "test" if "test" in parts else ""
        rows.append({"path": str(path.relative_to(root)), "label": word, "speaker": match["speaker"].lower(),
                     "split": split})
    if not rows:
        raise ValueError(f"{root}: no .sph or .wav files found (expected a TI46 folder or a metadata.csv)")
    order = {w: i for i, w in enumerate(TI20_WORDS)}
    classes = tuple(sorted({r["label"] for r in rows}, key=lambda w: (order.get(w, len(order)), w)))
    return rows, classes


def encode_files(folder: Path, rows: list[dict[str, str]], frontend: FrontendConfig,
                 augmenter=None, seed: int = 0) -> np.ndarray:
    """Encode the audio files of ``rows`` (paths relative to ``folder``): ``bool [n, T, C]``.

    With an ``augmenter`` (:class:`.augment.Augmenter`), each file is perturbed first with
    a generator seeded by ``seed`` and the row index (reproducible).
    """
    X = np.zeros((len(rows), frontend.timesteps, frontend.channels), bool)
    for index, row in enumerate(rows):
        samples, rate = read_audio(folder / row["path"])
        if augmenter is not None:
            samples = augmenter(samples, rate, np.random.default_rng([seed, index]))
        X[index] = audio_to_raster(samples, rate, frontend)
    return X


def bin_spikes(times: np.ndarray, units: np.ndarray, n_units: int, frontend: FrontendConfig) -> np.ndarray:
    """Bin one sample's spikes (times in seconds, unit ids) into ``bool [timesteps, channels]``.

    >>> cfg = FrontendConfig(bands=2, frames=2, steps_per_frame=1)
    >>> bin_spikes(np.array([0.0, 0.5, 1.0]), np.array([0, 3, 1]), 4, cfg).astype(int).tolist()
    [[1, 0], [1, 1]]
    """
    times = np.asarray(times, np.float64)
    units = np.asarray(units, np.int64)
    raster = np.zeros((frontend.timesteps, frontend.channels), bool)
    if times.size == 0:
        return raster
    if np.any((units < 0) | (units >= n_units)):
        raise ValueError(f"unit {units[(units < 0) | (units >= n_units)][0]} is outside 0 .. {n_units - 1}")
    start = times.min()
    span = (times.max() - start) if frontend.alignment is TimeAlignment.STRETCH else frontend.window_s
    if span <= 0:
        steps = np.zeros(times.size, np.int64)
    else:
        steps = np.floor((times - start) / span * frontend.timesteps).astype(np.int64)
    if frontend.alignment is TimeAlignment.STRETCH:
        steps = np.minimum(steps, frontend.timesteps - 1)  # the last spike lands in the last step
    keep = steps < frontend.timesteps
    raster[steps[keep], units[keep] * frontend.channels // n_units] = True
    return raster


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading HDF5 datasets needs h5py: pip install -e '.[data]'") from None
    return h5py


def load_shd(path: str | Path, frontend: FrontendConfig) -> SpikeDataset:
    """Load a Spiking Heidelberg Digits file (``shd_train.h5`` / ``shd_test.h5``)."""
    h5py = _import_h5py()
    with h5py.File(path, "r") as handle:
        times = handle["spikes/times"]
        units = handle["spikes/units"]
        labels = np.asarray(handle["labels"], np.int64)
        n_units = 700
        speakers = (np.asarray(handle["extra/speaker"]).astype(str) if "extra/speaker" in handle
                    else np.full(labels.size, "", dtype=object).astype(str))
        if "extra/keys" in handle:
            classes = tuple(k.decode() if isinstance(k, bytes) else str(k) for k in handle["extra/keys"][()])
        else:
            classes = tuple(str(i) for i in range(int(labels.max()) + 1))
        X = np.stack([bin_spikes(times[i], units[i], n_units, frontend) for i in range(labels.size)])
    paths = np.array([f"{path}#{i}" for i in range(labels.size)])
    return SpikeDataset(X, labels, speakers, classes, paths, frontend)


def load_ntidigits(path: str | Path, frontend: FrontendConfig, split: str = "train") -> SpikeDataset:
    """Load the isolated digits of an N-TIDIGITS file (``n-tidigits.hdf5``, 64 channels).

    Sample ids are ``<group>-<speaker>-<digits>``; those with one digit are kept
    (``z`` zero, ``o`` oh, ``1``-``9``), 11 classes.
    """
    if split not in ("train", "test"):
        raise ValueError(f"N-TIDIGITS split {split!r} is not 'train' or 'test'")
    h5py = _import_h5py()
    classes = tuple(NTIDIGITS_WORDS.values())
    rasters, labels, speakers, paths = [], [], [], []
    with h5py.File(path, "r") as handle:
        for raw_id in handle[f"{split}_labels"][()]:
            sample_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            fields = sample_id.split("-")
            if len(fields) < 3 or fields[-1] not in NTIDIGITS_WORDS:
                continue  # a digit sequence, not an isolated digit
            times = np.asarray(handle[f"{split}_timestamps"][sample_id], np.float64)
            addresses = np.asarray(handle[f"{split}_addresses"][sample_id], np.int64)
            rasters.append(bin_spikes(times, addresses, 64, frontend))
            labels.append(classes.index(NTIDIGITS_WORDS[fields[-1]]))
            speakers.append(fields[1])
            paths.append(f"{path}#{sample_id}")
    if not rasters:
        raise ValueError(f"{path}: no isolated-digit samples in {split}_labels")
    return SpikeDataset(np.stack(rasters), np.array(labels, np.int64), np.array(speakers), classes,
                        np.array(paths), frontend)


def _hdf5_kind(path: Path) -> str:
    h5py = _import_h5py()
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is a file but not an HDF5 dataset; an audio or spike dataset is a built-in subset "
                         f"(digits, letters, all), a dataset folder or an SHD / N-TIDIGITS HDF5 file (train and "
                         f"eval also read a rasters .npz)")
    with h5py.File(path, "r") as handle:
        if "spikes" in handle and "labels" in handle:
            return "shd"
        if "train_labels" in handle or "test_labels" in handle:
            return "ntidigits"
        raise ValueError(f"{path}: HDF5 file is neither SHD (spikes/, labels) nor N-TIDIGITS (<split>_labels); "
                         f"top-level keys: {sorted(handle.keys())}")


def _cache_path(folder: Path, frontend: FrontendConfig, augmenter, seed: int) -> Path:
    metadata = folder / "metadata.csv"
    stamp = metadata.read_bytes() if metadata.exists() else str(sorted(p.stat().st_mtime_ns for p in folder.rglob("*")))
    key = hashlib.sha256()
    key.update(str(folder.resolve()).encode())
    key.update(stamp if isinstance(stamp, bytes) else stamp.encode())
    key.update(frontend.to_json().encode())
    key.update(json.dumps(None if augmenter is None else augmenter.to_dict(), sort_keys=True).encode())
    key.update(str(seed).encode())
    return cache_root() / "features" / f"{folder.name}-{key.hexdigest()[:20]}.npz"


def load_dataset(source: str | Path, frontend: FrontendConfig | None = None, split: str | None = None,
                 augmenter=None, seed: int = 0, cache: bool = True) -> SpikeDataset:
    """Load a dataset as encoded rasters (see the module docstring for the sources).

    Parameters
    ----------
    source : str or Path
        ``digits`` / ``letters`` / ``all``, a folder (``metadata.csv`` or TI46) or an
        SHD / N-TIDIGITS HDF5 file.
    frontend : FrontendConfig
        The front end (default ``FrontendConfig()``).
    split : str, optional
        Keep only rows of this split (``train``, ``val``, ``test``, ``holdout`` ...).
        ``None`` keeps all. HDF5 sets: SHD ships one file per split (``split`` is
        ignored), N-TIDIGITS needs ``train`` or ``test`` (default ``train``).
    augmenter : Augmenter, optional
        Perturb every waveform before encoding (audio sources only), reproducibly from
        ``seed``. Cached separately from the clean version.
    cache : bool
        Read and write the encoded rasters under ``<cache>/features``.
    """
    frontend = frontend or FrontendConfig()
    path = Path(source)
    if isinstance(source, str) and source in SUBSETS and not path.exists():
        folder = corpus_dir(source)
        if not (folder / "metadata.csv").exists():
            build_corpus(source)
        path = folder
    if path.is_file():
        kind = _hdf5_kind(path)
        if kind == "shd":
            return load_shd(path, frontend)
        return load_ntidigits(path, frontend, split or "train")
    if not path.is_dir():
        raise FileNotFoundError(f"dataset {source!r} is not a built-in subset {sorted(SUBSETS)}, a folder or a file")
    try:
        rows, classes = read_metadata(path) if (path / "metadata.csv").exists() else scan_ti46(path)
    except ValueError as error:
        if isinstance(source, str) and source in SUBSETS:
            raise ValueError(f"{error}. The folder '{source}' here shadows the built-in subset '{source}': "
                             f"run from another directory to use the built-in corpus") from error
        raise
    cache_file = _cache_path(path, frontend, augmenter, seed) if cache else None
    if cache_file is not None and cache_file.exists():
        stored = np.load(cache_file)
        X = np.unpackbits(stored["X_packed"], axis=-1, count=frontend.channels).astype(bool)
    else:
        started = time.perf_counter()
        log.info("encoding %s with front end %s%s", path, frontend.to_json(),
                 "" if augmenter is None else f", augmented (seed {seed})")
        X = encode_files(path, rows, frontend, augmenter, seed)
        log.info("encoded %d utterances of %s in %.1f s", len(rows), path, time.perf_counter() - started)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            # A unique temporary name, then an atomic rename: parallel workers never see half a file.
            handle, partial = tempfile.mkstemp(suffix=".npz", dir=cache_file.parent)
            with os.fdopen(handle, "wb") as stream:
                np.savez_compressed(stream, X_packed=np.packbits(X, axis=-1))
            Path(partial).replace(cache_file)
    dataset = SpikeDataset(X, np.array([classes.index(r["label"]) for r in rows], np.int64),
                           np.array([r["speaker"] for r in rows]), classes,
                           np.array([str(path / r["path"]) for r in rows]), frontend)
    if split is not None:
        splits = np.array([r["split"] for r in rows])
        if not np.any(splits == split):
            raise ValueError(f"{path}: no rows of split {split!r}; splits present: {sorted(set(splits.tolist()))}")
        dataset = dataset.subset(splits == split)
    return dataset


def describe_dataset(source: str | Path) -> dict[str, object]:
    """Count utterances and speakers per split of a dataset (audio folders are not encoded)."""
    path = Path(source)
    if isinstance(source, str) and source in SUBSETS and not path.exists():
        path = corpus_dir(source)
        if not (path / "metadata.csv").exists():
            build_corpus(source)
    if path.is_file():  # an HDF5 spike dataset: its splits are files (SHD) or groups (N-TIDIGITS)
        splits_of_file = ("train", "test") if _hdf5_kind(path) == "ntidigits" else ("",)
        parts = {split: load_dataset(path, split=split or None) for split in splits_of_file}
        first = next(iter(parts.values()))
        return {"source": str(path), "utterances": sum(len(p) for p in parts.values()), "classes": list(first.classes),
                "splits": {split: {"utterances": len(p), "speakers": len(set(p.speakers.tolist()))}
                           for split, p in parts.items()}}
    rows, classes = read_metadata(path) if (path / "metadata.csv").exists() else scan_ti46(path)
    splits: dict[str, dict[str, int]] = {}
    known = ("train", "val", "test", "holdout")
    for split in sorted({r["split"] for r in rows}, key=lambda s: (known.index(s) if s in known else len(known), s)):
        selected = [r for r in rows if r["split"] == split]
        splits[split] = {"utterances": len(selected), "speakers": len({r["speaker"] for r in selected})}
    return {"source": str(path), "utterances": len(rows), "classes": list(classes), "splits": splits}


def load_augmented(source: str | Path, frontend: FrontendConfig | None = None, split: str | None = "train",
                   copies: int = 2, augmenter=None, clean: bool = True) -> SpikeDataset:
    """Return the clean samples (if ``clean``) plus ``copies`` augmented copies (seeds 1 .. copies).

    Every copy is cached, so the second epoch of a hyper-parameter search costs file reads.
    ``augmenter`` defaults to :class:`.augment.Augmenter()`.
    """
    if augmenter is None:
        from .augment import Augmenter
        augmenter = Augmenter()
    parts = [load_dataset(source, frontend, split)] if clean else []
    parts += [load_dataset(source, frontend, split, augmenter=augmenter, seed=seed) for seed in range(1, copies + 1)]
    if not parts:
        raise ValueError("nothing to load: copies = 0 and clean = False")
    return SpikeDataset.concatenate(parts)
