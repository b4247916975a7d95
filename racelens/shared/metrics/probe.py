"""The shared linear probe: how well a linear model reads race from a set of features.

Both modalities use it: covariate baselines (age, sex, BMI, diseases), frozen-feature probes
(Glocker et al. 2023, Yang et al. 2024: "attribute encoding" is the AUC of a linear probe on
frozen features) and TF-IDF leakage checks on redacted notes (sparse features).

Example
-------
>>> fit = linear_probe(X, race, patients, split, ["Asian", "Black", "White"], n_boot=200)
>>> fit.result.auc.macro.estimate  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from racelens.errors import ConfigError, DataError, LabelError, SplitError
from racelens.shared.metrics import macro_auc
from racelens.shared.results import Condition, ConditionResult, evaluate_condition

__all__ = ["ProbeFit", "linear_probe", "probe_features"]

log = logging.getLogger(__name__)

DEFAULT_CS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True, eq=False)
class ProbeFit:
    """A fitted probe and its score on the test split.

    Attributes
    ----------
    result
        Macro and per-group AUC on the test split with patient-bootstrap intervals.
    model
        The fitted scikit-learn pipeline (optional scaler, logistic regression).
    test_index
        Positions of the test rows in the input.
    test_scores
        ``n_test x len(classes)`` probabilities, columns in the order of ``classes``.
    best_C
        The inverse regularisation strength chosen on the validation split.
    """

    result: ConditionResult
    model: Pipeline
    test_index: np.ndarray
    test_scores: np.ndarray
    best_C: float


def probe_features(features: Any) -> np.ndarray | sparse.csr_matrix:
    """Turn a feature table into a numeric matrix (dense float, or CSR when sparse).

    A :class:`pandas.DataFrame` has its text, categorical and boolean columns one-hot encoded.

    Raises
    ------
    DataError
        When a value is missing or not finite (impute first; the message names the columns).
    """
    if sparse.issparse(features):
        x = sparse.csr_matrix(features, dtype=float)
        bad = ~np.isfinite(x.data)
        if bad.any():
            raise DataError(f"features hold {int(bad.sum())} non-finite values; fix them first")
        return x
    if isinstance(features, pd.DataFrame):
        missing = [str(c) for c in features.columns if features[c].isna().any()]
        if missing:
            raise DataError(f"feature column(s) {missing} have missing values; impute or drop "
                            "them before probing")
        categorical = [c for c in features.columns
                       if not pd.api.types.is_numeric_dtype(features[c])
                       or pd.api.types.is_bool_dtype(features[c])]
        features = pd.get_dummies(features, columns=categorical, dtype=float)
    x = np.asarray(features, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ConfigError(f"features must be n x d, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"features hold {int((~np.isfinite(x)).sum())} non-finite values; "
                        "impute or drop them before probing")
    return x


def _pipeline(c: float, *, standardize: bool, is_sparse: bool, seed: int,
              max_iter: int) -> Pipeline:
    steps: list[tuple[str, Any]] = []
    if standardize:
        steps.append(("scale", StandardScaler(with_mean=not is_sparse)))
    steps.append(("logreg", LogisticRegression(C=c, max_iter=max_iter, random_state=seed)))
    return Pipeline(steps)


def _ordered_proba(model: Pipeline, x: Any, classes: Sequence[str]) -> np.ndarray:
    proba = model.predict_proba(x)
    col = {str(c): i for i, c in enumerate(model.classes_)}
    return proba[:, [col[c] for c in classes]]


def _fit(model: Pipeline, x: Any, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("logistic regression (C=%s) did not converge; the probe may underfit",
                    model.named_steps["logreg"].C)
    return model


def linear_probe(
    features: Any,
    labels: Sequence[str] | np.ndarray,
    patient_ids: Sequence[Any] | np.ndarray,
    splits: Sequence[str] | np.ndarray,
    classes: Sequence[str],
    *,
    condition: Condition | None = None,
    seed: int = 0,
    Cs: Sequence[float] = DEFAULT_CS,  # noqa: N803 - scikit-learn's name
    n_boot: int = 1000,
    standardize: bool = True,
    ci: Literal["bootstrap", "delong"] = "bootstrap",
    max_iter: int = 2000,
) -> ProbeFit:
    """Fit a multinomial logistic-regression probe of race and score it on the test split.

    ``C`` is tuned on the ``val`` split by macro AUC (the smallest ``C`` among equals, i.e. the
    most regularised), with models fitted on ``train``; the chosen model scores ``test``
    through :func:`racelens.shared.results.evaluate_condition` (patient-bootstrap intervals).

    Parameters
    ----------
    features
        ``n x d`` array, :class:`pandas.DataFrame` (categorical columns one-hot encoded) or a
        SciPy sparse matrix (e.g. TF-IDF; scaled without centring).
    labels
        Group name per row; every value must be in ``classes``.
    patient_ids
        Patient per row (the bootstrap resamples patients).
    splits
        ``train`` / ``val`` / ``test`` per row (split by patient beforehand).
    classes
        Group names; the order of the score columns.
    condition
        What was done to the data (default ``Condition("original")``).
    seed
        Seeds the solver and the bootstrap.
    Cs
        Candidate inverse regularisation strengths.
    n_boot
        Bootstrap resamples for the intervals.
    standardize
        Scale features to unit variance first.

    Returns
    -------
    ProbeFit
        ``result.extras["probe"]`` records the chosen ``C``, validation AUC per ``C`` and sizes.

    Raises
    ------
    ConfigError
        Lengths that do not match, or no candidate ``C``.
    SplitError
        A split with no rows, or a train/val split missing a group.
    LabelError
        Labels outside ``classes``.
    """
    condition = condition if condition is not None else Condition("original")
    classes = [str(c) for c in classes]
    x = probe_features(features)
    raw = pd.Series(np.asarray(labels, dtype=object).ravel())
    y = raw.where(raw.notna(), "<NA>").astype(str).to_numpy(object)
    split = np.asarray(splits, dtype=object).ravel()
    pids = np.asarray(patient_ids, dtype=object).ravel()
    n = x.shape[0]
    if not (len(y) == len(split) == len(pids) == n):
        raise ConfigError(f"features have {n} rows but labels {len(y)}, patient_ids {len(pids)}, "
                          f"splits {len(split)}; pass one value per row")
    if not Cs:
        raise ConfigError("Cs is empty; pass at least one candidate C")
    unknown = sorted(set(y) - set(classes))
    if unknown:
        raise LabelError(f"labels hold values not in classes: {unknown[:10]}; filter the cohort "
                         f"to {classes} first")
    idx = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
    need = ("train", "val", "test") if len(Cs) > 1 else ("train", "test")
    for s in need:
        if len(idx[s]) == 0:
            raise SplitError(f"the {s!r} split has no rows; the probe needs train, val (to tune "
                             "C) and test rows")
    for s in need[:-1]:
        absent = sorted(set(classes) - set(y[idx[s]]))
        if absent:
            raise SplitError(f"the {s!r} split has no rows of {absent}; re-split stratified by "
                             "group or drop those groups from classes")

    sparse_x = sparse.issparse(x)
    val_auc: dict[str, float] = {}
    best: tuple[float, float, Pipeline] | None = None
    for c in sorted(float(c) for c in Cs):
        model = _fit(_pipeline(c, standardize=standardize, is_sparse=sparse_x, seed=seed,
                               max_iter=max_iter), x[idx["train"]], y[idx["train"]])
        if len(Cs) == 1:
            best = (c, float("nan"), model)
            break
        auc = macro_auc(y[idx["val"]], _ordered_proba(model, x[idx["val"]], classes), classes)
        val_auc[repr(c)] = auc
        if best is None or auc > best[1] + 1e-12:
            best = (c, auc, model)
    assert best is not None
    best_c, _, model = best
    log.info("linear probe: C=%s chosen on val (macro AUC per C: %s)", best_c, val_auc)
    scores = _ordered_proba(model, x[idx["test"]], classes)
    extras = {"probe": {"best_C": best_c, "val_macro_auc": val_auc, "n_features": int(x.shape[1]),
                        "n_train": int(len(idx["train"])), "n_val": int(len(idx["val"]))}}
    result = evaluate_condition(condition, y[idx["test"]], scores, classes,
                                patient_ids=pids[idx["test"]], ci=ci, n_boot=n_boot, seed=seed,
                                extras=extras)
    return ProbeFit(result, model, idx["test"], scores, best_c)
