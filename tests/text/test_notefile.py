"""Notes on disk read one at a time (`racelens.text.models.notefile`, issue 13's memory)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from racelens.shared.synthetic import synthetic_patients
from racelens.text.models.notefile import NoteFile, NoteWriter, take
from racelens.text.models.tfidf import TfidfLogReg, validate_texts
from racelens.text.synthetic import synthetic_notes


def test_note_file_is_the_list_it_was_written_from(tmp_path):
    texts = ["first note", "", "Patiënt née à Montréal: café ☕", "x" * 5000, "last"]
    w = NoteWriter(str(tmp_path / "n.txt"))
    w.extend(texts[:2])
    w.extend([])
    w.extend(texts[2:])
    notes = w.notes()
    assert len(notes) == len(texts) and list(notes) == texts
    assert [notes[i] for i in range(-5, 5)] == texts + texts
    with pytest.raises(IndexError):
        notes[5]
    rows = np.array([4, 0, 2])
    assert list(notes[rows]) == [texts[i] for i in rows]
    assert list(notes[1:4]) == texts[1:4]
    assert list(take(notes, [3, 1])) == [texts[3], texts[1]]
    assert take(texts, [3, 1]) == [texts[3], texts[1]]
    again = pickle.loads(pickle.dumps(notes[rows]))  # what a worker process receives
    assert isinstance(again, NoteFile) and list(again) == [texts[i] for i in rows]
    assert validate_texts(notes) is notes


def test_model_fitted_on_a_note_file_equals_the_one_fitted_on_the_list(tmp_path):
    notes = synthetic_notes(synthetic_patients(80, seed=3), proxies=0.5, seed=3).notes
    texts, y = notes["text"].tolist(), notes["race"].astype(str).to_numpy()
    w = NoteWriter(str(tmp_path / "n.txt"))
    w.extend(texts)
    on_disk = w.notes()
    a = TfidfLogReg(min_df=2).fit(texts, y)
    b = TfidfLogReg(min_df=2).fit(on_disk, y)
    assert a.vectorizer_.vocabulary_ == b.vectorizer_.vocabulary_
    assert np.array_equal(a.classifier_.coef_, b.classifier_.coef_)
    assert np.array_equal(a.predict_proba(texts), b.predict_proba(on_disk))


def test_notefile_reads_without_pread(tmp_path, monkeypatch) -> None:
    # Windows has no os.pread: the file is read by seek and read instead, the same notes
    from racelens.text.models import notefile

    w = notefile.NoteWriter(str(tmp_path / "n.txt"))
    w.extend(["één", "", "third note"])
    monkeypatch.setattr(notefile, "_PREAD", None)
    notes = w.notes()
    assert [notes[2], notes[0], notes[1]] == ["third note", "één", ""]
