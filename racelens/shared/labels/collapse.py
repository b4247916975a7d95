"""Named collapses: from canonical groups to the groups an audit compares, with what is left out.

Example
-------
>>> from racelens.shared.labels.vocabulary import harmonize
>>> groups, excluded = apply_collapse(harmonize(["WHITE", "UNKNOWN"]), "abw")
>>> excluded
{'UNKNOWN': 1}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from racelens.errors import LabelError
from racelens.shared.labels.vocabulary import (
    AIAN,
    CANONICAL_GROUPS,
    MISSING_KEY,
    NHPI,
    RARE_UNKNOWN_KEY,
    RARE_VALUE_FLOOR,
    is_known_value,
    is_missing,
)

__all__ = ["Collapse", "COLLAPSES", "get_collapse", "apply_collapse"]


@dataclass(frozen=True)
class Collapse:
    """A named mapping from canonical groups to the groups an audit compares.

    Parameters
    ----------
    name
        Short name (``abw``, ``abhw``, ``omb``, ``bw``).
    groups
        Canonical groups kept, in report order; every other group is excluded and counted.
    hispanic
        What the ``hispanic`` flag does: ``"exclude"`` drops rows flagged Hispanic (Gichoya's
        non-Hispanic filter), ``"group"`` moves them to the ``Hispanic`` group, ``"ignore"`` keeps
        the race as recorded.
    """

    name: str
    groups: tuple[str, ...]
    hispanic: Literal["exclude", "group", "ignore"]
    description: str = ""


COLLAPSES: dict[str, Collapse] = {
    "abw": Collapse("abw", ("Asian", "Black", "White"), "exclude",
                    "Asian, Black, White, non-Hispanic (Gichoya et al. 2022)"),
    "abhw": Collapse("abhw", ("Asian", "Black", "Hispanic", "White"), "group",
                     "Asian, Black, Hispanic (any race), White"),
    "omb": Collapse("omb", (AIAN, "Asian", "Black", NHPI, "White"), "ignore",
                    "the five OMB races; ethnicity ignored"),
    "bw": Collapse("bw", ("Black", "White"), "exclude",
                   "Black vs White, non-Hispanic (Adam et al. 2022)"),
}


def get_collapse(collapse: str | Collapse) -> Collapse:
    """The :class:`Collapse` named ``collapse`` (a :class:`LabelError` lists the names)."""
    if isinstance(collapse, Collapse):
        return collapse
    try:
        return COLLAPSES[collapse]
    except KeyError:
        raise LabelError(f"unknown collapse {collapse!r}; use one of: {', '.join(COLLAPSES)}") from None


def apply_collapse(
    races: pd.Series | pd.DataFrame,
    collapse: str | Collapse = "abw",
    *,
    hispanic: Sequence[object] | pd.Series | None = None,
    raw: Sequence[object] | pd.Series | None = None,
) -> tuple[pd.Series, dict[str, int]]:
    """Map canonical groups to a collapse's groups; count what is excluded.

    Parameters
    ----------
    races
        Canonical groups (a Series), or the frame :func:`harmonize` returns (its ``hispanic`` and
        ``race_raw`` columns are then used).
    collapse
        A name in :data:`COLLAPSES` or a :class:`Collapse`.
    hispanic, raw
        Optional Hispanic flags and raw strings aligned with ``races`` (override the frame's).

    Returns
    -------
    groups : pandas.Series
        The collapse group per row, ``<NA>`` where excluded; same index as ``races``.
    excluded : dict
        Excluded rows counted per raw value (per canonical group when no raw values are given;
        missing raw values under ``"<missing>"``), largest first.
    """
    spec = get_collapse(collapse)
    if isinstance(races, pd.DataFrame):
        frame = races
        races = frame["race"]
        if hispanic is None and "hispanic" in frame:
            hispanic = frame["hispanic"]
        if raw is None and "race_raw" in frame:
            raw = frame["race_raw"]
    races = pd.Series(races)
    unknown = sorted(set(races.dropna()) - set(CANONICAL_GROUPS))
    if unknown:
        raise LabelError(f"not canonical groups: {unknown[:5]}; run harmonize() on raw values first")
    race = races.fillna("Unknown").astype(object).to_numpy()
    flag = (pd.array(list(hispanic), dtype="boolean").fillna(False).to_numpy(dtype=bool)
            if hispanic is not None else None)
    group = race.copy()
    if flag is not None and spec.hispanic == "group":
        group[flag] = "Hispanic"
    keep = pd.Series(group, index=races.index).isin(spec.groups).to_numpy().copy()
    if flag is not None and spec.hispanic == "exclude":
        keep &= ~flag
    out = pd.Series(pd.array([g if k else pd.NA for g, k in zip(group, keep, strict=True)],
                             dtype="object"), index=races.index)
    keys = list(raw) if raw is not None else list(race)
    counts = Counter(MISSING_KEY if is_missing(k) else str(k)
                     for k, kept in zip(keys, keep, strict=True) if not kept)
    return out, dict(_fold_rare_unknown(counts).most_common())


def _fold_rare_unknown(counts: Counter[str]) -> Counter[str]:
    """Fold raw values that no vocabulary knows and that few rows hold into one key.

    Excluded counts are keyed by raw value and end up in ``result.json`` and the report; a raw
    value in a handful of rows that is not a known race label may be an identifier (a wrong
    column passed as race), so it is counted under :data:`RARE_UNKNOWN_KEY` instead of named.
    """
    out: Counter[str] = Counter()
    for key, n in counts.items():
        rare = n < RARE_VALUE_FLOOR and key != MISSING_KEY and not is_known_value(key)
        out[RARE_UNKNOWN_KEY if rare else key] += n
    return out
