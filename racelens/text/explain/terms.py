"""Exact term attributions of the linear leakage model, and deletions in its feature space.

For TF-IDF + logistic regression the contribution of n-gram ``j`` to group ``g``'s score in note
``i`` is exact, not approximated: ``c[g, j] * x[i, j]``, with ``c`` the coefficients centred over
the groups (softmax is unchanged by a shift common to all groups, and centring makes the
decomposition unique; a binary model's single row ``w`` is ``[-w/2, w/2]``). Summed over the
n-grams plus the centred intercept, it gives the model's centred logit, to rounding: the
completeness delta reported is the largest gap over the test notes.

A term's ``weight`` for a group is its mean contribution over that group's test notes; a term is
listed only when at least ``min_patients`` distinct patients have it (no rare n-gram that could be
a name or an identifier) and never with note text.

Deleting terms from every note is done in the fitted vectoriser's feature space: a deleted
unigram removes every n-gram holding that word, a deleted bigram its column; rows are L2
normalised again and the leakage model's classifier re-fitted (``C`` searched again). The one
difference from deleting the words in the text and re-vectorising: bigrams newly formed across a
deletion do not appear, which would otherwise be features no note ever wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["TermWeight", "centered_coef", "linear_terms", "split_terms", "delete_columns",
           "columns_of", "matched_random_terms"]


@dataclass(frozen=True)
class TermWeight:
    """One term's mean contribution to one group's score."""

    term: str
    group: str
    weight: float
    patients: int
    doc_freq: dict[str, float] = field(default_factory=dict)
    category: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "group": self.group, "weight": self.weight,
                "patients": self.patients, "doc_freq": dict(self.doc_freq),
                "category": self.category}


def centered_coef(lr: Any) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and intercepts centred over the groups (rows in ``lr.classes_`` order)."""
    w, b = np.asarray(lr.coef_, dtype=float), np.asarray(lr.intercept_, dtype=float)
    if w.shape[0] == 1 and len(lr.classes_) == 2:
        return np.vstack([-w[0] / 2, w[0] / 2]), np.array([-b[0] / 2, b[0] / 2])
    return w - w.mean(axis=0, keepdims=True), b - b.mean()


def linear_terms(lr: Any, X: sparse.csr_matrix, vocab: Sequence[str], labels: np.ndarray,
                 patient_ids: np.ndarray, rows: np.ndarray, *, min_patients: int,
                 top: int) -> tuple[list[TermWeight], float]:
    """The ``top`` (term, group) pairs by mean contribution over the group's notes in ``rows``.

    Returns the terms, best first, and the completeness delta (largest absolute gap between
    the summed contributions plus intercept and the model's centred logit, over ``rows``).
    :func:`split_terms` gives the same from a matrix kept in parts.
    """
    from racelens.text.check.leakage import patient_doc_freq

    groups = [str(g) for g in lr.classes_]
    n_pat = patient_doc_freq(X, patient_ids)
    # X's pattern with every value 1 (its index arrays shared, not copied)
    present = sparse.csr_matrix((np.ones_like(X.data), X.indices, X.indptr), shape=X.shape)
    share = {str(g): np.asarray(present[labels == g].mean(axis=0)).ravel() for g in groups}
    return _ranked(lr, X[rows], labels[rows], vocab, n_pat, share, len(rows),
                   min_patients=min_patients, top=top)


