"""Datasets for training and evaluation: audio sources (through the front end) or saved rasters.

A source is any dataset :func:`spikestream.model.audio.datasets.load_dataset` reads
(``digits``, ``letters``, ``all``, a folder with ``metadata.csv``, TI46, SHD or
N-TIDIGITS), or an ``.npz`` file of rasters already encoded, with arrays ``inputs``
(bool ``[n, T, C]``), ``labels`` (int ``[n]``) and optionally ``split`` (str ``[n]``)
and ``classes`` (str ``[k]``).

Splits are by speaker (the corpus's ``train`` / ``val`` / ``test`` / ``holdout``).
A source without a split column is split here, by speaker when speakers are known.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..audio.datasets import SPLIT_NAMES
from ..encoding import spike_values

from .trainer import Dataset

__all__ = ["Splits", "load_splits", "save_npz"]


class Splits(NamedTuple):
    """Train / validation / test (and optional holdout) datasets of one source.

    A source without a ``val`` split validates on its test part: ``validation is test``.
    """

    train: Dataset
    validation: Dataset
    test: Dataset
    holdout: Dataset | None
    classes: tuple[str, ...]
    frontend: object | None  #: FrontendConfig of audio sources, None for rasters
    #: mel bands of the channel layout (channel ``c`` is band ``c % mel_bands``) when the
    #: rasters were encoded from audio by the front end; 0 for rasters and spike datasets
    #: (SHD, N-TIDIGITS spread their units over all channels)
    mel_bands: int = 0
    #: speaker of every sample of each part (keys ``train``, ``validation``, ``test``,
    #: ``holdout``; augmented copies keep their speaker), "" where the source names none
    speakers: dict[str, np.ndarray] | None = None


def save_npz(path: str | Path, inputs: np.ndarray, labels: np.ndarray, split: np.ndarray | None = None,
             classes: tuple[str, ...] | None = None) -> None:
    """Write rasters in the ``.npz`` layout :func:`load_splits` reads."""
    arrays = {"inputs": np.asarray(inputs, bool), "labels": np.asarray(labels, np.int64)}
    if split is not None:
        arrays["split"] = np.asarray(split, str)
    if classes is not None:
        arrays["classes"] = np.asarray(classes, str)
    np.savez_compressed(path, **arrays)


def _split_by_group(groups: np.ndarray, seed: int) -> np.ndarray:
    """Assign ``train`` (70 %), ``val`` (10 %), ``test`` (20 %) per group (speaker or sample)."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    order = rng.permutation(unique.size)
    share = np.empty(unique.size, object)
    cut_val, cut_test = int(round(0.7 * unique.size)), int(round(0.8 * unique.size))
    share[order[:cut_val]] = "train"
    share[order[cut_val:cut_test]] = "val"
    share[order[cut_test:]] = "test"
    lookup = dict(zip(unique.tolist(), share.tolist()))
    return np.array([lookup[g] for g in groups.tolist()])


