"""Race vocabulary: harmonise source race strings, apply named collapses, check consistency.

Every known raw value of each supported source lives in a data file in ``racelens/shared/data``
(one table per source, columns ``raw,race,hispanic``), so the mapping is reviewable and tested
value by value. Matching ignores case and runs of whitespace (also around ``/``, ``-`` and ``,``).

Canonical vocabulary (:data:`CANONICAL_GROUPS`): the five OMB races, ``Hispanic`` (used as a
group by collapses that keep it, and carried separately as the ``hispanic`` ethnicity flag),
``Other`` and ``Unknown`` (declined, refused, unable to obtain, missing).

Examples
--------
>>> h = harmonize(["BLACK/AFRICAN AMERICAN", "WHITE - RUSSIAN", "ASIAN - CHINESE"], source="mimic-iv")
>>> list(h["race"])
['Black', 'White', 'Asian']
>>> groups, excluded = apply_collapse(harmonize(["WHITE", "UNKNOWN"]), "abw")
>>> excluded
{'UNKNOWN': 1}
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

import pandas as pd

from racelens.errors import ConfigError, DataError, LabelError, UnmatchedLabelWarning

__all__ = [
    "AIAN",
    "NHPI",
    "CANONICAL_GROUPS",
    "SOURCES",
    "LabelSource",
    "Collapse",
    "COLLAPSES",
    "MISSING_KEY",
    "RARE_VALUE_FLOOR",
    "RARE_UNKNOWN_KEY",
    "INCONSISTENT_KEY",
    "vocabulary",
    "harmonize",
    "apply_collapse",
    "inconsistent_patients",
    "consistent_patients",
    "LabeledCohort",
    "label_cohort",
]

AIAN = "American Indian or Alaska Native"
NHPI = "Native Hawaiian or Other Pacific Islander"
CANONICAL_GROUPS: tuple[str, ...] = (AIAN, "Asian", "Black", NHPI, "White", "Hispanic", "Other", "Unknown")

LabelSource = Literal["auto", "mimic-iii", "mimic-iv", "mimic-iv-v1", "chexpert", "free-text",
                      "nlst"]
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
}
#: Numeric codes mean something only in their own source: "auto" does not include these.
_CODED_SOURCES = frozenset({"nlst"})
_ETHNICITY_FILE = "chexpert_ethnicity.csv"  # CHEXPERT DEMO ETHNICITY: only the Hispanic flag
#: A source's own ethnicity codes (NLST `ethnic`: 1 Hispanic or Latino, 2 neither; 7, 95-99
#: refused or missing); other sources use the words of _ETHNICITY_FILE.
_ETHNICITY_FILES = {"nlst": "nlst_ethnic.csv"}

MISSING_KEY = "<missing>"
RARE_VALUE_FLOOR = 5
"""Unrecognised raw values held by fewer rows than this are counted, never named."""
RARE_UNKNOWN_KEY = f"unrecognised value (fewer than {RARE_VALUE_FLOOR} rows each)"
INCONSISTENT_KEY = "inconsistent race across rows"


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


def _norm(value: str) -> str:
    text = re.sub(r"\s+", " ", value.strip().casefold())
    return re.sub(r"\s*([/,\-])\s*", r"\1", text)


def _is_missing(value: object) -> bool:
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
                seen.setdefault(_norm(row[0]), row)
        return tuple(seen.values())
    if source not in SOURCES:
        raise ConfigError(f"unknown race source {source!r}; use one of: auto, {', '.join(SOURCES)}")
    return _read_table(SOURCES[source])


@cache
def _lookup(source: str) -> dict[str, tuple[str, bool | None]]:
    return {_norm(raw): (race, hisp) for raw, race, hisp in _rows(source)}


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
        if _is_missing(value):
            races.append("Unknown")
            flags.append(None)
            continue
        hit = table.get(_norm(_text(value)))
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
    raw = pd.array([pd.NA if _is_missing(v) else _text(v) for v in values], dtype="object")
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
        eth_table = {_norm(r[0]): r[2] for r in _read_table(_ETHNICITY_FILES[source])}
        race_table: dict[str, tuple[str, bool | None]] = {}
    else:
        eth_table = {_norm(r[0]): r[2] for r in _read_table(_ETHNICITY_FILE)}
        race_table = _lookup("auto")
    out = list(flags)
    for i, value in enumerate(ethnicity):
        if _is_missing(value):
            continue
        key = _norm(_text(value))
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


def _get_collapse(collapse: str | Collapse) -> Collapse:
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
    spec = _get_collapse(collapse)
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
    counts = Counter(MISSING_KEY if _is_missing(k) else str(k)
                     for k, kept in zip(keys, keep, strict=True) if not kept)
    return out, dict(_fold_rare_unknown(counts).most_common())


def _fold_rare_unknown(counts: Counter[str]) -> Counter[str]:
    """Fold raw values that no vocabulary knows and that few rows hold into one key.

    Excluded counts are keyed by raw value and end up in ``result.json`` and the report; a raw
    value in a handful of rows that is not a known race label may be an identifier (a wrong
    column passed as race), so it is counted under :data:`RARE_UNKNOWN_KEY` instead of named.
    """
    known = _lookup("auto")
    out: Counter[str] = Counter()
    for key, n in counts.items():
        rare = n < RARE_VALUE_FLOOR and key != MISSING_KEY and _norm(key) not in known
        out[RARE_UNKNOWN_KEY if rare else key] += n
    return out


def inconsistent_patients(df: pd.DataFrame, patient_col: str = "patient_id",
                          race_col: str = "race") -> list[object]:
    """Patients whose known race (anything but ``Unknown``/missing) differs across rows."""
    _require(df, (patient_col, race_col))
    known = df.loc[df[race_col].notna() & (df[race_col] != "Unknown"), [patient_col, race_col]]
    n = known.groupby(patient_col, sort=True)[race_col].nunique()
    return list(n.index[n > 1])


def consistent_patients(
    df: pd.DataFrame,
    patient_col: str = "patient_id",
    race_col: str = "race",
    policy: Literal["drop", "mode"] = "drop",
) -> pd.DataFrame:
    """Make each patient's race agree across rows.

    Parameters
    ----------
    df
        One row per sample or admission.
    patient_col, race_col
        Patient identifier and (harmonised) race columns.
    policy
        ``"drop"`` removes every row of a patient whose known races differ (Gichoya's rule);
        ``"mode"`` gives all the patient's known rows its most frequent race (ties: the
        alphabetically first). ``Unknown`` rows never conflict and are left as they are.

    Returns
    -------
    pandas.DataFrame
        A copy; rows keep their index.
    """
    if policy not in ("drop", "mode"):
        raise ConfigError(f"unknown consistency policy {policy!r}; use 'drop' or 'mode'")
    bad = inconsistent_patients(df, patient_col, race_col)
    if policy == "drop":
        return df.loc[~df[patient_col].isin(bad)].copy()
    out = df.copy()
    rows = out[patient_col].isin(bad) & out[race_col].notna() & (out[race_col] != "Unknown")
    modes = (out.loc[rows].groupby(patient_col)[race_col]
             .agg(lambda s: sorted(s.value_counts().pipe(lambda c: c[c == c.max()]).index)[0]))
    out.loc[rows, race_col] = out.loc[rows, patient_col].map(modes)
    return out


def _require(df: pd.DataFrame, cols: Iterable[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; the table has {list(df.columns)[:20]}")


@dataclass(frozen=True)
class LabeledCohort:
    """A cohort table with standard label columns, and what the label rules left out.

    Attributes
    ----------
    table
        The kept rows (original index) with ``race`` (the collapse group), ``race_raw`` (the
        source string), ``hispanic`` and every input column.
    excluded
        Rows left out, counted per raw value, plus ``"inconsistent race across rows"``.
    collapse
        The collapse applied.
    """

    table: pd.DataFrame
    excluded: Mapping[str, int] = field(default_factory=dict)
    collapse: Collapse = COLLAPSES["abw"]

    @property
    def groups(self) -> dict[str, int]:
        """Rows per group, in the collapse's order (groups with no rows included as 0)."""
        counts = self.table["race"].value_counts()
        return {g: int(counts.get(g, 0)) for g in self.collapse.groups}


