"""The one Cohort: accounting checked once, one group order, write/read with the sidecar."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from racelens.errors import DataError, SchemaError
from racelens.shared import cohort as cohort_mod
from racelens.shared.cohort import Cohort, ordered_groups, sidecar_path
from racelens.shared.labels import label_cohort
from racelens.shared.results import SkippedRow

_ABW = ("Asian", "Black", "White")


def _notes() -> Cohort:
    t = pd.DataFrame({"sample_id": ["a", "b", "c"], "patient_id": ["1", "1", "2"],
                      "race": ["White", "White", "Black"],
                      "race_raw": ["WHITE", "WHITE - RUSSIAN", "BLACK/AFRICAN AMERICAN"],
                      "text": ["n1", "n2", "n3"]})
    return Cohort(t, {"UNKNOWN": 2}, [("d", "empty note")], 6, "mimic-iv-note:d.csv.gz", "abw",
                  _ABW)


def test_ordered_groups_puts_the_collapse_first_then_the_rest_sorted() -> None:
    assert ordered_groups(["White", "Other", "Asian", "Black"], _ABW) == [
        "Asian", "Black", "White", "Other"]
    assert ordered_groups(["White", None, "Hispanic", "Asian"]) == ["Asian", "Hispanic", "White"]


def test_the_accounting_is_checked_when_a_cohort_is_made() -> None:
    c = _notes()
    assert c.payload == "text" and c.skipped == (SkippedRow("d", "empty note"),)
    assert c.groups == {"Asian": 0, "Black": 1, "White": 2}
    with pytest.raises(DataError, match="accounts for 6 rows but the input has 7"):
        Cohort(c.table, c.excluded, c.skipped, 7, c.source)


def test_label_cohort_returns_the_cohort_with_its_accounting() -> None:
    df = pd.DataFrame({"race": ["WHITE", "UNKNOWN", "ASIAN"], "pid": [1, 2, 3]})
    c = label_cohort(df, "race", "pid", where="t.csv")
    assert (c.n_input_rows, c.source, c.collapse, dict(c.excluded)) == (3, "t.csv", "abw",
                                                                         {"UNKNOWN": 1})
    assert c.groups == {"Asian": 1, "Black": 0, "White": 1}


@pytest.mark.parametrize("name", ["notes.parquet", "notes.csv.gz", "notes.jsonl"])
def test_write_and_read_keep_table_and_accounting(tmp_path, name) -> None:
    c = _notes()
    table, side = c.write(tmp_path / name)
    assert side == sidecar_path(table) == tmp_path / "notes.json"
    meta = json.loads(side.read_text())
    assert meta["schema"] == "racelens.notes/1" and meta["skipped_by_reason"] == {"empty note": 1}
    back = Cohort.read(table)
    assert back.summary() == c.summary() and back.skipped == c.skipped
    assert back.fingerprint() == c.fingerprint() == meta["fingerprint"]
    assert back.data_summary() == c.data_summary()
    pd.DataFrame(back.table.iloc[:1]).to_csv(tmp_path / "cut.csv", index=False)
    (tmp_path / "cut.json").write_text(side.read_text())
    with pytest.raises(SchemaError, match="rows were added or removed"):
        Cohort.read(tmp_path / "cut.csv")


def test_an_older_notes_sidecar_still_reads(tmp_path) -> None:
    c = _notes()
    table, side = c.write(tmp_path / "notes.parquet")
    meta = json.loads(side.read_text())
    old = {k: meta[k] for k in ("schema", "n_input_rows", "n_samples", "n_patients", "groups",
                                "excluded", "fingerprint", "skipped_by_reason")}
    side.write_text(json.dumps(old))  # as `text cohort` wrote it before: skipped by reason only
    back = Cohort.read(table)
    assert back.n_input_rows == 6 and [s.reason for s in back.skipped] == ["empty note"]


def test_the_fingerprint_is_hashed_once_per_cohort(monkeypatch) -> None:
    c = _notes()
    calls = []
    real = cohort_mod.fingerprint_table
    monkeypatch.setattr(cohort_mod, "fingerprint_table",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = c.fingerprint()
    assert c.data_summary().fingerprint == first == c.fingerprint()
    assert len(calls) == 1
    assert c.with_split(["train", "val", "test"]).fingerprint() != first
