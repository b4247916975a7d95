"""Race-prediction AUCs: one-vs-rest per group, macro, intervals and tests against chance.

Every function takes ``y_true`` (the group name per sample), ``y_score`` (``n x len(classes)``
scores, columns in the order of ``classes``; with two classes a 1-D score of ``classes[1]`` is
accepted) and ``classes``. AUCs come from midranks (the Mann-Whitney statistic), so ties count one
half, as in :func:`sklearn.metrics.roc_auc_score`.

Intervals
---------
``bootstrap``
    Resamples *patients* with replacement inside each group (a patient's group is the group of
    its first sample), so every group keeps members; percentile interval. Each resample is a
    vector of per-sample multiplicities, and the weighted Mann-Whitney statistic is computed for
    a block of resamples at once over scores sorted once per group.
``delong``
    DeLong's variance from the structural components (midrank form of Sun & Xu, 2014), normal
    interval clipped to [0, 1]. The covariance of the one-vs-rest AUCs comes from the per-sample
    components (each AUC's empirical influence), summed per patient when ``patient_ids`` is given;
    its diagonal is DeLong's variance exactly when each patient has one sample. The macro AUC's
    variance is ``1' C 1 / k**2``.

A group listed in ``classes`` but absent from ``y_true`` has no AUC: :func:`auc_per_group`
gives ``nan``, :func:`auc_with_ci` gives ``None`` with a note, and the macro AUC averages the
groups present (a warning is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from racelens.errors import ConfigError, DataError, LabelError

__all__ = [
    "auc_per_group",
    "macro_auc",
    "auc_with_ci",
    "delong_variance",
    "delong_covariance",
    "delong_ci",
    "delong_test",
    "p_value_vs_chance",
    "RankedScores",
    "weighted_auc",
    "patient_codes",
    "patient_bootstrap_counts",
]

log = logging.getLogger(__name__)

ABSENT_NOTE = "group absent from the test set: no AUC"


@dataclass(frozen=True)
class RankedScores:
    """One score column sorted once: the order and where each run of tied scores starts."""

    order: np.ndarray
    starts: np.ndarray | None  # None when there are no ties

    @classmethod
    def from_scores(cls, score: np.ndarray) -> RankedScores:
        order = np.argsort(score, kind="stable")
        s = score[order]
        new = np.r_[True, s[1:] != s[:-1]]
        return cls(order, None if new.all() else np.flatnonzero(new))


def weighted_auc(wp: np.ndarray, wn: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """Weighted Mann-Whitney AUC of many weightings of one sorted score at once.

    Parameters
    ----------
    wp, wn
        ``b x n`` positive and negative weights of the samples in score order.
    starts
        Starts of runs of tied scores (:class:`RankedScores`); ties count one half.

    Returns
    -------
    numpy.ndarray
        ``b`` AUCs (``nan`` where a weighting has no positive or no negative weight).
    """
    if starts is not None:
        wp = np.add.reduceat(wp, starts, axis=1)
        wn = np.add.reduceat(wn, starts, axis=1)
    below = np.cumsum(wn, axis=1)
    below -= 0.5 * wn
    num = np.einsum("ij,ij->i", wp, below)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def patient_codes(patient_ids: Any | None, n: int) -> tuple[np.ndarray, int]:
    """Integer code of each sample's patient (each sample its own patient when ``None``)."""
    if patient_ids is None:
        return np.arange(n), n
    codes, uniques = pd.factorize(pd.Series(np.asarray(patient_ids, dtype=object).ravel()))
    if len(codes) != n:
        raise ConfigError(f"patient_ids has {len(codes)} values; expected {n} (one per sample)")
    if (codes < 0).any():
        raise DataError(f"patient_ids has {int((codes < 0).sum())} missing values; "
                        "every sample needs its patient")
    return codes, len(uniques)


