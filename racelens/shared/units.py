"""The unit of scoring: scores aggregated to a sample, study, series or patient before the AUC.

A model scores *items* (an image, a slice, a note chunk); the question is asked of *units*. A CT
series scored slice by slice is one piece of evidence, not one per slice, and a study of several
radiographs is one study: counting items as units inflates ``n_test`` and narrows every
interval. :func:`aggregate_to_unit` averages the item scores of each unit (mean probability) and
checks that a unit has one label and one patient, so the patient bootstrap still resamples
patients. ``n_test`` is then the number of units.

Example
-------
>>> import numpy as np
>>> agg = aggregate_to_unit(np.array(["A", "A", "B"]), np.array([[0.9, 0.1], [0.7, 0.3],
...                         [0.2, 0.8]]), np.array(["s1", "s1", "s2"]))
>>> agg.unit_ids.tolist(), agg.y_score[:, 0].round(2).tolist(), agg.n_items.tolist()
(['s1', 's2'], [0.8, 0.2], [2, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError

__all__ = ["Unit", "UNITS", "UNIT_COLUMNS", "UnitScores", "aggregate_to_unit", "unit_ids",
           "check_unit"]

Unit = Literal["sample", "study", "series", "patient"]
UNITS: tuple[str, ...] = ("sample", "study", "series", "patient")
#: The table column that names each row's unit.
UNIT_COLUMNS: dict[str, str] = {"sample": "sample_id", "study": "study_id", "series": "series_id",
                                "patient": "patient_id"}


def check_unit(unit: Any) -> str:
    """``unit`` when it is one of :data:`UNITS`; :class:`ConfigError` otherwise."""
    if unit not in UNITS:
        raise ConfigError(f"unit {unit!r} is not one of: {', '.join(UNITS)}")
    return str(unit)


def unit_ids(table: pd.DataFrame, unit: str) -> np.ndarray:
    """Each row's unit id (as text) from the unit's column of ``table``.

    Raises
    ------
    DataError
        When the table has no such column or a row has no value in it.
    """
    column = UNIT_COLUMNS[check_unit(unit)]
    if column not in table.columns:
        raise DataError(f"unit {unit!r} needs a {column!r} column; the table's columns are "
                        f"{list(table.columns)[:20]}")
    values = table[column]
    if values.isna().any():
        raise DataError(f"unit {unit!r}: {int(values.isna().sum())} row(s) without a {column!r}")
    return values.astype(str).to_numpy()


@dataclass(frozen=True)
class UnitScores:
    """Scores aggregated to units (in order of first appearance).

    Attributes
    ----------
    unit_ids, y_true, y_score, patient_ids
        Per unit: its id, its label, the mean of its items' scores (``n_units x k``), its patient
        (``None`` when no patients were given).
    n_items
        Items averaged into each unit.
    """

    unit_ids: np.ndarray
    y_true: np.ndarray
    y_score: np.ndarray
    patient_ids: np.ndarray | None
    n_items: np.ndarray


def aggregate_to_unit(y_true: Any, y_score: Any, units: Any, *,
                      patient_ids: Any = None) -> UnitScores:
    """Average item scores per unit (mean probability), one label and patient per unit.

    Parameters
    ----------
    y_true
        Label per item.
    y_score
        ``n_items x k`` scores.
    units
        Unit id per item.
    patient_ids
        Optional patient per item, carried to the unit (for the patient bootstrap).

    Raises
    ------
    DataError
        When the lengths differ, or a unit holds items of two labels or two patients.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    units = np.asarray(units).astype(str)
    if y_score.ndim != 2 or not len(y_true) == len(y_score) == len(units):
        raise DataError(f"{len(y_true)} labels, {len(y_score)} score rows and {len(units)} unit "
                        "ids: give one of each per item (scores n x k)")
    codes, first = pd.factorize(units)  # ids in order of first appearance
    n_units = len(first)
    _one_per_unit(codes, y_true, n_units, "labels")
    pids = None
    if patient_ids is not None:
        patient_ids = np.asarray(patient_ids)
        if len(patient_ids) != len(units):
            raise DataError(f"{len(patient_ids)} patient ids for {len(units)} items")
        _one_per_unit(codes, patient_ids, n_units, "patients")
        pids = patient_ids[_first_index(codes, n_units)]
    counts = np.bincount(codes, minlength=n_units)
    sums = np.zeros((n_units, y_score.shape[1]))
    np.add.at(sums, codes, y_score)
    return UnitScores(np.asarray(first, dtype=object), y_true[_first_index(codes, n_units)],
                      sums / counts[:, None], pids, counts)


def _first_index(codes: np.ndarray, n_units: int) -> np.ndarray:
    """The first item of each unit (factorize numbers units 0..n-1 in order of appearance)."""
    found, index = np.unique(codes, return_index=True)
    assert len(found) == n_units
    return index


def _one_per_unit(codes: np.ndarray, values: np.ndarray, n_units: int, what: str) -> None:
    frame = pd.DataFrame({"unit": codes, "value": values.astype(str)})
    spread = frame.groupby("unit")["value"].nunique()
    if (spread > 1).any():
        raise DataError(f"{int((spread > 1).sum())} of {n_units} unit(s) hold items of different "
                        f"{what}; a unit must belong to one patient and carry one label")
