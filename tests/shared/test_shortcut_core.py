"""The modality-free shortcut test, resampling and evaluation sets, checked against SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from racelens.errors import ConfigError, SplitError
from racelens.shared.resample import EvalSets, balanced_test_set, group_balanced_indices
from racelens.shared.shortcut import VERDICTS, ModelPoint, ShortcutTest, shortcut_test

ENC = [0.55, 0.62, 0.70, 0.74, 0.81, 0.90, 0.95]
GAP = [0.02, 0.05, 0.03, 0.08, 0.07, 0.12, 0.15]


def _points(enc, gap, task=0.8):
    return [ModelPoint(encoding=e, gap=g, task_auc=task, label=str(i))
            for i, (e, g) in enumerate(zip(enc, gap, strict=True))]


def test_rho_and_exact_permutation_p_match_scipy():
    res = shortcut_test(_points(ENC, GAP), n_boot=500, n_permutations=10_000)
    assert res.spearman == pytest.approx(stats.spearmanr(ENC, GAP).statistic, abs=1e-12)
    # 7! = 5040 <= 10000: the exact null over all pairings
    ref = stats.permutation_test((np.array(ENC),), lambda x: stats.spearmanr(x, GAP).statistic,
                                 permutation_type="pairings", n_resamples=10_000, alternative="greater")
    assert res.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert res.verdict == VERDICTS["evidence"] and res.n_models == 7 and res.n_excluded == 0
    slope, intercept = np.polyfit(ENC, GAP, 1)
    assert (res.slope, res.intercept) == pytest.approx((slope, intercept))


def test_bootstrap_interval_is_the_percentile_of_resampled_spearman():
    res = shortcut_test(_points(ENC, GAP), n_boot=300, seed=3)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 7, size=(300, 7))
    e, g = np.array(ENC), np.array(GAP)
    boot = []
    for row in idx:
        if np.ptp(e[row]) and np.ptp(g[row]):
            boot.append(stats.spearmanr(e[row], g[row]).statistic)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    assert res.n_boot_undefined == 300 - len(boot)


def test_models_below_the_task_auc_are_left_out_and_too_few_says_so():
    pts = _points(ENC, GAP)
    pts[0] = ModelPoint(encoding=0.5, gap=0.9, task_auc=0.55)
    pts[1] = ModelPoint(encoding=0.6, gap=0.9, task_auc=float("nan"))
    res = shortcut_test(pts, min_task_auc=0.7, n_boot=50)
    assert res.n_models == 5 and res.n_excluded == 2
    assert res.spearman == pytest.approx(stats.spearmanr(ENC[2:], GAP[2:]).statistic)
    few = shortcut_test(_points(ENC[:3], GAP[:3]), n_boot=50)
    assert few.verdict == VERDICTS["too_few"] == "too few models" and math.isnan(few.spearman)
    flat = shortcut_test(_points(ENC, [0.1] * 7), n_boot=50)
    assert flat.verdict == "too few models"  # a constant gap has no rank correlation


def test_no_evidence_when_the_gap_does_not_rise():
    res = shortcut_test(_points(ENC, GAP[::-1]), n_boot=50)
    assert res.spearman < 0 and res.p_value > 0.5 and res.verdict == VERDICTS["none"]
    two = shortcut_test(_points(ENC, GAP[::-1]), n_boot=50, alternative="two-sided")
    assert two.p_value < 0.05 and two.verdict == VERDICTS["none"]  # falls, it does not rise


def test_round_trip_and_bad_settings():
    res = shortcut_test(_points(ENC, GAP), n_boot=50)
    assert ShortcutTest.from_dict(res.to_dict()).to_dict() == res.to_dict()
    with pytest.raises(ConfigError, match="alternative must be"):
        shortcut_test(_points(ENC, GAP), alternative="up")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ModelPoint(0.5, 0.1, 0.8)  # type: ignore[misc]  # keyword-only


def test_balanced_test_set_equalises_size_prevalence_and_age():
    rng = np.random.default_rng(0)
    g = np.array(["A"] * 300 + ["B"] * 200)
    y = (rng.random(500) < np.where(g == "A", 0.6, 0.2)).astype(int)
    age = rng.uniform(20, 90, 500)
    age[:5] = np.nan
    pos, acc = balanced_test_set(g, y, age=age, seed=1)
    assert acc["kept"] + acc["dropped_to_balance"] + acc["dropped_missing_age"] == 500
    assert acc["dropped_missing_age"] == 5 and acc["kept"] == len(pos)
    bins = np.digitize(age[pos], [40, 60, 80])
    for label in (0, 1):
        for b in range(4):
            counts = [int(((g[pos] == k) & (y[pos] == label) & (bins == b)).sum()) for k in "AB"]
            assert counts[0] == counts[1]
    assert acc["per_group"]["A"] == acc["per_group"]["B"]
    assert acc["prevalence"]["A"] == acc["prevalence"]["B"]
    assert acc["age_bins"] == ["0-40", "40-60", "60-80", "80+"]
    again, _ = balanced_test_set(g, y, age=age, seed=1)
    assert np.array_equal(pos, again)


def test_group_balanced_indices_balance_groups_in_expectation():
    g = np.array(["a"] * 900 + ["b"] * 100)
    idx = group_balanced_indices(g, seed=0)
    share = float((g[idx] == "b").mean())
    assert len(idx) == 1000 and 0.44 < share < 0.56


def test_eval_sets_check_split_membership():
    split = np.array(["train"] * 4 + ["val"] * 3 + ["test"] * 3)
    sets = EvalSets.from_split(split, counterfactual=np.array([7, 9]))
    sets.check(split)
    assert sets.scored.tolist() == [7, 9]
    with pytest.raises(SplitError, match="the test set holds 3 row\\(s\\) of the \\['val'\\] split"):
        EvalSets(val=sets.val, test=sets.val).check(split)
    with pytest.raises(SplitError, match="counterfactual"):
        EvalSets(val=sets.val, test=sets.test, counterfactual=sets.val).check(split)
    with pytest.raises(SplitError, match="has 2 rows, the 'val' split 3"):
        EvalSets(val=sets.val[:2], test=sets.test).check(split)
