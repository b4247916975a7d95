"""Which rows a fairness evaluation reads, and how they are rebalanced.

- :class:`EvalSets` names the validation, test and counterfactual rows *by keyword* and checks
  them against the patient split, so they cannot be swapped: the anchor of the shortcut test
  (google-research ``shortcut_testing``) passed its validation set where the counterfactual set
  belonged. Thresholds and model selection read ``val`` only; gaps are measured on ``test`` or,
  when given, on ``counterfactual`` (a rebalanced subset of ``test``).
- :func:`balanced_test_set` (Glocker et al. 2023): a subset of the test rows in which every group
  has the same size, the same prevalence of the task label and the same age-bin distribution;
  every row is accounted for (kept, dropped to balance, or dropped for a missing age).
- :func:`group_balanced_indices`: a resample of the training rows with each group equally
  represented (the "resampling" mitigation of Yang et al. 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, SplitError

__all__ = ["AGE_BINS", "EvalSets", "balanced_test_set", "group_balanced_indices"]

AGE_BINS: tuple[float, ...] = (0.0, 40.0, 60.0, 80.0, float("inf"))


@dataclass(frozen=True, kw_only=True)
class EvalSets:
    """Row positions of the validation, test and (optional) counterfactual sets.

    Use :meth:`from_split`; :meth:`check` is called by every function that takes one.
    """

    val: np.ndarray
    test: np.ndarray
    counterfactual: np.ndarray | None = None

    @classmethod
    def from_split(cls, split: Sequence[str] | np.ndarray, *,
                   counterfactual: np.ndarray | None = None) -> EvalSets:
        s = np.asarray(split).astype(str)
        return cls(val=np.flatnonzero(s == "val"), test=np.flatnonzero(s == "test"),
                   counterfactual=None if counterfactual is None else np.asarray(counterfactual))

    @property
    def scored(self) -> np.ndarray:
        """The rows gaps are measured on: ``counterfactual`` when given, else ``test``."""
        return self.test if self.counterfactual is None else self.counterfactual

    def check(self, split: Sequence[str] | np.ndarray) -> None:
        """Raise :class:`SplitError` unless ``val`` is the val split, ``test`` the test split and
        ``counterfactual`` a subset of ``test``."""
        s = np.asarray(split).astype(str)
        for name, rows, want in (("validation", self.val, "val"), ("test", self.test, "test")):
            rows = np.asarray(rows, dtype=np.int64)
            if len(rows) == 0:
                raise SplitError(f"the {name} set is empty")
            if rows.min() < 0 or rows.max() >= len(s):
                raise SplitError(f"the {name} set names rows outside the data (0..{len(s) - 1})")
            wrong = s[rows] != want
            if wrong.any():
                found = sorted(set(s[rows][wrong].tolist()))
                raise SplitError(f"the {name} set holds {int(wrong.sum())} row(s) of the {found} "
                                 f"split; pass the {want!r} rows as {name} (were sets swapped?)")
            if (len(rows) != int((s == want).sum())):
                raise SplitError(f"the {name} set has {len(rows)} rows, the {want!r} split "
                                 f"{int((s == want).sum())}")
        if self.counterfactual is not None:
            cf = np.asarray(self.counterfactual, dtype=np.int64)
            outside = ~np.isin(cf, self.test)
            if len(cf) == 0 or outside.any():
                raise SplitError(f"the counterfactual set must be a non-empty subset of the test "
                                 f"set; {int(outside.sum())} of its {len(cf)} rows are not test rows "
                                 "(were sets swapped?)")


def _age_bins(age: Any, n: int, bins: Sequence[float]) -> np.ndarray:
    if age is None:
        return np.zeros(n, dtype=np.int64)
    a = pd.to_numeric(pd.Series(np.asarray(age).ravel()), errors="coerce").to_numpy(float)
    codes = np.digitize(a, np.asarray(bins[1:-1], dtype=float))
    return np.where(np.isfinite(a), codes, -1)


def _bin_labels(edges: Sequence[float]) -> list[str]:
    def fmt(x: float) -> str:
        return f"{x:g}"

    return [f"{fmt(lo)}+" if not np.isfinite(hi) else f"{fmt(lo)}-{fmt(hi)}"
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def balanced_test_set(
    groups: Sequence[str] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    age: Sequence[float] | np.ndarray | None = None,
    age_bins: Sequence[float] = AGE_BINS,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Positions of a race-balanced subset with equal prevalence and age bins in every group.

    For every (task label, age bin) cell, each group keeps the cell's smallest group count, drawn
    at random without replacement; so every group ends with the same size, the same prevalence and
    the same age distribution.

    Parameters
    ----------
    groups, labels
        Group and 0/1 task label per (test) row.
    age
        Age per row (``None``: balance on label only); rows with no age are dropped and counted.
    age_bins
        Bin edges of age.
    seed
        Seeds the draw.

    Returns
    -------
    (positions, accounting)
        Sorted positions into the inputs, and ``{"n_rows", "kept", "dropped_to_balance",
        "dropped_missing_age", "per_group", "age_bins"}`` with ``kept + dropped_to_balance +
        dropped_missing_age == n_rows``.
    """
    g = np.asarray(groups).astype(str)
    y = np.asarray(labels).astype(np.int64)
    if len(g) != len(y):
        raise ConfigError(f"groups has {len(g)} values, labels {len(y)}; pass one per row")
    bins = _age_bins(age, len(g), age_bins)
    names = sorted(set(g.tolist()))
    rng = np.random.default_rng([seed, 11])
    keep: list[np.ndarray] = []
    for label in sorted(set(y.tolist())):
        for b in sorted(set(bins[bins >= 0].tolist())):
            cell = [np.flatnonzero((g == name) & (y == label) & (bins == b)) for name in names]
            n = min(len(c) for c in cell)
            keep += [np.sort(rng.choice(c, size=n, replace=False)) for c in cell if n]
    pos = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
    missing = int((bins < 0).sum())
    accounting = {"n_rows": int(len(g)), "kept": int(len(pos)),
                  "dropped_to_balance": int(len(g) - len(pos) - missing),
                  "dropped_missing_age": missing,
                  "per_group": {name: int((g[pos] == name).sum()) for name in names},
                  "prevalence": {name: (float(y[pos][g[pos] == name].mean())
                                        if (g[pos] == name).any() else None) for name in names},
                  "age_bins": None if age is None else _bin_labels(age_bins)}
    return pos.astype(np.int64), accounting


def group_balanced_indices(groups: Sequence[Any] | np.ndarray, *, seed: int = 0,
                           n: int | None = None) -> np.ndarray:
    """``n`` (default: as many as rows) positions drawn with replacement so that every group is
    drawn equally often in expectation."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object).ravel()))
    if len(uniques) == 0:
        raise ConfigError("group_balanced_indices needs at least one row")
    counts = np.bincount(codes, minlength=len(uniques)).astype(float)
    p = 1.0 / counts[codes]
    rng = np.random.default_rng([seed, 13])
    return np.sort(rng.choice(len(codes), size=len(codes) if n is None else int(n), replace=True,
                              p=p / p.sum()))
