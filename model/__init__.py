"""spikestream.model: the one description (core + network) and the golden model.

Numpy only, so that it also runs on the board. Training (torch) lives in
``spikestream.model.train`` and is imported on demand.
"""

from .config import PYNQ_Z2, ConfigError, CoreConfig
from .network import (INPUT, Decision, DecisionMode, LearningKind, LearningRule, Network, NetworkDoesNotFit,
                      NetworkError, Population, PruningRule, ResetMode, SynapseGroup, leave_out_unused_inputs,
                      remove_dead_neurons, unused_inputs)
from .fileformat import NetworkFileError, load_network, save_network

__all__ = [
    "PYNQ_Z2", "ConfigError", "CoreConfig", "INPUT", "Decision", "DecisionMode", "LearningKind", "LearningRule",
    "Network", "NetworkDoesNotFit", "NetworkError", "Population", "PruningRule", "ResetMode", "SynapseGroup",
    "remove_dead_neurons", "unused_inputs", "leave_out_unused_inputs", "NetworkFileError", "load_network", "save_network",
]
