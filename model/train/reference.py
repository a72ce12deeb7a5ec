"""A non-spiking reference classifier on the rasters the core receives: how far the input carries.

When a spiking network misses an accuracy goal, the question is whether the network
(neuron model, quantization, training) or its input (front end, training voices) limits
it. The reference answers the second part: a multi-layer perceptron with dropout (a
standard, well-understood classifier, no spikes, no fixed point) trained on the *same*
rasters, summed into spike counts per frame (``steps_per_frame`` timesteps each, so it
sees what the front end encoded at frame resolution). If it generalises no better than
the spiking network to unseen voices, a better network will not reach the goal; better
features or more varied training data might (``bench/bench_features.py`` measures both).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .trainer import Dataset

__all__ = ["ReferenceConfig", "frame_counts", "train_reference", "reference_accuracy"]


@dataclasses.dataclass(frozen=True)
class ReferenceConfig:
    """The reference classifier and its training (defaults measured on the spoken-word corpus).

    ``steps_per_frame`` timesteps are summed into one input frame (1: every timestep is
    its own frame). One hidden layer of ``hidden`` ReLU units, dropout ``input_dropout``
    on the inputs and ``hidden_dropout`` on the hidden layer, Adam with ``weight_decay``,
    ``epochs`` passes in shuffled mini-batches of ``batch_size``.
    """

    steps_per_frame: int = 1
    hidden: int = 512
    input_dropout: float = 0.2
    hidden_dropout: float = 0.3
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name, least in (("steps_per_frame", 1), ("hidden", 1), ("epochs", 1), ("batch_size", 1), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} = {value!r}: expected an integer >= {least}")
        for name in ("input_dropout", "hidden_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} = {getattr(self, name)}: expected a probability in [0, 1)")
        if not self.learning_rate > 0 or not self.weight_decay >= 0:
            raise ValueError(f"learning_rate = {self.learning_rate}, weight_decay = {self.weight_decay}: "
                             "expected a learning rate > 0 and a weight decay >= 0")


def frame_counts(inputs: np.ndarray, steps_per_frame: int) -> np.ndarray:
    """Return the spike counts ``float32 [n, T / steps_per_frame, C]`` of rasters ``bool [n, T, C]``."""
    inputs = np.asarray(inputs)
    if inputs.ndim != 3:
        raise ValueError(f"rasters of shape {inputs.shape}: expected [samples, timesteps, channels]")
    samples, timesteps, channels = inputs.shape
    if timesteps % steps_per_frame:
        raise ValueError(f"{timesteps} timesteps do not split into frames of {steps_per_frame} steps")
    frames = timesteps // steps_per_frame
    return inputs.reshape(samples, frames, steps_per_frame, channels).sum(axis=2, dtype=np.float32)


def train_reference(train: Dataset, classes: int, config: ReferenceConfig = ReferenceConfig()):
    """Train the reference on ``train`` (``classes`` outputs); return the torch model (eval mode)."""
    import torch

    if len(train) == 0:
        raise ValueError("no training samples")
    if int(train.labels.max()) >= classes or int(train.labels.min()) < 0:
        raise ValueError(f"labels {int(train.labels.min())}..{int(train.labels.max())}: expected 0..{classes - 1}")
    counts = torch.from_numpy(frame_counts(train.inputs, config.steps_per_frame))
    labels = torch.from_numpy(np.asarray(train.labels, np.int64))
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # the layers' initial weights
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Dropout(config.input_dropout),
        torch.nn.Linear(counts.shape[1] * counts.shape[2], config.hidden), torch.nn.ReLU(),
        torch.nn.Dropout(config.hidden_dropout), torch.nn.Linear(config.hidden, classes))
    optimizer = torch.optim.Adam(model.parameters(), config.learning_rate, weight_decay=config.weight_decay)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss = torch.nn.functional.cross_entropy(model(counts[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def reference_accuracy(train: Dataset, evaluations: dict[str, Dataset], classes: int,
                       config: ReferenceConfig = ReferenceConfig()) -> dict[str, float]:
    """Train the reference on ``train`` and return its accuracy on each named dataset."""
    import torch

    model = train_reference(train, classes, config)
    accuracies = {}
    with torch.no_grad():
        for name, data in evaluations.items():
            if len(data) == 0:
                raise ValueError(f"'{name}' has no samples to evaluate")
            logits = model(torch.from_numpy(frame_counts(data.inputs, config.steps_per_frame)))
            accuracies[name] = float(np.mean(logits.argmax(1).numpy() == data.labels))
    return accuracies
