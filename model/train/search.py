"""Hyper-parameter search with Optuna on a study storage that many workers can share.

Every worker runs :func:`search` with the same ``storage`` and ``study`` name and adds
trials to the same study: an RDB URL (``sqlite:///study.db`` on one machine or a shared
file system, ``postgresql://...`` across machines) or a journal file
(``journal:PATH``, Optuna's ``JournalFileBackend``: works on NFS without a database).
Each trial trains a network with a sampled configuration and reports the hardware-exact
validation accuracy after every epoch, so the median pruner stops poor trials early.
Trial ``k`` uses seed ``base_seed + k``: any trial can be rerun exactly from its number
and parameters (stored as user attributes).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

import torch

from ..config import CoreConfig
from ..network import DecisionMode
from .layers import Architecture, ArchitectureConfig, build_model
from .prune import PruningConfig
from .trainer import Dataset, TrainConfig, train

__all__ = ["open_study", "sample_configs", "search"]

log = logging.getLogger("spikestream.train.search")


def open_study(storage: str, study: str, seed: int = 0):
    """Create or join ``study`` in ``storage`` (maximising validation accuracy)."""
    import optuna

    if storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        backend = JournalStorage(JournalFileBackend(storage[len("journal:"):]))
    else:
        backend = storage
    return optuna.create_study(study_name=study, storage=backend, direction="maximize", load_if_exists=True,
                               sampler=optuna.samplers.TPESampler(seed=seed),
                               pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2))


def sample_configs(trial, base: ArchitectureConfig, training: TrainConfig) -> tuple[ArchitectureConfig, TrainConfig]:
    """Draw an architecture and training configuration for ``trial`` around ``base`` / ``training``."""
    architecture = dataclasses.replace(
        base,
        architecture=Architecture(trial.suggest_categorical("architecture", [a.value for a in Architecture])),
        hidden=(trial.suggest_int("hidden", max(8, base.hidden[0] // 2), base.hidden[0] * 2, log=True),),
        tau_mem=trial.suggest_float("tau_mem", 2.0, 32.0, log=True),
        tau_syn=trial.suggest_float("tau_syn", 1.0, 8.0, log=True),
        weight_gain=trial.suggest_float("weight_gain", 0.2, 1.5, log=True),
        decision=DecisionMode(trial.suggest_categorical("decision", [m.value for m in DecisionMode])),
    )
    method = trial.suggest_categorical("pruning", ["none", "magnitude", "rewire"])
    pruning = PruningConfig(method, trial.suggest_float("connectivity", 0.2, 1.0) if method != "none" else 1.0)
    config = dataclasses.replace(
        training,
        learning_rate=trial.suggest_float("learning_rate", 1e-3, 2e-2, log=True),
        logit_scale=trial.suggest_float("logit_scale", 0.05, 1.0, log=True),
        shift=trial.suggest_int("shift", 0, 4),
        input_dropout=trial.suggest_float("input_dropout", 0.0, 0.3),
        pruning=pruning,
        seed=training.seed + trial.number,
    )
    return architecture, config


def search(train_data: Dataset, validation: Dataset, n_classes: int, storage: str, study: str, trials: int,
           base: ArchitectureConfig = ArchitectureConfig(), training: TrainConfig = TrainConfig(),
           core: CoreConfig = CoreConfig(), progress: bool = True,
           sampler: Callable = sample_configs):
    """Run ``trials`` more trials of ``study`` in this worker; return the study."""
    import optuna

    study_object = open_study(storage, study, training.seed)
    n_inputs, timesteps = train_data.inputs.shape[2], train_data.inputs.shape[1]

    def objective(trial) -> float:
        architecture, config = sampler(trial, base, training)
        trial.set_user_attr("seed", config.seed)
        model = build_model(architecture, n_inputs, n_classes, timesteps, core,
                            torch.Generator().manual_seed(config.seed))

        def report(epoch: int, record: dict) -> None:
            trial.report(record["validation_accuracy"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = train(model, train_data, validation, config, progress=False, on_epoch=report)
        trial.set_user_attr("float_accuracy", result.float_accuracy)
        trial.set_user_attr("seconds", result.seconds)
        return result.quant_accuracy

    study_object.optimize(objective, n_trials=trials, show_progress_bar=progress)
    return study_object
