"""Note cohort loaders on tiny fixtures in each source's exact column names."""

from __future__ import annotations

import pandas as pd
import pytest

from racelens.errors import ConfigError, DataError
from racelens.shared.labels import INCONSISTENT_KEY
from racelens.text.sources import NO_ADMISSION, from_table, mimic_iii_notes, mimic_iv_notes


def _accounted(c) -> bool:
    return len(c.table) + sum(c.excluded.values()) + len(c.skipped) == c.n_input_rows


@pytest.fixture()
def mimic_iv(tmp_path):
    adm = pd.DataFrame({
        "subject_id": [1, 2, 3, 3, 4, 5, 6],
        "hadm_id": [11, 21, 31, 32, 41, 51, 61],
        "admittime": ["2180-01-01"] * 7,
        "race": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - CHINESE", "WHITE",
                 "UNKNOWN", "HISPANIC/LATINO - PUERTO RICAN", "WHITE - RUSSIAN"]})
    notes = pd.DataFrame({
        "note_id": ["1-DS-1", "2-DS-1", "3-DS-1", "4-DS-1", "5-DS-1", "6-DS-1", "6-DS-2", "7-DS-1",
                    "1-DS-2"],
        "subject_id": [1, 2, 3, 4, 5, 6, 6, 7, 1],
        "hadm_id": [11, 21, 31, 41, 51, 61, 61, 71, 11],
        "note_type": ["DS"] * 9, "note_seq": [1] * 9,
        "charttime": ["2180-01-02"] * 9, "storetime": ["2180-01-02"] * 9,
        "text": ["white m with cp", "note two", "note three", "note four", "note five",
                 "note six", "", "note seven", "second note of one"]})
    a, n = tmp_path / "admissions.csv.gz", tmp_path / "discharge.csv.gz"
    adm.to_csv(a, index=False, compression="gzip")
    notes.to_csv(n, index=False, compression="gzip")
    return n, a


def test_mimic_iv_notes_standard_columns_and_accounting(mimic_iv):
    n, a = mimic_iv
    c = mimic_iv_notes(n, a, chunksize=2)
    assert list(c.table.columns[:5]) == ["sample_id", "patient_id", "race", "race_raw", "text"]
    assert {"hadm_id", "note_type", "charttime"} <= set(c.table.columns)
    assert sorted(c.table["sample_id"]) == ["1-DS-1", "1-DS-2", "2-DS-1", "6-DS-1"]
    assert dict(zip(c.table["sample_id"], c.table["race"], strict=True))["2-DS-1"] == "Black"
    assert c.excluded == {INCONSISTENT_KEY: 1, NO_ADMISSION: 1, "UNKNOWN": 1,
                          "HISPANIC/LATINO - PUERTO RICAN": 1}
    assert [(s.sample_id, s.reason) for s in c.skipped] == [("6-DS-2", "empty note")]
    assert c.n_input_rows == 9 and _accounted(c)
    s = c.data_summary()  # the collapse's groups always listed (Asian: none left)
    assert s.n_input_rows == 9 and s.n_patients == 3 and s.groups == {"Asian": 0, "Black": 1, "White": 3}
    assert c.fingerprint().startswith("sha256:")


def test_mimic_iv_subject_join_and_mode(mimic_iv):
    n, a = mimic_iv
    c = mimic_iv_notes(n, a, join="subject", consistency="mode")
    assert _accounted(c)
    # patient 3 is kept under "mode" (tie Asian/White -> alphabetically first)
    assert c.table.set_index("sample_id").loc["3-DS-1", "race"] == "Asian"
    with pytest.raises(ConfigError, match="join"):
        mimic_iv_notes(n, a, join="note")  # type: ignore[arg-type]


