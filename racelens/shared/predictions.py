"""The one per-sample prediction table both modalities write (``predictions.parquet``).

One row per test sample and condition: ``sample_id``, ``patient_id``, ``condition`` (the
condition's label), ``split``, ``y_true`` (the group), then one score column ``p_<group>`` per
group, in the order of the classes (probabilities; each row sums to 1 for a softmax model).
Older text runs wrote ``score_<group>`` and ``race``; :func:`read_predictions` reads those as
this schema.

Example
-------
>>> from racelens.shared.results import Condition
>>> f = prediction_frame(["s1"], Condition("original"), ["A"], [[0.7, 0.3]], ["A", "B"],
...                      patient_ids=["p1"])
>>> list(f.columns)
['sample_id', 'patient_id', 'condition', 'split', 'y_true', 'p_A', 'p_B']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, SchemaError
from racelens.shared.results import Condition
from racelens.shared.tables import read_table

__all__ = ["PREDICTION_COLUMNS", "SCORE_PREFIX", "prediction_frame", "score_columns",
           "read_predictions"]

PREDICTION_COLUMNS = ("sample_id", "patient_id", "condition", "split", "y_true")
SCORE_PREFIX = "p_"
_OLD_SCORE_PREFIX = "score_"  # text runs before the one schema


def prediction_frame(sample_ids: Sequence[Any], condition: Condition, y_true: Sequence[Any],
                     scores: Any, classes: Sequence[str], *,
                     patient_ids: Sequence[Any] | None = None, split: str = "test"
                     ) -> pd.DataFrame:
    """The prediction rows of one condition, in the one schema.

    Raises
    ------
    ConfigError
        When the lengths or the score matrix's shape do not match.
    """
    s = np.asarray(scores, dtype=float)
    n = len(sample_ids)
    if s.shape != (n, len(classes)) or len(y_true) != n or (
            patient_ids is not None and len(patient_ids) != n):
        raise ConfigError(f"predictions of {condition.label}: {n} samples, {len(y_true)} labels, "
                          f"scores of shape {s.shape} for {len(classes)} classes")
    frame = pd.DataFrame({
        "sample_id": pd.Series(sample_ids, dtype=object).astype(str).to_numpy(),
        "patient_id": (pd.Series(patient_ids, dtype=object).astype(str).to_numpy()
                       if patient_ids is not None else None),
        "condition": condition.label, "split": split,
        "y_true": pd.Series(y_true, dtype=object).astype(str).to_numpy()})
    for j, c in enumerate(classes):
        frame[f"{SCORE_PREFIX}{c}"] = s[:, j]
    return frame


def score_columns(frame: pd.DataFrame) -> list[str]:
    """The score columns (``p_<group>``) of a prediction table, in order."""
    return [c for c in frame.columns if str(c).startswith(SCORE_PREFIX)]


def read_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a prediction table, older text runs (``score_<group>``, ``race``) included.

    Raises
    ------
    SchemaError
        When the table has no sample ids, conditions or score columns.
    """
    frame = read_table(path)
    old = [c for c in frame.columns if str(c).startswith(_OLD_SCORE_PREFIX)]
    if old and not score_columns(frame):
        frame = frame.rename(columns={c: SCORE_PREFIX + str(c)[len(_OLD_SCORE_PREFIX):]
                                      for c in old})
        if "y_true" not in frame.columns and "race" in frame.columns:
            frame = frame.rename(columns={"race": "y_true"})
    missing = [c for c in ("sample_id", "condition", "y_true") if c not in frame.columns]
    if missing or not score_columns(frame):
        raise SchemaError(f"{path}: not a racelens prediction table (missing "
                          f"{missing or ['p_<group> columns']})")
    return frame
