"""The shortcut test over a family of models: does the fairness gap rise with attribute encoding?

Brown et al. (2023, "Detecting shortcut learning for fair medical AI using shortcut testing")
train a family of task models whose encoding of a protected attribute is varied on purpose (a
gradient-reversal head with a swept coefficient) and ask whether the models that encode the
attribute more are also the less fair ones: a rank correlation between attribute encoding and the
fairness gap, over the models that still do the task. This module is that test and nothing
modality-specific: each model is three numbers (encoding, gap, task performance), so the imaging
sweep (``racelens.imaging.shortcut``) and a notes model family can use it alike.

- **Spearman's ρ** between encoding and gap (:func:`scipy.stats.spearmanr`) over the models whose
  task AUC is at least ``min_task_auc`` (a model that fails the task is fair by being useless);
- a percentile **bootstrap interval** over models (models resampled with replacement; resamples
  in which encoding or gap is constant have no ρ and are left out, and counted);
- a **permutation p-value** (:func:`scipy.stats.permutation_test`, the pairings permuted; exact
  when ``n!`` is at most ``n_permutations``), one-sided for a gap that *rises* with encoding by
  default;
- a **verdict** in words.

:class:`ShortcutResult` is ``shortcut.json`` (schema ``racelens.shortcut/1``).

Example
-------
>>> pts = [ModelPoint(encoding=e, gap=g, task_auc=0.8) for e, g in
...        [(0.5, 0.01), (0.6, 0.03), (0.7, 0.02), (0.8, 0.06), (0.9, 0.08)]]
>>> round(shortcut_test(pts, n_boot=200).spearman, 2)
0.9
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import stats

from racelens.errors import ConfigError, SchemaError
from racelens.shared.results import Estimate

__all__ = [
    "SHORTCUT_SCHEMA",
    "VERDICTS",
    "ModelPoint",
    "ShortcutTest",
    "ShortcutResult",
    "shortcut_test",
]

SHORTCUT_SCHEMA = "racelens.shortcut/1"
Alternative = Literal["greater", "two-sided", "less"]
VERDICTS = {
    "evidence": "gap rises with race encoding: shortcut evidence",
    "none": "no evidence that the gap rises with race encoding",
    "too_few": "too few models",
}


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


@dataclass(frozen=True, kw_only=True)
class ModelPoint:
    """One model of the family: its attribute encoding, fairness gap and task performance.

    Parameters
    ----------
    encoding
        Attribute encoding (e.g. the macro AUC of a linear probe on frozen features).
    gap
        Fairness gap (e.g. ``max - min`` over groups of the FPR at a validation threshold).
    task_auc
        Task performance; models below ``min_task_auc`` are left out of the test.
    label
        A name for the model (``scale=0.5,seed=1``), for messages and tables.
    """

    encoding: float
    gap: float
    task_auc: float
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class ShortcutTest:
    """The encoding-gap rank correlation over the models that do the task.

    ``spearman``, ``ci_low``, ``ci_high`` and ``p_value`` are ``nan`` when the test could not be
    run (too few models, or a constant encoding or gap); ``n_models`` counts the models used,
    ``n_excluded`` those below ``min_task_auc`` or with an undefined value.
    """

    spearman: float
    ci_low: float
    ci_high: float
    p_value: float
    n_models: int
    n_excluded: int
    verdict: str
    min_task_auc: float
    alternative: Alternative
    level: float
    n_boot: int
    n_boot_undefined: int
    slope: float = float("nan")
    intercept: float = float("nan")

    @property
    def interval(self) -> Estimate:
        return Estimate(self.spearman, self.ci_low, self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        """The ``test`` block of ``shortcut.json`` (``nan`` becomes ``None``)."""
        def clean(x: float) -> float | None:
            return Estimate(x).to_dict()["estimate"]

        return {"spearman": clean(self.spearman), "ci_low": clean(self.ci_low),
                "ci_high": clean(self.ci_high), "p_value": clean(self.p_value),
                "n_models": int(self.n_models), "verdict": self.verdict,
                "n_excluded": int(self.n_excluded), "min_task_auc": float(self.min_task_auc),
                "alternative": self.alternative, "level": float(self.level),
                "n_boot": int(self.n_boot), "n_boot_undefined": int(self.n_boot_undefined),
                "trend": {"slope": clean(self.slope), "intercept": clean(self.intercept)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShortcutTest:
        def f(x: Any) -> float:
            return float("nan") if x is None else float(x)

        try:
            trend = d.get("trend", {})
            return cls(spearman=f(d["spearman"]), ci_low=f(d["ci_low"]), ci_high=f(d["ci_high"]),
                       p_value=f(d["p_value"]), n_models=int(d["n_models"]),
                       n_excluded=int(d.get("n_excluded", 0)), verdict=str(d["verdict"]),
                       min_task_auc=float(d.get("min_task_auc", 0.0)),
                       alternative=d.get("alternative", "greater"), level=float(d.get("level", 0.95)),
                       n_boot=int(d.get("n_boot", 0)), n_boot_undefined=int(d.get("n_boot_undefined", 0)),
                       slope=f(trend.get("slope")), intercept=f(trend.get("intercept")))
        except KeyError as exc:
            raise SchemaError(f"the shortcut test needs key {exc.args[0]!r}") from exc


def _rank_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ along the last axis (average ranks for ties; ``nan`` when one side is constant)."""
    rx = stats.rankdata(x, axis=-1)
    ry = stats.rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=-1) / np.where(den > 0, den, 1.0), np.nan)


