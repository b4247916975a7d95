"""One label policy for notes: ``text check`` and ``text audit`` label a table identically, the
source string stays in ``race_raw``, and a MIMIC join's accounting reaches ``result.json``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from racelens.cli.main import main
from racelens.shared.labels import INCONSISTENT_KEY, MISSING_PATIENT_KEY
from racelens.text.audit import TextAuditConfig, run_text_audit
from racelens.text.check.stream import check_file
from racelens.text.sources import NO_ADMISSION, from_table

_RACES = ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - CHINESE"]
_WORDS = {"WHITE": "alpha", "BLACK/AFRICAN AMERICAN": "beta", "ASIAN - CHINESE": "gamma"}


def _notes(n_patients: int = 36, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        race = _RACES[p % 3]
        for k in range(2):
            rows.append({"note_id": f"n{p}-{k}", "patient_id": f"p{p}", "race": race,
                         "text": f"pt seen {_WORDS[race]} {rng.integers(100)} follow up"})
    rows[1]["race"] = "BLACK/AFRICAN AMERICAN"  # p0 is inconsistent: both rows dropped
    rows[3]["race"] = "UNKNOWN"  # p1's second note: excluded by the collapse
    rows[5]["race"] = "HISPANIC/LATINO - PUERTO RICAN"  # p2 (Asian) is inconsistent too
    rows[7]["patient_id"] = None  # p3's second note has no patient id
    return pd.DataFrame(rows)


def test_check_and_audit_give_the_same_groups_and_counts(tmp_path) -> None:
    path = tmp_path / "notes.csv"
    df = _notes()
    df.to_csv(path, index=False)
    audit = run_text_audit(TextAuditConfig(path, sample_col="note_id", levels=("none",),
                                           n_boot=20, seed=0))
    data = audit.data
    assert dict(data.excluded) == {INCONSISTENT_KEY: 4, "UNKNOWN": 1, MISSING_PATIENT_KEY: 1}
    assert data.n_samples + sum(data.excluded.values()) + len(data.skipped) == len(df)
    report = check_file(path, label_col="race", patient_col="patient_id", n_boot=20,
                        min_patients=1, seed=0)
    per_group = {g: v["n_notes"] for g, v in report.residual.per_group.items()}
    assert per_group == {g: n for g, n in data.groups.items() if n}
    assert report.leakage_sample["n_notes_labelled"] == data.n_samples == 66
    # without the rule the check labels the inconsistent patient's notes too
    loose = check_file(path, label_col="race", patient_col="patient_id", leakage=False,
                       consistency="none")
    assert sum(v["n_notes"] for v in loose.residual.per_group.values()) == 70


def test_a_cohort_file_keeps_race_raw_and_the_join_accounting(tmp_path) -> None:
    df = _notes(seed=1)
    subjects = {p: i + 1 for i, p in enumerate(dict.fromkeys(df["patient_id"].dropna()))}
    adm = pd.DataFrame({"subject_id": list(subjects.values()),
                        "hadm_id": [100 + i for i in subjects.values()],
                        "race": [df.loc[df["patient_id"] == p, "race"].iloc[0] for p in subjects]})
    notes = df.dropna(subset=["patient_id"]).assign(
        subject_id=lambda d: d["patient_id"].map(subjects),
        hadm_id=lambda d: d["patient_id"].map(subjects) + 100)
    notes.loc[notes.index[-1], "hadm_id"] = 999  # joins no admission
    notes = notes[["note_id", "subject_id", "hadm_id", "text"]]
    n_csv, a_csv = tmp_path / "discharge.csv.gz", tmp_path / "admissions.csv.gz"
    notes.to_csv(n_csv, index=False)
    adm.to_csv(a_csv, index=False)
    out = tmp_path / "notes.parquet"
    main(["text", "cohort", "mimic-iv", "--notes", str(n_csv), "--admissions", str(a_csv),
          "--out", str(out)])
    side = json.loads((tmp_path / "notes.json").read_text())
    assert side["n_input_rows"] == len(notes) == 71
    assert side["excluded"][NO_ADMISSION] == 1

    cohort = from_table(out)
    assert cohort.n_input_rows == 71 and cohort.excluded[NO_ADMISSION] == 1
    raw = dict(zip(cohort.table["race"], cohort.table["race_raw"], strict=True))
    assert raw == {"White": "WHITE", "Black": "BLACK/AFRICAN AMERICAN", "Asian": "ASIAN - CHINESE"}

    run = tmp_path / "run"
    main(["text", "audit", "-i", str(out), "-o", str(run), "--levels", "none",
          "--n-boot", "20"])
    data = json.loads((run / "result.json").read_text())["data"]
    assert data["n_samples"] + sum(data["excluded"].values()) + len(data["skipped"]) == 71
    assert data["excluded"][NO_ADMISSION] == 1
    assert data["dataset"] == "mimic-iv-note:discharge.csv.gz"
