"""The fast TF-IDF vectoriser gives scikit-learn's vocabulary and matrices exactly."""

from __future__ import annotations

import random
import re
import string

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from racelens.shared.synthetic import synthetic_patients
from racelens.text.models import vectorize
from racelens.text.models.ngram_count import first_seen
from racelens.text.models.tfidf import TOKEN_PATTERN, make_vectorizer
from racelens.text.models.vectorize import (
    FastTfidfVectorizer,
    ascii_bracket_tokens,
    ascii_token_line,
    ascii_word_tokens,
)
from racelens.text.redact import RaceRedactor
from racelens.text.synthetic import synthetic_notes

WORD = r"(?u)\b\w\w+\b"


def _notes() -> list[str]:
    notes = synthetic_notes(synthetic_patients(150, seed=3), proxies=0.3, section_proxies=0.3,
                            seed=3).notes["text"].tolist()
    red = [r.text for r in RaceRedactor().redact_batch(notes[:120])]  # "[RACE]" tokens
    odd = ["", "a", "[RACE] spoke [RACE_BLACK] [not one] [[x]] a[bc]d",
           "Café naïve São\u00a0Paulo\u2009x ÉTAGE straße", "tab\tsep\x1cfs\x0bvt 12 ab_cd _",
           "   ", "x" * 3 + " " + "y" * 2]
    return notes + red + odd


def _same(a, b) -> None:  # noqa: ANN001
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
    assert a.indices.dtype == b.indices.dtype
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(a, part), getattr(b, part)), part


@pytest.mark.parametrize("kw", [
    {},
    {"min_df": 1, "max_features": None},
    {"ngram_range": (1, 3), "max_features": 300},
    {"ngram_range": (2, 2)},
    {"ngram_range": (1, 1), "lowercase": False},
    {"token_pattern": WORD},
    {"stop_words": "english"},  # scikit-learn's own loop
    {"analyzer": "char_wb", "ngram_range": (2, 3)},  # scikit-learn's own loop
])
def test_fast_vectorizer_equals_sklearn(kw) -> None:  # noqa: ANN001
    texts = _notes()
    random.Random(0).shuffle(texts)
    train, test = texts[: len(texts) * 2 // 3], texts[len(texts) * 2 // 3:]
    params = {"ngram_range": (1, 2), "min_df": 2, "max_features": 100_000,
              "sublinear_tf": True, "token_pattern": TOKEN_PATTERN, "dtype": np.float32, **kw}
    ref, fast = TfidfVectorizer(**params), FastTfidfVectorizer(**params)
    _same(ref.fit_transform(train), fast.fit_transform(train))
    assert list(ref.vocabulary_.items()) == list(fast.vocabulary_.items())
    assert np.array_equal(ref.idf_, fast.idf_)
    _same(ref.transform(test), fast.transform(test))
    _same(ref.transform(train), fast.transform(train))


def test_make_vectorizer_is_the_fast_one() -> None:
    assert isinstance(make_vectorizer(), FastTfidfVectorizer)


def test_ascii_word_tokens_are_the_regex_tokens() -> None:
    rng = random.Random(1)
    alphabet = string.printable + "ab_[[[]]]"
    for _ in range(20000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert ascii_word_tokens(t) == re.findall(WORD, t)
        if "[" not in t:
            assert ascii_word_tokens(t) == re.findall(TOKEN_PATTERN, t)
        assert ascii_bracket_tokens(t) == re.findall(TOKEN_PATTERN, t), t
    for t in ("[race] x [ab]cd[ef]gh ij[k]", "[[ab]] [a b] [] [_] a[bc", "[ab][cd]", "[ab]x"):
        assert ascii_bracket_tokens(t) == re.findall(TOKEN_PATTERN, t), t


def _tricky(seed: int, n: int = 120) -> list[str]:
    """Notes of brackets, one-letter words, digits, non-ASCII words and odd spacing, with
    empty notes and duplicates."""
    rng = random.Random(seed)
    words = ["ab", "Ab", "AB", "a", "b", "x", "12", "3", "1a", "_", "__", "a_b", "[race]",
             "[RACE]", "[race_white]", "[]", "[a]", "[[ab]]", "[ab", "ab]", "x[ab]y",
             "café", "naïve", "ÉTAGE", "straße", "ß", "é", "日本語", "ab\u00a0cd", "ab\u2009cd",
             "the", "patient", "white", "black", "blood", "cell", "-", ",", ".", "(ab)", "a-b"]
    seps = [" ", " ", " ", "  ", "\n", "\t", ", ", ". ", "\x0b", "\x1c", ""]
    notes = []
    for _ in range(n):
        k = rng.choice([0, 1, 2, 3, 5, 8, 20, 60])
        notes.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(k)))
    notes += notes[:10] + ["", " ", "a b c", "ab", "ab ab ab ab", "日本", "a\u00e9"]
    rng.shuffle(notes)
    return notes


