"""Benchmark how far the spoken-word rasters carry (issue 5): a non-spiking reference on the same input.

The spiking networks of ``spikestream train`` / ``spikestream demo`` miss the accuracy
goals on unseen voices. This benchmark separates the network from its input with the
reference classifier of :mod:`spikestream.model.train.reference` (an MLP on spike counts
per frame, no spikes inside, no fixed point):

``rasters``
    The reference trained on the same training rasters the spiking network sees (the
    front end of ``--network``'s sidecar, else the demo's; ``--copies`` augmented copies
    of every training utterance), scored on ``test`` (unseen voices) and ``holdout``
    (the unseen engine). With ``--network`` the exported spiking network is scored on the
    same rasters, hardware-exact (golden model), next to it.
``voices``
    A learning curve over the number of training voices: the reference trained on a
    random ``fraction`` of the training voices (every pitch, tempo and accent variant of
    a chosen voice, no augmented copies, ``--draws`` draws per fraction), scored the
    same way. How much accuracy each doubling of voices buys says whether more varied
    training speech would reach the goal.

Usage::

    python bench/bench_features.py --subset all --copies 2 --out bench-features-all.json
    python bench/bench_features.py --subset digits --copies 4 --network ~/.cache/spikestream/demo/digits.spkn
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

from spikestream.model.audio.corpus import voice_of
from spikestream.model.train.data import load_splits
from spikestream.model.train.demo import DEMO_SETTINGS, demo_frontend
from spikestream.model.train.reference import ReferenceConfig, reference_accuracy


def choose_voices(speakers: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of the samples whose voice is among a random ``fraction`` (at least one) of the voices."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction {fraction}: expected a value in (0, 1]")
    voices = np.array([voice_of(s) for s in speakers.tolist()])
    unique = np.unique(voices)
    chosen = rng.permutation(unique)[:max(1, int(round(fraction * unique.size)))]
    return np.isin(voices, chosen)


def _scored(splits) -> dict:
    """The parts every model is scored on: ``test`` and, when the source has one, ``holdout``."""
    return {name: data for name, data in (("test", splits.test), ("holdout", splits.holdout))
            if data is not None and len(data)}


def rasters_part(subset: str, frontend, copies: int, config: ReferenceConfig, network_file: str | None) -> dict:
    """The reference (and the spiking network, if given) on the training rasters with ``copies``."""
    splits = load_splits(subset, frontend, seed=0, augment_copies=copies)
    scored = _scored(splits)
    began = time.monotonic()
    result = {"training_samples": len(splits.train), "augmented_copies": copies,
              "reference": reference_accuracy(splits.train, scored, len(splits.classes), config)}
    result["reference_seconds"] = round(time.monotonic() - began, 1)
    if network_file:
        from spikestream.model.train.evaluate import run_golden
        from spikestream.model.train.export import load_exported

        network, core, _, network_classes = load_exported(network_file)
        if network_classes is not None and list(network_classes) != list(splits.classes):
            raise ValueError(f"{network_file} decides between {list(network_classes)} but {subset} has the classes "
                             f"{list(splits.classes)}: give a network trained on this subset")
        result["spiking_network"] = {
            "file": str(network_file),
            **{name: float(np.mean(run_golden(network, core, data.inputs)["decision"] == data.labels))
               for name, data in scored.items()}}
    return result


def voices_part(subset: str, frontend, fractions: list[float], draws: int, config: ReferenceConfig) -> list[dict]:
    """The learning curve over the share of training voices (no augmented copies)."""
    splits = load_splits(subset, frontend)
    train, speakers, scored = splits.train, splits.speakers["train"], _scored(splits)
    all_voices = np.unique([voice_of(s) for s in speakers.tolist()]).size
    rows = []
    for fraction in fractions:
        runs = []
        for draw in range(1 if fraction == 1.0 else draws):
            keep = choose_voices(speakers, fraction, np.random.default_rng(draw))
            chosen = np.unique([voice_of(s) for s in speakers[keep].tolist()]).size
            accuracy = reference_accuracy(train.subset(keep), scored, len(splits.classes), config)
            runs.append({"draw": draw, "voices": int(chosen), "samples": int(keep.sum()), **accuracy})
        rows.append({"fraction": fraction, "voices_of": int(all_voices), "runs": runs,
                     **{f"mean_{name}": float(np.mean([r[name] for r in runs])) for name in scored}})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default="digits", help="corpus subset: digits, letters or all (default digits)")
    parser.add_argument("--copies", type=int, default=DEMO_SETTINGS["full"]["augment_copies"],
                        help="augmented copies of every training utterance in the 'rasters' part (default: the demo's)")
    parser.add_argument("--network", help="an exported .spkn (with its FILE.json sidecar): its front end is used and "
                                          "it is scored on the same rasters")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0],
                        help="shares of the training voices of the 'voices' part (default 0.25 0.5 0.75 1)")
    parser.add_argument("--draws", type=int, default=3, help="random voice choices per fraction below 1 (default 3)")
    parser.add_argument("--only", nargs="+", choices=("rasters", "voices"), default=("rasters", "voices"))
    parser.add_argument("--epochs", type=int, default=ReferenceConfig.epochs, help="reference training epochs")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.copies < 0 or args.draws < 1:
        parser.error(f"--copies {args.copies} / --draws {args.draws}: expected copies >= 0 and draws >= 1")
    for fraction in args.fractions:
        if not 0.0 < fraction <= 1.0:
            parser.error(f"--fractions: {fraction} is not in (0, 1]")

    import torch
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared machine
    if args.network:
        from spikestream.model.train.export import load_exported

        frontend = load_exported(args.network)[2]
        if frontend is None:
            parser.error(f"{args.network} has no front end in its sidecar ({args.network}.json): "
                         "export it with `spikestream train` or give no --network")
    else:
        frontend = demo_frontend(DEMO_SETTINGS["full"])
    config = ReferenceConfig(steps_per_frame=frontend.steps_per_frame, epochs=args.epochs)
    report = {"benchmark": "bench_features", "subset": args.subset, "frontend": frontend.to_dict(),
              "reference": dataclasses.asdict(config),
              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                          "numpy": np.__version__, "torch": torch.__version__},
              "definitions": {
                  "reference": "accuracy of the non-spiking reference (spikestream.model.train.reference)",
                  "spiking_network": "hardware-exact (golden model) accuracy of --network on the same rasters",
                  "voices_of": "training voices of the corpus (pitch / tempo / warp variants of one voice count once)",
                  "mean_test": "mean over the draws of the test accuracy"}}
    began = time.monotonic()
    if "rasters" in args.only:
        report["rasters"] = rasters_part(args.subset, frontend, args.copies, config, args.network)
    if "voices" in args.only:
        report["voices"] = voices_part(args.subset, frontend, args.fractions, args.draws, config)
    report["seconds"] = round(time.monotonic() - began, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
