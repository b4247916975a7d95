"""Note cohorts: MIMIC-IV-Note, MIMIC-III NOTEEVENTS, or any table, with standard columns.

Every loader returns the one :class:`racelens.shared.cohort.Cohort` (payload ``text``), labelled
by the one policy (:func:`racelens.shared.labels.label_cohort`), whose table has DESIGN.md's
standard columns
``sample_id``, ``patient_id``, ``race`` (the collapse group), ``race_raw`` (the source string) and
``text``, next to the source's raw columns (joins are by explicit keys). Every input row is
accounted for: it is a sample, counted in ``excluded`` (by label rule or filter, per reason) or
listed in ``skipped`` (an empty note). Note files are read in chunks with only the needed
columns (:func:`racelens.shared.tables.read_table_chunked`), so a filter (MIMIC-III categories)
never holds the whole 4 GB file in memory. A table written by :meth:`Cohort.write` (``racelens
text cohort``) is read with its sidecar, so what the MIMIC join left out stays counted.

Example
-------
>>> import pandas as pd
>>> c = from_table(pd.DataFrame({"text": ["a", ""], "race": ["WHITE", "ASIAN"], "pid": [1, 2]}),
...                text_col="text", race_col="race", patient_col="pid")
>>> (len(c.table), [s.reason for s in c.skipped])
(1, ['empty note'])
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.shared.cohort import Cohort, build_cohort, is_cohort_file
from racelens.shared.labels import (
    INCONSISTENT_KEY,
    Consistency,
    drop_missing_patients,
    inconsistent_records,
    label_cohort,
)
from racelens.shared.results import SkippedRow
from racelens.shared.tables import read_table, read_table_chunked

__all__ = ["mimic_iv_notes", "mimic_iii_notes", "from_table", "STANDARD_COLUMNS", "NO_ADMISSION"]

#: The note cohort's standard columns (DESIGN.md), payload ``text``.
STANDARD_COLUMNS = ("sample_id", "patient_id", "race", "race_raw", "text")
NO_ADMISSION = "no matching admission"


def _empty(text: pd.Series) -> pd.Series:
    return text.isna() | (text.astype(str).str.strip() == "")


def _finish(notes: pd.DataFrame, *, sample_col: str, text_col: str, race_col: str,
            patient_col: str, source: str, collapse: str, consistency: Consistency,
            excluded: Counter[str], n_input: int, dataset: str, raw_col: str | None = None,
            skipped: Iterable[SkippedRow] = ()) -> Cohort:
    """Skip empty notes, label (the one policy), and build the Cohort with standard columns."""
    notes = notes.reset_index(drop=True)
    empty = _empty(notes[text_col])
    skipped = (*skipped, *(SkippedRow(str(s), "empty note") for s in notes.loc[empty, sample_col]))
    notes = notes.loc[~empty]
    notes = drop_missing_patients(notes, patient_col, excluded, dataset)
    if notes.empty:
        raise DataError(f"{dataset}: no usable notes ({n_input} rows read, "
                        f"{len(skipped)} empty, {sum(excluded.values())} excluded)")
    lab = label_cohort(notes, race_col, patient_col, source=source,  # type: ignore[arg-type]
                       collapse=collapse, consistency=consistency, raw_col=raw_col, where=dataset)
    excluded.update(lab.excluded)
    t = lab.table
    out = pd.DataFrame({"sample_id": t[sample_col].astype(str).to_numpy(),
                        "patient_id": t[patient_col].to_numpy(),
                        "race": t["race"].to_numpy(), "race_raw": t["race_raw"].to_numpy(),
                        "text": t[text_col].astype(str).to_numpy()})
    raw = [c for c in t.columns
           if c not in (text_col, "race", "race_raw") and c not in out.columns]
    out = pd.concat([out, t[raw].reset_index(drop=True)], axis=1)
    return build_cohort(out, source=dataset, n_input_rows=n_input, excluded=excluded,
                        collapse=lab.collapse, groups_order=lab.groups_order, skipped=skipped,
                        payload="text")


def _drop_inconsistent(notes: pd.DataFrame, adm: pd.DataFrame, subject: str, race: str,
                       source: str, excluded: Counter[str]) -> pd.DataFrame:
    """Gichoya's rule over all of a patient's admissions, not only those with notes."""
    bad = inconsistent_records(adm, subject, race, source)  # type: ignore[arg-type]
    drop = notes[subject].astype(str).isin(bad)
    if drop.any():
        excluded[INCONSISTENT_KEY] += int(drop.sum())
    return notes.loc[~drop]


def _join(notes: pd.DataFrame, adm: pd.DataFrame, subject: str, hadm: str, race: str,
          join: str, excluded: Counter[str]) -> pd.DataFrame:
    if join == "hadm":
        a = adm.drop_duplicates(hadm)[[hadm, race]]
        out = notes.merge(a, on=hadm, how="left", validate="many_to_one")
    else:
        # a patient's race: the first admission whose race is recorded
        a = adm.dropna(subset=[race]).sort_values([subject, hadm]).drop_duplicates(subject)
        out = notes.merge(a[[subject, race]], on=subject, how="left", validate="many_to_one")
    missing = out[race].isna()
    if missing.any():
        excluded[NO_ADMISSION] += int(missing.sum())
    return out.loc[~missing]


def mimic_iv_notes(
    note_csv: str | os.PathLike[str],
    admissions_csv: str | os.PathLike[str],
    *,
    collapse: str = "abw",
    consistency: Consistency = "drop",
    join: Literal["hadm", "subject"] = "hadm",
    chunksize: int = 50_000,
) -> Cohort:
    """MIMIC-IV-Note ``discharge.csv.gz`` or ``radiology.csv.gz`` joined to ``admissions``.

    Parameters
    ----------
    note_csv
        ``note_id, subject_id, hadm_id, note_type, note_seq, charttime, storetime, text``.
    admissions_csv
        MIMIC-IV ``hosp/admissions.csv.gz`` (``subject_id, hadm_id, race``; ``ethnicity``
        before v2.0).
    collapse
        Race collapse (``abw``: Asian, Black, White).
    consistency
        ``drop`` patients whose race differs across their admissions (Gichoya), ``mode``, or
        ``none``.
    join
        ``hadm``: a note takes its admission's race (radiology notes without ``hadm_id`` are
        excluded); ``subject``: a note takes its patient's first recorded race.
    """
    if join not in ("hadm", "subject"):
        raise ConfigError(f"join must be 'hadm' or 'subject', got {join!r}")
    header = pd.read_csv(admissions_csv, nrows=0).columns
    race = "race" if "race" in header else "ethnicity" if "ethnicity" in header else None
    if race is None:
        raise DataError(f"{admissions_csv}: no 'race' (or 'ethnicity') column; "
                        "is this MIMIC-IV hosp/admissions.csv.gz?")
    source = "mimic-iv" if race == "race" else "mimic-iv-v1"
    ids = {"subject_id": "Int64", "hadm_id": "Int64"}
    adm = read_table(admissions_csv, columns=["subject_id", "hadm_id", race], dtype=ids)
    header = pd.read_csv(note_csv, nrows=0).columns
    cols = [c for c in ("note_id", "subject_id", "hadm_id", "note_type", "note_seq",
                        "charttime", "text") if c in header]
    notes, n_input, _ = read_table_chunked(note_csv, cols, chunk_rows=chunksize, dtype=ids)
    excluded: Counter[str] = Counter()
    if consistency == "drop":
        notes = _drop_inconsistent(notes, adm, "subject_id", race, source, excluded)
    notes = _join(notes, adm, "subject_id", "hadm_id", race, join, excluded)
    notes = notes.rename(columns={race: "race_source"})
    return _finish(notes, sample_col="note_id", text_col="text", race_col="race_source",
                   patient_col="subject_id", source=source, collapse=collapse,
                   consistency="none" if consistency == "drop" else consistency,
                   excluded=excluded, n_input=n_input,
                   dataset=f"mimic-iv-note:{os.path.basename(note_csv)}")


def mimic_iii_notes(
    noteevents_csv: str | os.PathLike[str],
    admissions_csv: str | os.PathLike[str],
    *,
    categories: Sequence[str] | None = ("Discharge summary",),
    one_per_admission: bool = False,
    drop_iserror: bool = True,
    collapse: str = "abw",
    consistency: Consistency = "drop",
    chunksize: int = 50_000,
) -> Cohort:
    """MIMIC-III ``NOTEEVENTS.csv.gz`` joined to ``ADMISSIONS.csv.gz`` (``ETHNICITY``).

    Parameters
    ----------
    categories
        ``CATEGORY`` values to keep (``None``: all); other rows are counted under
        ``"category not selected"``.
    one_per_admission
        Keep one note per admission: the ``Report`` (not an addendum) with the lowest
        ``ROW_ID``; the others are counted under ``"extra note of the admission"``.
    drop_iserror
        Exclude notes flagged ``ISERROR`` (counted under ``"ISERROR"``).
    """
    cats = None if categories is None else {c.strip().lower() for c in categories}
    keep = None if cats is None else (
        lambda ch: ch["CATEGORY"].astype(str).str.strip().str.lower().isin(cats).to_numpy())
    ids = {"SUBJECT_ID": "Int64", "HADM_ID": "Int64", "ROW_ID": "Int64"}
    cols = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "DESCRIPTION",
            "ISERROR", "TEXT"]
    notes, n_input, n_cat = read_table_chunked(noteevents_csv, cols, chunk_rows=chunksize,
                                               dtype=ids, keep=keep)
    excluded: Counter[str] = Counter()
    if n_cat:
        excluded["category not selected"] += n_cat
    if drop_iserror:
        err = notes["ISERROR"].fillna("").astype(str).str.strip().isin(["1", "1.0"])
        if err.any():
            excluded["ISERROR"] += int(err.sum())
        notes = notes.loc[~err]
    adm = read_table(admissions_csv, columns=["SUBJECT_ID", "HADM_ID", "ETHNICITY"], dtype=ids)
    if consistency == "drop":
        notes = _drop_inconsistent(notes, adm, "SUBJECT_ID", "ETHNICITY", "mimic-iii", excluded)
    notes = _join(notes, adm, "SUBJECT_ID", "HADM_ID", "ETHNICITY", "hadm", excluded)
    if one_per_admission:
        order = notes.assign(_addendum=notes["DESCRIPTION"].astype(str).str.strip() != "Report")
        order = order.sort_values(["HADM_ID", "_addendum", "ROW_ID"])
        first = order.drop_duplicates("HADM_ID").index
        extra = len(notes) - len(first)
        if extra:
            excluded["extra note of the admission"] += extra
        notes = notes.loc[notes.index.isin(first)]
    return _finish(notes, sample_col="ROW_ID", text_col="TEXT", race_col="ETHNICITY",
                   patient_col="SUBJECT_ID", source="mimic-iii", collapse=collapse,
                   consistency="none" if consistency == "drop" else consistency,
                   excluded=excluded, n_input=n_input, dataset="mimic-iii:NOTEEVENTS")


def from_table(
    table: pd.DataFrame | str | os.PathLike[str],
    *,
    text_col: str = "text",
    race_col: str = "race",
    patient_col: str = "patient_id",
    sample_col: str | None = None,
    race_source: str = "auto",
    collapse: str = "abw",
    consistency: Consistency = "drop",
    name: str | None = None,
) -> Cohort:
    """A note cohort from any table (or CSV/parquet/JSON-lines file) with text, race and patient.

    ``sample_col`` names a unique note id; without it notes are numbered by row (a cohort file's
    ``sample_id`` is used). A file written by :meth:`Cohort.write` (``racelens text cohort``) is
    read with its sidecar: the rows its join left out stay counted (``n_input_rows`` is the note
    export's), and its ``race_raw`` keeps the source string. ``name`` names the table in
    messages (default: a file's name, ``table`` for a data frame).
    """
    dataset = name or "table"
    prior: Cohort | None = None
    if not isinstance(table, pd.DataFrame):
        dataset = name or os.path.basename(str(table))
        if is_cohort_file(table):
            prior = Cohort.read(table, required=())
            table, dataset = prior.table, prior.source
            sample_col = sample_col or ("sample_id" if "sample_id" in table else None)
        else:
            table = read_table(table)
    missing = [c for c in (text_col, race_col, patient_col, sample_col) if c and c not in table]
    if missing:
        raise DataError(f"missing column(s) {missing}; the table has {list(table.columns)[:20]}; "
                        "name the right ones with --text-col/--label-col/--patient-col")
    df = table.reset_index(drop=True).copy()
    if sample_col is None:
        sample_col = "_row"
        df[sample_col] = df.index.astype(str)
    # a table whose race column is the canonical group keeps its source string in race_raw
    raw_col = "race_raw" if race_col == "race" and "race_raw" in df.columns else None
    if race_col == "race" or race_col == "race_raw":  # free the standard names
        df = df.rename(columns={race_col: "_race_source"})
        race_col = "_race_source"
    excluded: Counter[str] = Counter(prior.excluded if prior is not None else {})
    out = _finish(df, sample_col=sample_col, text_col=text_col, race_col=race_col,
                  patient_col=patient_col, source=race_source, collapse=collapse,
                  consistency=consistency, excluded=excluded,
                  n_input=prior.n_input_rows if prior is not None else len(df), dataset=dataset,
                  raw_col=raw_col, skipped=prior.skipped if prior is not None else ())
    drop = [c for c in ("_row", "_race_source") if c in out.table]
    return Cohort(out.table.drop(columns=drop), out.excluded, out.skipped, out.n_input_rows,
                  out.source, out.collapse, out.groups_order, out.extra, "text")
