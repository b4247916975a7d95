"""Word unigram and bigram counts of notes, by arrays, in scikit-learn's ``_count_vocab`` order.

:class:`NgramCounts` is the counting engine of
:class:`~racelens.text.models.vectorize.FastTfidfVectorizer` for n-grams of one or two words.
It takes the notes a chunk at a time, each note as one ``bytes`` line of its tokens separated
by spaces (a token holds no space; a run of spaces and a one-byte "token" separate tokens), and
builds the same count matrix, row by row, as scikit-learn's loop over the analyser's n-grams:

* the tokens of a chunk are split and given chunk-local ids by Arrow (C++ hashing), each
  distinct token is looked up once in a dictionary of global token ids, and a bigram is the
  pair of its tokens' global ids packed into one ``int64`` (no n-gram string is built);
* a new feature gets its id in the order scikit-learn's defaultdict gives it: the order of
  its first appearance in the sequence scikit-learn walks (note by note; within a note all
  unigrams in order, then all bigrams);
* a chunk's (note, feature) occurrences are packed into one integer each, ranked so that the
  rank order is the feature-id order, and sorted once: equal neighbours give the counts, and
  every row's columns come out sorted, as scikit-learn's ``sort_indices`` leaves them.

The vocabulary strings are built once at the end of a fit (``"token"`` / ``"token token"``).
"""

from __future__ import annotations

import array
from collections import defaultdict
from itertools import compress, repeat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NgramCounts", "first_seen"]

_LOW32 = (1 << 32) - 1
_MAX_TOKEN_ID = (1 << 31) - 1  # a bigram key packs two ids: (first + 1) << 32 | second


