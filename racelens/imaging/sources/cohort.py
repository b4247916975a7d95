"""Imaging cohorts: one table per sample with racelens's standard columns, and every row accounted for.

Every loader returns a :class:`Cohort` whose ``table`` has the standard columns of DESIGN.md
(``sample_id``, ``patient_id``, ``race``, ``race_raw``, ``path`` as an absolute path, ``split`` when
the source has one, covariates ``age``, ``sex``, ``view`` and disease labels where the source has
them) beside the source's own raw columns. Rows left out by label or view rules are counted in
``excluded`` (by reason or raw race value), rows whose image file is missing are listed in
``skipped``; ``len(table) + sum(excluded) + len(skipped) == n_input_rows`` always holds.

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

import datetime as _dt
import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from racelens.errors import DataError, SchemaError
from racelens.shared.labels import COLLAPSES, Collapse, LabelSource, label_cohort
from racelens.shared.results import DataSummary, SkippedRow
from racelens.shared.tables import (
    atomic_write_json,
    atomic_write_parquet,
    fingerprint_table,
    read_table,
)

if TYPE_CHECKING:  # resolved lazily by __getattr__ at the end (cohort_sources imports this module)
    from racelens.imaging.sources.archives import chexpert, from_dicom_folder, mimic_cxr

__all__ = [
    "STANDARD_COLUMNS",
    "MANIFEST_SCHEMA",
    "Cohort",
    "from_table",
    "mimic_cxr",
    "chexpert",
    "from_dicom_folder",
    "write_manifest",
    "load_manifest",
    "manifest_sidecar",
    "MISSING_PATIENT_KEY",
]

logger = logging.getLogger(__name__)

STANDARD_COLUMNS: tuple[str, ...] = ("sample_id", "patient_id", "race", "race_raw", "split",
                                     "path", "age", "sex", "view")
_FINGERPRINT_COLUMNS = ("sample_id", "patient_id", "race", "race_raw", "split", "path")
MANIFEST_SCHEMA = "racelens.manifest/1"
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val",
           "validation": "val", "test": "test"}
_SEX = {"f": "F", "female": "F", "m": "M", "male": "M"}
#: The ``excluded`` reason of rows without a patient id (missing or blank).
MISSING_PATIENT_KEY = "missing patient id"


@dataclass(frozen=True)
class Cohort:
    """A labelled imaging cohort and the accounting of every input row.

    Attributes
    ----------
    table
        One row per kept sample: standard columns first, then the source's raw columns.
    excluded
        Rows left out by label or view rules, by reason or raw race value (``"view:LATERAL"``,
        ``"UNKNOWN"``, ``"inconsistent race across rows"``, ``"missing patient id"``).
    skipped
        ``(sample_id, reason)`` for rows whose image file could not be used.
    n_input_rows
        Rows of the source's input table (documented per loader).
    source
        ``mimic-cxr``, ``chexpert``, ``table`` or ``dicom``.
    collapse
        Name of the race collapse applied.
    groups_order
        The collapse's groups, in report order.
    """

    table: pd.DataFrame
    excluded: Mapping[str, int]
    skipped: tuple[tuple[str, str], ...]
    n_input_rows: int
    source: str
    collapse: str = "abw"
    groups_order: tuple[str, ...] = COLLAPSES["abw"].groups
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        accounted = len(self.table) + sum(self.excluded.values()) + len(self.skipped)
        if accounted != self.n_input_rows:
            raise DataError(f"{self.source} cohort accounts for {accounted} rows but the input has "
                            f"{self.n_input_rows}; this is a bug in the loader, please report it")

    @property
    def groups(self) -> dict[str, int]:
        """Rows per race group, in the collapse's order."""
        counts = self.table["race"].value_counts()
        order = list(self.groups_order) + sorted(set(counts.index) - set(self.groups_order))
        return {g: int(counts.get(g, 0)) for g in order}

    def fingerprint(self) -> str:
        """Order-independent SHA-256 of the identifying columns (ids, race, split, path)."""
        return fingerprint_table(self.table, _FINGERPRINT_COLUMNS)

    def summary(self) -> dict[str, Any]:
        """Aggregates only: rows, patients, groups, excluded by reason, skipped count."""
        return {"source": self.source, "rows": len(self.table),
                "patients": int(self.table["patient_id"].nunique()), "groups": self.groups,
                "excluded": dict(self.excluded), "skipped": len(self.skipped),
                "n_input_rows": int(self.n_input_rows), "collapse": self.collapse}

    def data_summary(self, dataset: str | None = None) -> DataSummary:
        """The ``data`` block of ``result.json`` for this cohort."""
        return DataSummary(len(self.table), int(self.table["patient_id"].nunique()), self.groups,
                           dict(self.excluded), tuple(SkippedRow(s, r) for s, r in self.skipped),
                           self.fingerprint(), dataset or self.source)

    def with_split(self, split: pd.Series | Sequence[str]) -> Cohort:
        """A copy whose table has ``split`` set (values ``train``/``val``/``test``)."""
        table = self.table.copy()
        table["split"] = _normalise_split(pd.Series(list(split), index=table.index), "split")
        return replace(self, table=_order_columns(table))


# --- shared helpers for the loaders ------------------------------------------------------------


def _normalise_split(values: pd.Series, column: str) -> pd.Series:
    norm = values.astype("string").str.strip().str.lower().map(_SPLITS)
    bad = values[norm.isna() & values.notna()]
    if len(bad):
        raise DataError(f"split column {column!r} has values {sorted(map(str, set(bad)))[:5]}; "
                        f"use train, val (or validate) and test")
    return norm.astype(object)


