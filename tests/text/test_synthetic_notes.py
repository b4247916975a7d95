"""Synthetic notes: gold spans, hard negatives, proxies and their negative control."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from racelens.errors import ConfigError, DataError
from racelens.shared.synthetic import synthetic_patients
from racelens.text.synthetic import HARD_NEGATIVES, PROXIES, synthetic_notes

ABW = ("Asian", "Black", "White")


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return synthetic_patients(250, seed=4, other_fraction=0.1)


def _texts(result) -> dict[str, str]:
    return dict(zip(result.notes["note_id"], result.notes["text"], strict=True))


def test_one_note_per_row_and_length(patients):
    r = synthetic_notes(patients, seed=0)
    assert len(r.notes) == len(patients)
    assert list(r.notes.columns) == ["note_id", "subject_id", "sample_id", "text", "race_raw", "race"]
    assert r.notes["subject_id"].tolist() == patients["patient_id"].tolist()
    lengths = r.notes["text"].str.len()
    assert 1000 <= lengths.mean() <= 1500 and lengths.min() > 800
    assert r.notes.equals(synthetic_notes(patients, seed=0).notes)
    assert not r.notes.equals(synthetic_notes(patients, seed=1).notes)


def test_gold_spans_point_at_mentions_of_the_patients_group(patients):
    r = synthetic_notes(patients, seed=0)
    texts = _texts(r)
    race = dict(zip(r.notes["note_id"], r.notes["race"], strict=True))
    assert len(r.spans) > 100
    for s in r.spans.itertuples(index=False):
        assert texts[s.note_id][s.start:s.end] == s.text
        assert s.category == race[s.note_id]
    mentioned = set(r.spans["note_id"])
    assert not any(race[n] in ("Other", "Unknown") for n in mentioned)
    forms = set(r.spans["text"])
    assert {"AA", "Caucasian", "African-American", "Asian"} <= forms
    assert any(re.fullmatch(r"[WB]/?[MF]", f) for f in forms)
    assert {"A/M", "A/F"} & forms
    # the Asian and Hispanic compact forms always carry the slash ("AF" is atrial fibrillation)
    assert not forms & {"AM", "AF", "HM", "HF"}


def test_hard_negatives_are_never_gold(patients):
    r = synthetic_notes(patients, seed=0)
    texts = _texts(r)
    spans = r.spans.groupby("note_id")
    found = 0
    for note_id, text in texts.items():
        for phrase in HARD_NEGATIVES:
            start = text.find(phrase)
            if start < 0:
                continue
            found += 1
            if note_id in spans.groups:
                for s in spans.get_group(note_id).itertuples():
                    assert s.end <= start or s.start >= start + len(phrase)
    assert found >= len(texts)  # at least one hard negative per note on average


def test_mention_rates(patients):
    assert synthetic_notes(patients, mention_rate=0.0).spans.empty
    r = synthetic_notes(patients, mention_rate=1.0, seed=2)
    known = r.notes.loc[r.notes["race"].isin(ABW + ("Hispanic",)), "note_id"]
    assert set(known) <= set(r.spans["note_id"])
    big = synthetic_patients(1500, seed=1, other_fraction=0.0, samples_per_patient=(1, 1))
    d = synthetic_notes(big, seed=0)
    rate = d.notes.assign(m=d.notes["note_id"].isin(d.spans["note_id"])).groupby("race")["m"].mean()
    assert abs(rate["Black"] - 0.7) < 0.06 and abs(rate["White"] - 0.45) < 0.06


def test_proxies_strength(patients):
    all_proxies = {p: g for g, ps in PROXIES.items() for p in ps}
    none = synthetic_notes(patients, proxies=0.0, seed=0)
    assert not any(p in t for t in none.notes["text"] for p in all_proxies)
    full = synthetic_notes(patients, proxies=1.0, seed=0)
    for text, group in zip(full.notes["text"], full.notes["race"], strict=True):
        hits = {all_proxies[p] for p in all_proxies if p in text}
        assert hits == ({group} if group in PROXIES else set())


def _leakage_auc(result) -> float:
    """TF-IDF + logistic regression on notes with the gold mentions cut out."""
    texts = _texts(result)
    for s in result.spans.sort_values("start", ascending=False).itertuples():
        t = texts[s.note_id]
        texts[s.note_id] = t[:s.start] + t[s.end:]
    notes = result.notes.assign(text=result.notes["note_id"].map(texts))
    notes = notes[notes["race"].isin(ABW)].reset_index(drop=True)
    test = notes["subject_id"].str[-1].isin(list("789"))  # patient-level split
    vec = TfidfVectorizer(min_df=2, ngram_range=(1, 2))
    x_train = vec.fit_transform(notes.loc[~test, "text"])
    model = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, notes.loc[~test, "race"])
    proba = model.predict_proba(vec.transform(notes.loc[test, "text"]))
    y = notes.loc[test, "race"].to_numpy()
    return float(np.mean([roc_auc_score(y == c, proba[:, k]) for k, c in enumerate(model.classes_)]))


def test_proxies_leak_and_negative_control_does_not():
    p = synthetic_patients(700, seed=3, other_fraction=0.0, samples_per_patient=(1, 1))
    assert _leakage_auc(synthetic_notes(p, proxies=0.8, mention_rate=0.6, seed=0)) > 0.8
    assert 0.4 < _leakage_auc(synthetic_notes(p, proxies=0.0, mention_rate=0.6, seed=0)) < 0.6


def test_bad_arguments(patients):
    with pytest.raises(ConfigError):
        synthetic_notes(patients, proxies=1.5)
    with pytest.raises(ConfigError):
        synthetic_notes(patients, mention_rate={"Black": 2.0})
    with pytest.raises(DataError, match="lacks"):
        synthetic_notes(patients.drop(columns=["age"]))
