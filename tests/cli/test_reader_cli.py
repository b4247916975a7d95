"""``racelens reader make`` and ``racelens reader score`` through the root command."""

from __future__ import annotations

import json

import pandas as pd


def _notes(path):
    rows = [{"note_id": f"n{p}", "subject_id": p, "race": "WHITE" if p % 2 else "ASIAN",
             "text": f"{40 + p} yo {'Caucasian' if p % 2 else 'Asian'} F. lungs clear."}
            for p in range(20)]
    pd.DataFrame(rows).to_csv(path, index=False)


def test_make_then_score(tmp_path, cli):
    _notes(tmp_path / "notes.csv")
    code, out, err = cli("reader", "make", "--notes", str(tmp_path / "notes.csv"),
                          "--patient-col", "subject_id", "--sample-col", "note_id", "--n", "8",
                          "--seed", "0", "--out", str(tmp_path / "study"))
    assert code == 0, err
    assert "reader study: 8 items (Asian 4, White 4) from 20 candidates, shown as " \
           "redact(level=explicit)" in out
    assert "holds patient data" in err and "Caucasian" not in out + err
    key = json.loads((tmp_path / "study" / "key.json").read_text())
    pd.DataFrame({"item_id": list(key), "reader": "R", "guess": list(key.values())}).to_csv(
        tmp_path / "r.csv", index=False)
    code, out, err = cli("reader", "score", "--study", str(tmp_path / "study"),
                          "--answers", str(tmp_path / "r.csv"), "--n-boot", "20",
                          "--out", str(tmp_path / "scored"))
    assert code == 0, err
    assert "human readers (1), redact(level=explicit): macro AUC 1.000" in out
    assert json.loads((tmp_path / "scored" / "result.json").read_text())["modality"] == "human"


def test_score_error_is_one_line(tmp_path, cli):
    _notes(tmp_path / "notes.csv")
    cli("reader", "make", "--notes", str(tmp_path / "notes.csv"), "--patient-col",
         "subject_id", "--n", "6", "--out", str(tmp_path / "study"))
    pd.DataFrame({"item_id": ["nope"], "reader": ["R"], "guess": ["White"]}).to_csv(
        tmp_path / "r.csv", index=False)
    code, out, err = cli("reader", "score", "--study", str(tmp_path / "study"),
                          "--answers", str(tmp_path / "r.csv"), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "r.csv, row 1: unknown item id 'nope'" in err
