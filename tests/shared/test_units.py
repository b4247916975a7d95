"""Scores aggregated to a unit before the AUC (racelens.shared.units), re-derived by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from racelens.errors import ConfigError, DataError
from racelens.shared.units import UNITS, aggregate_to_unit, check_unit, unit_ids

Y = np.array(["A", "A", "A", "B", "B"])
S = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6]])
U = np.array(["s2", "s2", "s1", "s3", "s3"])
P = np.array(["p1", "p1", "p1", "p2", "p2"])


def test_mean_per_unit_in_order_of_appearance() -> None:
    agg = aggregate_to_unit(Y, S, U, patient_ids=P)
    assert agg.unit_ids.tolist() == ["s2", "s1", "s3"]
    assert agg.y_true.tolist() == ["A", "A", "B"]
    assert agg.patient_ids.tolist() == ["p1", "p1", "p2"]
    assert agg.n_items.tolist() == [2, 1, 2]
    np.testing.assert_allclose(agg.y_score, [[0.7, 0.3], [0.7, 0.3], [0.3, 0.7]])


def test_sample_unit_is_the_identity() -> None:
    agg = aggregate_to_unit(Y, S, np.arange(5))
    np.testing.assert_array_equal(agg.y_score, S)
    assert agg.patient_ids is None


def test_a_unit_of_two_labels_or_patients_is_refused() -> None:
    with pytest.raises(DataError, match="1 of 2 unit\\(s\\) hold items of different labels"):
        aggregate_to_unit(Y, S, np.array(["a", "a", "a", "a", "b"]))
    with pytest.raises(DataError, match="different patients"):
        aggregate_to_unit(Y, S, U, patient_ids=np.array(["p1", "p9", "p1", "p2", "p2"]))
    with pytest.raises(DataError, match="give one of each per item"):
        aggregate_to_unit(Y, S[:4], U)


def test_unit_columns() -> None:
    table = pd.DataFrame({"sample_id": ["a", "b"], "study_id": [7, 7], "patient_id": ["p", "p"]})
    assert unit_ids(table, "study").tolist() == ["7", "7"]
    with pytest.raises(DataError, match="unit 'series' needs a 'series_id' column"):
        unit_ids(table, "series")
    with pytest.raises(ConfigError, match="unit 'exam' is not one of: sample, study, series, patient"):
        check_unit("exam")
    assert UNITS == ("sample", "study", "series", "patient")
