"""The fast TF-IDF vectoriser gives scikit-learn's vocabulary and matrices exactly."""

from __future__ import annotations

import random
import re
import string

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from racelens.shared.synthetic import synthetic_patients
from racelens.text.models.tfidf import TOKEN_PATTERN, make_vectorizer
from racelens.text.models.vectorize import (
    FastTfidfVectorizer,
    ascii_bracket_tokens,
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
