"""Patient-level train/val/test splits, stratified by group.

A patient never appears in two splits (all of a patient's samples go together), and each group
is split in the requested fractions on its own, so small groups keep members in every split.
The default 60/10/30 follows Gichoya et al. 2022.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, SplitError

__all__ = ["SPLITS", "patient_split", "check_split", "split_fractions", "validate_fractions"]

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def validate_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Train/val/test fractions as an array; ConfigError unless three non-negative values sum to 1."""
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or np.any(f < 0) or not np.isclose(f.sum(), 1.0, atol=1e-6):
        raise ConfigError(
            f"fractions must be three non-negative numbers (train, val, test) summing to 1, "
            f"got {tuple(fractions)}"
        )
    return f


def check_split(df: pd.DataFrame, patient_col: str = "patient_id",
                split_col: str = "split") -> pd.Series:
    """Validate an existing split column and return it.

    Raises
    ------
    SplitError
        When a value is not ``train``/``val``/``test``, is missing, or a patient has rows in two
        splits (the message names one such patient).
    """
    split = df[split_col]
    if split.isna().any():
        raise SplitError(
            f"column {split_col!r} has {int(split.isna().sum())} missing values; fill them "
            f"or drop the column to let racelens split by patient"
        )
    bad = sorted(set(split.astype(str)) - set(SPLITS))
    if bad:
        raise SplitError(f"column {split_col!r} has values {bad[:5]}; use only train, val, test")
    n = df.groupby(patient_col, sort=True)[split_col].nunique()
    leaking = n.index[n > 1]
    if len(leaking):
        first = leaking[0]
        first = first.item() if hasattr(first, "item") else first
        where = sorted(set(df.loc[df[patient_col] == first, split_col].astype(str)))
        raise SplitError(
            f"patient {first!r} is in more than one split ({', '.join(where)}); "
            f"{len(leaking)} patient(s) leak across splits: assign each patient to one split"
        )
    return split.astype(str).rename("split")


def _patient_groups(df: pd.DataFrame, patient_col: str, group_col: str | None) -> pd.Series:
    if group_col is None:
        return pd.Series("all", index=pd.Index(df[patient_col].unique()).sort_values())
    groups = df[group_col].astype(object).where(df[group_col].notna(), "<NA>").astype(str)
    # A patient's group is their most frequent one; ties go to the alphabetically first.
    counts = pd.crosstab(df[patient_col], groups)
    return counts.idxmax(axis=1)


def patient_split(
    df: pd.DataFrame,
    patient_col: str = "patient_id",
    group_col: str | None = "race",
    fractions: Sequence[float] = (0.6, 0.1, 0.3),
    seed: int = 0,
) -> pd.Series:
    """Assign every row to ``train``/``val``/``test`` by patient, stratified by group.

    Parameters
    ----------
    df
        One row per sample.
    patient_col
        Patient identifier column.
    group_col
        Stratification column (a patient's group is their most frequent value), or ``None``.
    fractions
        Train, val and test fractions of patients per group (sum 1).
    seed
        Seed of the shuffle; the same seed and table give the same split.

    Returns
    -------
    pandas.Series
        Named ``split``, indexed like ``df``. When ``df`` already has a ``split`` column it is
        validated (:func:`check_split`) and returned as is.

    Examples
    --------
    >>> df = pd.DataFrame({"patient_id": [1, 1, 2, 3, 4], "race": ["A", "A", "B", "A", "B"]})
    >>> patient_split(df, fractions=(0.5, 0.0, 0.5)).groupby(df["patient_id"]).nunique().max()
    1
    """
    for col in (patient_col,) + ((group_col,) if group_col else ()):
        if col not in df.columns:
            raise DataError(f"missing column {col!r}; the table has {list(df.columns)[:20]}")
    if "split" in df.columns:
        return check_split(df, patient_col)
    f = validate_fractions(fractions)
    if df[patient_col].isna().any():
        raise DataError(f"column {patient_col!r} has missing patient ids; drop or fill them")
    rng = np.random.default_rng(seed)
    group_of = _patient_groups(df, patient_col, group_col)
    assignment: dict[object, str] = {}
    for group in sorted(group_of.unique()):
        patients = np.array(sorted(group_of.index[group_of == group], key=str), dtype=object)
        patients = patients[rng.permutation(len(patients))]
        bounds = np.rint(np.cumsum(f) * len(patients)).astype(int)
        bounds[-1] = len(patients)
        for name, chunk in zip(SPLITS, np.split(patients, bounds[:-1]), strict=True):
            assignment.update(dict.fromkeys(chunk.tolist(), name))
    return df[patient_col].map(assignment).astype(str).rename("split")


def split_fractions(split: pd.Series, patients: pd.Series,
                    groups: pd.Series | None = None) -> pd.DataFrame:
    """Fraction of patients in each split, per group (rows) — handy to check a split.

    Parameters
    ----------
    split, patients, groups
        Aligned per-row split, patient id and group (``None``: one row ``all``).
    """
    frame = pd.DataFrame({"split": split.to_numpy(), "patient": patients.to_numpy(),
                          "group": "all" if groups is None else groups.to_numpy()})
    per_patient = frame.drop_duplicates("patient")
    table = pd.crosstab(per_patient["group"], per_patient["split"], normalize="index")
    return table.reindex(columns=list(SPLITS), fill_value=0.0)