def load_splits(source: str | Path, frontend=None, class_limit: int | None = None, seed: int = 0,
                augment_copies: int = 0) -> Splits:
    """Load every split of ``source`` (see the module docstring).

    ``class_limit`` keeps the first ``k`` classes (e.g. the digits of the ``all`` corpus).
    ``augment_copies`` adds that many perturbed copies of every training utterance
    (:class:`spikestream.model.audio.augment.Augmenter`: speed, reverberation, band
    limiting, noise; audio sources only, cached by the audio loader).
    """
    path = Path(source)
    if path.suffix == ".npz" and path.is_file():
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in ("inputs", "labels") if name not in archive.files]
            if missing:
                raise ValueError(f"{path} has no {' or '.join(missing)} array; expected inputs [N, T, C], labels [N] "
                                 f"and optionally split [N] and classes [K] (save_npz writes them); it has "
                                 f"{archive.files}")
            inputs = spike_values(archive["inputs"], f"{path}: input spike")
            labels = archive["labels"]
            split = archive["split"].astype(str) if "split" in archive.files else None
            classes = tuple(archive["classes"].tolist()) if "classes" in archive.files else None
        _check_rasters_file(path, inputs, labels, split, classes, augment_copies)
        labels = labels.astype(np.int64)
        speakers = np.full(labels.size, "")
        if split is None:
            split = _split_by_group(np.arange(labels.size), seed)
        classes = classes or tuple(str(k) for k in range(int(labels.max()) + 1))
        used_frontend = None
    else:
        from ..audio.config import FrontendConfig
        from ..audio.datasets import load_dataset

        data = load_dataset(source, frontend or FrontendConfig())
        inputs, labels, classes, used_frontend = data.X, data.y, tuple(data.classes), data.frontend
        speakers = np.asarray(data.speakers, str)
        split = _load_split_column(source, data)
        if split is None or not np.any(split == "train"):
            groups = data.speakers if np.all(data.speakers != "") else np.arange(labels.size).astype(str)
            split = _split_by_group(groups, seed)
        if augment_copies:
            from ..audio.augment import Augmenter

            extra_inputs, extra_labels, extra_speakers = [], [], []
            for copy in range(1, augment_copies + 1):
                # The full set in the same row order, so the split computed above selects it.
                augmented = load_dataset(source, used_frontend, augmenter=Augmenter(), seed=seed * 1000 + copy)
                extra_inputs.append(augmented.X[split == "train"])
                extra_labels.append(augmented.y[split == "train"])
                extra_speakers.append(speakers[split == "train"])
            inputs = np.concatenate([inputs] + extra_inputs)
            labels = np.concatenate([labels] + extra_labels)
            speakers = np.concatenate([speakers] + extra_speakers)
            split = np.concatenate([split] + [np.full(len(y), "train") for y in extra_labels])
    if class_limit is not None:
        keep = labels < class_limit
        inputs, labels, split, classes = inputs[keep], labels[keep], split[keep], classes[:class_limit]
        speakers = speakers[keep]

    def part(name: str) -> Dataset:
        chosen = split == name
        return Dataset(inputs[chosen], labels[chosen])

    has_holdout = bool(np.any(split == "holdout"))
    holdout = part("holdout") if has_holdout else None
    validation_name = "val" if np.any(split == "val") else "test"
    test = part("test")
    # Without a val split the test part validates: the same object, so users of every
    # part (``eval --split all``) can tell and count its samples once.
    validation = part("val") if validation_name == "val" else test
    by_part = {"train": "train", "validation": validation_name, "test": "test", "holdout": "holdout"}
    encoded_audio = used_frontend is not None and not path.is_file()  # HDF5 files hold spikes, not audio
    return Splits(part("train"), validation, test, holdout, classes, used_frontend,
                  used_frontend.bands if encoded_audio else 0,
                  {name: speakers[split == chosen] for name, chosen in by_part.items()
                   if name != "holdout" or has_holdout})


def _check_rasters_file(path: Path, inputs: np.ndarray, labels: np.ndarray, split, classes,
                        augment_copies: int) -> None:
    """Refuse a rasters ``.npz`` whose arrays disagree, or augmentation, which only audio sources take."""
    if augment_copies:
        raise ValueError(f"{path} holds spike rasters, not audio: augment_copies (--augment-copies) applies to "
                         f"audio sources only")
    if inputs.ndim != 3 or inputs.shape[0] == 0:
        raise ValueError(f"{path}: inputs have shape {inputs.shape}, expected [N >= 1, T, C]")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool:
        raise ValueError(f"{path}: labels are {labels.dtype} of shape {labels.shape}, expected integers [N]")
    lengths = {"inputs": inputs.shape[0], "labels": labels.size}
    if split is not None:
        lengths["split"] = split.size
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{path}: the arrays disagree on the number of samples ({lengths}); expected one label "
                         f"(and split) per raster")
    if labels.min() < 0 or (classes is not None and labels.max() >= len(classes)):
        raise ValueError(f"{path}: labels span {labels.min()} .. {labels.max()}, expected 0 .. "
                         f"{len(classes) - 1 if classes is not None else 'K - 1'}")
    if classes is not None and len(set(classes)) != len(classes):
        raise ValueError(f"{path}: classes {list(classes)} name a class twice")
    if split is not None:
        unknown = sorted(set(split.tolist()) - set(SPLIT_NAMES[1:]))
        if unknown:
            raise ValueError(f"{path}: split values {unknown} are not train, val, test or holdout")


def _load_split_column(source, data) -> np.ndarray | None:
    """The ``split`` of each sample of an audio dataset, from its metadata (None if absent)."""
    from ..audio.datasets import load_dataset

    split = np.full(len(data), "", dtype=object)
    found = False
    for name in SPLIT_NAMES[1:]:
        try:
            part = load_dataset(source, data.frontend, split=name)
        except ValueError:
            continue
        found = True
        positions = {p: k for k, p in enumerate(data.paths.tolist())}
        for p in part.paths.tolist():
            split[positions[p]] = name
    return split.astype(str) if found else None