def label_cohort(
    df: pd.DataFrame,
    race_col: str = "race",
    patient_col: str = "patient_id",
    source: LabelSource = "auto",
    collapse: str | Collapse = "abw",
    consistency: Literal["drop", "mode", "none"] = "drop",
    *,
    ethnicity_col: str | None = None,
) -> LabeledCohort:
    """Harmonise, check per-patient consistency and collapse a cohort's race labels in one call.

    Parameters
    ----------
    df
        The cohort table; ``race_col`` holds the source's raw strings.
    race_col, patient_col
        Column names in ``df``.
    source
        Vocabulary of ``race_col`` (see :func:`harmonize`).
    collapse
        Named collapse (default ``abw``, as everywhere in the CLI).
    consistency
        Policy of :func:`consistent_patients` on the harmonised race, or ``"none"``.
    ethnicity_col
        Optional separate ethnicity column (CheXpert ``ETHNICITY``).

    Returns
    -------
    LabeledCohort
        ``len(table) + sum(excluded.values()) == len(df)``.
    """
    _require(df, [race_col, patient_col] + ([ethnicity_col] if ethnicity_col else []))
    spec = _get_collapse(collapse)
    h = harmonize(df[race_col], source,
                  ethnicity=df[ethnicity_col] if ethnicity_col else None)
    work = df.copy()
    work["race_raw"] = h["race_raw"]
    work["hispanic"] = h["hispanic"]
    work["race"] = h["race"]
    excluded: Counter[str] = Counter()
    if consistency != "none":
        kept = consistent_patients(work, patient_col, "race", policy=consistency)
        if len(kept) < len(work):
            excluded[INCONSISTENT_KEY] += len(work) - len(kept)
        work = kept
    groups, dropped = apply_collapse(work["race"], spec, hispanic=work["hispanic"],
                                     raw=work["race_raw"])
    excluded.update(dropped)
    work["race"] = groups
    table = work.loc[groups.notna()].copy()
    table["race"] = table["race"].astype(str)
    return LabeledCohort(table=table, excluded=dict(excluded.most_common()), collapse=spec)
