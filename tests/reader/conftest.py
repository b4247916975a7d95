"""Small note cohorts and studies for the reader tests (made in the test, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

RAW = {"Asian": "ASIAN", "Black": "BLACK/AFRICAN AMERICAN", "White": "WHITE"}
NAMED = {"Asian": "Asian", "Black": "African American", "White": "Caucasian"}
FILL = ["presents with chest pain", "denies fever", "history of hypertension", "lungs clear",
        "abdomen soft", "follow up in clinic", "ct head negative", "ambulating well"]


def note_table(n_patients: int, seed: int = 0, groups: tuple[str, ...] = ("Black", "White"),
               notes_per_patient: int = 2) -> pd.DataFrame:
    """Notes naming race explicitly (so the redactor has work), ``notes_per_patient`` each."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        g = groups[p % len(groups)]
        for k in range(notes_per_patient):
            body = ". ".join(rng.choice(FILL, size=3, replace=False))
            rows.append({"note_id": f"n{p}-{k}", "subject_id": 1000 + p, "race": RAW[g],
                         "text": f"{int(rng.integers(30, 80))} yo {NAMED[g]} M. {body}."})
    return pd.DataFrame(rows)


@pytest.fixture
def notes_csv(tmp_path):
    path = tmp_path / "notes.csv"
    note_table(30, seed=0, groups=("Asian", "Black", "White")).to_csv(path, index=False)
    return path


@pytest.fixture
def make_notes():
    """:func:`note_table`, for tests that need another cohort (conftest is not importable)."""
    return note_table