def split_terms(lr: Any, parts: Sequence[sparse.csr_matrix], vocab: Sequence[str],
                labels: Sequence[np.ndarray], patient_ids: Sequence[np.ndarray],
                test: int | None, *, min_patients: int, top: int, chunk: int = 2000
                ) -> tuple[list[TermWeight], float]:
    """:func:`linear_terms` of the matrix whose row blocks are ``parts`` (``labels`` and
    ``patient_ids`` per part), over the rows of ``parts[test]``, bit for bit, without stacking
    the parts.

    The test rows' quantities are read from their part as it is; the rest (distinct patients
    and each group's share of notes per column) are integer counts gathered ``chunk`` notes at
    a time, whole patients per chunk (whichever parts their notes are in), so the memory used
    besides the parts is a chunk's. A group's share is the mean scipy computes over its rows
    of ones (``1 / n`` in the matrix's dtype, added once per note holding the column, in
    that dtype): it depends on the count only.
    """
    from racelens.text.check.leakage import patient_doc_freq

    groups = [str(g) for g in lr.classes_]
    ncols, dtype = parts[0].shape[1], parts[0].dtype
    sizes = [p.shape[0] for p in parts]
    codes, _ = pd.factorize(np.concatenate([np.asarray(p, dtype=object) for p in patient_ids]),
                            use_na_sentinel=False)
    group_of = np.concatenate([_group_index(np.asarray(y), groups) for y in labels])
    part_of = np.repeat(np.arange(len(parts)), sizes)
    local = np.concatenate([np.arange(n) for n in sizes])
    order = np.argsort(codes, kind="stable")
    by_patient = codes[order]
    n_pat = np.zeros(ncols, dtype=np.int64)
    counts = np.zeros(len(groups) * ncols, dtype=np.int64)
    i = 0
    while i < len(order):
        # up to the last note of the chunk's last patient: a patient is counted in one chunk
        j = int(np.searchsorted(by_patient, by_patient[min(i + chunk, len(order)) - 1],
                                side="right"))
        sel = order[i:j]
        pieces = [(parts[p][local[sel[part_of[sel] == p]]], sel[part_of[sel] == p])
                  for p in range(len(parts)) if (part_of[sel] == p).any()]
        sub = sparse.vstack([m for m, _ in pieces], format="csr")
        at = np.concatenate([s for _, s in pieces])
        n_pat += patient_doc_freq(sub, codes[at])
        entry_group = np.repeat(group_of[at], np.diff(sub.indptr))
        mine = entry_group >= 0
        counts += np.bincount(entry_group[mine] * ncols + sub.indices[mine],
                              minlength=len(groups) * ncols)
        del sub, entry_group, mine
        i = j
    share = {g: _mean_of_ones(counts[k * ncols:(k + 1) * ncols], int((group_of == k).sum()),
                              dtype) for k, g in enumerate(groups)}
    if test is None:
        Xr, yr = sparse.csr_matrix((0, ncols), dtype=dtype), np.asarray([], dtype=object)
    else:
        Xr, yr = parts[test], np.asarray(labels[test])
    return _ranked(lr, Xr, yr, vocab, n_pat, share, Xr.shape[0], min_patients=min_patients,
                   top=top)


