"""A linear race probe on the frozen features of a trained image model (attribute encoding).

Glocker et al. (2023) and Yang et al. (2024) ask how much race information a model's penultimate
features carry: a logistic-regression probe of race is fitted on the frozen features of the train
split, tuned on val and scored on test, with the split of the audited run reused so that the probe
never sees the test patients in training. Applied to a disease model (``audit --task``) it measures
how strongly that model encodes race.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError
from racelens.imaging.audit.data import prepare_data
from racelens.shared.results import AuditResult, Condition

__all__ = ["FeatureProbeConfig", "extract_features", "run_feature_probe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureProbeConfig:
    """Settings of ``racelens imaging probe``.

    Parameters
    ----------
    run
        A run directory written by ``racelens imaging audit`` (``model.pt``, ``result.json``,
        ``splits.parquet``).
    manifest
        The manifest (normally the one the run used).
    out
        The probe's run directory.
    batch_size, device
        Feature extraction settings.
    n_boot
        Bootstrap resamples for the intervals.
    seed
        Seed of the probe; default the run's seed.
    cache_dir
        Image cache; default the run's.
    """

    run: Path
    manifest: Path
    out: Path
    batch_size: int = 64
    device: str = "auto"
    n_boot: int = 1000
    seed: int | None = None
    cache_dir: Path | None = None


def extract_features(model: Any, dataset: Any, *, batch_size: int = 64,
                     device: str = "auto") -> np.ndarray:
    """Penultimate features of ``model`` for every item of ``dataset`` (``n x d`` float64)."""
    import torch
    from torch.utils.data import DataLoader

    from racelens.imaging.models import features
    from racelens.shared.train.loop import resolve_device

    dev = resolve_device(device)
    model.to(dev).eval()
    out = []
    with torch.no_grad():
        for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            out.append(features(model, x.to(dev)).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


def run_feature_probe(config: FeatureProbeConfig) -> AuditResult:
    """Fit the race probe on a trained model's frozen features; write ``out/result.json``.

    Raises
    ------
    ConfigError
        When ``run`` is not an imaging audit run directory.
    """
    from racelens.imaging.models import load_model
    from racelens.shared.metrics.probe import linear_probe

    run = Path(config.run)
    for name in ("model.pt", "result.json", "splits.parquet"):
        if not (run / name).exists():
            raise ConfigError(f"{run}: no {name}; name a run directory of `racelens imaging audit`")
    source = AuditResult.read(run)
    cfg = dict(source.config)
    seed = int(cfg.get("seed", 0)) if config.seed is None else config.seed
    cache_dir = config.cache_dir or Path(cfg.get("cache_dir") or run / "cache")
    model, _, meta = load_model(run / "model.pt")
    data = prepare_data(config.manifest, size=int(cfg.get("size", 224)), seed=seed,
                        cache_dir=cache_dir, collapse=cfg.get("collapse"),
                        strict=bool(cfg.get("strict", False)), progress=False,
                        split_from=pd.read_parquet(run / "splits.parquet"))
    feats = extract_features(model, data.cache.torch_dataset(data.rows, data.labels),
                             batch_size=config.batch_size, device=config.device)
    labels = np.asarray(data.classes, dtype=object)[data.labels]
    fit = linear_probe(feats, labels, data.table["patient_id"].to_numpy(), data.split, data.classes,
                       condition=Condition("original"), seed=seed, n_boot=config.n_boot)
    info = {"probe": "linear on frozen penultimate features", "source_arch": model.arch,
            "source_task": meta.get("task") or "race", "n_features": int(feats.shape[1])}
    cond = replace(fit.result, extras={**fit.result.extras, **info})
    result = AuditResult(modality="imaging", data=data.summary, conditions=(cond,),
                         config={"run": str(run), "manifest": str(config.manifest), "seed": seed,
                                 "n_boot": config.n_boot},
                         seed=seed, extras={"kind": "feature_probe", **info,
                                            "classes": data.classes})
    result.write(Path(config.out))
    log.info("feature probe: macro AUC %.3f", cond.auc.macro.estimate or float("nan"))
    return result
