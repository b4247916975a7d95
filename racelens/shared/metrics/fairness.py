"""Subgroup error rates of a downstream task (a disease, "No Finding") and the gaps between groups.

A threshold is chosen on validation (:func:`choose_threshold`: max F1, Youden's J, or a fixed
overall FPR as Glocker et al. 2023 used 0.2) and applied to the test scores; per group we report
TPR, FPR, FNR, AUC, ECE and ``underdiagnosis_rate`` (Seyyed-Kalantari et al. 2021: with
``y_true`` = "No Finding", the FPR, i.e. the share of patients *with* findings who are predicted
"No Finding"). Gaps are ``max - min`` over groups (Yang et al. 2024) and the worst group's value
over the best group's, each with a stratified patient-bootstrap interval.

Point estimates come from fairlearn's :class:`~fairlearn.metrics.MetricFrame`; the bootstrap
evaluates the same metrics on per-sample multiplicity weights, all resamples of a block at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from racelens.errors import ConfigError, LabelError
from racelens.shared.metrics import (
    RankedScores,
    patient_bootstrap_counts,
    patient_codes,
    weighted_auc,
)
from racelens.shared.metrics.estimate import Estimate

__all__ = [
    "FairnessMetric",
    "ThresholdRule",
    "METRICS",
    "HIGHER_IS_BETTER",
    "Gap",
    "SubgroupMetrics",
    "choose_threshold",
    "parse_threshold_rule",
    "expected_calibration_error",
    "subgroup_metrics",
    "underdiagnosis_rate",
]

FairnessMetric = Literal["tpr", "fpr", "fnr", "auc", "ece", "underdiagnosis_rate"]
ThresholdRule = Literal["max_f1", "youden", "fixed_fpr"]
METRICS: tuple[FairnessMetric, ...] = ("tpr", "fpr", "fnr", "auc", "ece")
HIGHER_IS_BETTER = {"tpr": True, "auc": True, "fpr": False, "fnr": False, "ece": False,
                    "underdiagnosis_rate": False}


def _binary(y_true: Any) -> np.ndarray:
    y = np.asarray(y_true).ravel()
    if y.dtype != bool:
        values = set(pd.unique(y).tolist())
        if not values <= {0, 1}:
            raise LabelError(f"the task labels must be 0/1 or boolean, got values "
                             f"{sorted(map(str, values))[:5]}")
        y = y.astype(bool)
    return y


def choose_threshold(y_true: Any, y_score: Any, *, rule: ThresholdRule = "youden",
                     target_fpr: float = 0.2) -> float:
    """Operating point chosen on validation data; predict positive when ``score >= threshold``.

    Parameters
    ----------
    rule
        ``max_f1`` (best F1), ``youden`` (best TPR - FPR) or ``fixed_fpr`` (the lowest threshold
        whose overall FPR is at most ``target_fpr``, i.e. the best TPR under that FPR).
    """
    y = _binary(y_true)
    s = np.asarray(y_score, dtype=float).ravel()
    if len(s) != len(y):
        raise ConfigError(f"y_score has {len(s)} values; expected {len(y)}")
    if y.all() or not y.any():
        raise LabelError("choosing a threshold needs positives and negatives in the validation set")
    if rule == "max_f1":
        precision, recall, thresholds = precision_recall_curve(y, s)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        return float(thresholds[int(np.argmax(f1[:-1]))])
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    if rule == "youden":
        return float(thresholds[int(np.argmax(tpr - fpr))])
    if rule == "fixed_fpr":
        if not 0 <= target_fpr <= 1:
            raise ConfigError(f"target_fpr must be in [0, 1], got {target_fpr}")
        return float(thresholds[int(np.flatnonzero(fpr <= target_fpr)[-1])])
    raise ConfigError(f"rule must be 'max_f1', 'youden' or 'fixed_fpr', got {rule!r}")

def parse_threshold_rule(spec: str) -> tuple[ThresholdRule, float]:
    """``"youden"``, ``"max_f1"`` or ``"fpr=0.2"`` -> ``(rule, target_fpr)`` for :func:`choose_threshold`.

    >>> parse_threshold_rule("fpr=0.2")
    ('fixed_fpr', 0.2)
    """
    text = spec.strip().lower()
    if text in ("youden", "max_f1"):
        return text, 0.2  # type: ignore[return-value]
    key, sep, value = text.partition("=")
    if sep and key.strip() == "fpr":
        try:
            target = float(value)
        except ValueError:
            target = -1.0
        if 0 <= target <= 1:
            return "fixed_fpr", target
    raise ConfigError(f"threshold rule {spec!r}: use youden, max_f1 or fpr=F (F in [0, 1], the "
                      "operating point of the lowest threshold with validation FPR <= F)")



def _ece_bins(y_prob: np.ndarray, n_bins: int) -> np.ndarray:
    if (y_prob < 0).any() or (y_prob > 1).any():
        raise ConfigError("ECE needs probabilities in [0, 1]; calibrate or pass probabilities")
    return np.minimum((y_prob * n_bins).astype(int), n_bins - 1)


def expected_calibration_error(y_true: Any, y_prob: Any, *, n_bins: int = 10) -> float:
    """ECE of a binary probability: ``sum_b n_b / n * |mean(y)_b - mean(p)_b|``, equal-width bins."""
    y = _binary(y_true).astype(float)
    p = np.asarray(y_prob, dtype=float).ravel()
    bins = _ece_bins(p, n_bins)
    gap = np.bincount(bins, weights=y - p, minlength=n_bins)
    return float(np.abs(gap).sum() / len(y))


def _rate(y_true: np.ndarray, y_pred: np.ndarray, *, of: bool, pred: bool) -> float:
    mask = y_true == of
    return float(np.mean(y_pred[mask] == pred)) if mask.any() else float("nan")


def _point_metric(name: str, threshold: float, n_bins: int) -> Callable[[Any, Any], float]:
    def auc(y: Any, s: Any) -> float:
        y = np.asarray(y, dtype=bool)
        return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")

    def rate(y: Any, s: Any, of: bool, pred: bool) -> float:
        return _rate(np.asarray(y, dtype=bool), np.asarray(s) >= threshold, of=of, pred=pred)

    table: dict[str, Callable[[Any, Any], float]] = {
        "tpr": partial(rate, of=True, pred=True), "fnr": partial(rate, of=True, pred=False),
        "fpr": partial(rate, of=False, pred=True),
        "underdiagnosis_rate": partial(rate, of=False, pred=True),
        "auc": auc, "ece": lambda y, s: expected_calibration_error(y, s, n_bins=n_bins),
    }
    return table[name]


@dataclass(frozen=True)
class Gap:
    """Disparity of one metric across groups, with patient-bootstrap intervals."""

    difference: Estimate  # max - min over groups
    ratio: Estimate  # worst group's value / best group's value
    best_group: str
    worst_group: str

    def to_dict(self) -> dict[str, Any]:
        return {"difference": self.difference.to_dict(), "ratio": self.ratio.to_dict(),
                "best_group": self.best_group, "worst_group": self.worst_group}


@dataclass(frozen=True, kw_only=True)
class SubgroupMetrics:
    """Metrics overall and per group (the return types never change with the input).

    ``by_group[group][metric]`` is a float (``nan`` where undefined, e.g. AUC of a group with
    one class); ``by_group_ci`` holds the same with intervals; ``gaps[metric]`` the disparity.
    """

    metrics: tuple[str, ...]
    threshold: float
    overall: dict[str, float]
    by_group: dict[str, dict[str, float]]
    by_group_ci: dict[str, dict[str, Estimate]]
    group_sizes: dict[str, int]
    gaps: dict[str, Gap]
    n_boot: int
    level: float

    def difference(self) -> dict[str, float]:
        """``max - min`` over groups per metric (as fairlearn's ``MetricFrame.difference()``)."""
        return {m: _nan_if_none(self.gaps[m].difference.estimate) for m in self.metrics}

    def ratio_to_best(self) -> dict[str, float]:
        """Worst group's value over the best group's, per metric."""
        return {m: _nan_if_none(self.gaps[m].ratio.estimate) for m in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``result.json`` extras): NaN becomes ``None``."""
        return {
            "threshold": self.threshold, "metrics": list(self.metrics),
            "overall": {m: Estimate(v).to_dict()["estimate"] for m, v in self.overall.items()},
            "by_group": {g: {m: e.to_dict() for m, e in row.items()}
                         for g, row in self.by_group_ci.items()},
            "group_sizes": dict(self.group_sizes),
            "gaps": {m: gap.to_dict() for m, gap in self.gaps.items()},
            "n_boot": self.n_boot, "level": self.level,
        }


def _nan_if_none(x: float | None) -> float:
    return float("nan") if x is None else float(x)


class _Weighted:
    """The metrics of every group under many sample weightings at once (rows: resamples)."""

    def __init__(self, y: np.ndarray, s: np.ndarray, codes: np.ndarray, n_groups: int,
                 threshold: float, n_bins: int) -> None:
        self.y, self.s, self.codes, self.g = y, s, codes, n_groups
        self.threshold, self.n_bins = threshold, n_bins
        pred = s >= threshold
        onehot = sparse.csr_matrix((np.ones(len(y)), (np.arange(len(y)), codes)),
                                   shape=(len(y), n_groups))
        cells = {"pos": y, "neg": ~y, "tp": y & pred, "fp": ~y & pred, "all": np.ones_like(y)}
        self.cells = {k: sparse.diags(v.astype(float)) @ onehot for k, v in cells.items()}
        self.groups = [np.flatnonzero(codes == j) for j in range(n_groups)]
        self.ranked = [RankedScores.from_scores(s[ix]) for ix in self.groups]

    @cached_property
    def _ece_cells(self) -> sparse.csr_matrix:
        """Sample -> (group, bin) matrix holding ``y - p``: weighted sums give the bin gaps."""
        bins = _ece_bins(self.s, self.n_bins)
        n = len(self.y)
        return sparse.csr_matrix((self.y - self.s, (np.arange(n), self.codes * self.n_bins + bins)),
                                 shape=(n, self.g * self.n_bins))

    def _sum(self, w: np.ndarray, cell: str) -> np.ndarray:
        return np.asarray((self.cells[cell].T @ w.T).T)

    def __call__(self, name: str, w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            if name == "tpr":
                return self._sum(w, "tp") / self._sum(w, "pos")
            if name == "fnr":
                return 1 - self._sum(w, "tp") / self._sum(w, "pos")
            if name in ("fpr", "underdiagnosis_rate"):
                return self._sum(w, "fp") / self._sum(w, "neg")
            if name == "ece":
                gap = np.abs(np.asarray((self._ece_cells.T @ w.T).T))
                gap = gap.reshape(len(w), self.g, self.n_bins)
                return gap.sum(axis=2) / self._sum(w, "all")
        out = np.empty((len(w), self.g))
        for j, (ix, r) in enumerate(zip(self.groups, self.ranked, strict=True)):
            wj = w[:, ix[r.order]]
            yj = self.y[ix[r.order]]
            out[:, j] = weighted_auc(wj * yj, wj * ~yj, r.starts)
        return out


def _gap(values: np.ndarray, higher_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """``max - min`` and worst/best over the last axis (nan-aware)."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no defined group
        hi, lo = np.nanmax(values, axis=-1), np.nanmin(values, axis=-1)
        ratio = lo / hi if higher_better else hi / lo
    return hi - lo, np.where(np.isfinite(ratio), ratio, np.nan)  # best at 0: no ratio


def subgroup_metrics(
    *,
    y_true: Any,
    y_score: Any,
    groups: Sequence[str] | np.ndarray,
    threshold: float,
    patient_ids: Any | None = None,
    metrics: Sequence[FairnessMetric] = METRICS,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    n_bins: int = 10,
) -> SubgroupMetrics:
    """Per-group metrics of a binary task at ``threshold``, and the gaps between groups.

    Parameters
    ----------
    y_true
        Task label (0/1 or bool) per sample.
    y_score
        Predicted probability of the task label.
    groups
        Group (race) per sample; the bootstrap is stratified by it.
    threshold
        Operating point (see :func:`choose_threshold`, on validation data).
    patient_ids
        Patient per sample: the bootstrap resamples patients.
    metrics
        Any of ``tpr``, ``fpr``, ``fnr``, ``auc``, ``ece``, ``underdiagnosis_rate``.
    """
    from fairlearn.metrics import MetricFrame

    unknown = [m for m in metrics if m not in HIGHER_IS_BETTER]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; choose from {sorted(HIGHER_IS_BETTER)}")
    y = _binary(y_true)
    s = np.asarray(y_score, dtype=float).ravel()
    g = pd.Series(np.asarray(groups, dtype=object).ravel())
    if not (len(s) == len(y) == len(g)):
        raise ConfigError(f"y_true has {len(y)} values, y_score {len(s)}, groups {len(g)}; "
                          "pass one per sample")
    if g.isna().any():
        raise LabelError(f"groups has {int(g.isna().sum())} missing values; label every sample")
    codes, names = pd.factorize(g.astype(str), sort=True)
    if len(names) < 2:
        raise LabelError(f"groups holds one group only ({names[0]!r}); gaps need two or more")
    names = [str(n) for n in names]
    fns = {m: _point_metric(m, threshold, n_bins) for m in metrics}
    frame = MetricFrame(metrics=fns, y_true=y.astype(int), y_pred=s,
                        sensitive_features=np.asarray(names, dtype=object)[codes])
    by_group = {gr: {m: float(frame.by_group.loc[gr, m]) for m in metrics} for gr in names}
    overall = {m: float(frame.overall[m]) for m in metrics}

    weighted = _Weighted(y, s, codes, len(names), threshold, n_bins)
    pidx, _ = patient_codes(patient_ids, len(y))
    boot = {m: np.empty((n_boot, len(names))) for m in metrics}
    for rows, counts in patient_bootstrap_counts(codes, patient_ids, n_boot, seed):
        w = np.take(counts, pidx, axis=1).astype(float)
        for m in metrics:
            boot[m][rows] = weighted(m, w)
    q = [(1 - level) / 2, (1 + level) / 2]
    by_group_ci: dict[str, dict[str, Estimate]] = {gr: {} for gr in names}
    gaps: dict[str, Gap] = {}
    for m in metrics:
        point = np.array([by_group[gr][m] for gr in names])
        ci = _quantiles(boot[m], q)
        for j, gr in enumerate(names):
            by_group_ci[gr][m] = Estimate(point[j], *ci[:, j])
        d, r = _gap(point, HIGHER_IS_BETTER[m])
        bd, br = _gap(boot[m], HIGHER_IS_BETTER[m])
        order = np.argsort(np.where(np.isnan(point), -np.inf, point))
        best, worst = (order[-1], order[0]) if HIGHER_IS_BETTER[m] else (order[0], order[-1])
        gaps[m] = Gap(Estimate(float(d), *_quantiles(bd, q)), Estimate(float(r), *_quantiles(br, q)),
                      names[best], names[worst])
    sizes = dict(zip(names, np.bincount(codes, minlength=len(names)).tolist(), strict=True))
    return SubgroupMetrics(metrics=tuple(metrics), threshold=float(threshold), overall=overall,
                           by_group=by_group, by_group_ci=by_group_ci, group_sizes=sizes,
                           gaps=gaps, n_boot=n_boot, level=level)


def _quantiles(x: np.ndarray, q: list[float]) -> np.ndarray:
    """Percentiles over resamples, ignoring undefined ones (``nan`` where all are, or none)."""
    if x.shape[0] == 0:  # n_boot=0: point estimates only
        return np.full((len(q), *x.shape[1:]), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN: wanted
        return np.nanquantile(np.where(np.isfinite(x), x, np.nan), q, axis=0)


def underdiagnosis_rate(
    *,
    no_finding_true: Any,
    no_finding_score: Any,
    groups: Sequence[str] | np.ndarray,
    threshold: float,
    patient_ids: Any | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> SubgroupMetrics:
    """Seyyed-Kalantari's underdiagnosis rate per group: of the patients who *have* findings
    (``no_finding_true == 0``), the share predicted "No Finding" (``score >= threshold``).
    """
    return subgroup_metrics(y_true=no_finding_true, y_score=no_finding_score, groups=groups,
                            threshold=threshold, patient_ids=patient_ids,
                            metrics=("underdiagnosis_rate",), n_boot=n_boot, level=level,
                            seed=seed)
