"""Race vocabulary: every known raw value of each source, and the mapping to canonical groups.

Every known raw value of each supported source lives in a data file in ``racelens/shared/data``
(one table per source, columns ``raw,race,hispanic``), read with
``resources.files("racelens.shared")``, so the mapping is reviewable and tested value by value.
Matching ignores case and runs of whitespace (also around ``/``, ``-`` and ``,``).

Canonical vocabulary (:data:`CANONICAL_GROUPS`): the five OMB races, ``Hispanic`` (used as a
group by collapses that keep it, and carried separately as the ``hispanic`` ethnicity flag),
``Other`` and ``Unknown`` (declined, refused, unable to obtain, missing).

Example
-------
>>> h = harmonize(["BLACK/AFRICAN AMERICAN", "WHITE - RUSSIAN", "ASIAN - CHINESE"], source="mimic-iv")
>>> list(h["race"])
['Black', 'White', 'Asian']
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Literal

import pandas as pd

from racelens.errors import ConfigError, DataError, UnmatchedLabelWarning

__all__ = ["AIAN", "NHPI", "CANONICAL_GROUPS", "SOURCES", "LabelSource", "MISSING_KEY",
           "RARE_VALUE_FLOOR", "RARE_UNKNOWN_KEY", "vocabulary", "harmonize", "is_missing",
           "normalise_value", "is_known_value"]

AIAN = "American Indian or Alaska Native"
NHPI = "Native Hawaiian or Other Pacific Islander"
CANONICAL_GROUPS: tuple[str, ...] = (AIAN, "Asian", "Black", NHPI, "White", "Hispanic", "Other", "Unknown")

LabelSource = Literal["auto", "mimic-iii", "mimic-iv", "mimic-iv-v1", "chexpert", "free-text",
                      "nlst", "embed"]
# source name -> data file. "auto" is the union of all of them.
SOURCES: dict[str, str] = {
    "mimic-iii": "mimic_iii.csv",  # ADMISSIONS.ETHNICITY, 41 values
    "mimic-iv": "mimic_iv.csv",  # admissions.race (v2.0+), 33 values
    "mimic-iv-v1": "mimic_iv_v1.csv",  # admissions.ethnicity (v1.0), 8 values
    "chexpert": "chexpert.csv",  # CHEXPERT DEMO PRIMARY_RACE
    "free-text": "freetext.csv",  # what people and notes write
    # NLST participant table `race`: 1 White, 2 Black or African American, 3 Asian, 4 AIAN,
    # 5 NHPI, 6 more than one race; 7 refused, 95/96/98/99 missing or unknown
    "nlst": "nlst.csv",
    # EMBED open data clinical RACE_DESC (as written, a double space in the Black value)
    "embed": "embed.csv",
}
#: Numeric codes mean something only in their own source: "auto" does not include these.
_CODED_SOURCES = frozenset({"nlst"})
_ETHNICITY_FILE = "chexpert_ethnicity.csv"  # CHEXPERT DEMO ETHNICITY: only the Hispanic flag
#: A source's own ethnicity codes (NLST `ethnic`: 1 Hispanic or Latino, 2 neither; 7, 95-99
#: refused or missing); other sources use the words of _ETHNICITY_FILE.
_ETHNICITY_FILES = {"nlst": "nlst_ethnic.csv", "embed": "embed_ethnic.csv"}

MISSING_KEY = "<missing>"
RARE_VALUE_FLOOR = 5
"""Unrecognised raw values held by fewer rows than this are counted, never named."""
RARE_UNKNOWN_KEY = f"unrecognised value (fewer than {RARE_VALUE_FLOOR} rows each)"


def normalise_value(value: str) -> str:
    """A raw value as matched: case folded, whitespace runs collapsed (also around ``/,-``)."""
    text = re.sub(r"\s+", " ", value.strip().casefold())
    return re.sub(r"\s*([/,\-])\s*", r"\1", text)


def is_missing(value: object) -> bool:
    """True for None, NA, NaN and blank strings."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


@cache
def _read_table(filename: str) -> tuple[tuple[str, str, bool | None], ...]:
    text = resources.files("racelens.shared").joinpath("data", filename).read_text("utf-8")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    flags = {"true": True, "false": False, "": None}
    return tuple((r.raw, r.race, flags[r.hispanic]) for r in df.itertuples(index=False))


def vocabulary(source: LabelSource = "auto") -> pd.DataFrame:
    """The known raw values of a source as a table ``raw, race, hispanic``.

    Parameters
    ----------
    source
        A name in :data:`SOURCES`, or ``"auto"`` for the union of the worded ones (first spelling
        kept; coded sources such as ``nlst`` are left out, a bare ``1`` means nothing elsewhere).
    """
    rows = _rows(source)
    return pd.DataFrame(
        {"raw": [r[0] for r in rows], "race": [r[1] for r in rows],
         "hispanic": pd.array([r[2] for r in rows], dtype="boolean")}
    )


