"""Metrics checked against scikit-learn, the definitions of DeLong's components, and simulation."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from racelens.errors import ConfigError, DataError, LabelError
from racelens.shared import metrics as M
from racelens.shared.metrics.bootstrap import bootstrap_aucs

CLASSES = ["Asian", "Black", "White"]


def _tied_inputs(seed: int, n: int = 240, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES[:k], n)
    scores = rng.integers(0, 6, (n, k)) / 5.0  # few distinct values: many ties
    return y, scores


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def _direct_delong(pos: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong (1988) from its definition: O(m n) structural components, sample covariances."""
    k = scores.shape[0]
    xs, ys = scores[:, pos], scores[:, ~pos]
    m, n = xs.shape[1], ys.shape[1]
    v10 = np.array([[np.mean([_psi(xs[r, i], ys[r, j]) for j in range(n)]) for i in range(m)]
                    for r in range(k)])
    v01 = np.array([[np.mean([_psi(xs[r, i], ys[r, j]) for i in range(m)]) for j in range(n)]
                    for r in range(k)])
    aucs = v10.mean(axis=1)
    s10 = (v10 - aucs[:, None]) @ (v10 - aucs[:, None]).T / (m - 1)
    s01 = (v01 - aucs[:, None]) @ (v01 - aucs[:, None]).T / (n - 1)
    return aucs, s10 / m + s01 / n


# ------------------------------------------------------------------------------ point estimates


@pytest.mark.parametrize("seed", range(5))
def test_auc_per_group_equals_sklearn_with_ties(seed: int) -> None:
    y, s = _tied_inputs(seed)
    got = M.auc_per_group(y, s, CLASSES)
    for j, g in enumerate(CLASSES):
        assert abs(got[g] - roc_auc_score(y == g, s[:, j])) < 1e-12
    expected_macro = np.mean([roc_auc_score(y == g, s[:, j]) for j, g in enumerate(CLASSES)])
    assert abs(M.macro_auc(y, s, CLASSES) - expected_macro) < 1e-12


def test_macro_equals_sklearn_ovr_macro_on_probabilities() -> None:
    rng = np.random.default_rng(3)
    y = rng.choice(CLASSES, 300)
    p = rng.dirichlet(np.ones(3), 300)
    expected = roc_auc_score(y, p, multi_class="ovr", average="macro", labels=CLASSES)
    assert abs(M.macro_auc(y, p, CLASSES) - expected) < 1e-12


def test_binary_one_dimensional_score_is_score_of_second_class() -> None:
    y, s = _tied_inputs(4, k=2)
    got = M.auc_per_group(y, s[:, 1], CLASSES[:2])
    expected = roc_auc_score(y == CLASSES[1], s[:, 1])
    assert abs(got[CLASSES[1]] - expected) < 1e-12
    assert abs(got[CLASSES[0]] - expected) < 1e-12
    assert abs(M.macro_auc(y, s[:, 1], CLASSES[:2]) - expected) < 1e-12


def test_tiny_fixed_example() -> None:
    y = ["A", "A", "B", "B"]
    s = [0.1, 0.4, 0.35, 0.8]
    assert M.auc_per_group(y, s, ["A", "B"]) == {"A": 0.75, "B": 0.75}


# ------------------------------------------------------------------------------------ DeLong


@pytest.mark.parametrize("seed", range(3))
def test_delong_variance_equals_direct_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(40) < 0.4
    score = rng.integers(0, 8, 40).astype(float)  # ties
    auc, var = M.delong_variance(y, score)
    d_auc, d_cov = _direct_delong(y, score[None, :])
    assert abs(auc - roc_auc_score(y, score)) < 1e-12
    assert abs(auc - d_auc[0]) < 1e-12
    assert abs(var - d_cov[0, 0]) < 1e-12


