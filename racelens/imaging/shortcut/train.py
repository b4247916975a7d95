"""The models of a shortcut run, each trained by the one loop (:func:`~racelens.shared.train.loop.train_classifier`).

- the sweep: :func:`train_sweep_model` (backbone + task head + race head behind gradient reversal
  at λ = ``scale``; :class:`~racelens.shared.train.objectives.MultiHeadLoss`);
- ERM: a plain task model; ``resample``: the same trained on a group-balanced resample of train
  (groups = race x task label); ``groupdro``: :class:`~racelens.shared.train.objectives.GroupDROLoss`
  over the same groups; ``split``: the last layer retrained on the frozen ERM backbone's features
  of a group-balanced resample of train;
- the upper bound of encoding: a model trained to predict race.

Each returns task probabilities and frozen penultimate features for *every* row of the data, in
row order (what :func:`racelens.shared.shortcut_eval.evaluate_model` reads).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from racelens.imaging.audit.data import TASK_CLASSES, PreparedData
from racelens.imaging.shortcut.config import ShortcutConfig
from racelens.shared.resample import group_balanced_indices

__all__ = ["Trained", "train_sweep_model", "train_erm", "train_resampled", "train_groupdro",
           "train_race_model", "retrain_last_layer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Trained:
    """Task probabilities (``n x 2``) and features (``n x d``) of every row; the training summary."""

    probs: np.ndarray
    features: np.ndarray
    summary: dict[str, Any]


def _train_config(config: ShortcutConfig, seed: int) -> Any:
    from racelens.shared.train.loop import TrainConfig

    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       patience=config.patience, seed=seed, device=config.device,
                       num_workers=config.num_workers, progress=config.progress)


def _dataset(data: PreparedData, mask: np.ndarray | None, labels: np.ndarray,
             index: np.ndarray | None = None) -> Any:
    pos = np.flatnonzero(mask) if mask is not None else np.arange(len(data.rows))
    if index is not None:
        pos = pos[index]
    return data.cache.torch_dataset(data.rows[pos], labels[pos])


def _fit(model: Any, train: Any, val: Any, classes: list[str], config: ShortcutConfig, seed: int,
         **kw: Any) -> dict[str, Any]:
    from racelens.shared.train.loop import train_classifier

    res = train_classifier(model, train, val, classes, _train_config(config, seed), **kw)
    return {"best_epoch": res.best_epoch, "best_val_auc": res.best_val_auc,
            "epochs_run": len(res.history), "stopped_early": res.stopped_early}


def _score(model: Any, base: Any, data: PreparedData, config: ShortcutConfig) -> tuple[np.ndarray, np.ndarray]:
    from racelens.imaging.audit.probe import extract_features
    from racelens.shared.train.loop import predict_proba

    every = data.cache.torch_dataset(data.rows, data.labels)
    batch = max(2 * config.batch_size, 64)
    probs = predict_proba(model, every, batch_size=batch, device=config.device,
                          num_workers=config.num_workers)
    return probs, extract_features(base, every, batch_size=batch, device=config.device)


def train_sweep_model(data: PreparedData, config: ShortcutConfig, *, scale: float, seed: int,
                      race_codes: np.ndarray, n_race: int) -> Trained:
    """Task head + race head behind gradient reversal at λ = ``scale``."""
    from racelens.imaging.shortcut.model import build_shortcut_model
    from racelens.shared.train.objectives import MultiHeadLoss

    model = build_shortcut_model(config.arch, n_race, scale=scale, seed=seed, weights=config.weights)
    both = np.column_stack([data.labels, race_codes])
    summary = _fit(model, _dataset(data, data.mask("train"), both), _dataset(data, data.mask("val"), both),
                   list(TASK_CLASSES), config, seed, loss=MultiHeadLoss(config.race_weight))
    return Trained(*_score(model, model.base, data, config), summary)


def train_erm(data: PreparedData, config: ShortcutConfig, *, seed: int) -> Trained:
    """A plain task model (empirical risk minimisation); its features feed SPLIT."""
    from racelens.imaging.models import build_model

    model = build_model(config.arch, 2, weights=config.weights, seed=seed)
    summary = _fit(model, _dataset(data, data.mask("train"), data.labels),
                   _dataset(data, data.mask("val"), data.labels), list(TASK_CLASSES), config, seed)
    return Trained(*_score(model, model, data, config), summary)


def train_resampled(data: PreparedData, config: ShortcutConfig, *, seed: int,
                    groups: np.ndarray) -> Trained:
    """A task model trained on a group-balanced resample (with replacement) of the train rows."""
    from racelens.imaging.models import build_model

    train = data.mask("train")
    index = group_balanced_indices(groups[train], seed=seed)
    model = build_model(config.arch, 2, weights=config.weights, seed=seed)
    summary = _fit(model, _dataset(data, train, data.labels, index),
                   _dataset(data, data.mask("val"), data.labels), list(TASK_CLASSES), config, seed)
    summary["n_resampled"] = int(len(index))
    return Trained(*_score(model, model, data, config), summary)


def train_groupdro(data: PreparedData, config: ShortcutConfig, *, seed: int, groups: np.ndarray,
                   n_groups: int) -> Trained:
    """A task model trained with online GroupDRO over ``groups`` (codes ``0 .. n_groups - 1``)."""
    from racelens.imaging.models import build_model
    from racelens.shared.train.objectives import GroupDROLoss

    model = build_model(config.arch, 2, weights=config.weights, seed=seed)
    both = np.column_stack([data.labels, groups])
    dro = GroupDROLoss(n_groups)
    summary = _fit(model, _dataset(data, data.mask("train"), both), _dataset(data, data.mask("val"), both),
                   list(TASK_CLASSES), config, seed, loss=dro)
    summary["group_weights"] = [round(float(q), 6) for q in dro.q]
    return Trained(*_score(model, model, data, config), summary)


def train_race_model(data: PreparedData, config: ShortcutConfig, *, seed: int, race_codes: np.ndarray,
                     race_classes: list[str]) -> Trained:
    """A model trained to predict race: the upper bound of what the features can encode."""
    from racelens.imaging.models import build_model

    model = build_model(config.arch, len(race_classes), weights=config.weights, seed=seed)
    summary = _fit(model, _dataset(data, data.mask("train"), race_codes),
                   _dataset(data, data.mask("val"), race_codes), race_classes, config, seed)
    return Trained(*_score(model, model, data, config), summary)


def retrain_last_layer(features: np.ndarray, data: PreparedData, config: ShortcutConfig, *, seed: int,
                       groups: np.ndarray) -> np.ndarray:
    """SPLIT: a new linear task head on the frozen features, trained on a group-balanced
    resample of train (validated on val); returns its task probabilities for every row."""
    import torch
    from torch.utils.data import TensorDataset

    from racelens.shared.train.inference import seeded_rng
    from racelens.shared.train.loop import predict_proba

    x = torch.as_tensor(features, dtype=torch.float32)
    mu, sd = x[data.mask("train")].mean(0), x[data.mask("train")].std(0).clamp_min(1e-6)
    x = (x - mu) / sd
    y = torch.tensor(np.asarray(data.labels), dtype=torch.long)
    train = np.flatnonzero(data.mask("train"))[group_balanced_indices(groups[data.mask("train")], seed=seed)]
    val = np.flatnonzero(data.mask("val"))
    with seeded_rng(seed):
        head = torch.nn.Linear(x.shape[1], 2)
    _fit(head, TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val]), list(TASK_CLASSES),
         config, seed)
    return predict_proba(head, TensorDataset(x, y), batch_size=256, device=config.device)
