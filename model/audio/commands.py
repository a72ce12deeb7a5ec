"""``spikestream data``: build the spoken-word corpus, describe datasets, plot utterances."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from spikestream.cli import whole_number

from .config import EncoderKind, FrontendConfig

log = logging.getLogger("spikestream.audio")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="synthesize the built-in corpus (cached)")
    build.add_argument("--subset", choices=("digits", "letters", "all"), default="digits")
    build.add_argument("--out", help="folder to write (default: ~/.cache/spikestream/corpus/tts-SUBSET-vN)")
    build.add_argument("--workers", type=whole_number(1), help="parallel synthesis jobs (default: number of CPUs)")
    build.add_argument("--holdout-engine", default="festival",
                       help="engine whose speakers are all in the 'holdout' split ('none' for none)")
    build.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    build.add_argument("--max-speakers", type=whole_number(1),
                       help="keep this many speakers, spread over all engines (a quick, small corpus)")
    build.add_argument("--encode", action="store_true",
                       help="also encode with the default front end (fills the feature cache) and time it")

    info = actions.add_parser("info", help="count utterances, speakers and classes per split of a dataset")
    info.add_argument("dataset", help="digits | letters | all | a folder with metadata.csv | TI46 folder | HDF5")
    info.add_argument("--json", action="store_true", help="print JSON")

    plot = actions.add_parser("plot", help="plot the spectrogram, features and spike raster of an utterance")
    plot.add_argument("audio", help="a WAV or NIST SPHERE file")
    plot.add_argument("--out", required=True, help="PNG file to write")
    _add_frontend_arguments(plot)


def _add_frontend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frontend", help="front-end configuration JSON file (default: FrontendConfig())")
    parser.add_argument("--encoder", choices=[kind.value for kind in EncoderKind], help="override the encoder")


def _frontend(args: argparse.Namespace) -> FrontendConfig:
    config = FrontendConfig.load(args.frontend) if args.frontend else FrontendConfig()
    if args.encoder:
        config = config.replace(encoder=EncoderKind(args.encoder))
    return config


def _build_errors(args: argparse.Namespace) -> list[str]:
    """What is wrong with ``data build``'s options, before any synthesis starts."""
    from .corpus import default_speakers

    engines = sorted({speaker.engine for speaker in default_speakers()})
    if args.holdout_engine.lower() != "none" and args.holdout_engine not in engines:
        return [f"--holdout-engine {args.holdout_engine}: expected one of {engines} or 'none'"]
    return []


def main(args: argparse.Namespace) -> int:
    if args.data_action == "build":
        from .corpus import build_corpus
        errors = _build_errors(args)
        for error in errors:
            print(f"spikestream data build: error: {error}", file=sys.stderr)
        if errors:
            return 2
        started = time.perf_counter()
        holdout = None if args.holdout_engine.lower() == "none" else args.holdout_engine
        folder = build_corpus(args.subset, args.out, holdout_engine=holdout, workers=args.workers, force=args.force,
                              max_speakers=args.max_speakers)
        summary = json.loads((folder / "corpus.json").read_text())
        print(f"corpus: {folder}")
        print(f"utterances: {summary['utterances']}  synthesis: {summary['build_seconds']} s wall, "
              f"{summary.get('cpu_seconds', float('nan'))} s CPU (this call {time.perf_counter() - started:.1f} s)")
        for split, counts in summary["splits"].items():
            print(f"  {split:8s} {counts['speakers']:4d} speakers {counts['utterances']:6d} utterances")
        if args.encode:
            from .datasets import load_dataset
            started = time.perf_counter()
            data = load_dataset(folder, FrontendConfig())
            seconds = time.perf_counter() - started
            print(f"encoded {len(data)} utterances to {data.X.shape[1:]} rasters in {seconds:.1f} s "
                  f"({1000 * seconds / len(data):.2f} ms each, including reading the WAV)")
        return 0
    if args.data_action == "info":
        from .corpus import SUBSETS
        from .datasets import describe_dataset
        if args.dataset not in SUBSETS and not Path(args.dataset).exists():
            print(f"spikestream data info: error: {args.dataset}: no such file or folder (expected one of "
                  f"{sorted(SUBSETS)}, a dataset folder or an HDF5 file)", file=sys.stderr)
            return 2
        summary = describe_dataset(args.dataset)
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"{summary['source']}: {summary['utterances']} utterances, {len(summary['classes'])} classes")
            for split, counts in summary["splits"].items():
                print(f"  {split or '(none)':8s} {counts['speakers']:4d} speakers {counts['utterances']:6d} utterances")
        return 0
    if args.data_action == "plot":
        from .plots import plot_utterance
        plot_utterance(args.audio, _frontend(args), args.out)
        print(f"wrote {args.out}")
        return 0
    raise AssertionError(args.data_action)
