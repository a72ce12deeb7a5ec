"""Small networks built in code, for doctests, tests and the notebooks (numpy only).

Where no trained network is at hand (the training engineer's export), the notebooks use
:func:`template_network`: a one-layer classifier whose weights are the class-mean input
rasters, which is enough to show streaming decisions, learning and pruning on any
backend within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikestream.model.config import CoreConfig
from spikestream.model.network import (INPUT, Decision, DecisionMode, LearningRule, Network, Population, PruningRule,
                                       SynapseGroup)

__all__ = ["tiny_network", "template_network", "DEMO_CORE", "SpokenWords", "spoken_words", "class_templates"]

#: A core small enough to simulate in seconds, with learning and pruning switched on.
DEMO_CORE = CoreConfig(max_neurons=48, max_inputs=32, max_synapses=2048, max_groups=4, max_populations=2, lanes=4,
                       timestep_bits=7, event_queue_depth=64)


def tiny_network(core: CoreConfig) -> Network:
    """Four inputs, two output neurons: input 0 drives neuron 0, input 1 drives neuron 1.

    An input spike at step ``t`` makes its neuron fire at ``t + 1`` (one-step delivery).
    """
    weights = np.zeros((4, 2), np.int64)
    weights[0, 0] = weights[1, 1] = 100
    output = Population("out", 2, threshold=50, voltage_decay=4095, current_decay=4095)
    return Network(4, [output], [SynapseGroup(INPUT, "out", weights, weights != 0)], 8, "out")


def template_network(templates: np.ndarray, threshold: int = 600, weight_scale: int = 60,
                     learning: LearningRule | None = None, pruning: PruningRule | None = None,
                     decision: Decision = Decision(DecisionMode.SPIKE_COUNT)) -> Network:
    """A one-layer classifier: class ``k``'s weights are its template of input activity.

    Parameters
    ----------
    templates : float [classes, timesteps, channels]
        Mean input raster per class (e.g. ``X[y == k].mean(0)``).
    threshold, weight_scale : int
        Output threshold; weights are ``round(weight_scale * (p - mean p))`` of each
        channel's spike probability ``p`` (int8 after clipping), so that channels typical
        of the class excite and the others inhibit.
    learning, pruning : optional
        Rules of the input -> output group (STDP, pruning).
    decision : Decision
    """
    templates = np.asarray(templates, np.float64)
    classes, timesteps, channels = templates.shape
    probability = templates.mean(axis=1)  # [classes, channels]
    centred = probability - probability.mean(axis=0, keepdims=True)
    weights = np.clip(np.round(weight_scale * centred / max(np.abs(centred).max(), 1e-9)),
                      CoreConfig().weight_min, CoreConfig().weight_max).astype(np.int64)
    output = Population("words", classes, threshold=threshold, current_decay=4095, voltage_decay=256)
    group = SynapseGroup(INPUT, "words", weights.T.copy(), weights.T != 0, exponent=0, learning=learning,
                         pruning=pruning)
    return Network(channels, [output], [group], timesteps, "words", decision)



@dataclass(frozen=True)
class SpokenWords:
    """Utterances of a few words by a few speakers, with their spike rasters.

    Attributes
    ----------
    clips : list of float arrays
        Audio at :attr:`sample_rate`.
    labels : int64 [n]
        Index into :attr:`words`.
    speakers : list of str
        Speaker name of each clip.
    rasters : bool [n, timesteps, channels]
        The front end's encoding of each clip.
    """

    words: tuple
    clips: list
    sample_rate: int
    labels: np.ndarray
    speakers: list
    rasters: np.ndarray

    def select(self, mask: np.ndarray) -> "SpokenWords":
        index = np.flatnonzero(mask)
        return SpokenWords(self.words, [self.clips[i] for i in index], self.sample_rate, self.labels[index],
                           [self.speakers[i] for i in index], self.rasters[index])


def spoken_words(words: tuple, speakers, frontend, folder) -> SpokenWords:
    """Synthesize ``words`` with each of ``speakers`` into ``folder`` and encode them with ``frontend``.

    ``speakers`` are :class:`spikestream.model.audio.corpus.Speaker` objects (espeak-ng
    synthesises a word in ~40 ms, so a demo set takes about a second).
    """
    from pathlib import Path

    from spikestream.model.audio import audio_to_raster
    from spikestream.model.audio.corpus import available_engines, synthesize
    from spikestream.model.audio.wavio import read_audio

    installed = available_engines()
    missing = sorted({s.engine for s in speakers if not installed.get(s.engine, False)})
    if missing:
        raise RuntimeError(f"speech synthesis needs {', '.join(missing)}, not installed here (Debian: apt install "
                           f"{' '.join(missing)}); or build the corpus elsewhere and load it with "
                           "spikestream.model.audio.datasets.load_dataset")
    clips, labels, names, rasters, rate = [], [], [], [], None
    for speaker in speakers:
        for path, word in zip(synthesize(speaker, list(words), Path(folder) / speaker.name), words):
            samples, rate = read_audio(path)
            clips.append(samples)
            labels.append(words.index(word))
            names.append(speaker.name)
            rasters.append(audio_to_raster(samples, rate, frontend))
    return SpokenWords(tuple(words), clips, rate, np.array(labels, np.int64), names, np.array(rasters, bool))


def class_templates(rasters: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Mean raster of each class ``float [classes, timesteps, channels]``."""
    return np.stack([rasters[labels == k].mean(axis=0) for k in range(classes)])
