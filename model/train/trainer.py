"""Backpropagation through time of a :class:`SpikingNetwork`, with a loss matching the core's decision.

Training runs in two phases: ``float_epochs`` of the float model (no rounding), then
``quant_epochs`` of quantization-aware training in hardware-exact mode (straight-through
rounding), so the final network is the integer network the core runs. The float
model's accuracy is recorded at the end of the first phase, for comparison.

The loss follows the decision rule (:class:`~spikestream.model.network.Decision`):

``SPIKE_COUNT``
    cross-entropy of the output spike counts times ``logit_scale``.
``FIRST_SPIKE``
    cross-entropy of ``logit_scale * sum_t spike[t] * (1 - t / T)``: an earlier spike is
    a larger logit, so the target neuron learns to fire first.
``MAX_POTENTIAL``
    cross-entropy of the final output voltage in thresholds times ``logit_scale``.

Knowledge distillation (``distill_weight > 0``, Hinton et al. 2015): the loss becomes
``(1 - w) * cross-entropy + w * T^2 * KL(softmax(teacher / T) || softmax(student / T))``
with ``T = distill_temperature`` and ``teacher`` the logits of another network (same
rule, same ``logit_scale``) on each training sample, computed once before training
(:func:`network_logits`; a trained dense network teaching a network pruned in training,
``bench/bench_learning.py`` demo c). The teacher sees the sample without the
augmentation of the batch (shift, input dropout, frequency masks): it says what the
clean word is. Measured there: no gain (docs/training.md, session 5).

Reproducibility: every random draw (initialisation, shuffling, rewiring) comes from
generators seeded by ``seed``; with the same seed, data, threads and device a run is
repeated bit for bit. Checkpoints hold the model, the optimiser, the generators and the
history, so a run resumed from one continues as if it had not stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..encoding import check_spike_batch
from ..network import DecisionMode
from .choices import is_finite_number, is_whole_number
from .net import SpikingNetwork, decide
from .prune import PruningConfig, PruningMethod, Pruner

__all__ = ["TrainConfig", "Dataset", "TrainResult", "train", "predict", "accuracy", "loss_for", "configure_torch",
           "default_device", "logits_for", "teacher_logits", "network_logits", "DISTILL_WEIGHT"]

#: The weight of the teacher's soft targets when a teacher is given without one (``train --distill``).
DISTILL_WEIGHT = 0.5

log = logging.getLogger("spikestream.train")


def _spike_rasters(inputs, what: str) -> np.ndarray:
    """``inputs`` as bool rasters ``[samples, timesteps, channels]``, or raise if a value is not 0 or 1."""
    inputs = np.asarray(inputs)
    if inputs.ndim != 3:
        raise ValueError(f"{what} have shape {inputs.shape}, expected [samples, timesteps, channels]")
    return check_spike_batch(inputs, inputs.shape[1], inputs.shape[2])


class _DatasetFields(NamedTuple):
    inputs: np.ndarray
    labels: np.ndarray


class Dataset(_DatasetFields):
    """Spike rasters and labels: ``inputs`` bool ``[n, T, C]``, ``labels`` int64 ``[n]``.

    Checked once, here, not at every batch: the inputs must be 0/1 spikes (the golden
    model's rule, :func:`~spikestream.model.encoding.check_spike_batch`) and the labels
    whole class indices >= 0, one per raster. Both are stored converted (bool, int64),
    which loses nothing once they have passed.
    """

    __slots__ = ()

    def __new__(cls, inputs, labels) -> "Dataset":
        inputs, labels = _spike_rasters(inputs, "Dataset inputs"), np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != inputs.shape[0]:
            raise ValueError(f"Dataset labels have shape {labels.shape}, expected [{inputs.shape[0]}]: one label per "
                             f"input raster")
        if labels.dtype.kind not in "iuf":
            raise ValueError(f"Dataset labels have dtype {labels.dtype}, expected whole class indices >= 0")
        bad = ~np.isfinite(labels) | (labels != np.round(labels)) | (labels < 0)
        if bad.any():
            raise ValueError(f"Dataset label {labels[bad][0]} (sample {np.flatnonzero(bad)[0]}) is not a whole "
                             f"class index >= 0")
        return super().__new__(cls, inputs, labels.astype(np.int64, copy=False))

    def subset(self, index: np.ndarray) -> "Dataset":
        return Dataset(self.inputs[index], self.labels[index])

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one training run."""

    float_epochs: int = 20
    quant_epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-3
    quant_learning_rate: float = 1e-3
    logit_scale: float = 0.2
    rate_penalty: float = 0.0  #: weight of the mean hidden spike rate in the loss
    shift: int = 0  #: augmentation: shift each training raster by up to this many steps (either way)
    input_dropout: float = 0.0  #: augmentation: drop each input spike with this probability
    #: augmentation (SpecAugment's frequency masking): silence up to this many adjacent mel
    #: bands (width uniform in 0..freq_mask, then the start uniform over the places it fits, so
    #: edge bands are masked less often, as in SpecAugment) in each training raster; channel
    #: ``c`` is band ``c % mel_bands``, the layout of every encoder of
    #: :mod:`spikestream.model.audio.encoders` (:attr:`~spikestream.model.train.data.Splits.mel_bands`)
    freq_mask: int = 0
    mel_bands: int = 0  #: bands of the rasters' front end (0: channels are not mel bands; each is its own)
    #: augmentation (SpecAugment's time masking): silence a run of up to this many adjacent
    #: timesteps of each training raster (width and start drawn as for ``freq_mask``)
    time_mask: int = 0
    cosine: bool = False  #: cosine learning-rate decay within each phase
    seed: int = 0
    pruning: PruningConfig = field(default_factory=PruningConfig)
    threads: int = 0  #: 0: choose (see configure_torch)
    device: str = "auto"  #: "auto": cuda when available, else cpu
    distill_weight: float = 0.0  #: weight of the teacher's soft targets in the loss (module docstring)
    distill_temperature: float = 2.0  #: softmax temperature of distillation

    def __post_init__(self) -> None:
        if isinstance(self.pruning, dict):
            # A dict is what to_dict() and JSON give back: read it as the PruningConfig it describes.
            known = {f.name for f in dataclasses.fields(PruningConfig)}
            unknown = sorted(set(self.pruning) - known)
            if unknown:
                raise ValueError(f"pruning has unknown fields {unknown}, expected a subset of {sorted(known)}")
            object.__setattr__(self, "pruning", PruningConfig(**self.pruning))
        if not isinstance(self.pruning, PruningConfig):
            raise ValueError(f"pruning = {self.pruning!r}, expected a PruningConfig or a dict of its fields")
        for name, least in (("float_epochs", 0), ("quant_epochs", 0), ("batch_size", 1), ("shift", 0), ("threads", 0),
                            ("freq_mask", 0), ("mel_bands", 0), ("time_mask", 0)):
            if not is_whole_number(getattr(self, name)) or getattr(self, name) < least:
                raise ValueError(f"{name} = {getattr(self, name)!r}, expected a whole number >= {least}")
        for name in ("learning_rate", "quant_learning_rate", "logit_scale", "distill_temperature"):
            if not is_finite_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}, expected a finite number > 0")
        if not is_finite_number(self.rate_penalty) or self.rate_penalty < 0:
            raise ValueError(f"rate_penalty = {self.rate_penalty!r}, expected a finite number >= 0")
        if not is_finite_number(self.input_dropout) or not 0.0 <= self.input_dropout < 1.0:
            raise ValueError(f"input_dropout = {self.input_dropout!r}, expected a probability in [0, 1)")
        if not is_finite_number(self.distill_weight) or not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight = {self.distill_weight!r}, expected a value in [0, 1]")
        if self.mel_bands and self.freq_mask > self.mel_bands:
            raise ValueError(f"freq_mask = {self.freq_mask} is wider than the {self.mel_bands} mel bands")

    def to_dict(self) -> dict:
        """The settings as JSON values (the pruning method by name); :meth:`from_dict` reads them back."""
        settings = dataclasses.asdict(self)
        settings["pruning"]["method"] = self.pruning.method.value
        return settings

    @classmethod
    def from_dict(cls, settings: dict) -> "TrainConfig":
        """The configuration :meth:`to_dict` wrote (fields it lacks take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}, expected a subset of {sorted(known)}")
        return cls(**settings)


class TrainResult(NamedTuple):
    """What a run reached (accuracies in [0, 1] on the validation data)."""

    model: SpikingNetwork
    float_accuracy: float
    quant_accuracy: float
    history: list[dict]
    seconds: float


def default_device(choice: str = "auto") -> torch.device:
    """``cuda`` when asked or available (``auto``), else ``cpu``."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def configure_torch(threads: int = 0) -> int:
    """Set torch's intra-op threads and return the count.

    ``threads <= 0`` picks one: the per-step tensors (``[batch, neurons]``) are too small
    for intra-op parallelism to pay, and on a busy 2-core machine two threads that spin
    waiting for each other made a training step 20 times slower than one (measured).
    More threads help large batches and networks: pass them explicitly.
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = 1 if threads <= 0 else min(threads, available)
    torch.set_num_threads(count)
    return count


def logits_for(model: SpikingNetwork, run, logit_scale: float) -> torch.Tensor:
    """The logits ``[batch, classes]`` that match the network's decision rule (module docstring)."""
    mode = model.template.decision.mode
    out = model.output_slice
    if mode is DecisionMode.SPIKE_COUNT:
        logits = run.spike_count[:, out] * logit_scale
    elif mode is DecisionMode.FIRST_SPIKE:
        steps = run.spikes.shape[1]
        earliness = 1.0 - torch.arange(steps, dtype=run.spikes.dtype, device=run.spikes.device) / steps
        logits = (run.spikes[:, :, out] * earliness[None, :, None]).sum(dim=1) * (8.0 * logit_scale)
    else:
        logits = run.v[:, out] / model.unit * logit_scale
    return logits