def test_delong_covariance_and_paired_test_equal_direct_definition() -> None:
    rng = np.random.default_rng(10)
    y = np.array(["no", "yes"])[(rng.random(50) < 0.5).astype(int)]
    a = rng.normal(size=50) + (y == "yes")
    b = np.round(a + rng.normal(scale=0.8, size=50), 1)
    aucs, cov = M.delong_covariance(y, np.vstack([a, b]), positive="yes")
    d_aucs, d_cov = _direct_delong(y == "yes", np.vstack([a, b]))
    np.testing.assert_allclose(aucs, d_aucs, atol=1e-12, rtol=0)
    np.testing.assert_allclose(cov, d_cov, atol=1e-12, rtol=0)
    diff, p = M.delong_test(y, a, b)  # "yes" is the greater label: positive by default
    z = (d_aucs[0] - d_aucs[1]) / np.sqrt(d_cov[0, 0] + d_cov[1, 1] - 2 * d_cov[0, 1])
    assert abs(diff - (d_aucs[0] - d_aucs[1])) < 1e-12
    assert abs(p - 2 * stats.norm.sf(abs(z))) < 1e-12


def test_delong_test_of_a_score_with_itself() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.5, 0.4, 0.9, 0.2, 0.7])
    assert M.delong_test(y, s, s) == (0.0, 1.0)


def test_delong_ci_brackets_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(100) < 0.5
    s = rng.normal(size=100) + y
    auc, lo, hi = M.delong_ci(y, s)
    _, var = M.delong_variance(y, s)
    assert lo < auc < hi
    assert abs((hi - lo) - 2 * stats.norm.ppf(0.975) * np.sqrt(var)) < 1e-12


def test_ovr_delong_diagonal_equals_delong_variance() -> None:
    y, s = _tied_inputs(2)
    block = M.auc_with_ci(y, s, CLASSES, method="delong").to_dict()
    for j, g in enumerate(CLASSES):
        auc, var = M.delong_variance(y == g, s[:, j])
        lo, hi = block["per_group"][g]["ci_low"], block["per_group"][g]["ci_high"]
        assert abs(block["per_group"][g]["estimate"] - auc) < 1e-12
        assert abs((hi - lo) - 2 * stats.norm.ppf(0.975) * np.sqrt(var)) < 1e-12


# -------------------------------------------------------------------------------- bootstrap


def test_weighted_auc_equals_sklearn_sample_weight() -> None:
    rng = np.random.default_rng(5)
    s = rng.integers(0, 10, 80).astype(float)
    pos = rng.random(80) < 0.3
    w = rng.integers(0, 4, (6, 80)).astype(float)
    r = M.RankedScores.from_scores(s)
    wo = w[:, r.order]
    got = M.weighted_auc(wo * pos[r.order], wo * ~pos[r.order], r.starts)
    expected = [roc_auc_score(pos, s, sample_weight=row) for row in w]
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)


def test_bootstrap_counts_keep_group_sizes_and_patients_together() -> None:
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(30), rng.integers(1, 4, 30))
    groups = (patients % 3 == 0).astype(int)  # one group per patient
    pidx, n_pat = M.patient_codes(patients, len(patients))
    n_per_group = np.bincount(groups[np.unique(pidx, return_index=True)[1]])
    total = 0
    for rows, counts in M.patient_bootstrap_counts(groups, patients, 50, seed=1):
        assert counts.shape == (rows.stop - rows.start, n_pat)
        first_group = groups[np.unique(pidx, return_index=True)[1]]
        for g in (0, 1):
            np.testing.assert_array_equal(counts[:, first_group == g].sum(axis=1), n_per_group[g])
        total += counts.shape[0]
    assert total == 50


def test_bootstrap_resample_equals_sklearn_on_replicated_rows() -> None:
    y, s = _tied_inputs(6, n=60)
    s[:, 0] = np.random.default_rng(0).normal(size=60)  # untied column: the fast path
    codes = np.searchsorted(CLASSES, y)
    boot = bootstrap_aucs(codes, s, [0, 1, 2], None, 7, seed=3)
    _, counts = next(M.patient_bootstrap_counts(codes, None, 7, seed=3))
    for b in range(7):
        rows = np.repeat(np.arange(60), counts[b].astype(int))
        for j, g in enumerate(CLASSES):
            assert abs(boot[b, j] - roc_auc_score(y[rows] == g, s[rows, j])) < 1e-12