@pytest.mark.parametrize("chunk", [None, 1, 7])
@pytest.mark.parametrize("kw", [
    {},
    {"ngram_range": (1, 1)},
    {"ngram_range": (2, 2), "min_df": 1},
    {"lowercase": False, "min_df": 1, "max_features": None},
    {"token_pattern": WORD, "max_features": 40},
    {"strip_accents": "unicode", "min_df": 1},
    {"ngram_range": (1, 3), "min_df": 1},  # the Counter loop
    {"token_pattern": r"(?u)\b\w+\b", "min_df": 1},  # the Counter loop
])
def test_fast_vectorizer_equals_sklearn_on_tricky_notes(kw, chunk, monkeypatch) -> None:  # noqa: ANN001
    if chunk is not None:  # many chunks, some of one note
        monkeypatch.setattr(vectorize, "_CHUNK_NOTES", chunk)
        monkeypatch.setattr(vectorize, "_CHUNK_BYTES", 40)
    for seed in range(3):
        texts = _tricky(seed)
        train, test = texts[:90], texts[90:] + ["", "zz qq", "[unseen] ab"]
        params = {"ngram_range": (1, 2), "min_df": 2, "max_features": 100_000,
                  "token_pattern": TOKEN_PATTERN, "dtype": np.float32, **kw}
        ref, fast = TfidfVectorizer(**params), FastTfidfVectorizer(**params)
        _same(ref.fit_transform(train), fast.fit_transform(train))
        assert list(ref.vocabulary_.items()) == list(fast.vocabulary_.items())
        _same(ref.transform(test), fast.transform(test))
        _same(ref.transform(train), fast.transform(train))
        _same(ref.transform([t.encode() for t in test]), fast.transform([t.encode() for t in test]))


def test_fast_vectorizer_with_a_given_vocabulary() -> None:
    # terms that no note can give (two spaces, three words, an empty one, a space at an end)
    # are kept in the matrix's columns and never counted, as scikit-learn does
    vocab = {"ab": 0, "ab ab": 1, "a  b": 2, "": 3, "x y z": 4, " ab": 5, "ab ": 6,
             "[race] ab": 7, "café naïve": 8, "12": 9, "a": 10, "patient white": 11}
    texts = _tricky(5)
    for rng_ in [(1, 2), (1, 1), (2, 2)]:
        ref = TfidfVectorizer(vocabulary=vocab, ngram_range=rng_, token_pattern=TOKEN_PATTERN)
        fast = FastTfidfVectorizer(vocabulary=vocab, ngram_range=rng_,
                                   token_pattern=TOKEN_PATTERN)
        _same(ref.fit_transform(texts), fast.fit_transform(texts))
        _same(ref.transform(texts[::-1]), fast.transform(texts[::-1]))


def test_fast_vectorizer_empty_vocabulary_error() -> None:
    for texts in (["", "a b", "."], []):
        for vec in (TfidfVectorizer(token_pattern=TOKEN_PATTERN),
                    FastTfidfVectorizer(token_pattern=TOKEN_PATTERN)):
            with pytest.raises(ValueError, match="empty vocabulary"):
                vec.fit_transform(texts)


def test_ascii_token_line_gives_the_regex_tokens() -> None:
    rng = random.Random(2)
    alphabet = string.printable + "ab_[[[]]]"
    for _ in range(20000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for brackets, pattern in ((False, WORD), (True, TOKEN_PATTERN)):
            words = [w.decode() for w in ascii_token_line(t, brackets).split(b" ")]
            assert [w for w in words if len(w) > 1] == re.findall(pattern, t), t


def test_first_seen_relabels_codes_out_of_order() -> None:
    values = np.array([30, 10, 20])
    codes = np.array([1, 1, 2, 0, 2, 1])  # 10, 10, 20, 30, 20, 10
    new, vals, first = first_seen(codes, values)
    assert vals.tolist() == [10, 20, 30] and new.tolist() == [0, 0, 1, 2, 1, 0]
    assert first.tolist() == [0, 2, 3]
    ordered = np.array([0, 0, 1, 0, 2])
    same_codes, same_vals, first = first_seen(ordered, values)
    assert same_codes is ordered and same_vals is values and first.tolist() == [0, 2, 4]
