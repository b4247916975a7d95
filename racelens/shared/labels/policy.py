"""The one label policy: vocabulary -> per-patient consistency -> collapse -> accounting.

Every source (imaging and text) labels its rows here, so the same table gets the same groups and
the same counts whichever command reads it:

1. :func:`~racelens.shared.labels.vocabulary.harmonize` maps raw strings to canonical groups;
2. a patient whose known race differs across rows (or records) is dropped (Gichoya's rule,
   ``consistency="drop"``, counted under :data:`INCONSISTENT_KEY`), or given their most frequent
   race (``"mode"``), or left alone (``"none"``);
3. :func:`~racelens.shared.labels.collapse.apply_collapse` keeps the collapse's groups;
4. every row left out is counted by reason or raw value.

``race_raw`` always keeps the source string.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import pandas as pd

from racelens.errors import ConfigError
from racelens.shared.labels.collapse import Collapse, apply_collapse, get_collapse
from racelens.shared.labels.vocabulary import LabelSource, harmonize
from racelens.shared.tables import require_columns

if TYPE_CHECKING:
    from racelens.shared.cohort import Cohort

__all__ = [
    "Consistency",
    "INCONSISTENT_KEY",
    "NO_RACE_RECORD",
    "MISSING_PATIENT_KEY",
    "inconsistent_patients",
    "consistent_patients",
    "inconsistent_records",
    "PatientRaces",
    "drop_missing_patients",
    "race_per_patient",
    "label_by_patient",
    "label_cohort",
]

logger = logging.getLogger(__name__)

#: What to do with a patient whose race differs across rows: drop, take the mode, or nothing.
Consistency = Literal["drop", "mode", "none"]
INCONSISTENT_KEY = "inconsistent race across rows"
#: The ``excluded`` reason of samples whose patient has no race record.
NO_RACE_RECORD = "no race record"
#: The ``excluded`` reason of rows without a patient id (missing or blank).
MISSING_PATIENT_KEY = "missing patient id"


def _check_consistency(consistency: str) -> None:
    if consistency not in ("drop", "mode", "none"):
        raise ConfigError(f"unknown consistency policy {consistency!r}; use 'drop', 'mode' or "
                          "'none'")


def inconsistent_patients(df: pd.DataFrame, patient_col: str = "patient_id",
                          race_col: str = "race") -> list[object]:
    """Patients whose known race (anything but ``Unknown``/missing) differs across rows."""
    require_columns(df, (patient_col, race_col))
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


def inconsistent_records(records: pd.DataFrame, patient_col: str, race_col: str,
                         source: LabelSource = "auto") -> set[str]:
    """Patients (as text) whose harmonised known race differs across ``records`` (all of their
    admissions, say, not only those a sample is joined to)."""
    require_columns(records, (patient_col, race_col))
    h = pd.DataFrame({"patient": records[patient_col].astype(str).to_numpy(),
                      "race": harmonize(records[race_col], source)["race"].to_numpy()})
    return {str(p) for p in inconsistent_patients(h, "patient", "race")}


class PatientRaces:
    """The known races seen per patient, gathered chunk by chunk (a streamed table's first pass).

    Memory is one small set per patient, not the table; :meth:`inconsistent` gives the patients
    :func:`inconsistent_patients` would find on the whole table.
    """

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}

    def add(self, patients: Iterable[object], races: Iterable[object]) -> None:
        """Record canonical races (``Unknown`` and missing ones never conflict)."""
        for pid, race in zip(patients, races, strict=True):
            if isinstance(race, str) and race != "Unknown":
                self._seen.setdefault(str(pid), set()).add(race)

    def inconsistent(self) -> set[str]:
        """Patients (as strings) with more than one known race."""
        return {p for p, races in self._seen.items() if len(races) > 1}


def drop_missing_patients(df: pd.DataFrame, column: str, excluded: Counter[str],
                          where: str) -> pd.DataFrame:
    """Leave out rows whose patient id is missing or blank, counted under ``MISSING_PATIENT_KEY``.

    The patient-level split cannot place them and their samples cannot be told apart from other
    patients' (as text they would all become one patient ``"nan"``); a warning gives the count.
    """
    ids = df[column]
    missing = (ids.isna() | (ids.astype("string").str.strip() == "")).fillna(True).to_numpy(bool)
    if missing.any():
        excluded[MISSING_PATIENT_KEY] += int(missing.sum())
        logger.warning("%s: %d row(s) without a patient id in column %r left out (counted as "
                       "excluded %r); fill them to keep those samples", where, int(missing.sum()),
                       column, MISSING_PATIENT_KEY)
    return df.loc[~missing]


def race_per_patient(records: pd.DataFrame, patient_col: str, race_col: str,
                     source: LabelSource = "auto", consistency: Consistency = "drop",
                     ethnicity_col: str | None = None) -> tuple[pd.DataFrame, set[str]]:
    """One race per patient from several records (admissions, label rows).

    Returns
    -------
    per_patient : pandas.DataFrame
        Indexed by patient id (str) with ``race`` (canonical), ``hispanic`` and ``race_raw`` (the
        most frequent raw value among the records that carry the chosen race).
    inconsistent : set of str
        Patients whose known races differ across records (empty unless ``consistency="drop"``).

    ``ethnicity_col`` (e.g. NLST's ``ethnic``) sets the Hispanic flag from its own column.
    """
    _check_consistency(consistency)
    h = harmonize(records[race_col], source,
                  ethnicity=records[ethnicity_col] if ethnicity_col else None)
    work = pd.DataFrame({"patient": records[patient_col].astype(str).to_numpy(),
                         "race": h["race"].to_numpy(), "hispanic": h["hispanic"].to_numpy(),
                         "race_raw": h["race_raw"].to_numpy()})
    work["_orig"] = work["race"]
    bad: set[str] = set()
    if consistency == "drop":
        bad = {str(p) for p in inconsistent_patients(work, "patient", "race")}
    elif consistency == "mode":
        work = consistent_patients(work, "patient", "race", policy="mode")
    work["_known"] = work["race"] != "Unknown"
    work["_same"] = work["_orig"] == work["race"]
    work["_freq"] = work.groupby(["patient", "race_raw"], dropna=False)["race"].transform("size")
    rep = (work.sort_values(["patient", "_known", "_same", "_freq", "race_raw"],
                            ascending=[True, False, False, False, True], na_position="last")
           .drop_duplicates("patient").set_index("patient"))
    return rep[["race", "hispanic", "race_raw"]], bad


def label_by_patient(samples: pd.DataFrame, per_patient: pd.DataFrame, bad: set[str],
                     collapse: str | Collapse, excluded: Counter[str], *,
                     patient_col: str = "patient_id") -> pd.DataFrame:
    """Give each sample its patient's race (:func:`race_per_patient`) and collapse it.

    Samples of inconsistent patients, of patients without a race record and outside the
    collapse are left out and counted in ``excluded``.
    """
    spec = get_collapse(collapse)
    incons = samples[patient_col].astype(str).isin(bad)
    if incons.any():
        excluded[INCONSISTENT_KEY] += int(incons.sum())
    samples = samples.loc[~incons].drop(columns=["race", "hispanic", "race_raw"], errors="ignore")
    samples = samples.join(per_patient, on=patient_col)  # patient ids as text on both sides
    unrecorded = samples["race"].isna()
    if unrecorded.any():
        excluded[NO_RACE_RECORD] += int(unrecorded.sum())
    samples = samples.loc[~unrecorded]
    groups, dropped = apply_collapse(samples["race"], spec, hispanic=samples["hispanic"],
                                     raw=samples["race_raw"])
    excluded.update(dropped)
    samples = samples.assign(race=groups).loc[groups.notna()]
    samples["race"] = samples["race"].astype(str)
    return samples


def label_cohort(
    df: pd.DataFrame,
    race_col: str = "race",
    patient_col: str = "patient_id",
    source: LabelSource = "auto",
    collapse: str | Collapse = "abw",
    consistency: Consistency = "drop",
    *,
    ethnicity_col: str | None = None,
    raw_col: str | None = None,
    inconsistent: Iterable[object] | None = None,
    where: str = "table",
) -> Cohort:
    """Harmonise, check per-patient consistency and collapse a table's race labels in one call.

    Parameters
    ----------
    df
        The table; ``race_col`` holds the source's raw strings.
    race_col, patient_col
        Column names in ``df``.
    source
        Vocabulary of ``race_col`` (see :func:`~racelens.shared.labels.vocabulary.harmonize`).
    collapse
        Named collapse (default ``abw``, as everywhere in the CLI).
    consistency
        Policy of :func:`consistent_patients` on the harmonised race, or ``"none"``.
    ethnicity_col
        Optional separate ethnicity column (CheXpert ``ETHNICITY``).
    raw_col
        A column already holding the source string (a cohort file's ``race_raw``, when
        ``race_col`` holds its canonical group): ``race_raw`` keeps it instead of ``race_col``.
    inconsistent
        Patients already known to be inconsistent (from records beyond ``df``, such as all of a
        patient's admissions); they are dropped with ``consistency="drop"``.
    where
        The table's name, for messages and :attr:`Cohort.source`.

    Returns
    -------
    Cohort
        ``table`` holds the kept rows (original index) with ``race`` (the collapse group),
        ``race_raw``, ``hispanic`` and every input column;
        ``len(table) + sum(excluded.values()) == len(df)``.
    """
    from racelens.shared.cohort import Cohort

    _check_consistency(consistency)
    require_columns(df, [race_col, patient_col] + [c for c in (ethnicity_col, raw_col) if c],
                    where)
    spec = get_collapse(collapse)
    h = harmonize(df[race_col], source,
                  ethnicity=df[ethnicity_col] if ethnicity_col else None)
    work = df.copy()
    raw = h["race_raw"]
    if raw_col is not None:
        given = df[raw_col].astype(object)
        raw = given.where(given.notna(), raw)
    work["race_raw"] = raw
    work["hispanic"] = h["hispanic"]
    work["race"] = h["race"]
    excluded: Counter[str] = Counter()
    if consistency != "none":
        if inconsistent is not None and consistency == "drop":
            known = {str(p) for p in inconsistent}
            bad = work[patient_col].astype(str).isin(known)
            excluded[INCONSISTENT_KEY] += int(bad.sum())
            work = work.loc[~bad]
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
    return Cohort(table, {k: v for k, v in excluded.most_common() if v}, (), len(df), where,
                  spec.name, spec.groups)