def _group_index(labels: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Each label's position in ``groups`` (-1 when it is none of them)."""
    out = np.full(len(labels), -1, dtype=np.int64)
    for k, g in enumerate(groups):
        out[labels == g] = k
    return out


def _mean_of_ones(count: np.ndarray, n: int, dtype: Any) -> np.ndarray:
    """What scipy's ``mean(axis=0)`` gives for ``n`` rows with ``count`` ones per column:
    each one scaled by ``1 / n`` in ``dtype``, then the scaled values summed down the column
    one after the other in ``dtype``."""
    if n == 0:
        return np.zeros(len(count), dtype=dtype)
    step = (np.ones(1, dtype=dtype) * (1.0 / n))[0]
    sums = np.cumsum(np.full(max(int(count.max(initial=0)), 1), step, dtype=dtype), dtype=dtype)
    return np.where(count > 0, sums[np.maximum(count, 1) - 1], 0).astype(dtype, copy=False)


def _ranked(lr: Any, Xr: Any, yr: np.ndarray, vocab: Sequence[str], n_pat: np.ndarray,  # noqa: N803
            share: dict[str, np.ndarray], n_rows: int, *, min_patients: int, top: int
            ) -> tuple[list[TermWeight], float]:
    """The terms from the rows they are weighted over (``Xr``, labels ``yr``) and the
    per-column counts, and the completeness delta over those rows."""
    c, b = centered_coef(lr)
    groups = [str(g) for g in lr.classes_]
    # completeness: contributions of every term, summed, plus the intercept = centred logit
    logits = np.asarray(Xr @ c.T) + b
    raw = lr.decision_function(Xr)
    full = np.column_stack([-raw / 2, raw / 2]) if raw.ndim == 1 else raw - raw.mean(
        axis=1, keepdims=True)
    delta = float(np.max(np.abs(logits - full))) if n_rows else 0.0
    out: list[TermWeight] = []
    for k, g in enumerate(groups):
        mask = yr == g
        if not mask.any():
            continue
        mean_x = np.asarray(Xr[mask].mean(axis=0)).ravel()
        weight = c[k] * mean_x
        weight[n_pat < min_patients] = 0.0
        for j in np.argsort(-weight, kind="stable")[:top]:
            if weight[j] <= 0:
                break
            out.append(TermWeight(str(vocab[j]), g, float(weight[j]), int(n_pat[j]),
                                  {h: float(share[h][j]) for h in groups}))
    out.sort(key=lambda t: (-t.weight, t.term, t.group))
    return out[:top], delta


def columns_of(terms: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """Columns removed when ``terms`` are deleted: a unigram's every n-gram, a bigram's own."""
    words = {t for t in terms if " " not in t}
    phrases = set(terms) - words
    cols = [j for j, v in enumerate(vocab)
            if v in phrases or any(w in words for w in v.split())]
    return np.asarray(cols, dtype=int)


#: Rows re-normalised at a time by :func:`delete_columns` (its temporaries are one block's).
DELETE_BLOCK = 4096


def delete_columns(X: sparse.csr_matrix, cols: np.ndarray) -> sparse.csr_matrix:
    """``X`` with ``cols`` zeroed and every row L2-normalised again (float64).

    The values are those of ``X @ diags(keep)``, its row norms and ``diags(1 / norm) @ ...``
    computed by scipy (each product rounded once, the squares summed by scipy's own row sum in
    the same order), built directly from ``X``'s arrays: no intermediate float64 matrix besides
    the result (``tests/text/test_text_explain.py`` compares the two bit for bit). ``X``'s
    indices must be sorted in each row (the TF-IDF matrix of ``text explain`` is); a row is
    independent of the others, so ``delete_columns(X[rows], cols)`` equals
    ``delete_columns(X, cols)[rows]``, and the rows are done :data:`DELETE_BLOCK` at a time
    into the result's arrays (the squares and masks are a block's, not the matrix's).
    """
    X = sparse.csr_matrix(X)
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    keep = np.ones(X.shape[1], dtype=bool)
    keep[np.asarray(cols, dtype=np.intp)] = False
    n = X.shape[0]
    blocks = [(s, min(n, s + DELETE_BLOCK)) for s in range(0, n, DELETE_BLOCK)]
    # what scipy's product with the diagonal keeps: an entry of a kept column, not zero
    kept = np.zeros(n + 1, dtype=np.int64)
    for s, e in blocks:
        lo, hi = X.indptr[s], X.indptr[e]
        mask = keep[X.indices[lo:hi]] & (X.data[lo:hi] != 0)
        kept[s + 1:e + 1] = np.diff(_kept_indptr(mask, X.indptr[s:e + 1] - lo))
    indptr = np.cumsum(kept).astype(X.indptr.dtype, copy=False)
    data = np.empty(int(indptr[-1]), dtype=np.float64)
    indices = np.empty(int(indptr[-1]), dtype=X.indices.dtype)
    for s, e in blocks:
        lo, hi = X.indptr[s], X.indptr[e]
        at = slice(int(indptr[s]), int(indptr[e]))
        _delete_block(X.data[lo:hi], X.indices[lo:hi], X.indptr[s:e + 1] - lo, keep,
                      X.shape[1], data[at], indices[at])
    out = sparse.csr_matrix((data, indices, indptr), shape=X.shape)
    out.eliminate_zeros()  # scipy's product keeps non-zero values only
    return out


def _delete_block(values: np.ndarray, columns: np.ndarray, indptr: np.ndarray,
                  keep: np.ndarray, n_cols: int, data: np.ndarray, indices: np.ndarray) -> None:
    """One block of rows of :func:`delete_columns`, written into ``data`` and ``indices``."""
    mask = keep[columns] & (values != 0)
    data[:] = values[mask]
    indices[:] = columns[mask]
    rows = _kept_indptr(mask, indptr)
    # the squared norm: scipy multiplies the matrix by itself (entries whose square is 0
    # dropped) and sums each row in index order
    sq = data * data
    nz = sq != 0
    sq_indptr = rows if nz.all() else _kept_indptr(nz, rows)
    squares = sparse.csr_matrix((sq[nz], indices[nz], sq_indptr), shape=(len(rows) - 1, n_cols))
    norms = np.sqrt(np.asarray(squares.sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    # the rescaled values (scale x value, rounded once)
    data *= np.repeat(scale, np.diff(rows))


def _kept_indptr(mask: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The row pointers of a CSR matrix's entries where ``mask`` holds."""
    kept = np.zeros(len(mask) + 1, dtype=np.int64)
    np.cumsum(mask, out=kept[1:])
    return kept[indptr].astype(indptr.dtype, copy=False)


def matched_random_terms(chosen: Sequence[str], vocab: Sequence[str], doc_freq: np.ndarray, *,
                         seed: int, window: int = 10) -> list[str]:
    """For each term in ``chosen``, a random other term of about the same document frequency.

    Terms are ordered by document frequency; each pick is uniform among the ``window`` nearest
    on either side that are neither chosen nor picked before (seeded, reproducible).
    """
    rng = np.random.default_rng(seed)
    index = {v: j for j, v in enumerate(vocab)}
    order = np.argsort(doc_freq, kind="stable")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    taken = {index[t] for t in chosen if t in index}
    # a unigram shares words with the bigrams holding it: keep the random set disjoint in words
    chosen_words = {w for t in chosen for w in t.split()}
    out: list[str] = []
    for t in chosen:
        if t not in index:
            continue
        r = rank[index[t]]
        lo, hi = max(0, r - window), min(len(order), r + window + 1)
        pool = [int(order[i]) for i in range(lo, hi) if int(order[i]) not in taken
                and not set(vocab[int(order[i])].split()) & chosen_words]
        if not pool:
            continue
        pick = pool[int(rng.integers(len(pool)))]
        taken.add(pick)
        out.append(str(vocab[pick]))
    return out
