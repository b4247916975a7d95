"""A TF-IDF vectoriser that counts n-grams faster and gives scikit-learn's exact matrix.

:class:`~sklearn.feature_extraction.text.TfidfVectorizer` spends most of its time on long notes
in two pure-Python loops: building the word n-grams (``_word_ngrams``, one ``" ".join`` per
n-gram) and counting them (``_count_vocab``, one dictionary look-up and one branch per n-gram
occurrence). :class:`FastTfidfVectorizer` replaces only those loops, for the word analyser
without stop words (racelens's one vectoriser). For 1- and 2-grams of scikit-learn's default
token pattern or racelens's (whose tokens never hold a space), each note becomes one line of
its tokens (for an ASCII note a bytes ``translate``, no regex) and
:class:`~racelens.text.models.ngram_count.NgramCounts` counts a chunk of lines at a time with
Arrow and numpy (no n-gram string is built); any other token pattern or n-gram range counts
each note's n-gram strings with a :class:`collections.Counter` (C), each distinct n-gram of a
note looked up once. Both assign the vocabulary ids in scikit-learn's order (first
appearance) and give its count matrix (same indices, same values, columns sorted).
Everything after the count - ``min_df`` / ``max_features`` pruning, the sorted features, the
idf, the sublinear tf and the L2 norm - is scikit-learn's own code, so the fitted vocabulary
and every matrix are equal to the plain vectoriser's (``tests/text/test_vectorize.py``
compares them). Any other analyser set-up (stop words, a callable analyser, character
n-grams) runs scikit-learn's loop unchanged.
"""

from __future__ import annotations

import array
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import compress
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from racelens.text.models.ngram_count import NgramCounts

try:  # scikit-learn >= 1.8: the container the plain _count_vocab returns
    from sklearn.utils._sparse import _align_api_if_sparse
except ImportError:  # pragma: no cover - older scikit-learn: no fast path (see _fast_ok)
    _align_api_if_sparse = None

__all__ = ["FastTfidfVectorizer", "word_ngrams", "ascii_word_tokens", "ascii_bracket_tokens",
           "ascii_token_line", "recording"]

_Rows = tuple[array.array, array.array, list[int]]
# a chunk of notes for NgramCounts: about 2 MB of tokens (long notes), at most 2,048 notes
_CHUNK_BYTES = 1 << 21
_CHUNK_NOTES = 2048

_RECORD: list[tuple[str, Any]] | None = None


@contextmanager
def recording() -> Iterator[list[tuple[str, Any]]]:
    """Keep, in order, what every :class:`FastTfidfVectorizer` computes inside the block.

    Each ``fit_transform`` adds ``("fit", tfidf_of_training_notes)``, where that matrix is the
    fitted vectoriser's ``transform`` of the training notes (computed from the fit's own counts,
    with their indices sorted as ``transform`` sorts them, so it is equal to it bit for bit; the
    matrix ``fit_transform`` returns keeps the fit's unsorted order and may differ from it in
    the last bit of a row's norm), and each ``transform`` adds ``("transform", matrix)``. A
    caller that needs the features of notes a model was just fitted on and scored on takes
    them from here instead of vectorising the notes again (one process, one thread).
    """
    global _RECORD
    outer, _RECORD = _RECORD, []
    try:
        yield _RECORD
    finally:
        _RECORD = outer

# the token patterns whose tokens ascii_word_tokens reproduces (see there): scikit-learn's
# default and racelens's (which also keeps a bracketed placeholder such as "[race]" whole)
_WORD_PATTERN = r"(?u)\b\w\w+\b"
_BRACKET_PATTERN = r"(?u)\[\w+\]|\b\w\w+\b"
# ASCII word characters (what \w matches among ASCII) kept, every other byte a space
_WORD_BYTES = bytes(i if (chr(i).isascii() and (chr(i).isalnum() or chr(i) == "_")) else 32
                    for i in range(256))
_BRACKET_SPLIT_BYTES = re.compile(rb"(\[\w+\])")


