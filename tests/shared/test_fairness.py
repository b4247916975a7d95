"""Subgroup metrics checked against fairlearn's MetricFrame and scikit-learn on group masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.metrics import f1_score, roc_auc_score

from racelens.errors import ConfigError, LabelError
from racelens.shared.metrics import fairness as F

# tiny fixed arrays: 12 samples, 3 groups
Y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1])
S = np.array([0.9, 0.2, 0.4, 0.7, 0.6, 0.1, 0.8, 0.3, 0.55, 0.45, 0.5, 0.35])
G = np.array(["A", "A", "A", "A", "B", "B", "B", "B", "C", "C", "C", "C"])


def _random(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    g = rng.choice(["Asian", "Black", "White"], n)
    y = rng.random(n) < 0.4
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y - 0.5 * (g == "Black"))))
    return y, np.round(s, 2), g  # rounded: ties


def _ece(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        m = (p >= lo) & ((p < hi) if b < n_bins - 1 else (p <= hi))
        if m.any():
            total += m.sum() / len(y) * abs(y[m].mean() - p[m].mean())
    return total


def test_tiny_example_exact_rates() -> None:
    r = F.subgroup_metrics(y_true=Y, y_score=S, groups=G, threshold=0.5, n_boot=20)
    # A: y=1 at 0.9,0.4,0.7 -> 2/3 caught; y=0 at 0.2 -> no false positive
    assert r.by_group["A"]["tpr"] == 2 / 3
    assert r.by_group["A"]["fpr"] == 0.0
    assert r.by_group["B"]["fpr"] == 1 / 3  # 0.6 among 0.6, 0.1, 0.3
    assert r.by_group["C"]["tpr"] == 0.5  # 0.55 caught, 0.35 missed
    assert r.by_group["C"]["fpr"] == 0.5  # 0.5 (>= threshold) among 0.45, 0.5
    assert r.difference()["fpr"] == 0.5
    assert r.gaps["tpr"].best_group == "B" and r.gaps["tpr"].worst_group == "C"
    assert r.ratio_to_best()["tpr"] == 0.5
    assert r.group_sizes == {"A": 4, "B": 4, "C": 4}


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_fairlearn_metricframe(seed: int) -> None:
    y, s, g = _random(seed)
    t = 0.5
    ours = F.subgroup_metrics(y_true=y, y_score=s, groups=g, threshold=t, n_boot=50)
    theirs = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                                  "fnr": false_negative_rate},
                         y_true=y.astype(int), y_pred=(s >= t).astype(int), sensitive_features=g)
    for m in ("tpr", "fpr", "fnr"):
        assert abs(ours.overall[m] - theirs.overall[m]) < 1e-12
        for grp in ("Asian", "Black", "White"):
            assert abs(ours.by_group[grp][m] - theirs.by_group.loc[grp, m]) < 1e-12
        assert abs(ours.difference()[m] - theirs.difference()[m]) < 1e-12
        assert abs(ours.ratio_to_best()[m] - _worst_over_best(theirs.by_group[m], m)) < 1e-12


def _worst_over_best(values, metric: str) -> float:
    return values.min() / values.max() if metric == "tpr" else values.max() / values.min()


def test_auc_and_ece_match_sklearn_on_masks() -> None:
    y, s, g = _random(2)
    r = F.subgroup_metrics(y_true=y, y_score=s, groups=g, threshold=0.5, n_boot=50)
    for grp in ("Asian", "Black", "White"):
        m = g == grp
        assert abs(r.by_group[grp]["auc"] - roc_auc_score(y[m], s[m])) < 1e-12
        assert abs(r.by_group[grp]["ece"] - _ece(y[m], s[m])) < 1e-12
    assert abs(r.overall["auc"] - roc_auc_score(y, s)) < 1e-12
    assert abs(r.overall["ece"] - F.expected_calibration_error(y, s)) < 1e-12


def test_underdiagnosis_is_no_finding_fpr() -> None:
    y, s, g = _random(3)  # y: "No Finding"
    t = F.choose_threshold(y, s, rule="fixed_fpr", target_fpr=0.2)
    r = F.underdiagnosis_rate(no_finding_true=y, no_finding_score=s, groups=g, threshold=t,
                              n_boot=50)
    for grp in ("Asian", "Black", "White"):
        has_findings = (g == grp) & ~y
        expected = np.mean(s[has_findings] >= t)  # falsely called "No Finding"
        assert abs(r.by_group[grp]["underdiagnosis_rate"] - expected) < 1e-12
    assert r.metrics == ("underdiagnosis_rate",)
    assert r.gaps["underdiagnosis_rate"].worst_group == max(
        r.by_group, key=lambda k: r.by_group[k]["underdiagnosis_rate"])


def test_weighted_core_equals_point_metrics_on_replicated_rows() -> None:
    y, s, g = _random(4, n=120)
    codes = np.searchsorted(["Asian", "Black", "White"], g)
    core = F._Weighted(y, s, codes, 3, 0.5, 10)
    w = np.random.default_rng(0).integers(0, 3, (4, 120)).astype(float)
    for b in range(4):
        rows = np.repeat(np.arange(120), w[b].astype(int))
        point = F.subgroup_metrics(y_true=y[rows], y_score=s[rows], groups=g[rows],
                                   threshold=0.5, n_boot=1)
        for m in F.METRICS:
            got = core(m, w[b : b + 1])[0]
            expected = [point.by_group[grp][m] for grp in ("Asian", "Black", "White")]
            np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)


def test_intervals_bracket_estimates_and_are_seeded() -> None:
    y, s, g = _random(5)
    pid = np.arange(len(y)) // 2
    a = F.subgroup_metrics(y_true=y, y_score=s, groups=g, threshold=0.5, patient_ids=pid,
                           n_boot=200, seed=1)
    assert a.to_dict() == F.subgroup_metrics(y_true=y, y_score=s, groups=g, threshold=0.5,
                                             patient_ids=pid, n_boot=200, seed=1).to_dict()
    for grp, row in a.by_group_ci.items():
        for m, e in row.items():
            assert e.ci_low <= a.by_group[grp][m] <= e.ci_high, (grp, m)
    for gap in a.gaps.values():
        assert gap.difference.ci_low <= gap.difference.estimate <= gap.difference.ci_high
    json.dumps(a.to_dict(), allow_nan=False)  # result.json extras are strict JSON


def test_undefined_auc_is_nan_and_none_in_json() -> None:
    y = np.array([1, 1, 1, 0, 1, 0, 1, 0])  # group A has positives only
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.4, 0.3, 0.2])
    g = np.array(["A", "A", "A", "B", "B", "B", "B", "B"])
    r = F.subgroup_metrics(y_true=y, y_score=s, groups=g, threshold=0.5, n_boot=20)
    assert np.isnan(r.by_group["A"]["auc"]) and np.isnan(r.by_group["A"]["fpr"])
    d = r.to_dict()
    assert d["by_group"]["A"]["auc"] == {"estimate": None, "ci_low": None, "ci_high": None}
    assert r.gaps["auc"].difference.estimate == 0.0  # one group defined: no gap
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("rule", ["max_f1", "youden", "fixed_fpr"])
def test_choose_threshold_is_optimal_over_all_cut_points(rule: str) -> None:
    y, s, _ = _random(6)
    t = F.choose_threshold(y, s, rule=rule, target_fpr=0.2)
    cuts = np.unique(s)

    def value(c: float) -> float:
        pred = s >= c
        tpr, fpr = pred[y].mean(), pred[~y].mean()
        if rule == "max_f1":
            return f1_score(y, pred)
        if rule == "youden":
            return tpr - fpr
        return tpr if fpr <= 0.2 else -1.0

    assert t in cuts
    assert value(t) == max(value(c) for c in cuts)
    if rule == "fixed_fpr":
        assert (s[~y] >= t).mean() <= 0.2


def test_errors_have_clear_messages() -> None:
    with pytest.raises(LabelError, match=r"the task labels must be 0/1 or boolean"):
        F.subgroup_metrics(y_true=["x", "y"], y_score=[0.1, 0.2], groups=["A", "B"],
                           threshold=0.5)
    with pytest.raises(LabelError, match=r"groups holds one group only \('A'\)"):
        F.subgroup_metrics(y_true=[0, 1], y_score=[0.1, 0.2], groups=["A", "A"], threshold=0.5)
    with pytest.raises(ConfigError, match=r"unknown metric\(s\) \['ppv'\]"):
        F.subgroup_metrics(y_true=Y, y_score=S, groups=G, threshold=0.5, metrics=("ppv",))
    with pytest.raises(ConfigError, match="y_true has 12 values, y_score 11, groups 12"):
        F.subgroup_metrics(y_true=Y, y_score=S[:-1], groups=G, threshold=0.5)
    with pytest.raises(ConfigError, match=r"ECE needs probabilities in \[0, 1\]"):
        F.subgroup_metrics(y_true=Y, y_score=S * 3, groups=G, threshold=0.5, n_boot=5)
    with pytest.raises(ConfigError, match="rule must be 'max_f1', 'youden' or 'fixed_fpr'"):
        F.choose_threshold(Y, S, rule="median")
    with pytest.raises(TypeError):
        F.SubgroupMetrics(("tpr",), 0.5, {}, {}, {}, {}, {}, 1, 0.95)  # keyword-only


@pytest.mark.parametrize(("spec", "expected"), [
    ("youden", ("youden", 0.2)), ("max_f1", ("max_f1", 0.2)), ("FPR=0.1", ("fixed_fpr", 0.1)),
    (" fpr=0 ", ("fixed_fpr", 0.0)), ("fpr=1", ("fixed_fpr", 1.0)),
])
def test_parse_threshold_rule(spec, expected):
    assert F.parse_threshold_rule(spec) == expected


@pytest.mark.parametrize("spec", ["fpr=1.5", "fpr=x", "tpr=0.8", "", "fixed_fpr"])
def test_parse_threshold_rule_refuses(spec):
    with pytest.raises(ConfigError, match="use youden, max_f1 or fpr=F"):
        F.parse_threshold_rule(spec)


def test_threshold_rule_fpr_is_the_operating_point_chosen_on_validation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = y * 0.8 + rng.normal(0, 0.5, 400)
    rule, target = F.parse_threshold_rule("fpr=0.2")
    t = F.choose_threshold(y, s, rule=rule, target_fpr=target)
    fpr = ((s >= t) & (y == 0)).sum() / (y == 0).sum()
    assert fpr <= 0.2
    assert F.choose_threshold(y, s, rule="fixed_fpr", target_fpr=0.2) == t