def shortcut_test(
    models: Sequence[ModelPoint],
    *,
    min_task_auc: float = 0.7,
    n_boot: int = 1000,
    n_permutations: int = 9999,
    level: float = 0.95,
    alpha: float = 0.05,
    alternative: Alternative = "greater",
    min_models: int = 4,
    seed: int = 0,
) -> ShortcutTest:
    """Spearman's ρ between encoding and gap over the models that do the task, with an interval,
    a permutation p-value and a verdict.

    Parameters
    ----------
    models
        One :class:`ModelPoint` per model of the family.
    min_task_auc
        Models with a lower (or undefined) task AUC are left out.
    n_boot
        Bootstrap resamples of the models for the interval of ρ.
    n_permutations
        Permutations of the pairing for the p-value (exact when ``n!`` is at most this).
    level
        Interval level.
    alpha
        Significance level of the verdict.
    alternative
        ``greater`` (the gap rises with encoding: the shortcut hypothesis), ``two-sided`` or ``less``.
    min_models
        Fewer usable models than this give the verdict "too few models".
    seed
        Seeds the bootstrap and the permutations.

    Returns
    -------
    ShortcutTest
        Also the least-squares trend line ``gap = slope * encoding + intercept`` over the models
        used (for the report's scatter).
    """
    if alternative not in ("greater", "two-sided", "less"):
        raise ConfigError(f"alternative must be greater, two-sided or less, got {alternative!r}")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise ConfigError(f"level and alpha must be in (0, 1), got {level}, {alpha}")
    if n_boot < 0 or n_permutations < 1 or min_models < 3:
        raise ConfigError("n_boot must be >= 0, n_permutations >= 1 and min_models >= 3")
    usable = [m for m in models if _finite(m.task_auc) and m.task_auc >= min_task_auc
              and _finite(m.encoding) and _finite(m.gap)]
    enc = np.array([m.encoding for m in usable], dtype=float)
    gap = np.array([m.gap for m in usable], dtype=float)
    nan = float("nan")
    common = {"n_models": len(usable), "n_excluded": len(models) - len(usable),
              "min_task_auc": float(min_task_auc), "alternative": alternative,
              "level": float(level), "n_boot": int(n_boot)}
    if len(usable) < min_models or np.ptp(enc) == 0 or np.ptp(gap) == 0:
        return ShortcutTest(spearman=nan, ci_low=nan, ci_high=nan, p_value=nan,
                            verdict=VERDICTS["too_few"], n_boot_undefined=0, **common)
    rho = float(stats.spearmanr(enc, gap).statistic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(usable), size=(n_boot, len(usable)))
    boot = _rank_corr(enc[idx], gap[idx]) if n_boot else np.zeros(0)
    defined = boot[np.isfinite(boot)]
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = (np.quantile(defined, q).tolist() if len(defined) else [nan, nan])
    perm = stats.permutation_test(
        (enc,), lambda x, axis=-1: _rank_corr(x, np.broadcast_to(gap, x.shape)),
        permutation_type="pairings", n_resamples=n_permutations, alternative=alternative,
        vectorized=True, random_state=np.random.default_rng([seed, 1]))
    p = float(perm.pvalue)
    rises = rho > 0 if alternative != "less" else False
    verdict = VERDICTS["evidence"] if (p < alpha and rises) else VERDICTS["none"]
    slope, intercept = np.polyfit(enc, gap, 1).tolist()
    return ShortcutTest(spearman=rho, ci_low=float(lo), ci_high=float(hi), p_value=p,
                        verdict=verdict, n_boot_undefined=int(n_boot - len(defined)),
                        slope=float(slope), intercept=float(intercept), **common)


