"""Agreement between readers on categorical answers: Fleiss' kappa, and Cohen's for two.

Categories are the groups plus "can't tell" (an answer like any other). Only items every reader
answered enter the agreement (the others are counted by the caller).

Example
-------
>>> round(fleiss_kappa([[3, 0], [0, 3], [3, 0], [1, 2]]), 4)
0.6571
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from racelens.errors import DataError

__all__ = ["fleiss_kappa", "cohen_kappa", "rating_counts"]


def rating_counts(answers: Sequence[Sequence[Any]], categories: Sequence[Any]) -> np.ndarray:
    """``items x categories`` counts from one row of answers per item (one answer per reader)."""
    index = {c: j for j, c in enumerate(categories)}
    table = np.zeros((len(answers), len(categories)), dtype=np.int64)
    for i, row in enumerate(answers):
        for a in row:
            if a not in index:
                raise DataError(f"answer {a!r} is not among the categories {list(categories)}")
            table[i, index[a]] += 1
    return table


def fleiss_kappa(counts: Any) -> float:
    """Fleiss' kappa of an ``items x categories`` table of how many readers chose each category.

    Every item must have the same number of ratings ``r >= 2``. ``nan`` when the expected
    agreement is 1 (everyone always used one category).
    """
    t = np.asarray(counts, dtype=float)
    if t.ndim != 2 or t.shape[0] == 0:
        raise DataError(f"kappa needs an items x categories table, got shape {t.shape}")
    r = t.sum(axis=1)
    if not np.all(r == r[0]) or r[0] < 2:
        raise DataError("Fleiss' kappa needs the same number (at least two) of ratings per item")
    n = r[0]
    p_item = ((t * (t - 1)).sum(axis=1)) / (n * (n - 1))
    p_bar = p_item.mean()
    p_cat = t.sum(axis=0) / t.sum()
    p_e = float((p_cat**2).sum())
    return float("nan") if np.isclose(p_e, 1.0) else float((p_bar - p_e) / (1 - p_e))


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two readers' answers to the same items (scikit-learn's)."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b) or not len(a):
        raise DataError(f"Cohen's kappa needs the same items for both readers, got {len(a)} and "
                        f"{len(b)}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(cohen_kappa_score(list(map(str, a)), list(map(str, b))))
