"""Score one model of a shortcut-test family: task AUC, attribute encoding and fairness gap.

Modality-free: a model is its task probabilities and its frozen penultimate features for every
row; the rows are named by an :class:`~racelens.shared.resample.EvalSets` (checked against the
split, so validation, test and counterfactual sets cannot be swapped).

- **task AUC** on the scored rows, with a patient-bootstrap interval (an AUC block as in
  ``result.json``);
- **encoding** = the shared linear race probe (:func:`racelens.shared.metrics.probe.linear_probe`)
  on the frozen features, fitted on train, tuned on val, scored on test (Glocker et al. 2023,
  Yang et al. 2024); its best validation AUC is the *validation encoding* used for selection;
- **gap** = ``max - min`` over groups of the chosen error rate at the threshold chosen on the
  validation rows only (:func:`racelens.shared.metrics.fairness.choose_threshold`), with a
  stratified patient-bootstrap interval; the same gap on the validation rows (point only) is the
  *validation gap* used for selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from racelens.errors import ConfigError
from racelens.shared.resample import EvalSets
from racelens.shared.results import AUCBlock, Condition, Estimate, evaluate_condition
from racelens.shared.shortcut import ModelPoint

__all__ = ["GAP_METRICS", "GapMetric", "ModelEval", "RowsInfo", "evaluate_model", "parse_threshold"]

GapMetric = Literal["fpr", "tpr", "underdiagnosis", "auc"]
GAP_METRICS: dict[str, str] = {"fpr": "fpr", "tpr": "tpr", "underdiagnosis": "underdiagnosis_rate",
                               "auc": "auc"}
TASK_CLASSES = ("negative", "positive")


def parse_threshold(rule: str) -> tuple[str, float]:
    """``max_f1``, ``youden`` or ``fpr=X`` -> ``(rule, target_fpr)`` of ``choose_threshold``."""
    rule = rule.strip()
    if rule in ("max_f1", "youden"):
        return rule, 0.2
    if rule.startswith("fpr="):
        try:
            target = float(rule[4:])
        except ValueError:
            raise ConfigError(f"threshold {rule!r}: the FPR must be a number, e.g. fpr=0.2") from None
        if not 0 < target < 1:
            raise ConfigError(f"threshold {rule!r}: the FPR must be in (0, 1)")
        return "fixed_fpr", target
    raise ConfigError(f"threshold must be max_f1, youden or fpr=X, got {rule!r}")


@dataclass(frozen=True, kw_only=True)
class RowsInfo:
    """Per row of the data: task label (0/1), group, patient and split."""

    task: np.ndarray
    groups: np.ndarray
    patients: np.ndarray
    split: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.task)
        if not (len(self.groups) == len(self.patients) == len(self.split) == n):
            raise ConfigError("task, groups, patients and split need one value per row")


@dataclass(frozen=True, kw_only=True)
class ModelEval:
    """One model's scores: what ``shortcut.json`` lists, and what selection reads (val only)."""

    name: str
    task_auc: AUCBlock
    encoding_auc: AUCBlock
    gap: Estimate
    threshold: float
    val_task_auc: float
    val_encoding: float
    val_gap: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def point(self) -> ModelPoint:
        """The model as the shortcut test sees it (test-set encoding, gap and task AUC)."""
        def v(x: float | None) -> float:
            return float("nan") if x is None else float(x)

        return ModelPoint(encoding=v(self.encoding_auc.macro.estimate), gap=v(self.gap.estimate),
                          task_auc=v(self.task_auc.macro.estimate), label=self.name)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return Estimate(x).to_dict()["estimate"]

        return {"name": self.name, **dict(self.params), "task_auc": self.task_auc.to_dict(),
                "encoding_auc": self.encoding_auc.to_dict(), "gap": self.gap.to_dict(),
                "threshold": num(self.threshold),
                "validation": {"task_auc": num(self.val_task_auc), "encoding_auc": num(self.val_encoding),
                               "gap": num(self.val_gap)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelEval:
        def f(x: Any) -> float:
            return float("nan") if x is None else float(x)

        params = {k: v for k, v in d.items() if k not in
                  ("name", "task_auc", "encoding_auc", "gap", "threshold", "validation")}
        val = d.get("validation", {})
        return cls(name=d["name"], task_auc=AUCBlock.from_dict(d["task_auc"]),
                   encoding_auc=AUCBlock.from_dict(d["encoding_auc"]), gap=Estimate.from_dict(d["gap"]),
                   threshold=f(d.get("threshold")), val_task_auc=f(val.get("task_auc")),
                   val_encoding=f(val.get("encoding_auc")), val_gap=f(val.get("gap")), params=params)


def _gap(metrics_fn: Any, rows: RowsInfo, p: np.ndarray, at: np.ndarray, threshold: float,
         metric: str, n_boot: int, seed: int) -> Estimate:
    sm = metrics_fn(y_true=rows.task[at], y_score=p[at], groups=rows.groups[at], threshold=threshold,
                    patient_ids=rows.patients[at], metrics=(metric,), n_boot=n_boot, seed=seed)
    return sm.gaps[metric].difference


def evaluate_model(
    *,
    name: str,
    probs: np.ndarray,
    features: np.ndarray | None,
    rows: RowsInfo,
    sets: EvalSets,
    gap_metric: GapMetric = "fpr",
    threshold_rule: str = "max_f1",
    n_boot: int = 1000,
    seed: int = 0,
    encoding: tuple[AUCBlock, float] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelEval:
    """Score one model (see the module notes).

    Parameters
    ----------
    name
        The model's name in tables.
    probs
        ``n x 2`` (or ``n``) task probabilities for every row; the positive class is column 1.
    features
        ``n x d`` frozen penultimate features for every row (the probe's input).
    rows
        Labels, groups, patients and split per row.
    sets
        Validation, test and optional counterfactual rows, checked against ``rows.split``.
    gap_metric
        ``fpr``, ``tpr``, ``underdiagnosis`` (the FPR of a "No Finding" model) or ``auc``.
    threshold_rule
        ``max_f1``, ``youden`` or ``fpr=X``, applied to the validation rows.
    encoding
        ``(test AUC block, validation AUC)`` of a probe already fitted on these features (a model
        sharing another's frozen backbone); ``features`` is then not read.
    """
    from sklearn.metrics import roc_auc_score

    from racelens.shared.metrics.fairness import choose_threshold, subgroup_metrics
    from racelens.shared.metrics.probe import linear_probe

    if gap_metric not in GAP_METRICS:
        raise ConfigError(f"gap must be one of {', '.join(GAP_METRICS)}, got {gap_metric!r}")
    sets.check(rows.split)
    p = np.asarray(probs, dtype=float)
    p = p[:, 1] if p.ndim == 2 else p
    if len(p) != len(rows.task):
        raise ConfigError(f"probs has {len(p)} rows, the data {len(rows.task)}")
    rule, target = parse_threshold(threshold_rule)
    val, scored = np.asarray(sets.val), np.asarray(sets.scored)
    threshold = choose_threshold(rows.task[val], p[val], rule=rule, target_fpr=target)  # type: ignore[arg-type]
    metric = GAP_METRICS[gap_metric]
    gap = _gap(subgroup_metrics, rows, p, scored, threshold, metric, n_boot, seed)
    val_gap = _gap(subgroup_metrics, rows, p, val, threshold, metric, 0, seed).estimate
    names = np.asarray(TASK_CLASSES, dtype=object)[rows.task[scored].astype(int)]
    task = evaluate_condition(Condition("task"), names, np.column_stack([1 - p[scored], p[scored]]),
                              TASK_CLASSES, patient_ids=rows.patients[scored], n_boot=n_boot,
                              seed=seed).auc
    yv = rows.task[val].astype(int)
    val_task = float(roc_auc_score(yv, p[val])) if 0 < yv.sum() < len(yv) else float("nan")
    if encoding is None:
        if features is None:
            raise ConfigError("evaluate_model needs features or a fitted encoding")
        fit = linear_probe(features, rows.groups, rows.patients, rows.split, rows.classes,
                           condition=Condition("encoding"), seed=seed, n_boot=n_boot)
        encoding = (fit.result.auc, max(fit.result.extras["probe"]["val_macro_auc"].values()))
    return ModelEval(name=name, task_auc=task, encoding_auc=encoding[0], gap=gap,
                     threshold=float(threshold), val_task_auc=val_task, val_encoding=float(encoding[1]),
                     val_gap=float("nan") if val_gap is None else float(val_gap),
                     params=dict(params or {}))
