"""The one prediction-table schema, and the reader of older text runs' tables."""

from __future__ import annotations

import pandas as pd
import pytest

from racelens.errors import ConfigError, SchemaError
from racelens.shared.predictions import prediction_frame, read_predictions, score_columns
from racelens.shared.results import Condition


def test_frame_columns_and_values():
    f = prediction_frame([1, 2], Condition("lowpass", {"radius": 4}), ["A", "B"],
                         [[0.9, 0.1], [0.2, 0.8]], ["A", "B"], patient_ids=["p", "q"])
    assert list(f.columns) == ["sample_id", "patient_id", "condition", "split", "y_true", "p_A", "p_B"]
    assert f["sample_id"].tolist() == ["1", "2"] and f["condition"].unique().tolist() == [
        "lowpass(radius=4)"]
    assert score_columns(f) == ["p_A", "p_B"] and f["p_B"].tolist() == [0.1, 0.8]
    with pytest.raises(ConfigError, match="scores of shape"):
        prediction_frame([1], Condition("original"), ["A"], [[0.5]], ["A", "B"])


def test_reads_the_new_and_the_old_text_schema(tmp_path):
    new = prediction_frame(["s"], Condition("original"), ["A"], [[0.6, 0.4]], ["A", "B"])
    new.to_parquet(tmp_path / "new.parquet")
    pd.testing.assert_frame_equal(read_predictions(tmp_path / "new.parquet"), new)
    old = pd.DataFrame({"sample_id": ["s"], "patient_id": ["p"], "race": ["A"],
                        "condition": ["original"], "name": ["original"], "params": ["{}"],
                        "score_A": [0.6], "score_B": [0.4]})
    old.to_parquet(tmp_path / "old.parquet")
    back = read_predictions(tmp_path / "old.parquet")
    assert score_columns(back) == ["p_A", "p_B"] and back["y_true"].tolist() == ["A"]
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(SchemaError, match="not a racelens prediction table"):
        read_predictions(tmp_path / "bad.parquet")
