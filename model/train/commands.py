"""``spikestream train``, ``spikestream eval`` and ``spikestream demo``."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np

from spikestream.cli import whole_number

log = logging.getLogger("spikestream.train")


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classes", type=whole_number(1), metavar="K",
                        help="keep the first K classes of the data (e.g. 10: the digits of the 'all' corpus)")
    parser.add_argument("--frontend", help="front-end configuration JSON (default: FrontendConfig())")
    parser.add_argument("--encoder", choices=("ttfs", "delta", "rate", "rate_delta"),
                        help="override the front end's spike encoder (audio sources)")


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    from ..network import DecisionMode, ResetMode
    from .choices import Architecture, PruningMethod

    group = parser.add_argument_group("architecture")
    group.add_argument("--arch", choices=[a.value for a in Architecture], default="feedforward")
    group.add_argument("--hidden", default="128", help="hidden population sizes, comma separated (default 128)")
    group.add_argument("--decision", choices=[d.value for d in DecisionMode], default="spike_count")
    group.add_argument("--tau-mem", type=float, default=8.0, help="initial membrane time constant (steps)")
    group.add_argument("--tau-syn", type=float, default=2.0,
                       help="initial synaptic current time constant (steps; 1 = no dynamic synapse)")
    group.add_argument("--adaptation", type=int, default=0, help="threshold jump per spike, 1/16 threshold units")
    group.add_argument("--refractory", type=int, default=0, help="refractory steps of hidden neurons")
    group.add_argument("--reset", choices=[r.value for r in ResetMode], default="subtract")
    group.add_argument("--early-exit", action="store_true", help="first-spike decision stops the sample")
    group = parser.add_argument_group("optimisation")
    group.add_argument("--float-epochs", type=int, default=30)
    group.add_argument("--quant-epochs", type=int, default=10)
    group.add_argument("--batch-size", type=int, default=128)
    group.add_argument("--lr", type=float, default=5e-3, help="learning rate of the float phase")
    group.add_argument("--quant-lr", type=float, default=1e-3, help="learning rate of the quantization-aware phase")
    group.add_argument("--cosine", action="store_true",
                       help="cosine learning-rate decay to 5 %% within each phase (the demo uses it)")
    group.add_argument("--seed", type=whole_number(0), default=0)
    group.add_argument("--input-dropout", type=float, default=0.0, help="drop each training input spike with this "
                                                                        "probability (augmentation)")
    group.add_argument("--shift", type=int, default=0, help="shift training rasters by up to this many steps")
    group.add_argument("--freq-mask", type=int, default=0, metavar="BANDS",
                       help="silence up to BANDS adjacent mel bands of each training raster (frequency masking; "
                            "for rasters and spike datasets: adjacent channels)")
    group.add_argument("--time-mask", type=int, default=0, metavar="STEPS",
                       help="silence a run of up to STEPS adjacent timesteps of each training raster (time masking)")
    group.add_argument("--augment-copies", type=whole_number(0), default=0,
                       help="add this many perturbed copies (speed, reverb, band, noise) of the training audio")
    group.add_argument("--distill", metavar="TEACHER.spkn",
                       help="knowledge distillation: an exported network (same classes and front end) whose "
                            "hardware-exact logits on the training samples become soft targets")
    group.add_argument("--distill-weight", type=float,
                       help="weight of the soft targets in the loss, in (0, 1] (default: trainer.DISTILL_WEIGHT)")
    group.add_argument("--distill-temperature", type=float,
                       help="softmax temperature of distillation, > 0 (default: TrainConfig's)")
    group.add_argument("--prune", choices=[m.value for m in PruningMethod], default="none")
    group.add_argument("--connectivity", type=float, default=1.0, help="fraction of synapses kept by pruning")
    group.add_argument("--prune-dead-too", dest="useful_only", action="store_false",
                       help="magnitude pruning: let every live synapse compete for the kept fraction, also those "
                            "of neurons pruning left without fan-in or fan-out (deployment removes them); by "
                            "default only synapses that can reach the outputs are kept")
    group.add_argument("--prune-activity-exponent", type=float, default=0.0, metavar="P",
                       help="magnitude pruning: score each synapse |w| x (its source's spikes per sample, an "
                            "exponential average over the recent training batches)**P instead of |w| (1: most "
                            "accurate per stored synapse, but the busiest sources keep their synapses and inference "
                            "is slower; 0, the default: the plain magnitude)")
    group.add_argument("--prune-input-channels", type=float, default=1.0, metavar="F",
                       help="magnitude pruning: keep synapses from only this fraction of the input channels, "
                            "removing whole channels lowest weight mass per input event first (a channel without "
                            "synapses costs no cycle when its events are left out: SpikeCore.run(..., "
                            "leave_out_unused_inputs=True)); 1, the default: no channel budget")
    group.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: 1, fastest for these small tensors)")
    group.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    group.add_argument("--checkpoint", help="checkpoint file: saved every epoch, resumed from if it exists")
    group.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "train":
        parser.add_argument("data", help="digits | letters | all | dataset folder | TI46 | SHD/N-TIDIGITS HDF5 | "
                                         "rasters .npz (inputs, labels[, split, classes])")
        parser.add_argument("--out", required=True, help="network file to write (.spkn; sidecar .spkn.json)")
        _add_data_arguments(parser)
        _add_training_arguments(parser)
        group = parser.add_argument_group("hyper-parameter search (Optuna)")
        group.add_argument("--search", type=whole_number(0), default=0, metavar="TRIALS",
                           help="run TRIALS search trials in this worker, then train the best configuration")
        group.add_argument("--storage", default="sqlite:///spikestream-search.db",
                           help="shared study storage: an RDB URL or journal:FILE")
        group.add_argument("--study", default="spikestream", help="study name (workers share it)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    elif command == "eval":
        parser.add_argument("network", help="a .spkn network file (its .spkn.json sidecar gives the front end)")
        parser.add_argument("data", help="dataset source, as for `spikestream train`")
        parser.add_argument("--split", default="test", choices=("train", "val", "test", "holdout", "all"))
        parser.add_argument("--backend", choices=("golden", "rtl"), default="golden")
        parser.add_argument("--compare", action="store_true",
                            help="also report float and quantized-torch accuracy side by side")
        parser.add_argument("--limit", type=whole_number(1), help="evaluate the first N samples only")
        parser.add_argument("--leave-out-unused-inputs", action="store_true",
                            help="do not send the events of input channels without a synapse (as SpikeCore.run(..., "
                                 "leave_out_unused_inputs=True) on the board): same decisions, the cycles of what is "
                                 "streamed")
        parser.add_argument("--by-speaker", action="store_true",
                            help="also report the accuracy of every speaker, worst first (sources that name speakers)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        _add_data_arguments(parser)
    elif command == "demo":
        parser.add_argument("--subset", choices=("digits", "letters", "all"), default="digits")
        parser.add_argument("--out", help="folder for the network and report (default: ~/.cache/spikestream/demo)")
        parser.add_argument("--quick", action="store_true", help="a one-minute run (smaller network, few epochs)")
        parser.add_argument("--rtl-samples", type=whole_number(0), default=None,
                            help="test samples run through the RTL simulation (default: the whole test split)")
        parser.add_argument("--seed", type=whole_number(0), default=0)
        parser.add_argument("--threads", type=whole_number(0), default=0)
    else:
        raise AssertionError(command)


def _frontend(args, fallback=None):
    """The front end the options ask for (``fallback``, e.g. a network's sidecar, otherwise)."""
    from ..audio.config import FrontendConfig

    config = FrontendConfig.load(args.frontend) if getattr(args, "frontend", None) else fallback
    if getattr(args, "encoder", None):
        config = (config or FrontendConfig()).replace(encoder=args.encoder)
    return config


def configs_from_args(args):
    """The architecture and training configuration the command-line options describe."""
    from .layers import ArchitectureConfig
    from .prune import PruningConfig
    from .trainer import TrainConfig

    architecture = ArchitectureConfig(
        architecture=args.arch, hidden=tuple(int(h) for h in str(args.hidden).split(",") if h),
        decision=args.decision, tau_mem=args.tau_mem, tau_syn=args.tau_syn, adaptation=args.adaptation,
        refractory=args.refractory, reset=args.reset, early_exit=args.early_exit)
    from .trainer import DISTILL_WEIGHT

    distill = {} if not args.distill else {
        "distill_weight": DISTILL_WEIGHT if args.distill_weight is None else args.distill_weight,
        **({} if args.distill_temperature is None else {"distill_temperature": args.distill_temperature})}
    training = TrainConfig(float_epochs=args.float_epochs, quant_epochs=args.quant_epochs, batch_size=args.batch_size,
                           learning_rate=args.lr, quant_learning_rate=args.quant_lr, seed=args.seed,
                           input_dropout=args.input_dropout, shift=args.shift, cosine=args.cosine,
                           freq_mask=args.freq_mask, time_mask=args.time_mask,
                           pruning=PruningConfig(args.prune, args.connectivity, useful_only=args.useful_only,
                                                 activity_exponent=args.prune_activity_exponent,
                                                 input_channels=args.prune_input_channels),
                           threads=args.threads,
                           device=args.device, **distill)
    return architecture, training


def _option_errors(args) -> list[str]:
    """What is wrong with the distillation, masking and pruning options, before any data is loaded."""
    errors = []
    if not args.distill:
        errors += [f"{flag} needs a teacher network (--distill TEACHER.spkn)"
                   for flag, value in (("--distill-weight", args.distill_weight),
                                       ("--distill-temperature", args.distill_temperature)) if value is not None]
    else:
        if not Path(args.distill).is_file():
            errors.append(f"--distill {args.distill}: no such network file")
        if args.search:
            errors.append("--distill and --search cannot be combined (the search trains without a teacher)")
        if args.distill_weight is not None and not 0.0 < args.distill_weight <= 1.0:
            errors.append(f"--distill-weight {args.distill_weight}: expected a value in (0, 1]")
        if args.distill_temperature is not None and not args.distill_temperature > 0:
            errors.append(f"--distill-temperature {args.distill_temperature}: expected a value > 0")
    if not args.useful_only and args.prune != "magnitude":
        errors.append(f"--prune-dead-too is a rule of magnitude pruning; --prune is {args.prune}")
    if args.connectivity < 1.0 and args.prune == "none":
        errors.append(f"--connectivity {args.connectivity} needs a pruning method (--prune magnitude or rewire)")
    if args.early_exit and args.decision != "first_spike":
        errors.append(f"--early-exit stops a sample at its first output spike; it needs --decision first_spike, "
                      f"not {args.decision}")
    if Path(args.data).suffix == ".npz" and Path(args.data).is_file():
        errors += [f"{flag}: {args.data} holds spike rasters; {flag} applies to audio sources only"
                   for flag, value in (("--encoder", args.encoder), ("--frontend", args.frontend),
                                       ("--augment-copies", args.augment_copies)) if value]
    if args.search:
        # The search draws the pruning of each trial itself (search.sample_configs).
        given = [flag for flag, value in (("--prune", args.prune != "none"), ("--connectivity", args.connectivity < 1),
                                          ("--prune-activity-exponent", args.prune_activity_exponent != 0),
                                          ("--prune-input-channels", args.prune_input_channels < 1)) if value]
        if given:
            errors.append(f"--search draws each trial's pruning itself; {', '.join(given)} would be ignored")
        if not re.fullmatch(r"[a-z][\w+]*://.*|journal:.+", args.storage):
            errors.append(f"--storage {args.storage}: expected an RDB URL (e.g. sqlite:///study.db) or journal:FILE")
    if args.device not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", args.device):
        errors.append(f"--device {args.device}: expected auto, cpu, cuda or cuda:N")
    for flag, path in (("--out", args.out), ("--checkpoint", args.checkpoint)):
        # Checked now, not when training is over.
        if path and not Path(path).resolve().parent.is_dir():
            errors.append(f"{flag} {path}: the folder {Path(path).resolve().parent} does not exist")
    hidden = [h.strip() for h in str(args.hidden).split(",")]
    if not all(h.isdigit() for h in hidden):
        errors.append(f"--hidden {args.hidden}: expected hidden population sizes, comma separated (e.g. 128 or 128,64)")
    else:
        # The ranges of the values are the configurations' own checks, reported with the option's name.
        try:
            configs_from_args(args)
        except ValueError as error:
            errors.append(_with_flag(str(error)))
    return errors


#: Option of each configuration field whose name the option does not spell out.
_FIELD_FLAGS = {"learning_rate": "--lr", "quant_learning_rate": "--quant-lr", "pruning target": "--connectivity",
                "activity exponent": "--prune-activity-exponent", "input channel fraction": "--prune-input-channels"}


def _with_flag(message: str) -> str:
    """A configuration's error, led by the option that set the field it names (``batch_size = 0`` -> --batch-size)."""
    for field, flag in _FIELD_FLAGS.items():
        if message.startswith(field):
            return f"{flag}: {message}"
    field = re.match(r"[a-z_]+", message)
    return f"--{field.group().replace('_', '-')}: {message}" if field and " = " in message[:40] else message


def _teacher_logits(path, splits, training, decision) -> np.ndarray:
    """The logits of the exported network at ``path`` on ``splits.train`` (checked to fit the data)."""
    from .export import load_exported
    from .trainer import network_logits

    teacher, core, frontend, classes = load_exported(path)
    if teacher.decision.mode is not decision:
        raise ValueError(f"--distill {path}: the teacher decides by {teacher.decision.mode.value}, the student by "
                         f"{decision.value}: their logits are not comparable (train with the teacher's --decision)")
    n_classes = teacher.population(teacher.output).size
    if n_classes != len(splits.classes):
        raise ValueError(f"--distill {path}: the teacher has {n_classes} output neurons, the data "
                         f"{len(splits.classes)} classes")
    shape = splits.train.inputs.shape[1:]
    if (teacher.timesteps, teacher.n_inputs) != shape:
        raise ValueError(f"--distill {path}: the teacher takes [T={teacher.timesteps}, C={teacher.n_inputs}] "
                         f"rasters, the training data is [T={shape[0]}, C={shape[1]}]")
    if classes is not None and list(classes) != list(splits.classes):
        raise ValueError(f"--distill {path}: the teacher's classes {list(classes)} are not the data's "
                         f"{list(splits.classes)}")
    if frontend is not None and splits.frontend is not None and frontend.fingerprint() != splits.frontend.fingerprint():
        raise ValueError(f"--distill {path}: the teacher was trained on another front end than the data's "
                         f"(pass its sidecar with --frontend)")
    return network_logits(teacher, core, splits.train.inputs, training.logit_scale)


def _train(args) -> int:
    import dataclasses

    import torch

    from ..config import CoreConfig
    from ..network import remove_dead_neurons
    from .data import load_splits
    from .evaluate import evaluate
    from .export import export_network
    from .layers import build_model
    from .trainer import configure_torch, train

    errors = _option_errors(args)
    if errors:
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    configure_torch(args.threads)
    splits = load_splits(args.data, _frontend(args), args.classes, args.seed, args.augment_copies)
    empty = [name for name in ("train", "test") if len(getattr(splits, name)) == 0]
    if empty:
        print(f"error: {args.data} has no samples in its {' and '.join(empty)} split; training needs both "
              f"(the test split is scored hardware-exact at the end)", file=sys.stderr)
        return 2
    architecture, training = configs_from_args(args)
    try:
        # Frequency masks silence whole mel bands: every channel of a band, in every encoder's layout.
        bands = splits.mel_bands or splits.train.inputs.shape[2]
        if args.freq_mask > bands:
            raise ValueError(f"--freq-mask {args.freq_mask} is wider than the {bands} "
                             f"{'mel bands' if splits.mel_bands else 'channels'} of the data")
        if args.time_mask > splits.train.inputs.shape[1]:
            raise ValueError(f"--time-mask {args.time_mask} is longer than the {splits.train.inputs.shape[1]} "
                             f"timesteps of the data")
        training = dataclasses.replace(training, mel_bands=splits.mel_bands)
        soft_targets = (_teacher_logits(args.distill, splits, training, architecture.decision)
                        if args.distill else None)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    core = CoreConfig()
    n_classes = len(splits.classes)
    timesteps, n_inputs = splits.train.inputs.shape[1], splits.train.inputs.shape[2]
    log.info("data: %d train, %d validation, %d test samples, %d classes, %d steps x %d channels",
             len(splits.train), len(splits.validation), len(splits.test), n_classes, timesteps, n_inputs)
    if args.search:
        from .search import search
        study = search(splits.train, splits.validation, n_classes, args.storage, args.study, args.search,
                       architecture, training, core, progress=not args.no_progress)
        best = study.best_trial
        log.info("best trial %d: accuracy %.4f, %s", best.number, best.value, best.params)
        from .search import sample_configs
        import optuna
        architecture, training = sample_configs(optuna.trial.FixedTrial(best.params, best.number), architecture,
                                                training)
    model = build_model(architecture, n_inputs, n_classes, timesteps, core, torch.Generator().manual_seed(training.seed))
    result = train(model, splits.train, splits.validation, training, checkpoint=args.checkpoint,
                   progress=not args.no_progress, teacher=soft_targets)
    network = model.cpu().to_network()
    summary = {"float_validation_accuracy": result.float_accuracy,
               "quant_validation_accuracy": result.quant_accuracy, "training_seconds": result.seconds,
               "architecture": _jsonable(dataclasses.asdict(architecture)), "training": _jsonable(training.to_dict()),
               "connectivity": model.connectivity()}
    report = evaluate(network, core, splits.test.inputs, splits.test.labels, classes=splits.classes)
    summary["test_accuracy_hardware"] = report["accuracy"]
    summary["dead_neurons"] = network.n_neurons - remove_dead_neurons(network)[0].n_neurons
    export_network(args.out, network, core, splits.frontend, splits.classes, training=summary)
    summary["network"] = str(args.out)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.out} (+ {args.out}.json)")
        print(f"validation accuracy float {100 * result.float_accuracy:.2f} %, quantized {100 * result.quant_accuracy:.2f} %;"
              f" test (hardware-exact) {100 * report['accuracy']:.2f} %; trained in {result.seconds:.0f} s")
        if summary["dead_neurons"]:
            print(f"{summary['dead_neurons']} neurons lost all their fan-in or fan-out to pruning: "
                  f"`spikestream info {args.out} --remove-dead-neurons DEPLOYED.spkn` writes the network without "
                  f"them (same decisions, fewer cycles)")
    return 0


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value.value if hasattr(value, "value") else value


