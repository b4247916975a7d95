"""`text explain`'s TF-IDF matrix kept in parts: the terms read without stacking it, and the
parts shared between workers as read-only memory maps (issue 13, memory at MIMIC length)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from racelens.shared.results import Condition
from racelens.shared.synthetic import synthetic_patients
from racelens.text.check.leakage import leakage_split
from racelens.text.explain.features import SplitRows
from racelens.text.explain.placeholder import redact_modes
from racelens.text.explain.stages import Common, Ref, Runner, fit_texts
from racelens.text.explain.terms import linear_terms, split_terms
from racelens.text.synthetic import synthetic_notes


@pytest.fixture(scope="module")
def fitted():
    # the redacted model of a small explain run and its matrix as the fit hands it back
    notes = synthetic_notes(synthetic_patients(250, seed=1), proxies=0.3, seed=5).notes
    texts = redact_modes(notes["text"].tolist())["token"]
    y = notes["race_raw"].astype(str).to_numpy(object)
    pids = notes["subject_id"].to_numpy(object)
    split = leakage_split(pids, y, seed=0)
    common = Common(y, pids, split, tuple(sorted(set(y))), "tfidf", None, 0, 20)
    fit = fit_texts(common, Ref(texts), Condition("redact", {"level": "explicit"}),
                    keep_model=True, features=True)
    return fit["model"], fit["X"].get(), y, pids


def _same(a, b):
    terms_a, delta_a = a
    terms_b, delta_b = b
    assert [t.to_dict() for t in terms_a] == [t.to_dict() for t in terms_b]
    assert np.float64(delta_a).tobytes() == np.float64(delta_b).tobytes()


@pytest.mark.parametrize("chunk", [1, 7, 2000])
def test_split_terms_equal_the_stacked_ones_bit_for_bit(fitted, chunk):
    model, X, y, pids = fitted
    stacked, order = X.stacked()
    names = X.names()
    test = np.flatnonzero(np.concatenate([np.full(len(X.rows[n]), n) for n in names]) == "test")
    vocab = model.vectorizer_.get_feature_names_out()
    for min_patients, top in ((1, 10_000), (10, 200)):
        want = linear_terms(model.classifier_, stacked, vocab, y[order], pids[order], test,
                            min_patients=min_patients, top=top)
        got = split_terms(model.classifier_, [X.parts[n] for n in names], vocab,
                          [y[X.rows[n]] for n in names], [pids[X.rows[n]] for n in names],
                          names.index("test"), min_patients=min_patients, top=top, chunk=chunk)
        assert len(want[0]) > 50
        _same(got, want)


def test_split_terms_with_patients_in_several_parts_and_three_groups():
    # a random matrix (explicit zeros, empty rows) cut into uneven parts, patients in more than
    # one part, a label outside the model's groups, and a float64 matrix
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        X = sp.random(400, 60, density=0.15, format="csr", dtype=dtype, random_state=4)
        X.data[::13] = 0.0
        X.sort_indices()
        y = rng.choice(np.array(["A", "B", "C", "D"], dtype=object), 400, p=[.4, .3, .25, .05])
        pids = rng.integers(0, 90, 400).astype(str).astype(object)
        lr = LogisticRegression(max_iter=500).fit(X[y != "D"], y[y != "D"])
        spans = list(zip([0, 130, 131, 300], [130, 131, 300, 400], strict=True))
        parts = [X[a:b] for a, b in spans]
        test = np.arange(300, 400)
        vocab = [f"t{j}" for j in range(60)]
        want = linear_terms(lr, X, vocab, y, pids, test, min_patients=2, top=500)
        for chunk in (1, 5, 1000):
            got = split_terms(lr, parts, vocab, [y[a:b] for a, b in spans],
                              [pids[a:b] for a, b in spans], 3,
                              min_patients=2, top=500, chunk=chunk)
            _same(got, want)
        assert len(want[0]) > 20


def test_saved_parts_are_shared_read_only_maps(fitted, tmp_path):
    _, X, _, _ = fitted
    X.save(tmp_path / "features")
    assert SplitRows.is_saved(tmp_path / "features") and not SplitRows.is_saved(tmp_path)
    got = Ref(path=str(tmp_path / "features")).get()
    assert got.names() == X.names()
    for name in X.names():
        a, b = X.parts[name], got.parts[name]
        assert np.array_equal(X.rows[name], got.rows[name]) and a.shape == b.shape
        for arr in ("data", "indices", "indptr"):
            mine = getattr(b, arr)
            assert getattr(a, arr).dtype == mine.dtype
            assert np.array_equal(getattr(a, arr), mine)
            # scipy kept the mapped array: no private copy, and nothing may write to it
            base = mine
            while not isinstance(base, np.memmap) and base.base is not None:
                base = base.base
            assert isinstance(base, np.memmap) and not mine.flags.writeable
        assert b.has_sorted_indices
    full, want = got.full(), X.full()
    for arr in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(full, arr), getattr(want, arr))


def test_runner_shares_split_rows_as_a_folder(fitted):
    _, X, _, _ = fitted
    with Runner(2) as run:
        ref = run.share(X)
        assert SplitRows.is_saved(ref.path)
        got = ref.get(keep=True)
        assert ref.get(keep=True) is got  # once per process
        assert np.array_equal(got.parts["train"].data, X.parts["train"].data)