def _rows(source: str) -> tuple[tuple[str, str, bool | None], ...]:
    if source == "auto":
        seen: dict[str, tuple[str, str, bool | None]] = {}
        for name in SOURCES:
            if name in _CODED_SOURCES:
                continue
            for row in _read_table(SOURCES[name]):
                seen.setdefault(normalise_value(row[0]), row)
        return tuple(seen.values())
    if source not in SOURCES:
        raise ConfigError(f"unknown race source {source!r}; use one of: auto, {', '.join(SOURCES)}")
    return _read_table(SOURCES[source])


@cache
def _lookup(source: str) -> dict[str, tuple[str, bool | None]]:
    return {normalise_value(raw): (race, hisp) for raw, race, hisp in _rows(source)}


def harmonize(
    raw_values: Iterable[object],
    source: LabelSource = "auto",
    *,
    ethnicity: Iterable[object] | None = None,
) -> pd.DataFrame:
    """Map raw race strings to the canonical vocabulary.

    Parameters
    ----------
    raw_values
        Source strings (a Series keeps its index). Missing values map to ``Unknown``.
    source
        Which vocabulary to use (:data:`SOURCES`); ``"auto"`` accepts all of them.
    ethnicity
        Optional values of a separate ethnicity field (CheXpert ``ETHNICITY`` or any Hispanic /
        non-Hispanic wording), aligned with ``raw_values``; when it says something, it sets the
        ``hispanic`` flag.

    Returns
    -------
    pandas.DataFrame
        Columns ``race`` (canonical group), ``hispanic`` (nullable boolean) and ``race_raw``.

    Warns
    -----
    UnmatchedLabelWarning
        Once, listing the values no vocabulary knows; they are mapped to ``Other``.
    """
    index = raw_values.index if isinstance(raw_values, pd.Series) else None
    values = list(raw_values)
    table = _lookup(source)
    races: list[str] = []
    flags: list[bool | None] = []
    unmatched: Counter[str] = Counter()
    for value in values:
        if is_missing(value):
            races.append("Unknown")
            flags.append(None)
            continue
        hit = table.get(normalise_value(_text(value)))
        if hit is None:
            unmatched[str(value)] += 1
            hit = ("Other", None)
        races.append(hit[0])
        flags.append(hit[1])
    if ethnicity is not None:
        flags = _apply_ethnicity(flags, list(ethnicity), unmatched, source)
    if unmatched:
        # Values seen in only a few rows may be identifiers (a wrong column passed as race):
        # name only those common enough to be a category, count the rest.
        common = [(v, n) for v, n in unmatched.most_common() if n >= RARE_VALUE_FLOOR]
        listed = ", ".join(f"{v!r} (n={n})" for v, n in common[:20]) or "none listed"
        hidden = len(unmatched) - min(len(common), 20)
        more = "" if not hidden else (
            f"; {hidden} other distinct value(s) not shown (rarer than {RARE_VALUE_FLOOR} rows "
            "each, or past the first 20)")
        warnings.warn(
            f"{sum(unmatched.values())} race/ethnicity values matched no {source!r} vocabulary and "
            f"were mapped to 'Other': {listed}{more}; pass the right source= or extend the table",
            UnmatchedLabelWarning,
            stacklevel=2,
        )
    raw = pd.array([pd.NA if is_missing(v) else _text(v) for v in values], dtype="object")
    return pd.DataFrame(
        {"race": races, "hispanic": pd.array(flags, dtype="boolean"), "race_raw": raw},
        index=index,
    )


def _text(value: object) -> str:
    """A raw value as text; a whole float (``1.0``, what pandas makes of a code column with a gap)
    is written as the integer code it was."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _apply_ethnicity(
    flags: list[bool | None], ethnicity: list[object], unmatched: Counter[str],
    source: str = "auto",
) -> list[bool | None]:
    if len(ethnicity) != len(flags):
        raise DataError(f"ethnicity has {len(ethnicity)} values but race has {len(flags)}; align them")
    if source in _ETHNICITY_FILES:
        eth_table = {normalise_value(r[0]): r[2] for r in _read_table(_ETHNICITY_FILES[source])}
        race_table: dict[str, tuple[str, bool | None]] = {}
    else:
        eth_table = {normalise_value(r[0]): r[2] for r in _read_table(_ETHNICITY_FILE)}
        race_table = _lookup("auto")
    out = list(flags)
    for i, value in enumerate(ethnicity):
        if is_missing(value):
            continue
        key = normalise_value(_text(value))
        if key in eth_table:
            flag = eth_table[key]
        elif key in race_table:
            flag = race_table[key][1]
        else:
            unmatched[str(value)] += 1
            continue
        if flag is not None:
            out[i] = flag
    return out

def is_known_value(value: str) -> bool:
    """True when some source's vocabulary knows the raw ``value``."""
    return normalise_value(value) in _lookup("auto")
