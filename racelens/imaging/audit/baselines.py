"""Covariate (confounder) baselines: how well do age, sex, BMI or disease labels alone predict race?

Gichoya et al. found that confounders alone predict race poorly (BMI AUC 0.55, disease
distribution 0.61) while images predict it almost perfectly; this baseline puts the same question
to a user's cohort through the shared linear probe, on the same patient split as the image audit,
so its AUC stands beside the image AUCs in one report (modality ``covariates``).

Rows with a missing covariate are excluded and counted (``"missing bmi"``), so the accounting
``n_samples + sum(excluded) + len(skipped)`` still equals the manifest's input rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from racelens.errors import ConfigError, DataError
from racelens.imaging.audit.data import PreparedData, prepare_data
from racelens.shared.results import AuditResult, Condition, ConditionResult

__all__ = ["CovariateBaselineConfig", "covariate_probe", "run_covariate_baseline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CovariateBaselineConfig:
    """Settings of ``racelens imaging baseline``.

    Parameters
    ----------
    manifest, out
        The manifest and the run directory.
    features
        Manifest columns to predict race from (numeric used as is; text, categorical and boolean
        one-hot encoded).
    seed
        Seed of the patient split (an existing ``split`` column is kept), solver and bootstrap.
    n_boot
        Bootstrap resamples for the intervals.
    collapse
        Re-collapse the manifest's race groups; ``None`` keeps them.
    """

    manifest: Path
    out: Path
    features: Sequence[str]
    seed: int = 0
    n_boot: int = 1000
    collapse: str | None = None

    def __post_init__(self) -> None:
        if not self.features:
            raise ConfigError("name at least one covariate, e.g. --features age,sex,bmi")


def covariate_probe(data: PreparedData, features: Sequence[str], *, seed: int = 0,
                    n_boot: int = 1000) -> tuple[ConditionResult, np.ndarray, Counter[str]]:
    """Race from the covariates ``features`` of prepared data, on its patient split.

    Returns the condition result (``extras["features"]`` names them), the mask of the rows used
    and the updated exclusion counts (rows missing a covariate counted as ``"missing <col>"``).

    Raises
    ------
    DataError
        When a named covariate is not a manifest column.
    """
    from racelens.shared.metrics.probe import linear_probe

    features = [str(f) for f in features]
    unknown = [f for f in features if f not in data.table.columns]
    if unknown:
        raise DataError(f"covariate(s) {unknown} are not manifest columns; it has "
                        f"{sorted(map(str, data.table.columns))[:30]}")
    missing = data.table[features].isna()
    first_missing = missing.idxmax(axis=1).where(missing.any(axis=1))
    excluded = Counter(dict(data.summary.excluded))
    for col, n in first_missing.dropna().value_counts().items():
        excluded[f"missing {col}"] += int(n)
    keep = ~missing.any(axis=1).to_numpy()
    table = data.table[keep]
    labels = np.asarray(data.classes, dtype=object)[data.labels[keep]]
    fit = linear_probe(table[features].reset_index(drop=True), labels, table["patient_id"].to_numpy(),
                       data.split[keep], data.classes, condition=Condition("original"),
                       seed=seed, n_boot=n_boot)
    return replace(fit.result, extras={**fit.result.extras, "features": features}), keep, excluded


def run_covariate_baseline(config: CovariateBaselineConfig) -> AuditResult:
    """Fit the race probe on covariates, write ``out/result.json`` and return the result.

    Raises
    ------
    DataError
        When a named covariate is not a manifest column.
    """
    data = prepare_data(config.manifest, seed=config.seed, collapse=config.collapse, images=False,
                        progress=False)
    features = [str(f) for f in config.features]
    result_cond, keep, excluded = covariate_probe(data, features, seed=config.seed,
                                                  n_boot=config.n_boot)
    table = data.table[keep]
    groups = table["race"].astype(str).value_counts()
    summary = replace(data.summary, n_samples=int(keep.sum()),
                      n_patients=int(table["patient_id"].nunique()),
                      groups={g: int(groups.get(g, 0)) for g in data.summary.groups},
                      excluded=dict(excluded))
    if summary.n_input_rows != data.n_input_rows:
        raise DataError("internal accounting error in the covariate baseline; please report it")
    result = AuditResult(modality="covariates", data=summary, conditions=(result_cond,),
                         config={"manifest": str(config.manifest), "features": features,
                                 "seed": config.seed, "n_boot": config.n_boot,
                                 "collapse": config.collapse},
                         seed=config.seed, extras={"features": features, "classes": data.classes})
    result.write(Path(config.out))
    log.info("covariate baseline on %s: macro AUC %.3f", ",".join(features),
             result_cond.auc.macro.estimate or float("nan"))
    return result
