"""Synthetic patients: shape, determinism, raw strings per source, confounder-level AUC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from racelens.errors import ConfigError
from racelens.shared.labels import SOURCES, label_cohort
from racelens.shared.splits import patient_split
from racelens.shared.synthetic import DISEASES, FINDINGS, synthetic_patients


def test_columns_and_shape():
    df = synthetic_patients(200, seed=3)
    assert list(df.columns[:9]) == ["sample_id", "patient_id", "study_id", "race_raw", "race",
                                    "hispanic", "age", "sex", "bmi"]
    assert list(df.columns[9:]) == list(DISEASES)
    assert df["patient_id"].nunique() == 200
    per_patient = df.groupby("patient_id").size()
    assert per_patient.min() >= 1 and per_patient.max() <= 4
    assert df["sample_id"].is_unique and df["study_id"].is_unique
    assert set(df["sex"]) == {"F", "M"}
    assert df["age"].between(18, 98).all() and df["bmi"].between(15, 60).all()
    # one race string per patient
    assert df.groupby("patient_id")["race_raw"].nunique().max() == 1
    # "No Finding" is exactly "none of the findings"
    assert (df["No Finding"] == (df[list(FINDINGS)].sum(axis=1) == 0)).all()


def test_deterministic_per_seed():
    a, b, c = synthetic_patients(100, seed=5), synthetic_patients(100, seed=5), synthetic_patients(100, seed=6)
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.parametrize("source", list(SOURCES))
def test_raw_strings_harmonise_without_warnings(source):
    df = synthetic_patients(300, seed=1, source=source, other_fraction=0.2)
    lc = label_cohort(df, race_col="race_raw", patient_col="patient_id", source=source)
    assert set(lc.table["race"]) == {"Asian", "Black", "White"}
    assert sum(lc.excluded.values()) > 0
    assert len(lc.table) + sum(lc.excluded.values()) == len(df)


def test_group_probabilities():
    df = synthetic_patients(3000, seed=0, other_fraction=0.0, samples_per_patient=(1, 1),
                            group_probs=(0.2, 0.3, 0.5))
    share = df["race"].value_counts(normalize=True)
    assert abs(share["Asian"] - 0.2) < 0.03 and abs(share["White"] - 0.5) < 0.03


def test_covariate_baseline_auc_is_confounder_level():
    df = synthetic_patients(2000, seed=0)
    lc = label_cohort(df, race_col="race_raw", patient_col="patient_id", source="mimic-iv").table
    split = patient_split(lc, seed=0)
    X = np.column_stack([lc["age"], lc["sex"] == "F", lc["bmi"]] + [lc[d] for d in DISEASES]).astype(float)
    X = (X - X.mean(0)) / X.std(0)
    train, test = (split != "test").to_numpy(), (split == "test").to_numpy()
    model = LogisticRegression(max_iter=1000).fit(X[train], lc["race"][train])
    proba = model.predict_proba(X[test])
    y = lc["race"].to_numpy()[test]
    aucs = [roc_auc_score(y == c, proba[:, k]) for k, c in enumerate(model.classes_)]
    assert 0.55 <= float(np.mean(aucs)) <= 0.65
    # Black patients have the highest mean BMI, Asian the lowest (documented effects)
    bmi = lc.groupby("race")["bmi"].mean()
    assert bmi["Asian"] < bmi["White"] < bmi["Black"]


@pytest.mark.parametrize(
    "kwargs",
    [{"n_patients": 0}, {"n_patients": 5, "source": "nope"}, {"n_patients": 5, "groups": ("Martian",)},
     {"n_patients": 5, "other_fraction": 1.0}, {"n_patients": 5, "samples_per_patient": (0, 2)},
     {"n_patients": 5, "group_probs": (0.5, 0.5)}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        synthetic_patients(**kwargs)
