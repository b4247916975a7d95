"""Imaging cohorts: one table per sample with racelens's standard columns, and every row accounted for.

Every loader returns the one :class:`racelens.shared.cohort.Cohort` (payload ``path``) whose
``table`` has the standard columns of DESIGN.md
(``sample_id``, ``patient_id``, ``race``, ``race_raw``, ``path`` as an absolute path, ``split`` when
the source has one, covariates ``age``, ``sex``, ``view`` and disease labels where the source has
them) beside the source's own raw columns. Rows left out by label or view rules are counted in
``excluded`` (by reason or raw race value), rows whose image file is missing are listed in
``skipped``; ``len(table) + sum(excluded) + len(skipped) == n_input_rows`` always holds (checked
by the Cohort). Labels go through the one policy (:func:`racelens.shared.labels.label_cohort`).

Sources: :func:`mimic_cxr`, :func:`chexpert`, :func:`from_dicom_folder` (in
``racelens.imaging.sources.archives``) and :func:`from_table` (here). A cohort is written as a
manifest (``manifest.parquet`` plus the ``manifest.json`` sidecar with the accounting) by
:func:`write_manifest` and read back by :func:`load_manifest`.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"path": ["a.png", "b.png"], "race": ["WHITE", "UNKNOWN"], "pid": [1, 2]})
>>> c = from_table(t, path_col="path", race_col="race", patient_col="pid", check_files=False)
>>> c.summary()["rows"], dict(c.excluded)
(1, {'UNKNOWN': 1})
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from racelens.errors import DataError
from racelens.shared.cohort import (
    MANIFEST_SCHEMA,
    Cohort,
    build_cohort,
    normalise_split,
    sidecar_path,
)
from racelens.shared.labels import (
    MISSING_PATIENT_KEY,
    Collapse,
    Consistency,
    LabelSource,
    drop_missing_patients,
    get_collapse,
    label_cohort,
)
from racelens.shared.tables import read_table

__all__ = [
    "STANDARD_COLUMNS",
    "MANIFEST_SCHEMA",
    "Cohort",
    "from_table",
    "finish_cohort",
    "write_manifest",
    "load_manifest",
    "manifest_sidecar",
    "absolute_paths",
    "normalise_sex",
    "drop_missing_patients",
    "MISSING_PATIENT_KEY",
]

logger = logging.getLogger(__name__)

#: The imaging cohort's standard columns (DESIGN.md), payload ``path``.
STANDARD_COLUMNS: tuple[str, ...] = ("sample_id", "patient_id", "race", "race_raw", "split",
                                     "path", "age", "sex", "view")
_SEX = {"f": "F", "female": "F", "m": "M", "male": "M"}


def normalise_sex(values: pd.Series) -> pd.Series:
    """``F``/``M`` from the sources' spellings (``F``, ``Female``, ``male``...); else missing."""
    return values.astype("string").str.strip().str.lower().map(_SEX).astype(object)


def finish_cohort(table: pd.DataFrame, *, source: str, n_input_rows: int,
                  excluded: Mapping[str, int], collapse: Collapse,
                  skipped: Sequence[tuple[str, str]] = (), check_files: bool = True,
                  extra: Mapping[str, Any] | None = None) -> Cohort:
    """Check files cheaply (``os.path.exists``), then build the :class:`Cohort`."""
    skipped = list(skipped)
    if check_files:
        exists = [os.path.exists(p) for p in table["path"]]
        missing = table.loc[[not e for e in exists], "sample_id"]
        skipped += [(str(s), "file not found") for s in missing]
        table = table.loc[exists]
    return build_cohort(table, source=source, n_input_rows=n_input_rows, excluded=excluded,
                        collapse=collapse.name, groups_order=collapse.groups, skipped=skipped,
                        payload="path", extra=extra)


def absolute_paths(values: pd.Series, base: str | os.PathLike[str]) -> pd.Series:
    """Absolute, normalised paths; relative ones resolved against ``base`` (no file access)."""
    base = os.fspath(base)
    return values.astype(str).map(lambda p: os.path.normpath(os.path.join(base, os.path.expanduser(p))))