def first_seen(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``codes`` and ``values`` relabelled so that label ``i`` is the ``i``-th to appear.

    ``values[codes]`` is the sequence; every label below ``len(values)`` occurs. Returns the
    relabelled ``codes``, ``values`` and the index of each label's first occurrence. Arrow and
    pandas already number their distinct values in this order, which is checked in one pass
    (the running maximum of the codes must grow by one at a time); otherwise they are sorted.
    """
    if not len(codes):
        return codes, values, np.zeros(0, np.int64)
    grew = np.empty(len(codes), bool)
    grew[0] = True
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=grew[1:])
    first = np.flatnonzero(grew)
    if len(first) == len(values) and np.array_equal(codes[first], np.arange(len(first))):
        return codes, values, first
    labels, first = np.unique(codes, return_index=True)  # not the order Arrow gives
    order = np.argsort(first)
    relabel = np.empty(len(values), np.int64)
    relabel[labels[order]] = np.arange(len(order))
    return relabel[codes], values[labels[order]], first[order]


def _encode(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    enc = pc.dictionary_encode(values)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _vocabulary_tables(vocabulary: dict[str, int], min_n: int, max_n: int
                       ) -> tuple[dict[bytes, int], dict[int, int]]:
    """Token ids and feature keys of a fixed vocabulary's terms (others can never occur)."""
    terms = pa.array([t.encode("utf-8", "surrogatepass") for t in vocabulary], pa.binary())
    parts = pc.split_pattern(terms, pattern=b" ")
    offsets = parts.offsets.to_numpy()[:-1].astype(np.int64)
    n_parts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    codes, words = _encode(parts.flatten())
    empty = np.zeros(len(codes) + 1, np.int64)
    np.cumsum(pc.binary_length(words).to_numpy(zero_copy_only=False)[codes] == 0, out=empty[1:])
    # a term of min_n to max_n tokens, none of them empty ("a  b" is no bigram)
    ok = (n_parts >= min_n) & (n_parts <= max_n) & (empty[offsets + n_parts] == empty[offsets])
    first = codes[np.minimum(offsets, len(codes) - 1)] if len(codes) else offsets
    second = codes[np.minimum(offsets + 1, len(codes) - 1)] if len(codes) else offsets
    key = np.where(n_parts == 1, first, ((first + 1) << 32) | second)[ok]
    fid = np.fromiter(vocabulary.values(), np.int64, len(vocabulary))[ok]
    words_list = words.to_pylist()
    return (dict(zip(words_list, range(len(words_list)), strict=True)),
            dict(zip(key.tolist(), fid.tolist(), strict=True)))


class NgramCounts:
    """The counts of the word n-grams (``1 <= min_n <= max_n <= 2``) of notes, chunk by chunk.

    With ``vocabulary`` (a fitted or given vocabulary) only its terms are counted; without it
    the vocabulary grows as scikit-learn's does, and :meth:`vocabulary` returns it. The rows
    are in ``indptr`` (a list), ``indices`` and ``values`` (C ``int`` arrays), each row's
    columns sorted.
    """

    def __init__(self, ngram_range: tuple[int, int], vocabulary: dict[str, int] | None = None):
        self.min_n, self.max_n = ngram_range
        if not 1 <= self.min_n <= self.max_n <= 2:
            raise ValueError(f"NgramCounts counts 1- and 2-grams, not {ngram_range}")
        self.fixed = vocabulary is not None
        self.indices = array.array("i")
        self.values = array.array("i")
        self.indptr = [0]
        self._new_keys: list[np.ndarray] = []  # the features' keys, in id order (fit)
        if vocabulary is not None:
            self._tokens, self._features = _vocabulary_tables(vocabulary, self.min_n, self.max_n)
        else:
            self._tokens = defaultdict()
            self._tokens.default_factory = self._tokens.__len__
            self._features = {}

    def _token_ids(self, lines: list[bytes]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The chunk's tokens (one-byte ones dropped): each one's chunk-local id; per local id
        (numbered in order of first appearance) its global id (-1: a token the fixed
        vocabulary does not know) and its first token; the notes' token counts."""
        # split at runs of spaces (a line holds no other ASCII whitespace, and a UTF-8 byte
        # of a non-ASCII character is never one); as a string view, which is not validated
        lists = pc.ascii_split_whitespace(pa.array(lines, pa.binary()).view(pa.string()))
        offsets = lists.offsets.to_numpy()
        codes, words = _encode(lists.flatten().view(pa.binary()))
        ok = pc.binary_length(words).to_numpy(zero_copy_only=False) >= 2
        keep = ok[codes]
        kept = np.zeros(len(codes) + 1, np.int64)
        np.cumsum(keep, out=kept[1:])
        lens = kept[offsets[1:]] - kept[offsets[:-1]]
        local = np.cumsum(ok) - 1
        names = list(compress(words.to_pylist(), ok.tolist()))
        if self.fixed:
            gids = map(self._tokens.get, names, repeat(-1))
        else:
            gids = map(self._tokens.__getitem__, names)
        gid = np.fromiter(gids, np.int64, len(names))
        if len(self._tokens) > _MAX_TOKEN_ID:  # pragma: no cover - 2**31 distinct tokens
            raise OverflowError("more than 2**31 - 1 distinct tokens")
        tok, gid, first = first_seen(local[codes[keep]], gid)
        return tok, gid, first, lens

    def add(self, lines: list[bytes]) -> None:
        """Count one chunk of notes (one line of space-separated tokens each), in order."""
        n_docs = len(lines)
        tok, gid, tok_first, lens = self._token_ids(lines)
        if not len(tok):
            self.indptr.extend(repeat(self.indptr[-1], n_docs))
            return
        doc = np.repeat(np.arange(n_docs), lens)
        g = gid[tok]
        uni, bi = self.min_n == 1, self.max_n == 2
        keys, occ, occ_doc = [], [], []
        if uni:
            keys.append(gid)
            occ.append(tok)
            occ_doc.append(doc)
        if bi:
            pair = doc[1:] == doc[:-1]
            if self.fixed:
                pair &= (g[:-1] >= 0) & (g[1:] >= 0)
            at = np.flatnonzero(pair)
            bcodes, bkeys = _encode(pa.array(((g[at] + 1) << 32) | g[at + 1]))
            bcodes, bkeys, b_first = first_seen(bcodes, bkeys.to_numpy(zero_copy_only=False))
            keys.append(bkeys)
            occ.append(bcodes + len(gid) if uni else bcodes)
            occ_doc.append(doc[at])
        key = np.concatenate(keys)
        fid = np.fromiter(map(self._features.get, key.tolist(), repeat(-1)), np.int64, len(key))
        if not self.fixed:
            new = np.flatnonzero(fid < 0)
            if len(new):
                # each feature's first place in the sequence scikit-learn walks: note by note,
                # within a note its unigrams, then its bigrams
                starts = np.zeros(n_docs + 1, np.int64)
                np.cumsum(lens, out=starts[1:])
                seq_start = (starts[:-1] if uni else 0) + (
                    starts[:-1] - np.cumsum(lens > 0) + (lens > 0) if bi else 0)
                where = []
                if uni:
                    d = doc[tok_first]
                    where.append(tok_first - starts[d] + seq_start[d])
                if bi:
                    t = at[b_first]
                    d = doc[t]
                    where.append(t - starts[d] + seq_start[d] + (lens[d] if uni else 0))
                order = new[np.argsort(np.concatenate(where)[new])]
                ids = np.arange(len(self._features), len(self._features) + len(order))
                fid[order] = ids
                self._features.update(zip(key[order].tolist(), ids.tolist(), strict=True))
                self._new_keys.append(key[order])
        self._add_rows(np.concatenate(occ), np.concatenate(occ_doc), fid, n_docs)

    def _add_rows(self, feat: np.ndarray, doc: np.ndarray, fid: np.ndarray, n_docs: int) -> None:
        """Append the rows of one chunk: ``feat`` (a chunk-local feature per occurrence, whose
        id is ``fid[feat]``, -1 for one not counted) in note ``doc``."""
        by_id = np.argsort(fid)
        n_out = int(np.count_nonzero(fid < 0))
        rank = np.empty(len(fid), np.int64)
        rank[by_id] = np.arange(-n_out, len(fid) - n_out)
        r = rank[feat]
        if n_out:
            counted = r >= 0
            r, doc = r[counted], doc[counted]
        shift = max(len(fid) - n_out - 1, 1).bit_length()
        # one integer per occurrence, (note, rank of its feature id): a sort puts equal ones
        # together and every note's features in id order
        dtype = np.uint32 if (n_docs << shift) <= 1 << 32 else np.int64
        packed = (doc.astype(dtype) << dtype(shift)) | r.astype(dtype)
        packed.sort()
        if len(packed):
            run = np.empty(len(packed), bool)
            run[0] = True
            np.not_equal(packed[1:], packed[:-1], out=run[1:])
            starts = np.flatnonzero(run)
            counts = np.diff(np.append(starts, len(packed)))
            packed = packed[starts]
        else:
            counts = np.zeros(0, np.int64)
        self.indices.frombytes(fid[by_id[n_out:]][packed & dtype((1 << shift) - 1)]
                               .astype(np.intc).tobytes())
        self.values.frombytes(counts.astype(np.intc).tobytes())
        per_doc = np.bincount(packed >> dtype(shift), minlength=n_docs)
        self.indptr.extend((self.indptr[-1] + np.cumsum(per_doc)).tolist())

    def vocabulary(self) -> dict[str, int]:
        """The fitted vocabulary: term -> feature id, in id order (first appearance)."""
        if self.fixed:
            raise ValueError("a fixed vocabulary is the one given")
        self._features.clear()  # its keys are kept, in id order, in _new_keys
        key = np.concatenate(self._new_keys) if self._new_keys else np.zeros(0, np.int64)
        words = np.array([w.decode("utf-8", "surrogatepass") for w in self._tokens], dtype=object)
        terms = np.empty(len(key), dtype=object)
        one = key <= _MAX_TOKEN_ID
        terms[one] = words[key[one]]
        two = key[~one]
        terms[~one] = words[(two >> 32) - 1] + " " + words[two & _LOW32]
        return dict(zip(terms.tolist(), range(len(key)), strict=True))