def ascii_token_line(text: str, brackets: bool) -> bytes:
    r"""The tokens of an ASCII ``text`` as one line for
    :class:`~racelens.text.models.ngram_count.NgramCounts`.

    Its words of two or more bytes, separated by spaces, are
    ``re.findall(r"(?u)\b\w\w+\b", text)`` or, with ``brackets``,
    ``re.findall(r"(?u)\[\w+\]|\b\w\w+\b", text)``: every byte that is not a word character
    becomes a space (a match starts at a word boundary and ``\w+`` is greedy, so each match is
    one whole run of word characters), a bracketed word is kept whole (a bracket is not a word
    character, so the runs between bracketed words are the runs of the whole text, and the
    regex, which tries the bracketed word first at each position, finds the same tokens in
    the same order), and the one-character words are left for the reader to drop.
    """
    data = text.encode("ascii")
    if not (brackets and b"[" in data):
        return data.translate(_WORD_BYTES)
    parts = _BRACKET_SPLIT_BYTES.split(data)
    parts[::2] = [part.translate(_WORD_BYTES) for part in parts[::2]]
    return b" ".join(parts)


def ascii_word_tokens(text: str) -> list[str]:
    r"""``re.findall(r"(?u)\b\w\w+\b", text)`` for an ASCII ``text`` (and, when ``text``
    holds no ``[``, ``re.findall(r"(?u)\[\w+\]|\b\w\w+\b", text)`` too), about three times
    faster on long notes: the words of :func:`ascii_token_line` of two or more characters."""
    return _line_tokens(ascii_token_line(text, False))


def ascii_bracket_tokens(text: str) -> list[str]:
    r"""``re.findall(r"(?u)\[\w+\]|\b\w\w+\b", text)`` for an ASCII ``text``, faster: the words
    of :func:`ascii_token_line` (bracketed words kept whole) of two or more characters."""
    return _line_tokens(ascii_token_line(text, True))


def _line_tokens(line: bytes) -> list[str]:
    return [w for w in line.decode("ascii").split() if len(w) > 1]


def word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    """The n-grams of ``tokens`` in scikit-learn's order (all of size ``min_n``, then the next)."""
    out = list(tokens) if min_n == 1 else []
    n_tok = len(tokens)
    for n in range(max(min_n, 2), min(max_n + 1, n_tok + 1)):
        if n == 2:
            out.extend(map(" ".join, zip(tokens, tokens[1:], strict=False)))
        else:
            out.extend(" ".join(tokens[i:i + n]) for i in range(n_tok - n + 1))
    return out