# --- generic tables ---------------------------------------------------------------------------


def from_table(
    table: pd.DataFrame | str | os.PathLike[str],
    *,
    path_col: str,
    race_col: str,
    patient_col: str,
    race_source: LabelSource = "auto",
    collapse: str | Collapse = "abw",
    sample_col: str | None = None,
    split_col: str | None = None,
    consistency: Consistency = "drop",
    ethnicity_col: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    check_files: bool = True,
) -> Cohort:
    """A cohort from any CSV/parquet/JSONL table with a path, a race and a patient column.

    Parameters
    ----------
    table
        A table file or a DataFrame. Input rows are its rows.
    path_col, race_col, patient_col
        Image path, raw race string and patient identifier columns.
    race_source
        Vocabulary of ``race_col`` (``mimic-iv``, ``mimic-iii``, ``chexpert``, ``free-text`` or
        ``auto``).
    collapse
        Named collapse of :mod:`racelens.shared.labels` (default ``abw``).
    sample_col
        Unique sample identifier; default the path as written in the table.
    split_col
        Existing ``train``/``val``/``test`` assignment to keep (``validate``/``valid`` accepted).
    consistency
        What to do with patients whose race differs across rows (default: drop them).
    ethnicity_col
        Optional separate ethnicity column (sets the Hispanic flag).
    base_dir
        Folder relative paths are resolved against; default the table file's folder (or the
        working directory for a DataFrame).
    check_files
        Record rows whose file does not exist in ``skipped`` (``os.path.exists`` only).

    Rows with a missing or blank patient id are excluded (``"missing patient id"``).
    """
    if isinstance(table, pd.DataFrame):
        df, folder, where = table.copy(), Path.cwd(), "table"
    else:
        df, folder, where = read_table(table), Path(table).resolve().parent, str(table)
    needed = [path_col, race_col, patient_col] + [c for c in (sample_col, split_col, ethnicity_col) if c]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"{where} has no column(s) {missing}; its columns are "
                        f"{list(df.columns)[:20]}")
    if df.empty:
        raise DataError(f"{where} has no rows")
    n_input = len(df)
    excluded: Counter[str] = Counter()
    df = drop_missing_patients(df.reset_index(drop=True), patient_col, excluded, where)
    if race_col != "race" and "race" in df.columns:
        df = df.rename(columns={"race": "race_original"})
    labeled = label_cohort(df, race_col, patient_col, race_source, collapse, consistency,
                           ethnicity_col=ethnicity_col, where=where)
    excluded.update(labeled.excluded)
    out = labeled.table
    out["sample_id"] = (out[sample_col] if sample_col else out[path_col]).astype(str)
    out["patient_id"] = out[patient_col].astype(str)
    out["path"] = absolute_paths(out[path_col], base_dir if base_dir is not None else folder)
    if split_col:
        out["split"] = normalise_split(out[split_col], split_col)
    if "sex" in out.columns:
        out["sex"] = normalise_sex(out["sex"])
    return finish_cohort(out, source="table", n_input_rows=n_input, excluded=excluded,
                         collapse=get_collapse(collapse), check_files=check_files)


# --- manifests ----------------------------------------------------------------------------------


def manifest_sidecar(path: str | os.PathLike[str]) -> Path:
    """The sidecar JSON of a manifest: ``manifest.parquet`` -> ``manifest.json``."""
    return sidecar_path(path)


def write_manifest(cohort: Cohort, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write an imaging cohort as a manifest: parquet plus the sidecar (:meth:`Cohort.write`)."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"{path}: a manifest is a parquet file; name it e.g. manifest.parquet")
    return cohort.write(path)


def load_manifest(path: str | os.PathLike[str]) -> Cohort:
    """Read a manifest written by :func:`write_manifest` (or ``racelens imaging manifest``).

    :meth:`Cohort.read` with the ``path`` payload: without a sidecar the table is taken as the
    whole input (nothing excluded or skipped).

    Raises
    ------
    SchemaError
        When the sidecar is not a racelens manifest or no longer accounts for the table's rows.
    """
    return Cohort.read(path, payload="path")