def loss_for(model: SpikingNetwork, run, labels: torch.Tensor, logit_scale: float,
             teacher: torch.Tensor | None = None, distill_weight: float = 0.0,
             temperature: float = TrainConfig.distill_temperature) -> torch.Tensor:
    """Cross-entropy of :func:`logits_for`, mixed with distillation from ``teacher`` logits (module docstring)."""
    logits = logits_for(model, run, logit_scale)
    loss = F.cross_entropy(logits, labels)
    if teacher is None or distill_weight == 0.0:
        return loss
    soft = F.kl_div(F.log_softmax(logits / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1.0 - distill_weight) * loss + distill_weight * temperature**2 * soft


@torch.no_grad()
def teacher_logits(teacher: SpikingNetwork, inputs: np.ndarray, logit_scale: float, exact: bool = True,
                   batch_size: int = 256) -> np.ndarray:
    """``teacher``'s logits (:func:`logits_for`) on every sample of ``inputs``, ``[n, classes]`` float64.

    With ``exact`` (the default) the teacher runs hardware-exact: a network loaded from a
    ``.spkn`` file (``SpikingNetwork(network, core, exponents="fixed")``) teaches what
    the core would decide. ``inputs`` must be 0/1 spikes, as for :class:`Dataset`.
    """
    inputs = _spike_rasters(inputs, "teacher inputs")
    device = teacher.threshold.device
    parts = [logits_for(teacher, teacher(torch.as_tensor(inputs[start:start + batch_size], device=device),
                                         exact=exact), logit_scale).cpu().numpy()
             for start in range(0, inputs.shape[0], batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, teacher.output_slice.stop - teacher.output_slice.start))


def network_logits(network, core, inputs: np.ndarray, logit_scale: float) -> np.ndarray:
    """:func:`teacher_logits` of a :class:`~spikestream.model.network.Network` (e.g. loaded from ``.spkn``), hardware-exact."""
    return teacher_logits(SpikingNetwork(network, core, exponents="fixed"), inputs, logit_scale)


@torch.no_grad()
def predict(model: SpikingNetwork, inputs: np.ndarray, exact: bool, batch_size: int = 256) -> np.ndarray:
    """Decisions of the core's rule for every sample of ``inputs`` (0/1 spikes; torch model, float or exact)."""
    inputs = _spike_rasters(inputs, "predict inputs")
    device = model.threshold.device
    decisions = []
    for start in range(0, inputs.shape[0], batch_size):
        batch = torch.as_tensor(inputs[start:start + batch_size], device=device)
        decisions.append(decide(model, model(batch, exact=exact)))
    return np.concatenate(decisions) if decisions else np.zeros(0, np.int64)


def accuracy(model: SpikingNetwork, data: Dataset, exact: bool) -> float:
    """Fraction of ``data`` the model classifies right (core's decision rule)."""
    if len(data) == 0:
        return float("nan")
    return float(np.mean(predict(model, data.inputs, exact) == data.labels))


def _set_cosine_rate(optimizer, config: TrainConfig, position: float) -> None:
    """Cosine decay from the phase's rate to 5 % of it, over each phase (``position`` in epochs)."""
    if position < config.float_epochs:
        rate, progress = config.learning_rate, position / max(config.float_epochs, 1)
    else:
        rate, progress = config.quant_learning_rate, (position - config.float_epochs) / max(config.quant_epochs, 1)
    value = rate * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * min(progress, 1.0))))
    for group in optimizer.param_groups:
        group["lr"] = value