def test_bootstrap_is_seeded_and_brackets_estimate() -> None:
    y, s = _tied_inputs(7)
    a = M.auc_with_ci(y, s, CLASSES, n_boot=100, seed=1).to_dict()
    assert a == M.auc_with_ci(y, s, CLASSES, n_boot=100, seed=1).to_dict()
    assert a != M.auc_with_ci(y, s, CLASSES, n_boot=100, seed=2).to_dict()
    for e in [a["macro"], *a["per_group"].values()]:
        assert e["ci_low"] <= e["estimate"] <= e["ci_high"]


def test_patient_bootstrap_is_wider_than_sample_bootstrap_for_repeated_samples() -> None:
    rng = np.random.default_rng(8)
    y0 = np.repeat(["A", "B"], 60)
    s0 = rng.normal(size=120) + (y0 == "B")
    y, s = np.repeat(y0, 5), np.repeat(s0, 5)  # five near-identical studies per patient
    patients = np.repeat(np.arange(120), 5)
    by_patient = M.auc_with_ci(y, s, ["A", "B"], patient_ids=patients, n_boot=300).to_dict()["macro"]
    by_sample = M.auc_with_ci(y, s, ["A", "B"], n_boot=300).to_dict()["macro"]
    width_p = by_patient["ci_high"] - by_patient["ci_low"]
    width_s = by_sample["ci_high"] - by_sample["ci_low"]
    assert width_p > 1.7 * width_s  # about sqrt(5) = 2.2 times wider
    d_p = M.auc_with_ci(y, s, ["A", "B"], patient_ids=patients, method="delong").to_dict()["macro"]
    d_s = M.auc_with_ci(y, s, ["A", "B"], method="delong").to_dict()["macro"]
    assert (d_p["ci_high"] - d_p["ci_low"]) > 1.7 * (d_s["ci_high"] - d_s["ci_low"])


# --------------------------------------------------------------------------------- coverage


def _coverage(make, method: str, n_datasets: int = 400) -> float:
    hits = 0
    for k in range(n_datasets):
        y, s, classes, true = make(k)
        e = M.auc_with_ci(y, s, classes, method=method, n_boot=200, seed=k).to_dict()["macro"]
        hits += e["ci_low"] <= true <= e["ci_high"]
    return hits / n_datasets


def _binormal_binary(true: float = 0.8, n: int = 150):
    d = np.sqrt(2) * stats.norm.ppf(true)  # AUC of N(d, 1) vs N(0, 1) is Phi(d / sqrt(2))
    rng = np.random.default_rng(2024)

    def make(_k: int):
        s = np.r_[rng.normal(0, 1, n), rng.normal(d, 1, n)]
        return np.repeat(["A", "B"], n), s, ["A", "B"], true
    return make


def _binormal_three(true: float = 0.75):
    d = np.sqrt(2) * stats.norm.ppf(true)
    rng = np.random.default_rng(3)
    y = np.repeat(CLASSES, [200, 150, 100])

    def make(_k: int):
        s = rng.normal(0, 1, (len(y), 3)) + d * (y[:, None] == np.array(CLASSES))
        return y, s, CLASSES, true
    return make


@pytest.mark.parametrize("method", ["bootstrap", "delong"])
def test_coverage_binormal_binary(method: str) -> None:
    assert 0.92 <= _coverage(_binormal_binary(), method) <= 0.98


def test_coverage_binormal_three_groups_delong_macro() -> None:
    assert 0.92 <= _coverage(_binormal_three(), "delong") <= 0.98


# ------------------------------------------------------------------------- p-value vs chance


def test_p_value_vs_chance_binary_delong_is_z_test() -> None:
    rng = np.random.default_rng(2)
    y = np.repeat(["A", "B"], 40)
    s = rng.normal(size=80) + 0.5 * (y == "B")
    auc, var = M.delong_variance(y, s)
    expected = 2 * stats.norm.sf(abs(auc - 0.5) / np.sqrt(var))
    assert abs(M.p_value_vs_chance(y, s, ["A", "B"]) - expected) < 1e-12