class FastTfidfVectorizer(TfidfVectorizer):
    """:class:`~sklearn.feature_extraction.text.TfidfVectorizer` with a faster n-gram count.

    Same parameters, same results (see the module doc); only ``_count_vocab`` differs.
    """

    def _fast_ok(self) -> bool:
        return (_align_api_if_sparse is not None and self.analyzer == "word"
                and self.stop_words is None and self.input == "content")

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        if _RECORD is None:
            return super().fit_transform(raw_documents, y)
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        # TfidfVectorizer.fit_transform, keeping a sorted copy of the counts
        self._check_params()
        self._tfidf = TfidfTransformer(norm=self.norm, use_idf=self.use_idf,
                                       smooth_idf=self.smooth_idf,
                                       sublinear_tf=self.sublinear_tf)
        counts = CountVectorizer.fit_transform(self, raw_documents)
        kept = counts.copy()
        kept.sort_indices()
        self._tfidf.fit(counts)
        out = self._tfidf.transform(counts, copy=False)
        _RECORD.append(("fit", self._tfidf.transform(kept, copy=False)))
        return out

    def transform(self, raw_documents: Any) -> Any:
        out = super().transform(raw_documents)
        if _RECORD is not None:
            _RECORD.append(("transform", out))
        return out

    def _count_vocab(self, raw_documents: Iterable[Any], fixed_vocab: bool) -> Any:
        if not self._fast_ok():
            return super()._count_vocab(raw_documents, fixed_vocab)
        if (self.tokenizer is None and self.token_pattern in (_WORD_PATTERN, _BRACKET_PATTERN)
                and self.ngram_range[1] <= 2):
            vocabulary, rows = self._count_by_arrays(raw_documents, fixed_vocab)
        else:
            vocabulary, rows = self._count_by_counter(raw_documents, fixed_vocab)
        j_indices, values, indptr = rows

        # from here on as scikit-learn's CountVectorizer._count_vocab
        if not fixed_vocab:
            vocabulary = dict(vocabulary)
            if not vocabulary:
                raise ValueError(
                    "empty vocabulary; perhaps the documents only contain stop words")
        if indptr[-1] > np.iinfo(np.int32).max:
            indices_dtype: Any = np.int64
        else:
            indices_dtype = np.int32
        j_arr = np.frombuffer(j_indices, dtype=np.intc).astype(indices_dtype, copy=False)
        indptr_arr = np.asarray(indptr, dtype=indices_dtype)
        vals = np.frombuffer(values, dtype=np.intc)
        X = sp.csr_array((vals, j_arr, indptr_arr), shape=(len(indptr_arr) - 1, len(vocabulary)),
                         dtype=self.dtype)
        X.sort_indices()  # a no-op after _count_by_arrays (it checks, and sets the same flag)
        return vocabulary, _align_api_if_sparse(X)

    def _count_by_arrays(self, raw_documents: Iterable[Any], fixed_vocab: bool
                         ) -> tuple[dict[str, int], _Rows]:
        """The counts by :class:`~racelens.text.models.ngram_count.NgramCounts`: 1- and
        2-grams of one of the two token patterns, whose tokens never hold a space."""
        counts = NgramCounts(self.ngram_range, self.vocabulary_ if fixed_vocab else None)
        decode, preprocess = self.decode, self.build_preprocessor()
        tokenize = self.build_tokenizer()
        brackets = self.token_pattern == _BRACKET_PATTERN
        lines: list[bytes] = []
        size = 0
        for doc in raw_documents:
            text = preprocess(decode(doc))
            if text.isascii():
                line = ascii_token_line(text, brackets)
            else:
                line = " ".join(tokenize(text)).encode("utf-8", "surrogatepass")
            lines.append(line)
            size += len(line)
            if size >= _CHUNK_BYTES or len(lines) >= _CHUNK_NOTES:
                counts.add(lines)
                lines, size = [], 0
        if lines:
            counts.add(lines)
        vocabulary = self.vocabulary_ if fixed_vocab else counts.vocabulary()
        return vocabulary, (counts.indices, counts.values, counts.indptr)

    def _count_by_counter(self, raw_documents: Iterable[Any], fixed_vocab: bool
                          ) -> tuple[dict[str, int], _Rows]:
        """The counts by a :class:`collections.Counter` of each note's n-gram strings (any
        token pattern, any n-gram range)."""
        if fixed_vocab:
            vocabulary = self.vocabulary_
        else:
            vocabulary = defaultdict()
            vocabulary.default_factory = vocabulary.__len__
        decode, preprocess = self.decode, self.build_preprocessor()
        tokenize = self.build_tokenizer()
        # the regex's tokens, about three times faster, for an ASCII note
        fast_pattern = self.tokenizer is None and self.token_pattern in (_WORD_PATTERN,
                                                                         _BRACKET_PATTERN)
        brackets = self.token_pattern == _BRACKET_PATTERN
        min_n, max_n = self.ngram_range
        lookup = vocabulary.__getitem__ if not fixed_vocab else vocabulary.get
        # C int arrays, not lists: 4 bytes an entry where a list holds an 8-byte pointer, and no
        # second copy when they become numpy arrays (a vocabulary id above 2**31 - 1 would need
        # more memory than any machine has for the vocabulary itself)
        j_indices = array.array("i")
        values = array.array("i")
        indptr = [0]
        for doc in raw_documents:
            text = preprocess(decode(doc))
            if fast_pattern and text.isascii():
                tokens = ascii_bracket_tokens(text) if brackets else ascii_word_tokens(text)
            else:
                tokens = tokenize(text)
            grams = word_ngrams(tokens, min_n, max_n) if max_n != 1 else tokens
            # a Counter's keys keep the order of first appearance: the order scikit-learn's
            # loop adds a note's features (and, while fitting, new vocabulary ids) in
            counts = Counter(grams)
            ids = list(map(lookup, counts))
            if fixed_vocab:
                known = [i is not None for i in ids]
                if not all(known):
                    j_indices.extend(compress(ids, known))
                    values.extend(compress(counts.values(), known))
                    indptr.append(len(j_indices))
                    continue
            j_indices.extend(ids)
            values.extend(counts.values())
            indptr.append(len(j_indices))
        return vocabulary, (j_indices, values, indptr)