def normalise_sex(values: pd.Series) -> pd.Series:
    """``F``/``M`` from the sources' spellings (``F``, ``Female``, ``male``...); else missing."""
    return values.astype("string").str.strip().str.lower().map(_SEX).astype(object)


def _order_columns(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in STANDARD_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)


def finish_cohort(table: pd.DataFrame, *, source: str, n_input_rows: int,
                  excluded: Mapping[str, int], collapse: Collapse,
                  skipped: Sequence[tuple[str, str]] = (), check_files: bool = True,
                  extra: Mapping[str, Any] | None = None) -> Cohort:
    """Check files cheaply (``os.path.exists``), order columns and build the :class:`Cohort`."""
    table = table.copy()
    table["sample_id"] = table["sample_id"].astype(str)
    table["patient_id"] = table["patient_id"].astype(str)
    dup = table["sample_id"].duplicated()
    if dup.any():
        raise DataError(f"{source}: {int(dup.sum())} duplicate sample ids (e.g. "
                        f"{table.loc[dup, 'sample_id'].iloc[0]!r}); give a unique sample column")
    skipped = list(skipped)
    if check_files:
        exists = [os.path.exists(p) for p in table["path"]]
        missing = table.loc[[not e for e in exists], "sample_id"]
        skipped += [(s, "file not found") for s in missing]
        table = table.loc[exists]
    if "split" in table.columns:
        table["split"] = _normalise_split(table["split"], "split")
    n_left = len(table)
    table = _order_columns(table)
    cohort = Cohort(table, dict(Counter(excluded).most_common()), tuple(skipped), int(n_input_rows),
                    source, collapse.name, collapse.groups, dict(extra or {}))
    logger.info("%s cohort: %d of %d input rows kept, %d excluded, %d skipped", source, n_left,
                n_input_rows, sum(excluded.values()), len(skipped))
    return cohort


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
    consistency: Literal["drop", "mode", "none"] = "drop",
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
                           ethnicity_col=ethnicity_col)
    excluded.update(labeled.excluded)
    out = labeled.table
    out["sample_id"] = (out[sample_col] if sample_col else out[path_col]).astype(str)
    out["patient_id"] = out[patient_col].astype(str)
    out["path"] = absolute_paths(out[path_col], base_dir if base_dir is not None else folder)
    if split_col:
        out["split"] = _normalise_split(out[split_col], split_col)
    if "sex" in out.columns:
        out["sex"] = normalise_sex(out["sex"])
    return finish_cohort(out, source="table", n_input_rows=n_input, excluded=excluded,
                         collapse=labeled.collapse, check_files=check_files)


# --- manifests ----------------------------------------------------------------------------------


def manifest_sidecar(path: str | os.PathLike[str]) -> Path:
    """The sidecar JSON of a manifest: ``manifest.parquet`` -> ``manifest.json``."""
    return Path(path).with_suffix(".json")


def write_manifest(cohort: Cohort, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``cohort.table`` to parquet and the accounting to the sidecar JSON, atomically."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"{path}: a manifest is a parquet file; name it e.g. manifest.parquet")
    sidecar = manifest_sidecar(path)
    atomic_write_parquet(path, cohort.table)
    meta = {"schema": MANIFEST_SCHEMA, **cohort.summary(), "groups_order": list(cohort.groups_order),
            "skipped": [{"sample_id": s, "reason": r} for s, r in cohort.skipped],
            "fingerprint": cohort.fingerprint(), "extra": dict(cohort.extra),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    atomic_write_json(sidecar, meta)
    return path, sidecar


def load_manifest(path: str | os.PathLike[str]) -> Cohort:
    """Read a manifest written by :func:`write_manifest` (or ``racelens imaging manifest``).

    Without a sidecar the table is taken as the whole input (nothing excluded or skipped).

    Raises
    ------
    SchemaError
        When the sidecar is not a racelens manifest or no longer accounts for the table's rows.
    """
    path = Path(path)
    table = read_table(path)
    missing = [c for c in ("sample_id", "patient_id", "race", "path") if c not in table.columns]
    if missing:
        raise SchemaError(f"{path}: not a racelens manifest, missing column(s) {missing}")
    sidecar = manifest_sidecar(path)
    if not sidecar.exists():
        logger.warning("%s: no sidecar %s; counting the table as the whole input", path, sidecar.name)
        return Cohort(table, {}, (), len(table), "manifest", "custom",
                      tuple(sorted(table["race"].dropna().unique())))
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{sidecar}: not valid JSON ({exc})") from exc
    if meta.get("schema") != MANIFEST_SCHEMA:
        raise SchemaError(f"{sidecar}: schema is {meta.get('schema')!r}, expected {MANIFEST_SCHEMA!r}")
    skipped = tuple((str(s["sample_id"]), str(s["reason"])) for s in meta.get("skipped", []))
    try:
        cohort = Cohort(table, dict(meta.get("excluded", {})), skipped, int(meta["n_input_rows"]),
                        str(meta.get("source", "manifest")), str(meta.get("collapse", "abw")),
                        tuple(meta.get("groups_order", ())), dict(meta.get("extra", {})))
    except DataError as exc:
        raise SchemaError(f"{path}: rows were added or removed after the manifest was written "
                          f"({exc}); rebuild it with `racelens imaging manifest`") from exc
    if meta.get("fingerprint") and meta["fingerprint"] != cohort.fingerprint():
        logger.warning("%s: the table changed since the manifest was written (fingerprint differs)",
                       path)
    return cohort


_SOURCES = ("mimic_cxr", "chexpert", "from_dicom_folder")


def __getattr__(name: str) -> Any:
    # the source loaders live in cohort_sources, which imports this module: resolve lazily
    if name in _SOURCES:
        from racelens.imaging.sources import archives as cohort_sources

        return getattr(cohort_sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
