"""``spikestream demo``: spoken words to a network the core runs, end to end, on a fresh machine.

1. builds the spoken-word corpus if it is missing (:mod:`spikestream.model.audio`);
2. trains a compact network (float, then quantization-aware) on the training voices;
3. exports it (``.spkn`` + front-end sidecar) and evaluates it hardware-exact (golden
   model + cycle model) on unseen voices (``test``) and an unseen synthesiser
   (``holdout``), checking that the quantized torch model and the golden model make
   the same decision on every sample;
4. runs the test samples (all by default) through the RTL simulation when Verilator is installed;
5. prints a summary table (and the speakers of lowest accuracy on each split) and writes it
   as JSON next to the network.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("spikestream.demo")

__all__ = ["run_demo", "DEMO_SETTINGS", "MASK_SETTINGS", "demo_frontend", "train_demo_network"]

#: The demo's front end, network and schedule (measured: see docs/training.md). Level
#: plus change coding (``rate_delta``, 96 input channels), a max-potential readout,
#: augmented copies and a cosine learning-rate decay generalised best to unseen voices.
DEMO_SETTINGS = {
    "full": dict(encoder="rate_delta", hidden=(128,), float_epochs=24, quant_epochs=6, input_dropout=0.15,
                 augment_copies=4, cosine=True),
    "quick": dict(encoder="rate_delta", hidden=(48,), float_epochs=6, quant_epochs=2, input_dropout=0.15,
                  augment_copies=0, cosine=True),
}


#: Optional keys of a :data:`DEMO_SETTINGS` entry: the trainer's masks (:class:`TrainConfig`
#: fields, 0 = off), set in experiments (docs/training.md, session 5).
MASK_SETTINGS = ("freq_mask", "time_mask")

#: Speakers of lowest accuracy that the summary names for each evaluated split.
WEAKEST_SPEAKERS = 3


def demo_frontend(settings: dict):
    """The front end of a :data:`DEMO_SETTINGS` entry."""
    from ..audio.config import EncoderKind, FrontendConfig

    return FrontendConfig(encoder=EncoderKind(settings["encoder"]))


def train_demo_network(splits, settings: dict, core, seed: int = 0, threads: int = 1, pruning=None, on_epoch=None,
                       progress: bool = True, teacher=None, distill_weight: float = 0.0,
                       distill_temperature: float | None = None, device: str = "auto", checkpoint=None):
    """Build and train the network of a :data:`DEMO_SETTINGS` entry on ``splits``.

    ``pruning`` (a :class:`~spikestream.model.train.prune.PruningConfig`) prunes during
    training (``bench/bench_learning.py`` demo c); ``on_epoch(model, epoch, record)`` is
    called after every epoch. ``teacher`` (a :class:`~spikestream.model.network.Network`
    that fits ``core``, e.g. the dense network) teaches by distillation with
    ``distill_weight`` and ``distill_temperature`` (:mod:`.trainer`; None: the
    :class:`TrainConfig` default): its hardware-exact logits on the training samples
    become soft targets. ``device`` and ``checkpoint`` are
    :class:`~spikestream.model.train.trainer.TrainConfig`'s and
    :func:`~spikestream.model.train.trainer.train`'s. Returns ``(model, architecture, training, result)``: the
    trained model, its :class:`ArchitectureConfig`, the :class:`TrainConfig` used and the
    :class:`TrainResult`.
    """
    import torch

    from ..network import DecisionMode
    from .layers import ArchitectureConfig, build_model
    from .prune import PruningConfig
    from .trainer import TrainConfig, network_logits, train

    if (teacher is None) != (distill_weight == 0):
        raise ValueError(f"teacher {'given' if teacher is not None else 'missing'} with distill_weight = "
                         f"{distill_weight}: distillation needs both a teacher network and a weight > 0")
    architecture = ArchitectureConfig(hidden=settings["hidden"], decision=DecisionMode.MAX_POTENTIAL)
    extra = {} if distill_temperature is None else {"distill_temperature": distill_temperature}
    training = TrainConfig(float_epochs=settings["float_epochs"], quant_epochs=settings["quant_epochs"], seed=seed,
                           threads=threads, input_dropout=settings["input_dropout"], cosine=settings["cosine"],
                           pruning=pruning or PruningConfig(), distill_weight=distill_weight, device=device,
                           mel_bands=splits.mel_bands, **{name: settings.get(name, 0) for name in MASK_SETTINGS},
                           **extra)
    soft_targets = None if teacher is None else network_logits(teacher, core, splits.train.inputs,
                                                               training.logit_scale)
    timesteps, n_inputs = splits.train.inputs.shape[1], splits.train.inputs.shape[2]
    model = build_model(architecture, n_inputs, len(splits.classes), timesteps, core,
                        torch.Generator().manual_seed(seed))
    hook = None if on_epoch is None else (lambda epoch, record: on_epoch(model, epoch, record))
    result = train(model, splits.train, splits.validation, training, on_epoch=hook, progress=progress,
                   teacher=soft_targets, checkpoint=checkpoint)
    return model, architecture, training, result


def _row(name: str, *values) -> str:
    return f"{name:<36}" + "".join(f"{v:>26}" for v in values)


def run_demo(subset: str = "digits", out: str | None = None, quick: bool = False, rtl_samples: int | None = None,
             seed: int = 0, threads: int = 0) -> int:
    """Run the demo (module docstring) and return a process exit code."""
    import torch

    from ..audio.corpus import cache_root
    from ..config import CoreConfig
    from .data import load_splits
    from .evaluate import RtlUnavailable, _run_rtl, evaluate, run_golden
    from .export import export_network
    from .layers import build_model
    from .trainer import configure_torch, predict

    began = time.monotonic()
    threads = configure_torch(threads)
    folder = Path(out) if out else cache_root() / "demo"
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file; the demo writes a folder (network, sidecar, summary)")
    folder.mkdir(parents=True, exist_ok=True)
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    print(f"[1/5] corpus '{subset}' (built on first use) and front end ...", flush=True)
    frontend = demo_frontend(settings)
    splits = load_splits(subset, frontend, None, seed, settings["augment_copies"])
    core = CoreConfig()
    n_classes = len(splits.classes)
    timesteps, n_inputs = splits.train.inputs.shape[1], splits.train.inputs.shape[2]
    print(f"      {len(splits.train)} training / {len(splits.validation)} validation / {len(splits.test)} test "
          f"utterances (+ {0 if splits.holdout is None else len(splits.holdout)} of an unseen engine), "
          f"{n_classes} classes, {timesteps} steps x {n_inputs} channels ({frontend.encoder.value} coding; "
          f"training set includes {settings['augment_copies']} augmented copies)", flush=True)
    print(f"[2/5] training {n_inputs}-{'-'.join(map(str, settings['hidden']))}-{n_classes} "
          f"({settings['float_epochs']} float + {settings['quant_epochs']} quantization-aware epochs, "
          f"{threads} threads) ...", flush=True)
    # The float model is kept at the end of its phase, to report its accuracy next to the others.
    float_copy = {}

    def keep_float(model, epoch: int, record: dict) -> None:
        if epoch == settings["float_epochs"] - 1:
            float_copy.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    model, architecture, training, result = train_demo_network(splits, settings, core, seed, threads,
                                                                on_epoch=keep_float)
    model = model.cpu()
    network = model.to_network()
    path = folder / f"{subset}.spkn"
    print(f"[3/5] exporting {path} and evaluating hardware-exact ...", flush=True)
    float_model = build_model(architecture, n_inputs, n_classes, timesteps, core, torch.Generator())
    float_model.load_state_dict(float_copy or model.state_dict())
    rows = {}
    for name, key in (("test (unseen voices)", "test"), ("holdout (unseen engine)", "holdout")):
        part = getattr(splits, key)
        if part is None or len(part) == 0:
            continue
        report = evaluate(network, core, part.inputs, part.labels, classes=splits.classes,
                          speakers=splits.speakers[key])
        quant = predict(model, part.inputs, exact=True)
        golden_decisions_match = int(np.sum(quant != _golden_decisions(network, core, part.inputs)))
        rows[name] = {
            "float_accuracy": float(np.mean(predict(float_model, part.inputs, exact=False) == part.labels)),
            "quant_accuracy": float(np.mean(quant == part.labels)),
            "hardware_accuracy": report["accuracy"],
            "torch_golden_decision_mismatches": golden_decisions_match,
            "spikes_per_sample": report["spikes_per_sample"]["mean"],
            "synaptic_ops_per_sample": report["synaptic_ops_per_sample"]["mean"],
            "cycles_per_sample": report["cycles_per_sample"]["mean"],
            "samples_per_second_at_clock": report["predicted_samples_per_second"],
            "samples": report["samples"],
            # A few voices carry most errors on unseen speech (docs/training.md, session 6).
            "weakest_speakers": report["accuracy_by_speaker"][:WEAKEST_SPEAKERS],
        }
    summary = {"subset": subset, "network": str(path), "training_seconds": result.seconds,
               "threads": threads, "stored_synapses": network.synapses().count, "neurons": network.n_neurons,
               "results": rows}
    export_network(path, network, core, splits.frontend, splits.classes, training=summary)
    rtl_samples = len(splits.test) if rtl_samples is None else min(rtl_samples, len(splits.test))
    print(f"[4/5] RTL simulation of {rtl_samples} test samples (Verilator, stream player) ...", flush=True)
    try:
        sample = splits.test.subset(np.arange(rtl_samples))
        rtl = _run_rtl(network, core, sample.inputs)
        expected = run_golden(network, core, sample.inputs)
        summary["rtl"] = {"samples": int(len(sample)),
                          "decisions_match_golden": bool(np.all(rtl["decision"] == expected["decision"])),
                          "cycles_match_cycle_model": bool(np.all(rtl["cycles"] == expected["cycles"])),
                          "accuracy": float(np.mean(rtl["decision"] == sample.labels))}
        print(f"      RTL decisions match the golden model: {summary['rtl']['decisions_match_golden']}; "
              f"RTL cycles match the cycle model: {summary['rtl']['cycles_match_cycle_model']}; "
              f"RTL accuracy on these samples: {100 * summary['rtl']['accuracy']:.0f} %")
    except RtlUnavailable as error:
        summary["rtl"] = {"skipped": str(error)}
        print(f"      skipped: {error}")
    summary["total_seconds"] = time.monotonic() - began
    (folder / f"{subset}-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("[5/5] summary")
    print(_row("", *rows.keys()))
    for key, label, fmt in (("float_accuracy", "accuracy float model", "{:.2%}"),
                            ("quant_accuracy", "accuracy quantized torch", "{:.2%}"),
                            ("hardware_accuracy", "accuracy hardware-exact (golden)", "{:.2%}"),
                            ("torch_golden_decision_mismatches", "torch vs golden decision mismatch", "{}"),
                            ("spikes_per_sample", "spikes / sample", "{:.1f}"),
                            ("synaptic_ops_per_sample", "synaptic ops / sample", "{:.0f}"),
                            ("cycles_per_sample", "cycles / sample (exact)", "{:.0f}"),
                            ("samples_per_second_at_clock", f"samples/s at {core.clock_hz / 1e6:g} MHz", "{:.0f}")):
        print(_row(label, *(fmt.format(r[key]) for r in rows.values())))
    for name, row in rows.items():
        print(f"weakest speakers, {name}: " + ", ".join(f"{s['speaker']} {100 * s['accuracy']:.0f} %"
                                                         for s in row["weakest_speakers"]))
    print(f"network: {network.n_neurons} neurons, {network.synapses().count} stored synapses; "
          f"training {result.seconds:.0f} s on {threads} threads; demo total {summary['total_seconds']:.0f} s")
    print(f"wrote {path}, {path}.json and {folder / f'{subset}-summary.json'}")
    return demo_status(rows, summary["rtl"])


def demo_status(rows: dict, rtl: dict) -> int:
    """The demo's exit status: 1 (and why, on stderr) if a hardware model disagreed, else 0.

    ``rows``: per split, ``torch_golden_decision_mismatches``; ``rtl``: the RTL check
    (``decisions_match_golden``, ``cycles_match_cycle_model``), or ``skipped`` without a simulator.
    """
    problems = [f"{split}: {row['torch_golden_decision_mismatches']} decisions of the quantized torch model differ "
                "from the golden model's" for split, row in rows.items() if row["torch_golden_decision_mismatches"]]
    problems += [f"RTL simulation: {what} (see [4/5] above)" for key, what in (
        ("decisions_match_golden", "decisions differ from the golden model's"),
        ("cycles_match_cycle_model", "cycles differ from the cycle model's")) if not rtl.get(key, True)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _golden_decisions(network, core, inputs: np.ndarray) -> np.ndarray:
    from .evaluate import run_golden
    return run_golden(network, core, inputs)["decision"]