def patient_bootstrap_counts(groups: np.ndarray, patient_ids: Any | None, n_boot: int,
                             seed: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Stratified patient bootstrap as multiplicities, in blocks of resamples.

    Patients are resampled with replacement within their group (the group code of their first
    sample), each group to its own size, so every group keeps members in every resample.

    Yields
    ------
    (rows, counts)
        ``rows`` the slice of resample indices; ``counts`` a ``b x n_patients`` float32 array of
        how often each patient (coded by :func:`patient_codes`) was drawn (exact integers).
    """
    pidx, n_pat = patient_codes(patient_ids, len(groups))
    first = np.empty(n_pat, dtype=np.int64)
    first[pidx[::-1]] = np.asarray(groups)[::-1]
    strata = [np.flatnonzero(first == g) for g in np.unique(first)]
    rng = np.random.default_rng(seed)
    # Blocks small enough to stay in cache; the size depends on the data only, so the draws
    # (and the intervals) are the same on every machine.
    chunk = max(1, min(n_boot, _BLOCK_ELEMENTS // max(len(groups), n_pat)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        drawn = np.concatenate(
            [np.take(m, rng.integers(0, len(m), size=(b, len(m)), dtype=np.int32))
             for m in strata], axis=1)
        drawn += np.arange(b)[:, None] * n_pat
        counts = np.bincount(drawn.ravel(), minlength=b * n_pat).reshape(b, n_pat)
        yield slice(start, start + b), counts.astype(np.float32)


_BLOCK_ELEMENTS = 500_000


def _auc_untied(w: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Weighted AUCs (``b``) of an untied score: ``w`` weights in score order, ``pos`` positives.

    Negatives below a positive are all weight below it minus positive weight below it; the
    positive part sums in closed form, so one cumulative sum over all samples suffices.
    """
    below = np.cumsum(w, axis=1)  # float32 sums of integer counts are exact below 2**24
    wp = np.take(w, pos, axis=1).astype(float)
    below_p = np.take(below, pos, axis=1).astype(float) - wp
    w1 = wp.sum(axis=1)
    num = np.einsum("ij,ij->i", wp, below_p) - (w1**2 - np.einsum("ij,ij->i", wp, wp)) / 2
    w0 = below[:, -1].astype(float) - w1
    return num / (w1 * w0)


def _as_matrix(y_true: Any, y_score: Any, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Validate inputs; return integer codes of ``y_true`` and an ``n x k`` score matrix."""
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise LabelError(f"AUC needs at least two groups, got classes={classes}; "
                         "check the label collapse")
    if len(set(classes)) != len(classes):
        raise ConfigError(f"classes has duplicates: {classes}")
    labels = pd.Series(np.asarray(y_true, dtype=object).ravel()).astype("string")
    scores = np.asarray(y_score, dtype=float)
    if scores.ndim == 1:
        if len(classes) != 2:
            raise ConfigError(f"a 1-D y_score needs exactly two classes, got {len(classes)}; "
                              "pass an n x len(classes) matrix")
        scores = np.column_stack([-scores, scores])
    if scores.ndim != 2 or scores.shape[0] != len(labels) or scores.shape[1] != len(classes):
        raise ConfigError(f"y_score has shape {scores.shape}; expected ({len(labels)}, "
                          f"{len(classes)}): one row per y_true and one column per class")
    if not np.isfinite(scores).all():
        raise DataError(f"y_score holds {int((~np.isfinite(scores)).sum())} non-finite values; "
                        "drop or fix those rows")
    codes = pd.Index(classes).get_indexer(labels.fillna("<NA>"))
    if (codes < 0).any():
        unknown = sorted(set(labels[codes < 0].fillna("<NA>")))
        raise LabelError(f"y_true holds values not in classes: {unknown[:10]}; "
                         f"classes are {classes}")
    present = np.unique(codes)
    if len(present) < 2:
        only = classes[int(present[0])] if len(present) else "none"
        raise LabelError(f"y_true holds one group only ({only!r}); AUC needs at least two "
                         "groups in the test set: check the label collapse and the split")
    return codes, scores


def _present(codes: np.ndarray, classes: Sequence[str]) -> list[int]:
    counts = np.bincount(codes, minlength=len(classes))
    missing = [str(classes[j]) for j in range(len(classes)) if counts[j] == 0]
    if missing:
        log.warning("group(s) %s absent from the test set: no AUC for them; the macro AUC "
                    "averages the %d groups present", missing, len(classes) - len(missing))
    return [j for j in range(len(classes)) if counts[j] > 0]


def _point_aucs(codes: np.ndarray, scores: np.ndarray, present: list[int]) -> np.ndarray:
    out = np.empty(len(present))
    for i, j in enumerate(present):
        pos = codes == j
        ranks = stats.rankdata(scores[:, j])
        m, n = pos.sum(), (~pos).sum()
        out[i] = (ranks[pos].sum() - m * (m + 1) / 2) / (m * n)
    return out


def auc_per_group(y_true: Any, y_score: Any, classes: Sequence[str]) -> dict[str, float]:
    """One-vs-rest AUC of each group (``nan`` for a group absent from ``y_true``).

    Examples
    --------
    >>> auc_per_group(["A", "B", "B"], [0.2, 0.9, 0.4], ["A", "B"])
    {'A': 1.0, 'B': 1.0}
    """
    codes, scores = _as_matrix(y_true, y_score, classes)
    present = _present(codes, classes)
    aucs = _point_aucs(codes, scores, present)
    out = {str(c): float("nan") for c in classes}
    for j, a in zip(present, aucs, strict=True):
        out[str(classes[j])] = float(a)
    return out


def macro_auc(y_true: Any, y_score: Any, classes: Sequence[str]) -> float:
    """Unweighted mean of the one-vs-rest AUCs of the groups present in ``y_true``."""
    codes, scores = _as_matrix(y_true, y_score, classes)
    return float(_point_aucs(codes, scores, _present(codes, classes)).mean())


# ---------------------------------------------------------------------------------------- DeLong


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


def _normal_ci(est: float, var: float, level: float) -> tuple[float, float]:
    if not np.isfinite(var):
        return float("nan"), float("nan")
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(max(var, 0.0))
    return float(max(est - half, 0.0)), float(min(est + half, 1.0))


def delong_ci(y_true: Any, score: Any, *, positive: Any | None = None,
              level: float = 0.95) -> tuple[float, float, float]:
    """AUC and its normal interval from DeLong's variance: ``(auc, ci_low, ci_high)``."""
    auc, var = delong_variance(y_true, score, positive=positive)
    return (auc, *_normal_ci(auc, var, level))


def _z_p(diff: float, var: float) -> float:
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
    return diff, _z_p(diff, float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))


def _ovr_delong(codes: np.ndarray, scores: np.ndarray, present: list[int],
                patient_ids: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest AUCs and their covariance from per-sample DeLong components."""
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
    return aucs, phi.T @ phi


# ------------------------------------------------------------------------------- public summaries


def auc_with_ci(
    y_true: Any,
    y_score: Any,
    classes: Sequence[str],
    *,
    patient_ids: Any | None = None,
    method: Literal["bootstrap", "delong"] = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Macro and per-group AUC with intervals, shaped like a condition's ``auc`` block.

    Returns
    -------
    dict
        ``{"macro": {"estimate", "ci_low", "ci_high"}, "per_group": {G: {...}}}``; a group
        absent from ``y_true`` gets ``None`` values and a ``"note"``.

    Raises
    ------
    LabelError
        One group only in ``y_true``, or labels not in ``classes``.
    ConfigError
        Shapes that do not match, or an unknown ``method`` / bad ``level`` / ``n_boot``.
    """
    if method not in ("bootstrap", "delong"):
        raise ConfigError(f"method must be 'bootstrap' or 'delong', got {method!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    codes, scores = _as_matrix(y_true, y_score, classes)
    present = _present(codes, classes)
    if method == "delong":
        aucs, cov = _ovr_delong(codes, scores, present, patient_ids)
        k = len(present)
        lows_highs = [_normal_ci(a, cov[i, i], level) for i, a in enumerate(aucs)]
        macro = float(aucs.mean())
        macro_ci = _normal_ci(macro, float(cov.sum()) / k**2, level)
    else:
        if n_boot < 1:
            raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
        aucs = _point_aucs(codes, scores, present)
        boot = _bootstrap_aucs(codes, scores, present, patient_ids, n_boot, seed)
        q = [(1 - level) / 2, (1 + level) / 2]
        per_q = np.nanquantile(boot, q, axis=0)
        lows_highs = [(float(per_q[0, i]), float(per_q[1, i])) for i in range(len(present))]
        macro = float(aucs.mean())
        mq = np.nanquantile(boot.mean(axis=1), q)
        macro_ci = (float(mq[0]), float(mq[1]))
    per_group: dict[str, dict[str, Any]] = {
        str(c): {"estimate": None, "ci_low": None, "ci_high": None, "note": ABSENT_NOTE}
        for c in classes}
    for i, j in enumerate(present):
        per_group[str(classes[j])] = {"estimate": float(aucs[i]), "ci_low": lows_highs[i][0],
                                      "ci_high": lows_highs[i][1]}
    macro_block: dict[str, Any] = {"estimate": macro, "ci_low": macro_ci[0],
                                   "ci_high": macro_ci[1]}
    if len(present) < len(classes):
        macro_block["note"] = f"mean over the {len(present)} groups present in the test set"
    return {"macro": macro_block, "per_group": per_group}


def _bootstrap_aucs(codes: np.ndarray, scores: np.ndarray, present: list[int],
                    patient_ids: Any | None, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot x len(present)`` one-vs-rest AUCs over stratified patient resamples."""
    pidx, _ = patient_codes(patient_ids, len(codes))
    ranked = [RankedScores.from_scores(scores[:, j]) for j in present]
    sorted_pidx = [pidx[r.order] for r in ranked]
    sorted_pos = [codes[r.order] == j for j, r in zip(present, ranked, strict=True)]
    pos_at = [np.flatnonzero(p) for p in sorted_pos]
    exact = len(codes) < 2**24
    out = np.empty((n_boot, len(present)))
    for rows, counts in patient_bootstrap_counts(codes, patient_ids, n_boot, seed):
        for i, r in enumerate(ranked):
            w = np.take(counts, sorted_pidx[i], axis=1)
            if r.starts is None and exact:
                out[rows, i] = _auc_untied(w, pos_at[i])
            else:
                w = w.astype(float)
                wp = w * sorted_pos[i]
                out[rows, i] = weighted_auc(wp, w - wp, r.starts)
    return out


def p_value_vs_chance(
    y_true: Any,
    y_score: Any,
    classes: Sequence[str],
    *,
    method: Literal["delong", "permutation"] = "delong",
    patient_ids: Any | None = None,
    n_perm: int = 1000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of ``macro AUC == 0.5``.

    ``delong``: z-test of the macro AUC with the DeLong covariance of the one-vs-rest AUCs
    (clustered by patient when ``patient_ids`` is given). ``permutation``: the group labels are
    shuffled across patients (a patient keeps all its samples, with its first sample's group)
    ``n_perm`` times; ``p = (1 + #{|perm - 0.5| >= |observed - 0.5|}) / (n_perm + 1)``.
    """
    codes, scores = _as_matrix(y_true, y_score, classes)
    present = _present(codes, classes)
    if method == "delong":
        aucs, cov = _ovr_delong(codes, scores, present, patient_ids)
        return _z_p(float(aucs.mean()) - 0.5, float(cov.sum()) / len(present) ** 2)
    if method != "permutation":
        raise ConfigError(f"method must be 'delong' or 'permutation', got {method!r}")
    if n_perm < 1:
        raise ConfigError(f"n_perm must be >= 1, got {n_perm}")
    observed = abs(float(_point_aucs(codes, scores, present).mean()) - 0.5)
    pidx, n_pat = patient_codes(patient_ids, len(codes))
    first = np.full(n_pat, -1)
    first[pidx[::-1]] = codes[::-1]  # each patient's first sample's group
    ranked = [RankedScores.from_scores(scores[:, j]) for j in present]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_perm, _BLOCK_ELEMENTS // len(codes)))
    hits = 0
    for start in range(0, n_perm, chunk):
        b = min(chunk, n_perm - start)
        perm = np.argsort(rng.random((b, n_pat)), axis=1)
        labels = first[perm][:, pidx]
        macro = np.zeros(b)
        for j, r in zip(present, ranked, strict=True):
            wp = (labels[:, r.order] == j).astype(float)
            macro += weighted_auc(wp, 1.0 - wp, r.starts)
        hits += int((np.abs(macro / len(present) - 0.5) >= observed - 1e-12).sum())
    return (1 + hits) / (n_perm + 1)
