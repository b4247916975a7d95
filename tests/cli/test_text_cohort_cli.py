"""`racelens text cohort`: MIMIC-IV-Note / MIMIC-III joins written as one note table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from racelens.cli.main import main


def _mimic_iv(tmp_path):
    adm = pd.DataFrame({
        "subject_id": [1, 2, 3, 3, 4], "hadm_id": [11, 21, 31, 32, 41],
        "race": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - CHINESE", "WHITE", "UNKNOWN"]})
    notes = pd.DataFrame({
        "note_id": ["1-DS-1", "2-DS-1", "3-DS-1", "4-DS-1", "2-DS-2"],
        "subject_id": [1, 2, 3, 4, 2], "hadm_id": [11, 21, 31, 41, 21],
        "note_type": ["DS"] * 5, "note_seq": [1, 1, 1, 1, 2],
        "charttime": ["2180-01-02"] * 5, "storetime": ["2180-01-02"] * 5,
        "text": ["MARKER-NOTE-TEXT one", "two", "three", "four", ""]})
    a, n = tmp_path / "admissions.csv.gz", tmp_path / "discharge.csv.gz"
    adm.to_csv(a, index=False, compression="gzip")
    notes.to_csv(n, index=False, compression="gzip")
    return n, a


def test_mimic_iv_cohort_command_accounts_for_every_note(tmp_path, capsys):
    n, a = _mimic_iv(tmp_path)
    out = tmp_path / "notes.parquet"
    main(["text", "cohort", "mimic-iv", "--notes", str(n), "--admissions", str(a),
          "--out", str(out)])
    printed = capsys.readouterr().out
    assert "input rows 5: notes 2 (2 patients), excluded 2, skipped 1" in printed
    assert "MARKER-NOTE-TEXT" not in printed and "1-DS-1" not in printed
    table = pd.read_parquet(out)
    assert sorted(table["sample_id"]) == ["1-DS-1", "2-DS-1"]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["schema"] == "racelens.notes/1"
    assert meta["n_samples"] + sum(meta["excluded"].values()) + sum(
        meta["skipped_by_reason"].values()) == meta["n_input_rows"] == 5
    assert meta["skipped_by_reason"] == {"empty note": 1}


def test_cohort_command_refuses_an_output_of_unknown_format(tmp_path, capsys):
    n, a = _mimic_iv(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["text", "cohort", "mimic-iv", "--notes", str(n), "--admissions", str(a),
              "--out", str(tmp_path / "notes.txt")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.txt: cannot tell the table format from the name" in err[0]
    assert not (tmp_path / "notes.txt").exists()


@pytest.mark.parametrize("name", ["notes.csv", "notes.csv.gz", "notes.jsonl"])
def test_cohort_command_writes_the_format_its_suffix_names(tmp_path, capsys, name):
    from racelens.shared.tables import read_table

    n, a = _mimic_iv(tmp_path)
    out = tmp_path / name
    main(["text", "cohort", "mimic-iv", "--notes", str(n), "--admissions", str(a),
          "--out", str(out)])
    assert out.read_bytes()[:4] != b"PAR1"
    assert sorted(read_table(out)["sample_id"]) == ["1-DS-1", "2-DS-1"]
    meta = json.loads((tmp_path / "notes.json").read_text())
    assert meta["n_input_rows"] == 5 and meta["n_samples"] == 2
