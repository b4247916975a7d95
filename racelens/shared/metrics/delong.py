"""DeLong's AUC variance and covariance, its normal interval and the paired test.

The variance comes from the structural components (midrank form of Sun & Xu, 2014), the
interval is normal and clipped to [0, 1]. The covariance of the one-vs-rest AUCs
(:func:`ovr_delong`) comes from the per-sample components (each AUC's empirical influence),
summed per patient when ``patient_ids`` is given; its diagonal is DeLong's variance exactly
when each patient has one sample. The macro AUC's variance is ``1' C 1 / k**2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from racelens.errors import ConfigError, LabelError
from racelens.shared.metrics.bootstrap import patient_codes

__all__ = ["delong_covariance", "delong_variance", "delong_ci", "delong_test", "normal_ci",
           "z_p_value", "ovr_delong", "ovr_influence"]


def _binary_mask(y_true: Any, positive: Any | None) -> np.ndarray:
    y = np.asarray(y_true).ravel()
    if y.dtype == bool:
        mask = y
    else:
        uniq = np.unique(y)
        if len(uniq) != 2:
            raise LabelError(f"binary labels expected, found {len(uniq)} distinct values")
        if positive is None:
            positive = uniq[1]  # scikit-learn's convention: the greater label is positive
        elif positive not in set(uniq.tolist()):
            raise LabelError(f"positive={positive!r} is not among the labels {uniq.tolist()}")
        mask = y == positive
    if mask.all() or not mask.any():
        raise LabelError("binary labels expected, found one class only")
    return mask


def _components(pos: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong's structural components V10 (positives) and V01 (negatives), k x ..."""
    x, y = scores[:, pos], scores[:, ~pos]
    m, n = x.shape[1], y.shape[1]
    tz = stats.rankdata(scores, axis=1)
    tzx, tzy = tz[:, pos], tz[:, ~pos]
    aucs = (tzx.sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tzx - stats.rankdata(x, axis=1)) / n
    v01 = 1.0 - (tzy - stats.rankdata(y, axis=1)) / m
    return aucs, v10, v01


def delong_covariance(y_true: Any, scores: Any, *, positive: Any | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of ``k`` scores of the same samples and DeLong's ``k x k`` covariance.

    Parameters
    ----------
    y_true
        Binary labels (bool, or two values of which ``positive`` is the positive one; by
        default the greater one, as in scikit-learn).
    scores
        ``k x n`` (or ``n``) scores.
    """
    pos = _binary_mask(y_true, positive)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != len(pos):
        raise ConfigError(f"scores have {s.shape[1]} columns; expected {len(pos)} (one per label)")
    aucs, v10, v01 = _components(pos, s)
    m, n = v10.shape[1], v01.shape[1]
    if m < 2 or n < 2:
        return aucs, np.full((len(aucs), len(aucs)), np.nan)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong_variance(y_true: Any, score: Any, *, positive: Any | None = None) -> tuple[float, float]:
    """AUC of one score and its DeLong variance ``var(V10)/m + var(V01)/n``."""
    aucs, cov = delong_covariance(y_true, np.asarray(score, dtype=float)[None, :],
                                  positive=positive)
    return float(aucs[0]), float(cov[0, 0])


def normal_ci(est: float, var: float, level: float) -> tuple[float, float]:
    if not np.isfinite(var):
        return float("nan"), float("nan")
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(max(var, 0.0))
    return float(max(est - half, 0.0)), float(min(est + half, 1.0))


def delong_ci(y_true: Any, score: Any, *, positive: Any | None = None,
              level: float = 0.95) -> tuple[float, float, float]:
    """AUC and its normal interval from DeLong's variance: ``(auc, ci_low, ci_high)``."""
    auc, var = delong_variance(y_true, score, positive=positive)
    return (auc, *normal_ci(auc, var, level))


def z_p_value(diff: float, var: float) -> float:
    if not np.isfinite(var):
        return float("nan")
    if var <= 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * stats.norm.sf(abs(diff) / np.sqrt(var)))


def delong_test(y_true: Any, score_a: Any, score_b: Any, *, positive: Any | None = None
                ) -> tuple[float, float]:
    """Paired DeLong test of two AUCs on the same samples (two-sided).

    Returns
    -------
    (difference, p_value)
        ``AUC(score_a) - AUC(score_b)`` and the two-sided p-value of ``difference == 0``.
    """
    a = np.asarray(score_a, dtype=float).ravel()
    b = np.asarray(score_b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ConfigError(f"score_a has {a.size} values and score_b {b.size}; pass the same samples")
    aucs, cov = delong_covariance(y_true, np.vstack([a, b]), positive=positive)
    diff = float(aucs[0] - aucs[1])
    return diff, z_p_value(diff, float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))


def ovr_delong(codes: np.ndarray, scores: np.ndarray, present: list[int],
                patient_ids: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest AUCs and their covariance from per-sample DeLong components."""
    aucs, phi = ovr_influence(codes, scores, present, patient_ids)
    return aucs, phi.T @ phi


def ovr_influence(codes: np.ndarray, scores: np.ndarray, present: list[int],
                  patient_ids: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest AUCs and their scaled DeLong influence per sample (per patient if given).

    ``phi.T @ phi`` is the AUCs' covariance; two scorings of the same samples give the
    covariance of their difference as ``(phi_a - phi_b).T @ (phi_a - phi_b)`` (paired tests,
    :mod:`racelens.shared.metrics.paired`).
    """
    phi = np.zeros((len(codes), len(present)))
    aucs = np.empty(len(present))
    for i, j in enumerate(present):
        pos = codes == j
        a, v10, v01 = _components(pos, scores[:, j][None, :])
        aucs[i] = a[0]
        m, n = pos.sum(), (~pos).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            phi[pos, i] = (v10[0] - a[0]) / np.sqrt(m * (m - 1.0))
            phi[~pos, i] = (v01[0] - a[0]) / np.sqrt(n * (n - 1.0))
    if patient_ids is not None:
        pidx, n_pat = patient_codes(patient_ids, len(codes))
        summed = np.zeros((n_pat, len(present)))
        np.add.at(summed, pidx, phi)
        phi = summed
    return aucs, phi