def test_mimic_iv_v1_ethnicity_column(tmp_path, mimic_iv):
    n, a = mimic_iv
    adm = pd.read_csv(a).rename(columns={"race": "ethnicity"})
    adm["ethnicity"] = ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN", "ASIAN", "UNKNOWN",
                        "HISPANIC/LATINO", "WHITE"]
    a1 = tmp_path / "admissions_v1.csv.gz"
    adm.to_csv(a1, index=False)
    c = mimic_iv_notes(n, a1)
    assert c.groups == {"White": 3, "Asian": 1, "Black": 1} and _accounted(c)


@pytest.fixture()
def mimic_iii(tmp_path):
    adm = pd.DataFrame({"ROW_ID": [1, 2, 3, 4], "SUBJECT_ID": [10, 20, 30, 40],
                        "HADM_ID": [100, 200, 300, 400],
                        "ETHNICITY": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - VIETNAMESE",
                                      "UNABLE TO OBTAIN"]})
    ne = pd.DataFrame({
        "ROW_ID": [1, 2, 3, 4, 5, 6, 7],
        "SUBJECT_ID": [10, 10, 20, 20, 30, 40, 30],
        "HADM_ID": [100, 100, 200, 200, 300, 400, 300],
        "CHARTDATE": ["2150-01-01"] * 7, "CHARTTIME": [""] * 7, "STORETIME": [""] * 7,
        "CATEGORY": ["Discharge summary", "Discharge summary", "Nursing", "Discharge summary",
                     "Discharge summary", "Discharge summary", "Discharge summary"],
        "DESCRIPTION": ["Addendum", "Report", "Nursing Progress Note", "Report", "Report",
                        "Report", "Report"],
        "CGID": [""] * 7, "ISERROR": ["", "", "", "", "", "", "1"],
        "TEXT": ["addendum", "summary ten", "nursing", "summary twenty", "summary thirty",
                 "summary forty", "error note"]})
    a, n = tmp_path / "ADMISSIONS.csv.gz", tmp_path / "NOTEEVENTS.csv.gz"
    adm.to_csv(a, index=False, compression="gzip")
    ne.to_csv(n, index=False, compression="gzip")
    return n, a


def test_mimic_iii_filters_and_one_per_admission(mimic_iii):
    n, a = mimic_iii
    c = mimic_iii_notes(n, a, chunksize=3)
    assert sorted(c.table["sample_id"]) == ["1", "2", "4", "5"]
    assert c.excluded == {"category not selected": 1, "ISERROR": 1, "UNABLE TO OBTAIN": 1}
    assert _accounted(c) and c.n_input_rows == 7
    one = mimic_iii_notes(n, a, one_per_admission=True)
    assert sorted(one.table["sample_id"]) == ["2", "4", "5"]  # the Report, not the addendum
    assert one.excluded["extra note of the admission"] == 1 and _accounted(one)
    every = mimic_iii_notes(n, a, categories=None, drop_iserror=False)
    assert len(every.table) == 6 and _accounted(every)
    assert set(every.table["race"]) == {"White", "Black", "Asian"}


def test_from_table_and_dataset(tmp_path):
    df = pd.DataFrame({"note": ["a b", "c d", None, "e f", "g"],
                       "race": ["White", "Black", "White", "Other", "Asian"],
                       "pid": [1, 2, 3, 4, 5], "age": [50, 60, 70, 80, 90]})
    c = from_table(df, text_col="note", race_col="race", patient_col="pid")
    assert list(c.table["text"]) == ["a b", "c d", "g"]
    assert list(c.table["race"]) == ["White", "Black", "Asian"]
    assert list(c.table["age"]) == [50, 60, 90]
    assert c.excluded == {"Other": 1} and [s.reason for s in c.skipped] == ["empty note"]
    assert _accounted(c)
    ds = c.to_dataset()
    assert ds.num_rows == 3 and ds.column_names == ["sample_id", "patient_id", "race",
                                                    "race_raw", "text"]
    path = tmp_path / "notes.parquet"
    df.to_parquet(path)
    assert from_table(path, text_col="note", patient_col="pid").fingerprint() == c.fingerprint()
    with pytest.raises(DataError, match="missing column"):
        from_table(df, text_col="text", patient_col="pid")
