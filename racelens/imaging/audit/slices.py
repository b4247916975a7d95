"""Volumes into a 2-D model: the slices of each series an audit caches, trains on and scores.

A manifest row may be a series (``slice_paths``/``slice_frames`` from
``racelens imaging manifest dicom --series``). The audit takes ``slices`` evenly spaced slices of
each series (all of them with ``slices=None``) as *items*: each item is cached, trained on with its
series' label and scored; the scores are averaged per series before the AUC
(:mod:`racelens.shared.units`), so ``n_test`` counts series.

The rule for an unreadable slice: the slice is left out and counted (``slice_skips`` by reason);
a series of which fewer than half the sampled slices could be read is skipped as a whole, with
``"k of n sampled slices unreadable (first reason)"``, so every manifest row is still accounted
for (kept, excluded or skipped).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from racelens.errors import ConfigError

__all__ = ["SLICE_COLUMNS", "sample_slices", "expand_items", "SliceOutcome", "drop_unreadable",
           "check_slices", "items_fingerprint"]

SLICE_COLUMNS = ("slice_paths", "slice_frames")
_MIN_READABLE = 0.5


def check_slices(slices: int | str | None) -> int | None:
    """``N`` (a positive int) or ``None`` for every slice (``"all"`` is accepted)."""
    if slices is None or (isinstance(slices, str) and slices.strip().lower() == "all"):
        return None
    try:
        n = int(slices)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"slices must be a positive integer or 'all', not {slices!r}") from exc
    if n < 1:
        raise ConfigError(f"slices must be a positive integer or 'all', not {slices!r}")
    return n


def sample_slices(n_slices: int, count: int | None) -> np.ndarray:
    """``count`` evenly spaced slice indices of ``n_slices`` (ends included), or all of them.

    >>> sample_slices(10, 4).tolist(), sample_slices(3, 8).tolist()
    ([0, 3, 6, 9], [0, 1, 2])
    """
    if count is None or count >= n_slices:
        return np.arange(n_slices)
    return np.unique(np.linspace(0, n_slices - 1, count).round().astype(np.int64))


def expand_items(table: pd.DataFrame, slices: int | None) -> pd.DataFrame:
    """One item per sampled slice: ``item_id``, ``sample_id``, ``path``, ``frame``, ``slice``.

    Rows without ``slice_paths`` (a radiograph manifest) are one item each, ``item_id`` being the
    ``sample_id``.
    """
    if "slice_paths" not in table.columns:
        return pd.DataFrame({"item_id": table["sample_id"].astype(str),
                             "sample_id": table["sample_id"].astype(str),
                             "path": table["path"].astype(str), "frame": -1, "slice": 0})
    parts = []
    for sid, paths, frames in zip(table["sample_id"].astype(str), table["slice_paths"],
                                  table["slice_frames"], strict=True):
        paths, frames = list(paths), list(frames)
        chosen = sample_slices(len(paths), slices)
        parts.append(pd.DataFrame({
            "item_id": [sid if len(paths) == 1 else f"{sid}#{k}" for k in chosen],
            "sample_id": sid, "path": [paths[k] for k in chosen],
            "frame": [int(frames[k]) for k in chosen], "slice": chosen}))
    return pd.concat(parts, ignore_index=True)


def items_fingerprint(fingerprint: str, items: pd.DataFrame, slices: int | None) -> str:
    """The cache key of a series manifest's items: the manifest and the slice choice."""
    if len(items) == items["sample_id"].nunique():
        return fingerprint
    digest = hashlib.sha256(f"{fingerprint}|slices={slices}".encode()).hexdigest()
    return f"sha256:{digest}"


@dataclass(frozen=True)
class SliceOutcome:
    """What :func:`drop_unreadable` kept and left out.

    Attributes
    ----------
    items
        The readable items of the kept samples.
    skipped
        ``(sample_id, reason)`` of samples left out as a whole.
    slice_skips
        Unreadable slices of kept series, counted by reason.
    """

    items: pd.DataFrame
    skipped: list[tuple[str, str]]
    slice_skips: dict[str, int]


def drop_unreadable(items: pd.DataFrame, bad: dict[str, str]) -> SliceOutcome:
    """Apply the unreadable-slice rule (module docstring) to ``items`` given ``bad`` item ids."""
    unreadable = items["item_id"].isin(bad).to_numpy()
    skipped: list[tuple[str, str]] = []
    slice_skips: Counter[str] = Counter()
    lost: set[str] = set()
    for sid, group in items.groupby("sample_id", sort=False):
        mask = unreadable[group.index.to_numpy()]
        if not mask.any():
            continue
        reasons = [bad[i] for i in group["item_id"][mask]]
        n, k = len(group), int(mask.sum())
        if n == 1:
            skipped.append((str(sid), reasons[0]))
            lost.add(str(sid))
        elif n - k < _MIN_READABLE * n:
            skipped.append((str(sid), f"{k} of {n} sampled slices unreadable ({reasons[0]})"))
            lost.add(str(sid))
        else:
            slice_skips.update(reasons)
    keep = ~unreadable & ~items["sample_id"].isin(lost).to_numpy()
    return SliceOutcome(items[keep].reset_index(drop=True), skipped, dict(slice_skips))