@dataclass(frozen=True, kw_only=True)
class ShortcutResult:
    """``shortcut.json``: the model family, the test, the mitigations (schema ``racelens.shortcut/1``).

    ``models`` and ``mitigations`` are JSON-ready dicts (AUC blocks shaped like ``result.json``'s
    ``auc``, the gap as an estimate with its interval); the producing modality fills them.
    """

    task: str
    gap_metric: str
    threshold_rule: str
    models: Sequence[Mapping[str, Any]]
    test: ShortcutTest
    mitigations: Sequence[Mapping[str, Any]] = ()
    modality: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)
    racelens_version: str = ""
    created: str = ""

    def __post_init__(self) -> None:
        if not self.racelens_version:
            from racelens import __version__

            object.__setattr__(self, "racelens_version", __version__)
        if not self.created:
            object.__setattr__(self, "created", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SHORTCUT_SCHEMA, "modality": self.modality, "task": self.task,
                "gap_metric": self.gap_metric, "threshold_rule": self.threshold_rule,
                "racelens_version": self.racelens_version, "created": self.created,
                "config": dict(self.config), "data": dict(self.data),
                "models": [dict(m) for m in self.models], "test": self.test.to_dict(),
                "mitigations": [dict(m) for m in self.mitigations], "extras": dict(self.extras)}

    def write(self, path: str | Path) -> Path:
        """Write ``shortcut.json`` atomically; ``path`` may be a run directory."""
        from racelens.shared.run_files import write_run_document

        return write_run_document(path, "shortcut.json", self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShortcutResult:
        if d.get("schema") != SHORTCUT_SCHEMA:
            raise SchemaError(f"not a racelens shortcut result: schema is {d.get('schema')!r}, "
                              f"expected {SHORTCUT_SCHEMA!r}")
        try:
            return cls(task=d["task"], gap_metric=d["gap_metric"], threshold_rule=d["threshold_rule"],
                       models=tuple(d["models"]), test=ShortcutTest.from_dict(d["test"]),
                       mitigations=tuple(d.get("mitigations", ())), modality=d.get("modality", ""),
                       data=dict(d.get("data", {})), config=dict(d.get("config", {})),
                       extras=dict(d.get("extras", {})),
                       racelens_version=d.get("racelens_version", ""), created=d.get("created", ""))
        except KeyError as exc:
            raise SchemaError(f"shortcut.json needs key {exc.args[0]!r}") from exc

    @classmethod
    def read(cls, path: str | Path) -> ShortcutResult:
        """Read ``shortcut.json`` (or a run directory holding one)."""
        from racelens.shared.run_files import read_run_document

        path, doc = read_run_document(path, "shortcut.json")
        try:
            return cls.from_dict(doc)
        except SchemaError as exc:
            raise SchemaError(f"{path}: {exc}") from exc
