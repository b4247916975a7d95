"""Audit results built by hand for the plot and report tests (no fixtures file, no conftest).

The numbers are chosen, not measured, so tests can assert that the report carries them through
exactly. Identifier-like marker strings are planted where a careless report would leak them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from racelens.shared.results import (
    AUCBlock,
    AuditResult,
    Condition,
    ConditionResult,
    DataSummary,
    Estimate,
    SkippedRow,
)

GROUPS = ("Asian", "Black", "White")
SKIPPED_MARKER = "SKIPPEDID-7f3a"  # planted in skipped sample ids: must never be rendered
CONFIG_MARKER = "cfgvalue-9b1c"  # planted in a config value: user options may be shown


def roc_curve(auc: float, n: int = 101) -> dict[str, list[float]]:
    """A smooth concave ROC curve of roughly the given AUC (power curve tpr = fpr**a)."""
    a = (1.0 - auc) / auc  # integral of x**a over [0,1] is 1/(a+1) = auc
    fpr = np.linspace(0.0, 1.0, n)
    return {"fpr": fpr.round(4).tolist(), "tpr": (fpr**a).round(4).tolist()}


def cond(name: str, params: dict, macro: float, *, half: float = 0.02, p: float = 1e-6,
         n: int = 300, groups: tuple[str, ...] = GROUPS, extras: dict | None = None
         ) -> ConditionResult:
    per_group = {g: Estimate(round(macro + 0.01 * (i - 1), 4), round(macro + 0.01 * (i - 1) - half, 4),
                             min(1.0, round(macro + 0.01 * (i - 1) + half, 4)))
                 for i, g in enumerate(groups)}
    block = AUCBlock(Estimate(macro, round(macro - half, 4), round(macro + half, 4)), per_group)
    return ConditionResult(Condition(name, params), block, p, n, extras or {})


def imaging_result(dataset: str = "synthetic-cxr") -> AuditResult:
    roc = {g: roc_curve(0.95 + 0.01 * i) for i, g in enumerate(GROUPS)}
    conditions = [cond("original", {}, 0.96, extras={"roc": roc})]
    for r, auc in ((1, 0.55), (10, 0.84), (50, 0.93)):
        conditions.append(cond("lowpass", {"radius": r}, auc))
    for r, auc in ((50, 0.9), (100, 0.87), (150, 0.58)):
        conditions.append(cond("highpass", {"radius": r}, auc))
    conditions.append(cond("resolution", {"size": 32}, 0.8))
    data = DataSummary(n_samples=1000, n_patients=400, groups={"Asian": 200, "Black": 300, "White": 500},
                       excluded={"Other": 12, "Unknown": 3},
                       skipped=(SkippedRow(f"{SKIPPED_MARKER}-1", "unreadable DICOM"),
                                SkippedRow(f"{SKIPPED_MARKER}-2", "unreadable DICOM"),
                                SkippedRow(f"{SKIPPED_MARKER}-3", "not greyscale")),
                       fingerprint="sha256:" + "ab" * 32, dataset=dataset)
    # the shape of racelens.shared.metrics.fairness.SubgroupMetrics.to_dict(), one task
    by_group = {g: {"tpr": {"estimate": 0.8 + 0.02 * i, "ci_low": 0.75 + 0.02 * i,
                            "ci_high": 0.85 + 0.02 * i},
                    "fpr": {"estimate": 0.1 + 0.01 * i, "ci_low": None, "ci_high": None}}
                for i, g in enumerate(GROUPS)}
    fairness = {"No Finding": {
        "threshold": 0.5, "metrics": ["tpr", "fpr"], "overall": {"tpr": 0.82, "fpr": 0.11},
        "by_group": by_group, "group_sizes": {"Asian": 60, "Black": 90, "White": 150},
        "gaps": {"tpr": {"difference": {"estimate": 0.04, "ci_low": 0.01, "ci_high": 0.07},
                         "ratio": {"estimate": 0.95, "ci_low": 0.9, "ci_high": 0.99},
                         "best_group": "White", "worst_group": "Asian"}},
        "n_boot": 200, "level": 0.95}}
    return AuditResult("imaging", data, conditions, config={"model": "tiny_cnn", "image_size": 64,
                                                            "note": CONFIG_MARKER},
                       seed=7, extras={"fairness": fairness},
                       versions={"racelens": "0.1.0", "torch": "2.3.0"})


def text_result(dataset: str = "synthetic-notes") -> AuditResult:
    check = {
        "residual": {"count": 4, "rate_per_1000": 0.8, "by_group": {"Asian": 1, "Black": 2, "White": 1},
                     "terms": {"caucasian": 3, "af-am": 1}},
        "mention_rates": {"Asian": 0.31, "Black": 0.42, "White": 0.12},
        "leakage_auc": {"estimate": 0.71, "ci_low": 0.66, "ci_high": 0.76},
        "proxies": {"Asian": [{"ngram": "interpreter", "weight": 2.5,
                               "df_by_group": {"Asian": 40, "Black": 3, "White": 2}}],
                    "Black": [{"ngram": "sickle cell", "weight": 3.1,
                               "df_by_group": {"Asian": 0, "Black": 25, "White": 1}}],
                    "White": []},
    }
    conditions = [cond("original", {}, 0.99, extras={"roc": {g: roc_curve(0.99) for g in GROUPS}}),
                  cond("redact", {"level": "explicit"}, 0.74, extras={"check": check}),
                  cond("redact", {"level": "extended"}, 0.7),
                  cond("strip_proxies", {"level": "extended", "k": 20}, 0.56, p=0.03),
                  cond("strip_proxies", {"level": "extended", "k": 5}, 0.63, p=0.001)]
    data = DataSummary(n_samples=800, n_patients=400, groups={"Asian": 150, "Black": 250, "White": 400},
                       excluded={"Hispanic": 20}, skipped=(SkippedRow(f"{SKIPPED_MARKER}-4", "empty note"),),
                       fingerprint="sha256:" + "cd" * 32, dataset=dataset)
    # result-level extras as racelens.text.audit writes them: one check per level, proxies removed
    level_check = {"schema": "racelens.redaction_check/1", "level": "extended", "n_notes": 800,
                   "residual": {"n_notes": 800, "n_mentions": 2, "n_notes_with_mentions": 2,
                                "per_1000_notes": 2.5, "terms": {"asian": 2}, "categories": {},
                                "per_group": {"Asian": {"n_notes": 150, "n_mentions": 2,
                                                        "per_1000_notes": 13.3,
                                                        "share_notes_with_mentions": 0.0133}}},
                   "original": None, "spans": None, "leakage": None, "proxies": [], "notes": []}
    extras = {"check": {"extended": level_check},
              "strip_proxies": {"removed": ["interpreter", "sickle cell", "mandarin"]}}
    return AuditResult("text", data, conditions, config={"model": "tfidf_logreg"}, seed=3,
                       extras=extras)


def covariate_result() -> AuditResult:
    data = DataSummary(n_samples=1000, n_patients=400, groups={"Asian": 200, "Black": 300, "White": 500},
                       fingerprint="sha256:" + "ef" * 32)
    return AuditResult("covariates", data, [cond("original", {}, 0.61, half=0.03, p=0.002)],
                       config={"covariates": ["age", "sex", "bmi"]}, seed=0)


def write_all(root: Path) -> list[Path]:
    """Write the three results as run folders under ``root``; return the result.json paths."""
    return [imaging_result().write(root / "imaging_run"), text_result().write(root / "text_run"),
            covariate_result().write(root / "covariates_run")]
