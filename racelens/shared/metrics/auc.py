"""Point AUCs: one-vs-rest per group and macro, from midranks (ties count one half).

Every function takes ``y_true`` (the group name per sample), ``y_score`` (``n x len(classes)``
scores, columns in the order of ``classes``; with two classes a 1-D score of ``classes[1]`` is
accepted) and ``classes``. AUCs come from midranks (the Mann-Whitney statistic), so ties count one
half, as in :func:`sklearn.metrics.roc_auc_score`. :class:`RankedScores` and
:func:`weighted_auc` give the same statistic for many weightings of one sorted score at once
(the bootstrap and the permutation test use them).

A group listed in ``classes`` but absent from ``y_true`` has no AUC: :func:`auc_per_group`
gives ``nan`` and the macro AUC averages the groups present (a warning is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from racelens.errors import ConfigError, DataError, LabelError

__all__ = ["ABSENT_NOTE", "RankedScores", "weighted_auc", "auc_per_group", "macro_auc",
           "as_matrix", "present_groups", "point_aucs"]

log = logging.getLogger("racelens.shared.metrics")

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


def as_matrix(y_true: Any, y_score: Any, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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


def present_groups(codes: np.ndarray, classes: Sequence[str]) -> list[int]:
    counts = np.bincount(codes, minlength=len(classes))
    missing = [str(classes[j]) for j in range(len(classes)) if counts[j] == 0]
    if missing:
        log.warning("group(s) %s absent from the test set: no AUC for them; the macro AUC "
                    "averages the %d groups present", missing, len(classes) - len(missing))
    return [j for j in range(len(classes)) if counts[j] > 0]


def point_aucs(codes: np.ndarray, scores: np.ndarray, present: list[int]) -> np.ndarray:
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
    codes, scores = as_matrix(y_true, y_score, classes)
    present = present_groups(codes, classes)
    aucs = point_aucs(codes, scores, present)
    out = {str(c): float("nan") for c in classes}
    for j, a in zip(present, aucs, strict=True):
        out[str(classes[j])] = float(a)
    return out


def macro_auc(y_true: Any, y_score: Any, classes: Sequence[str]) -> float:
    """Unweighted mean of the one-vs-rest AUCs of the groups present in ``y_true``."""
    codes, scores = as_matrix(y_true, y_score, classes)
    return float(point_aucs(codes, scores, present_groups(codes, classes)).mean())
