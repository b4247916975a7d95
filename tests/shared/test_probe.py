"""The shared linear probe against scikit-learn fitted by hand on the same splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from racelens.errors import ConfigError, DataError, LabelError, SplitError
from racelens.shared.metrics.probe import ProbeFit, linear_probe, probe_features
from racelens.shared.results import Condition, evaluate_condition

CLASSES = ["Asian", "Black", "White"]


def _cohort(n_patients: int = 300, d: int = 6, signal: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    race_p = rng.choice(CLASSES, n_patients, p=[0.2, 0.3, 0.5])
    split_p = rng.choice(["train", "val", "test"], n_patients, p=[0.6, 0.1, 0.3])
    split_p[:3], split_p[3:6], split_p[6:9] = "train", "val", "test"
    race_p[[0, 3, 6]], race_p[[1, 4, 7]], race_p[[2, 5, 8]] = "Asian", "Black", "White"
    reps = rng.integers(1, 3, n_patients)  # one or two samples per patient
    patient = np.repeat(np.arange(n_patients), reps)
    race, split = race_p[patient], split_p[patient]
    x = rng.normal(size=(len(patient), d))
    x[:, 0] += signal * (race == "Black")
    x[:, 1] += signal * (race == "Asian")
    return x, race, patient, split


def test_probe_matches_hand_fitted_sklearn() -> None:
    x, race, patient, split = _cohort()
    fit = linear_probe(x, race, patient, split, CLASSES, n_boot=200, seed=3)
    assert isinstance(fit, ProbeFit)
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "val", "test"))

    def fitted(c: float):
        scaler = StandardScaler().fit(x[tr])
        lr = LogisticRegression(C=c, max_iter=2000, random_state=3).fit(scaler.transform(x[tr]),
                                                                         race[tr])
        return lambda rows: lr.predict_proba(scaler.transform(x[rows]))  # classes_ are sorted

    val_auc = {c: np.mean([roc_auc_score(race[va] == g, fitted(c)(va)[:, j])
                           for j, g in enumerate(CLASSES)]) for c in (0.01, 0.1, 1.0, 10.0, 100.0)}
    best = max(val_auc, key=lambda c: (val_auc[c], -c))
    assert fit.best_C == best
    assert fit.result.extras["probe"]["best_C"] == best
    for c, auc in val_auc.items():
        assert abs(fit.result.extras["probe"]["val_macro_auc"][repr(c)] - auc) < 1e-9
    np.testing.assert_array_equal(fit.test_index, te)
    np.testing.assert_allclose(fit.test_scores, fitted(best)(te), atol=1e-8)
    np.testing.assert_allclose(fit.test_scores.sum(axis=1), 1.0, atol=1e-12)
    for j, g in enumerate(CLASSES):
        expected = roc_auc_score(race[te] == g, fit.test_scores[:, j])
        assert abs(fit.result.auc.per_group[g].estimate - expected) < 1e-12
    assert fit.result.n_test == len(te)
    assert fit.result.auc.macro.estimate > 0.7
    assert fit.result.p_value_vs_chance < 1e-6
    again = evaluate_condition(Condition("original"), race[te], fit.test_scores, CLASSES,
                               patient_ids=patient[te], n_boot=200, seed=3)
    assert again.auc == fit.result.auc


def test_probe_columns_follow_classes_order() -> None:
    x, race, patient, split = _cohort(seed=1)
    order = ["White", "Asian", "Black"]
    a = linear_probe(x, race, patient, split, CLASSES, n_boot=50, Cs=(1.0,))
    b = linear_probe(x, race, patient, split, order, n_boot=50, Cs=(1.0,))
    np.testing.assert_allclose(b.test_scores, a.test_scores[:, [2, 0, 1]], atol=1e-12)
    assert a.result.auc.per_group["White"].estimate == b.result.auc.per_group["White"].estimate


def test_probe_on_noise_is_near_chance() -> None:
    x, race, patient, split = _cohort(signal=0.0, seed=2)
    fit = linear_probe(x, race, patient, split, CLASSES, n_boot=200,
                       condition=Condition("lowpass", {"radius": 1}))
    assert fit.result.condition == Condition("lowpass", {"radius": 1})
    assert fit.result.auc.macro.contains(0.5)


def test_sparse_features_match_dense() -> None:
    x, race, patient, split = _cohort(d=10, seed=4)
    counts = np.clip(np.round(x + 1), 0, None)  # count-like, many zeros
    dense = linear_probe(counts, race, patient, split, CLASSES, n_boot=50, standardize=False,
                         Cs=(0.1, 1.0))
    sp = linear_probe(sparse.csr_matrix(counts), race, patient, split, CLASSES, n_boot=50,
                      standardize=False, Cs=(0.1, 1.0))
    assert sp.best_C == dense.best_C
    np.testing.assert_allclose(sp.test_scores, dense.test_scores, atol=1e-4)
    scaled = linear_probe(sparse.csr_matrix(counts), race, patient, split, CLASSES, n_boot=50,
                          Cs=(1.0,))
    assert scaled.model.named_steps["scale"].with_mean is False


def test_binary_probe_and_dataframe_features() -> None:
    x, race, patient, split = _cohort(seed=5)
    keep = race != "Asian"
    frame = pd.DataFrame({"age": x[keep, 0], "bmi": x[keep, 2],
                          "sex": np.where(x[keep, 3] > 0, "F", "M")})
    fit = linear_probe(frame, race[keep], patient[keep], split[keep], ["Black", "White"],
                       n_boot=50)
    assert fit.test_scores.shape == (int((split[keep] == "test").sum()), 2)
    assert fit.result.extras["probe"]["n_features"] == 4  # age, bmi, sex_F, sex_M
    g = fit.result.auc.per_group
    assert g["Black"].estimate == g["White"].estimate > 0.6


def test_probe_features_errors() -> None:
    with pytest.raises(DataError, match=r"feature column\(s\) \['bmi'\] have missing values"):
        probe_features(pd.DataFrame({"age": [1.0, 2.0], "bmi": [np.nan, 1.0]}))
    with pytest.raises(DataError, match="features hold 1 non-finite values"):
        probe_features(np.array([[1.0, np.inf]]))


def test_probe_input_errors() -> None:
    x, race, patient, split = _cohort(n_patients=60)
    with pytest.raises(ConfigError, match=r"features have \d+ rows but labels \d+"):
        linear_probe(x[:-1], race, patient, split, CLASSES)
    bad = race.copy()
    bad[0] = "Other"
    with pytest.raises(LabelError, match=r"labels hold values not in classes: \['Other'\]"):
        linear_probe(x, bad, patient, split, CLASSES)
    no_val = np.where(split == "val", "train", split)
    with pytest.raises(SplitError, match="the 'val' split has no rows"):
        linear_probe(x, race, patient, no_val, CLASSES)
    fit = linear_probe(x, race, patient, no_val, CLASSES, Cs=(1.0,), n_boot=20)
    assert fit.best_C == 1.0
    no_asian_train = np.where((split == "train") & (race == "Asian"), "test", split)
    with pytest.raises(SplitError, match=r"the 'train' split has no rows of \['Asian'\]"):
        linear_probe(x, race, patient, no_asian_train, CLASSES)