def select_classes(labels: np.ndarray, data_classes, network_classes) -> tuple[np.ndarray, np.ndarray]:
    """Map data labels onto the network's class order by name; return (kept mask, new labels)."""
    if network_classes is None or list(data_classes) == list(network_classes):
        return np.ones(labels.size, bool), labels
    position = {name: k for k, name in enumerate(network_classes)}
    mapped = np.array([position.get(data_classes[y], -1) for y in labels], np.int64)
    return mapped >= 0, np.maximum(mapped, 0)


def _eval(args) -> int:
    from .data import load_splits
    from .evaluate import evaluate, format_report
    from .export import load_exported

    network, core, frontend, classes = load_exported(args.network)
    splits = load_splits(args.data, _frontend(args, frontend), args.classes)
    if args.split == "all":
        # Every sample once: a source without a val split validates on its test part.
        names = [name for name in ("train", "validation", "test", "holdout") if getattr(splits, name) is not None
                 and not (name == "validation" and splits.validation is splits.test)]
        inputs = np.concatenate([getattr(splits, name).inputs for name in names])
        labels = np.concatenate([getattr(splits, name).labels for name in names])
        speakers = np.concatenate([splits.speakers[name] for name in names])
    else:
        name = {"val": "validation"}.get(args.split, args.split)  # the Splits field of a corpus split
        if getattr(splits, name) is None:
            print(f"error: {args.data} has no {args.split!r} split", file=sys.stderr)
            return 2
        inputs, labels, speakers = getattr(splits, name).inputs, getattr(splits, name).labels, splits.speakers[name]
    keep, labels = select_classes(labels, splits.classes, classes)
    inputs, labels, speakers = inputs[keep], labels[keep], speakers[keep]
    if args.limit is not None:
        inputs, labels, speakers = inputs[:args.limit], labels[:args.limit], speakers[:args.limit]
    if labels.size == 0:
        print(f"error: no samples of {args.data} ({args.split}) belong to the network's classes {classes}; "
              f"the data's classes are {list(splits.classes)}", file=sys.stderr)
        return 2
    if args.by_speaker and np.all(speakers == ""):
        print(f"error: --by-speaker: {args.data} names no speakers (a metadata.csv 'speaker' column, TI46 or "
              f"the built-in corpus do)", file=sys.stderr)
        return 2
    if inputs.shape[1:] != (network.timesteps, network.n_inputs):
        cause = (f"--encoder {args.encoder} replaced the encoder of the network's front end" if args.encoder
                 else "pass the front end it was trained with (--frontend)")
        print(f"error: the data is [T={inputs.shape[1]}, C={inputs.shape[2]}] but the network expects "
              f"[{network.timesteps}, {network.n_inputs}]; {cause}", file=sys.stderr)
        return 2
    from .evaluate import RtlUnavailable
    try:
        report = evaluate(network, core, inputs, labels, args.backend, args.compare, classes or splits.classes,
                          speakers if args.by_speaker else None, args.leave_out_unused_inputs)
    except RtlUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    disagreements = report.get("rtl_golden_decision_mismatches", 0) + report.get("rtl_golden_cycle_mismatches", 0)
    if disagreements:
        print(f"error: the RTL simulation disagrees with the golden model on {report['rtl_golden_decision_mismatches']}"
              f" decisions and {report['rtl_golden_cycle_mismatches']} cycle counts: a core bug (spikestream verify "
              f"looks for a small case)", file=sys.stderr)
        return 1
    return 0


def main(args: argparse.Namespace) -> int:
    if args.command == "train":
        return _train(args)
    if args.command == "eval":
        return _eval(args)
    if args.command == "demo":
        from .demo import run_demo
        return run_demo(subset=args.subset, out=args.out, quick=args.quick, rtl_samples=args.rtl_samples,
                        seed=args.seed, threads=args.threads)
    raise AssertionError(args.command)