def test_p_value_vs_chance_separates_signal_from_noise() -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(CLASSES, 300)
    patients = np.arange(300) // 2
    noise = rng.normal(size=(300, 3))
    signal = noise + (y[:, None] == np.array(CLASSES))
    assert M.p_value_vs_chance(y, noise, CLASSES) > 0.05
    assert M.p_value_vs_chance(y, signal, CLASSES) < 1e-6
    p_perm = M.p_value_vs_chance(y, signal, CLASSES, method="permutation",
                                 patient_ids=patients, n_perm=199, seed=0)
    assert p_perm == 1 / 200
    p_noise = M.p_value_vs_chance(y, noise, CLASSES, method="permutation",
                                  patient_ids=patients, n_perm=199, seed=0)
    assert p_noise > 0.05
    assert p_noise == M.p_value_vs_chance(y, noise, CLASSES, method="permutation",
                                          patient_ids=patients, n_perm=199, seed=0)


# ------------------------------------------------------------------------------- edge cases


def test_one_group_only_raises_label_error() -> None:
    with pytest.raises(LabelError, match=r"y_true holds one group only \('White'\); AUC needs at "
                                         r"least two groups in the test set"):
        M.auc_with_ci(["White"] * 4, np.ones((4, 3)), CLASSES)


def test_single_class_list_raises_label_error() -> None:
    with pytest.raises(LabelError, match=r"AUC needs at least two groups, got classes=\['A'\]"):
        M.macro_auc(["A", "A"], np.ones((2, 1)), ["A"])


def test_mismatched_shapes_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"y_score has shape \(3, 3\); expected \(4, 3\)"):
        M.auc_per_group(["Asian", "Black", "White", "White"], np.ones((3, 3)), CLASSES)
    with pytest.raises(ConfigError, match=r"y_score has shape \(4, 2\); expected \(4, 3\)"):
        M.auc_with_ci(["Asian", "Black", "White", "White"], np.ones((4, 2)), CLASSES)
    with pytest.raises(ConfigError, match="patient_ids has 2 values; expected 4"):
        M.auc_with_ci(["Asian", "Black", "White", "White"], np.ones((4, 3)), CLASSES,
                      patient_ids=[1, 2])


def test_unknown_labels_and_bad_scores() -> None:
    with pytest.raises(LabelError, match=r"y_true holds values not in classes: \['Other'\]"):
        M.macro_auc(["Asian", "Other", "White"], np.ones((3, 3)), CLASSES)
    with pytest.raises(DataError, match="y_score holds 1 non-finite values"):
        M.macro_auc(["Asian", "Black", "White"], [[0, 1, np.nan], [0, 1, 2], [1, 1, 1]], CLASSES)
    with pytest.raises(ConfigError, match="method must be 'bootstrap' or 'delong'"):
        M.auc_with_ci(["Asian", "Black"], np.ones((2, 3)), CLASSES, method="jackknife")


def test_absent_group_gives_none_with_note(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(["Asian", "White"], 50)
    s = rng.normal(size=(50, 3))
    with caplog.at_level(logging.WARNING, logger="racelens.shared.metrics"):
        block = M.auc_with_ci(y, s, CLASSES, n_boot=50).to_dict()
    assert block["per_group"]["Black"] == {"estimate": None, "ci_low": None, "ci_high": None,
                                           "note": "group absent from the test set: no AUC"}
    present = [roc_auc_score(y == g, s[:, j]) for j, g in enumerate(CLASSES) if g != "Black"]
    assert abs(block["macro"]["estimate"] - np.mean(present)) < 1e-12
    assert block["macro"]["note"] == "mean over the 2 groups present in the test set"
    assert "group(s) ['Black'] absent from the test set" in caplog.text
    assert np.isnan(M.auc_per_group(y, s, CLASSES)["Black"])
    delong = M.auc_with_ci(y, s, CLASSES, method="delong").to_dict()
    assert delong["per_group"]["Black"]["estimate"] is None
