"""Patient-level stratified splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from racelens.errors import ConfigError, SplitError
from racelens.shared.splits import check_split, patient_split, split_fractions


def _cohort(n_patients: int = 1000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["Asian", "Black", "White"], p=[0.1, 0.3, 0.6], size=n_patients)
    reps = rng.integers(1, 5, size=n_patients)
    return pd.DataFrame({"patient_id": np.repeat([f"p{i}" for i in range(n_patients)], reps),
                         "race": np.repeat(groups, reps)})


def test_no_patient_in_two_splits_and_fractions_per_group():
    df = _cohort()
    split = patient_split(df, seed=3)
    assert split.index.equals(df.index) and split.name == "split"
    assert split.groupby(df["patient_id"]).nunique().max() == 1
    table = split_fractions(split, df["patient_id"], df["race"])
    n = df.drop_duplicates("patient_id")["race"].value_counts()
    for group, row in table.iterrows():
        # largest-remainder rounding: within one patient of the target per group
        tol = 1.0 / n[group] + 1e-9
        assert abs(row["train"] - 0.6) <= tol and abs(row["val"] - 0.1) <= tol
        assert abs(row["test"] - 0.3) <= tol


def test_small_group_keeps_members_in_each_split():
    df = pd.DataFrame({"patient_id": range(13), "race": ["Asian"] * 10 + ["Black"] * 3})
    split = patient_split(df, fractions=(1 / 3, 1 / 3, 1 / 3), seed=0)
    assert sorted(split[df["race"] == "Black"]) == ["test", "train", "val"]
    # cumulative rounding of 10 * (1/3, 2/3, 1) -> bounds 3, 7, 10
    assert split[df["race"] == "Asian"].value_counts().to_dict() == {"train": 3, "val": 4, "test": 3}


def test_deterministic_per_seed():
    df = _cohort(300)
    a, b, c = (patient_split(df, seed=s) for s in (7, 7, 8))
    assert a.equals(b)
    assert not a.equals(c)
    # row order does not change a patient's split
    shuffled = df.sample(frac=1.0, random_state=0)
    d = patient_split(shuffled, seed=7)
    assert d.sort_index().equals(a)


def test_patient_group_is_mode():
    df = pd.DataFrame({"patient_id": [1, 1, 1, 2], "race": ["White", "White", "Black", "Black"]})
    split = patient_split(df, fractions=(1.0, 0.0, 0.0))
    assert set(split) == {"train"}


def test_existing_split_is_honoured_and_checked():
    df = pd.DataFrame({"patient_id": [1, 1, 2, 3], "race": ["A", "A", "B", "B"],
                       "split": ["test", "test", "train", "val"]})
    assert patient_split(df).tolist() == ["test", "test", "train", "val"]
    df.loc[1, "split"] = "train"
    with pytest.raises(SplitError, match=r"patient 1 is in more than one split \(test, train\)"):
        patient_split(df)
    with pytest.raises(SplitError, match="values \\['holdout'\\]"):
        check_split(df.assign(split=["holdout", "holdout", "train", "val"]))
    with pytest.raises(SplitError, match="missing values"):
        check_split(df.assign(split=[None, None, "train", "val"]))


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (0.6, 0.4), (1.2, -0.1, -0.1)])
def test_bad_fractions(fractions):
    with pytest.raises(ConfigError, match="fractions must be three"):
        patient_split(_cohort(10), fractions=fractions)


def test_no_group_column():
    df = _cohort(100)
    split = patient_split(df, group_col=None, seed=0)
    per_patient = split.groupby(df["patient_id"]).first().value_counts()
    assert per_patient.to_dict() == {"train": 60, "test": 30, "val": 10}