def _augment(inputs: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Random time shift (zero-filled), input spike dropout, frequency and time masking of a training batch."""
    if config.shift:
        shifts = torch.randint(-config.shift, config.shift + 1, (inputs.shape[0],), generator=generator)
        shifted = torch.zeros_like(inputs)
        steps = inputs.shape[1]
        for b, k in enumerate(shifts.tolist()):
            if k >= 0:
                shifted[b, k:] = inputs[b, :steps - k]
            else:
                shifted[b, :steps + k] = inputs[b, -k:]
        inputs = shifted
    if config.input_dropout:
        keep = torch.rand(inputs.shape, generator=generator) >= config.input_dropout
        inputs = inputs & keep
    if config.freq_mask:
        channels = inputs.shape[2]
        bands = config.mel_bands or channels
        if channels % bands:
            raise ValueError(f"{channels} input channels are not a whole number of the {bands} mel bands")
        band = torch.arange(channels) % bands
        inputs = inputs & ~_runs(band, bands, config.freq_mask, generator, inputs.shape[0])[:, None, :]
    if config.time_mask:
        steps = inputs.shape[1]
        inputs = inputs & ~_runs(torch.arange(steps), steps, config.time_mask, generator, inputs.shape[0])[:, :, None]
    return inputs


def _runs(position: torch.Tensor, places: int, longest: int, generator: torch.Generator, count: int) -> torch.Tensor:
    """``[count, len(position)]``: True where ``position`` falls in a random run of ``0..longest`` of ``places``.

    The width is uniform in ``0..longest``, then the start uniform over the places the run fits.
    """
    widths = torch.randint(0, longest + 1, (count,), generator=generator)
    starts = torch.floor(torch.rand(count, generator=generator, dtype=torch.float64)
                         * (places - widths + 1)).to(torch.int64)
    return (position[None, :] >= starts[:, None]) & (position[None, :] < (starts + widths)[:, None])


def _check_resumed_config(path: Path, saved: dict, config: TrainConfig) -> None:
    """Refuse to resume a checkpoint of other settings (threads and device may change)."""
    current, defaults = config.to_dict(), TrainConfig().to_dict()
    pruning = saved.get("pruning")
    if isinstance(pruning, dict) and isinstance(pruning.get("method"), PruningMethod):
        # Saved before to_dict() named the method: compare it by name, as to_dict() writes it now.
        pruning = {**pruning, "method": pruning["method"].value}
        saved = {**saved, "pruning": pruning}
    if isinstance(pruning, dict) and "useful_only" not in pruning:
        # Saved before PruningConfig.useful_only: magnitude pruning was plain then; for the
        # other methods the flag means nothing.
        plain = PruningMethod(pruning.get("method", "none")) is PruningMethod.MAGNITUDE
        saved = {**saved, "pruning": {**pruning, "useful_only": False if plain else current["pruning"]["useful_only"]}}
    if isinstance(saved.get("pruning"), dict):
        # Pruning fields added since the checkpoint read as their defaults, as the top-level settings do below.
        saved = {**saved, "pruning": {**defaults["pruning"], **saved["pruning"]}}
    changed = sorted(key for key in current if key not in ("threads", "device")
                     and saved.get(key, defaults[key]) != current[key])
    if changed:
        raise ValueError(f"checkpoint {path} was saved with other training settings ("
                         + ", ".join(f"{key}: {saved.get(key, defaults[key])!r} there, {current[key]!r} now"
                                     for key in changed) + "): resume with the same settings or another checkpoint")


def _save_checkpoint(path: Path, state: dict) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def train(model: SpikingNetwork, train_data: Dataset, validation: Dataset, config: TrainConfig,
          checkpoint: str | os.PathLike | None = None, progress: bool = True,
          on_epoch: Callable[[int, dict], None] | None = None, teacher: np.ndarray | None = None) -> TrainResult:
    """Train ``model`` in place (float phase, then quantization-aware phase).

    Parameters
    ----------
    model : SpikingNetwork
    train_data, validation : Dataset
    config : TrainConfig
    checkpoint : path, optional
        Saved after every epoch; if it exists, training resumes from it.
    progress : bool
        Show tqdm progress bars.
    on_epoch : callable, optional
        ``on_epoch(epoch, record)`` after every epoch (Optuna pruning hooks in here).
    teacher : ndarray, optional
        ``[len(train_data), classes]`` logits of a teacher network (:func:`teacher_logits`),
        required when ``config.distill_weight > 0``.
    """
    from tqdm.auto import tqdm

    n_classes = model.output_slice.stop - model.output_slice.start
    for name, data in (("training", train_data), ("validation", validation)):
        if len(data) and data.labels.max() >= n_classes:
            raise ValueError(f"{name} label {data.labels.max()} is not a class of the model's {n_classes} outputs "
                             f"(expected labels 0 to {n_classes - 1})")
    if config.shift > train_data.inputs.shape[1]:
        raise ValueError(f"shift = {config.shift} is longer than the {train_data.inputs.shape[1]} timesteps of the "
                         f"inputs")
    if config.freq_mask:
        bands = config.mel_bands or train_data.inputs.shape[2]
        if config.freq_mask > bands:
            raise ValueError(f"freq_mask = {config.freq_mask} is wider than the {bands} bands of the inputs")
    if config.time_mask > train_data.inputs.shape[1]:
        raise ValueError(f"time_mask = {config.time_mask} is longer than the {train_data.inputs.shape[1]} "
                         f"timesteps of the inputs")
    if config.distill_weight > 0:
        if teacher is None:
            raise ValueError(f"distill_weight = {config.distill_weight} needs teacher logits (teacher_logits())")
        if np.shape(teacher) != (len(train_data), n_classes):
            raise ValueError(f"teacher logits have shape {np.shape(teacher)}, expected ({len(train_data)}, "
                             f"{n_classes}): one row of class logits per training sample")
    configure_torch(config.threads)
    device = default_device(config.device)
    model.to(device)
    teacher_all = None if config.distill_weight == 0 else torch.as_tensor(np.asarray(teacher, np.float64))
    generator = torch.Generator().manual_seed(config.seed)
    total_epochs = config.float_epochs + config.quant_epochs
    pruner = Pruner(model, config.pruning, total_epochs * max(1, -(-len(train_data) // config.batch_size)),
                    seed=config.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate)
    history: list[dict] = []
    float_accuracy = float("nan")
    start_epoch = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.exists():
        try:
            state = torch.load(checkpoint, map_location=device, weights_only=True)
        except Exception as error:  # torch raises pickle, zip and runtime errors of many kinds for a foreign file
            raise ValueError(f"--checkpoint {checkpoint} is not a spikestream training checkpoint ({type(error).__name__}: "
                             f"{str(error)[:200]}); give a new path to start one") from None
        if not isinstance(state, dict) or not {"model", "optimizer", "epoch"} <= set(state):
            raise ValueError(f"--checkpoint {checkpoint} is not a spikestream training checkpoint (no model, optimizer "
                             f"and epoch); give a new path to start one")
        _check_resumed_config(checkpoint, state.get("config", {}), config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        pruner.load_state_dict(state["pruner"])
        history = state["history"]
        float_accuracy = state["float_accuracy"]
        start_epoch = state["epoch"] + 1
        log.info("resumed from %s at epoch %d", checkpoint, start_epoch)
    began = time.monotonic()
    labels_all = torch.as_tensor(train_data.labels, dtype=torch.int64)
    bar = tqdm(total=total_epochs, initial=start_epoch, desc="epochs", disable=not progress, leave=False)
    for epoch in range(start_epoch, total_epochs):
        exact = epoch >= config.float_epochs
        if epoch == config.float_epochs and not config.cosine:
            for group in optimizer.param_groups:
                group["lr"] = config.quant_learning_rate
        order = torch.randperm(len(train_data), generator=generator).numpy()
        model.train()
        losses = []
        batches = range(0, len(order), config.batch_size)
        for batch_number, start in enumerate(batches):
            if config.cosine:
                _set_cosine_rate(optimizer, config, epoch + batch_number / len(batches))
            index = order[start:start + config.batch_size]
            inputs = _augment(torch.as_tensor(train_data.inputs[index]), config, generator).to(device)
            labels = labels_all[index].to(device)
            run = model(inputs, exact=exact)
            pruner.observe(inputs, run.spike_count)
            soft = None if teacher_all is None else teacher_all[index].to(device=device, dtype=run.v.dtype)
            loss = loss_for(model, run, labels, config.logit_scale, soft, config.distill_weight,
                            config.distill_temperature)
            if config.rate_penalty:
                hidden = [i for i in range(run.spikes.shape[2]) if not model.output_slice.start <= i
                          < model.output_slice.stop]
                loss = loss + config.rate_penalty * run.spikes[:, :, hidden].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            pruner.step(model)
            losses.append(float(loss.detach()))
        model.eval()
        record = {"epoch": epoch, "phase": "quant" if exact else "float", "loss": float(np.mean(losses)),
                  "validation_accuracy": accuracy(model, validation, exact),
                  "connectivity": pruner.connectivity(model), "seconds": time.monotonic() - began}
        if epoch == config.float_epochs - 1:
            float_accuracy = record["validation_accuracy"]
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['validation_accuracy']:.3f}", phase=record["phase"])
        bar.update(1)
        log.debug("epoch %d: %s", epoch, record)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                          "generator": generator.get_state(), "pruner": pruner.state_dict(),
                                          "history": history, "float_accuracy": float_accuracy, "epoch": epoch,
                                          "config": config.to_dict()})
        if on_epoch is not None:
            on_epoch(epoch, record)
    bar.close()
    pruner.finish(model)
    quant_accuracy = accuracy(model, validation, True)
    return TrainResult(model, float_accuracy, quant_accuracy, history, time.monotonic() - began)
