"""The stratified patient bootstrap of AUCs, as multiplicities in blocks of resamples.

Patients are resampled with replacement inside each group (a patient's group is the group of
its first sample), so every group keeps members; the interval is the percentile interval. Each
resample is a vector of per-sample multiplicities, and the weighted Mann-Whitney statistic is
computed for a block of resamples at once over scores sorted once per group.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.shared.metrics.auc import RankedScores, weighted_auc

__all__ = ["BLOCK_ELEMENTS", "patient_codes", "patient_bootstrap_counts", "bootstrap_aucs"]

#: Elements per block of resamples: small enough to stay in cache; the block size depends on
#: the data only, so the draws (and the intervals) are the same on every machine.
BLOCK_ELEMENTS = 500_000


def patient_codes(patient_ids: Any | None, n: int) -> tuple[np.ndarray, int]:
    """Integer code of each sample's patient (each sample its own patient when ``None``)."""
    if patient_ids is None:
        return np.arange(n), n
    codes, uniques = pd.factorize(pd.Series(np.asarray(patient_ids, dtype=object).ravel()))
    if len(codes) != n:
        raise ConfigError(f"patient_ids has {len(codes)} values; expected {n} (one per sample)")
    if (codes < 0).any():
        raise DataError(f"patient_ids has {int((codes < 0).sum())} missing values; "
                        "every sample needs its patient")
    return codes, len(uniques)


def patient_bootstrap_counts(groups: np.ndarray, patient_ids: Any | None, n_boot: int,
                             seed: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Stratified patient bootstrap as multiplicities, in blocks of resamples.

    Patients are resampled with replacement within their group (the group code of their first
    sample), each group to its own size, so every group keeps members in every resample.

    Yields
    ------
    (rows, counts)
        ``rows`` the slice of resample indices; ``counts`` a ``b x n_patients`` float32 array of
        how often each patient (coded by :func:`patient_codes`) was drawn (exact integers).
    """
    pidx, n_pat = patient_codes(patient_ids, len(groups))
    first = np.empty(n_pat, dtype=np.int64)
    first[pidx[::-1]] = np.asarray(groups)[::-1]
    strata = [np.flatnonzero(first == g) for g in np.unique(first)]
    rng = np.random.default_rng(seed)
    # Blocks small enough to stay in cache; the size depends on the data only, so the draws
    # (and the intervals) are the same on every machine.
    chunk = max(1, min(n_boot, BLOCK_ELEMENTS // max(len(groups), n_pat)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        drawn = np.concatenate(
            [np.take(m, rng.integers(0, len(m), size=(b, len(m)), dtype=np.int32))
             for m in strata], axis=1)
        drawn += np.arange(b)[:, None] * n_pat
        counts = np.bincount(drawn.ravel(), minlength=b * n_pat).reshape(b, n_pat)
        yield slice(start, start + b), counts.astype(np.float32)



def auc_untied(w: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Weighted AUCs (``b``) of an untied score: ``w`` weights in score order, ``pos`` positives.

    Negatives below a positive are all weight below it minus positive weight below it; the
    positive part sums in closed form, so one cumulative sum over all samples suffices.
    """
    below = np.cumsum(w, axis=1)  # float32 sums of integer counts are exact below 2**24
    wp = np.take(w, pos, axis=1).astype(float)
    below_p = np.take(below, pos, axis=1).astype(float) - wp
    w1 = wp.sum(axis=1)
    num = np.einsum("ij,ij->i", wp, below_p) - (w1**2 - np.einsum("ij,ij->i", wp, wp)) / 2
    w0 = below[:, -1].astype(float) - w1
    return num / (w1 * w0)


def bootstrap_aucs(codes: np.ndarray, scores: np.ndarray, present: list[int],
                    patient_ids: Any | None, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot x len(present)`` one-vs-rest AUCs over stratified patient resamples."""
    pidx, _ = patient_codes(patient_ids, len(codes))
    ranked = [RankedScores.from_scores(scores[:, j]) for j in present]
    sorted_pidx = [pidx[r.order] for r in ranked]
    sorted_pos = [codes[r.order] == j for j, r in zip(present, ranked, strict=True)]
    pos_at = [np.flatnonzero(p) for p in sorted_pos]
    exact = len(codes) < 2**24
    out = np.empty((n_boot, len(present)))
    for rows, counts in patient_bootstrap_counts(codes, patient_ids, n_boot, seed):
        for i, r in enumerate(ranked):
            w = np.take(counts, sorted_pidx[i], axis=1)
            if r.starts is None and exact:
                out[rows, i] = auc_untied(w, pos_at[i])
            else:
                w = w.astype(float)
                wp = w * sorted_pos[i]
                out[rows, i] = weighted_auc(wp, w - wp, r.starts)
    return out
