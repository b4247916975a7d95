"""The one Cohort of both modalities: a table with the standard columns, and every row accounted for.

A :class:`Cohort` holds one row per sample with DESIGN.md's standard columns (``sample_id``,
``patient_id``, ``race`` (the collapse group), ``race_raw`` (the source string), ``split`` when
set) and its payload: ``path`` (images) or ``text`` (notes), beside the source's own columns.
Rows left out by label rules are counted in ``excluded`` (by reason or raw value); rows whose
payload could not be used are listed in ``skipped``; ``len(table) + sum(excluded) +
len(skipped) == n_input_rows`` is checked here, once, whoever builds the cohort.

A cohort is written as a table in the format its suffix names, plus a JSON sidecar with the
accounting (:meth:`Cohort.write`), and read back with that accounting (:meth:`Cohort.read`), so
what a MIMIC join left out survives into an audit's ``result.json``.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"sample_id": ["a", "b"], "patient_id": ["1", "2"], "race": ["White", "Black"],
...                   "text": ["note a", "note b"]})
>>> c = Cohort(t, {"UNKNOWN": 1}, (), 3, "notes.csv", "abw", ("Asian", "Black", "White"))
>>> c.groups, c.payload
({'Asian': 0, 'Black': 1, 'White': 1}, 'text')
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from racelens.errors import DataError, SchemaError
from racelens.shared.results import DataSummary, SkippedRow
from racelens.shared.tables import (
    atomic_write_json,
    fingerprint_table,
    read_table,
    table_stem,
    write_table,
)

__all__ = [
    "Cohort",
    "Payload",
    "ordered_groups",
    "build_cohort",
    "order_columns",
    "normalise_split",
    "read_sidecar",
    "is_cohort_file",
    "sidecar_path",
    "STANDARD_COLUMNS",
    "MANIFEST_SCHEMA",
    "NOTES_SCHEMA",
]

logger = logging.getLogger(__name__)

Payload = Literal["path", "text"]
#: Standard columns first (those present), in this order; then the source's own columns.
STANDARD_COLUMNS: tuple[str, ...] = ("sample_id", "patient_id", "race", "race_raw", "split",
                                     "path", "text", "age", "sex", "view")
_ID_COLUMNS = ("sample_id", "patient_id", "race", "race_raw", "split")
MANIFEST_SCHEMA = "racelens.manifest/1"  # a cohort of images (``racelens imaging manifest``)
NOTES_SCHEMA = "racelens.notes/1"  # a cohort of notes (``racelens text cohort``)
_SCHEMAS: dict[str, Payload] = {MANIFEST_SCHEMA: "path", NOTES_SCHEMA: "text"}
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val",
           "validation": "val", "test": "test"}


def ordered_groups(groups: Iterable[object], order: Sequence[str] = ()) -> list[str]:
    """Race groups in report order: those of ``order`` (a collapse's groups) first, in its order,
    then any other group sorted by name.

    The one rule for the order of groups in cohorts, audits, checks and reports.

    >>> ordered_groups(["White", "Other", "Asian"], ("Asian", "Black", "White"))
    ['Asian', 'White', 'Other']
    """
    present = {str(g) for g in groups if not pd.isna(g)}
    return [g for g in order if g in present] + sorted(present - set(order))


def normalise_split(values: pd.Series, column: str = "split") -> pd.Series:
    """``train``/``val``/``test`` from the sources' spellings (``validate``, ``valid`` ...)."""
    norm = values.astype("string").str.strip().str.lower().map(_SPLITS)
    bad = values[norm.isna() & values.notna()]
    if len(bad):
        raise DataError(f"split column {column!r} has values {sorted(map(str, set(bad)))[:5]}; "
                        f"use train, val (or validate) and test")
    return norm.astype(object)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The accounting sidecar of a cohort table: ``manifest.parquet`` -> ``manifest.json``,
    ``notes.csv.gz`` -> ``notes.json``."""
    return table_stem(path).with_suffix(".json")


@dataclass(frozen=True)
class Cohort:
    """A labelled cohort (images or notes) and the accounting of every input row.

    Attributes
    ----------
    table
        One row per kept sample: standard columns first, then the source's raw columns.
    excluded
        Rows left out by label or filter rules, by reason or raw race value (``"view:LATERAL"``,
        ``"UNKNOWN"``, ``"inconsistent race across rows"``, ``"missing patient id"``).
    skipped
        :class:`~racelens.shared.results.SkippedRow` ``(sample_id, reason)`` for rows whose
        payload could not be used (plain pairs are accepted).
    n_input_rows
        Rows of the source's input table (documented per loader).
    source
        Where the rows came from: ``mimic-cxr``, ``chexpert``, ``dicom``, ``table``, a note
        file's name, ``mimic-iv-note:discharge.csv.gz``...
    collapse
        Name of the race collapse applied.
    groups_order
        The collapse's groups, in report order.
    extra
        Source-specific aggregates kept in the sidecar.
    payload
        ``path`` or ``text``; by default the one of the two columns the table has (``None``
        when it has neither, as for a bare label table).

    Raises
    ------
    DataError
        When the rows do not add up to ``n_input_rows`` (a bug in the loader).
    """

    table: pd.DataFrame
    excluded: Mapping[str, int]
    skipped: Sequence[SkippedRow]
    n_input_rows: int
    source: str = "table"
    collapse: str = "abw"
    groups_order: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    payload: Payload | None = None
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "excluded", {str(k): int(v) for k, v in self.excluded.items()})
        set_(self, "skipped", tuple(SkippedRow(str(s), str(r)) for s, r in self.skipped))
        set_(self, "n_input_rows", int(self.n_input_rows))
        set_(self, "groups_order", tuple(self.groups_order))
        if self.payload is None:
            set_(self, "payload", next((p for p in ("path", "text") if p in self.table.columns),
                                       None))
        accounted = len(self.table) + sum(self.excluded.values()) + len(self.skipped)
        if accounted != self.n_input_rows:
            raise DataError(f"{self.source} cohort accounts for {accounted} rows but the input has "
                            f"{self.n_input_rows}; this is a bug in the loader, please report it")

    @property
    def groups(self) -> dict[str, int]:
        """Rows per race group, in :func:`ordered_groups` order; the collapse's groups always
        appear (0 when no row is left)."""
        counts = self.table["race"].value_counts()
        order = ordered_groups([*self.groups_order, *counts.index], self.groups_order)
        return {g: int(counts.get(g, 0)) for g in order}

    def fingerprint(self) -> str:
        """Order-independent SHA-256 of the identifying columns (ids, race, split, payload).

        Computed once per cohort (the table is not changed in place; a changed table is a new
        cohort).
        """
        if "fingerprint" not in self._memo:
            cols = [*_ID_COLUMNS, *([self.payload] if self.payload else [])]
            self._memo["fingerprint"] = fingerprint_table(self.table, cols)
        return str(self._memo["fingerprint"])

    @property
    def n_patients(self) -> int:
        """Distinct patients among the kept rows."""
        return int(self.table["patient_id"].nunique())

    def summary(self) -> dict[str, Any]:
        """Aggregates only: rows, patients, groups, excluded by reason, skipped count."""
        return {"source": self.source, "rows": len(self.table), "patients": self.n_patients,
                "groups": self.groups, "excluded": dict(self.excluded),
                "skipped": len(self.skipped), "n_input_rows": self.n_input_rows,
                "collapse": self.collapse}

    def data_summary(self, dataset: str | None = None) -> DataSummary:
        """The ``data`` block of ``result.json`` for this cohort."""
        return DataSummary(len(self.table), self.n_patients, self.groups, dict(self.excluded),
                           self.skipped, self.fingerprint(), dataset or self.source)

    def with_split(self, split: pd.Series | Sequence[str]) -> Cohort:
        """A copy whose table has ``split`` set (values ``train``/``val``/``test``)."""
        table = self.table.copy()
        table["split"] = normalise_split(pd.Series(list(split), index=table.index), "split")
        return replace(self, table=order_columns(table))

    def to_dataset(self, columns: Sequence[str] | None = None) -> Any:
        """The cohort as a :class:`datasets.Dataset` (standard columns and payload)."""
        import datasets

        cols = list(columns) if columns is not None else [
            c for c in (*_ID_COLUMNS, *([self.payload] if self.payload else []))
            if c in self.table.columns]
        df = self.table[cols].copy()
        for c in ("sample_id", "patient_id"):
            if c in df:
                df[c] = df[c].astype(str)
        return datasets.Dataset.from_pandas(df, preserve_index=False)

    # --- files ----------------------------------------------------------------------------------

    def sidecar(self) -> dict[str, Any]:
        """The accounting written beside the table (aggregates, skipped ids and reasons)."""
        return {"schema": NOTES_SCHEMA if self.payload == "text" else MANIFEST_SCHEMA,
                **self.summary(), "n_samples": len(self.table), "n_patients": self.n_patients,
                "groups_order": list(self.groups_order),
                "skipped": [s.to_dict() for s in self.skipped],
                "skipped_by_reason": dict(Counter(s.reason for s in self.skipped)),
                "fingerprint": self.fingerprint(), "extra": dict(self.extra),
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}

    def write(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the table (format by suffix) and the sidecar JSON beside it, atomically.

        Returns the table's and the sidecar's paths.
        """
        path = write_table(path, self.table)
        side = sidecar_path(path)
        atomic_write_json(side, self.sidecar())
        return path, side

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, payload: Payload | None = None,
             required: Sequence[str] = ("sample_id", "patient_id", "race")) -> Cohort:
        """Read a cohort written by :meth:`write` (or ``racelens imaging manifest`` / ``text
        cohort``), with its accounting.

        Without a sidecar the table is taken as the whole input (nothing excluded or skipped).
        Sidecars written before the notes sidecar listed skipped ids are read too (their skipped
        rows keep the reason, not the id).

        Raises
        ------
        SchemaError
            When the table lacks the standard columns, the sidecar is not a racelens cohort
            sidecar, or it no longer accounts for the table's rows.
        """
        path = Path(path)
        table = read_table(path)
        need = [*required, *([payload] if payload else [])]
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise SchemaError(f"{path}: not a racelens cohort table, missing column(s) {missing}")
        for c in ("sample_id", "patient_id"):
            if c in table.columns:
                table[c] = table[c].astype(str)
        side = sidecar_path(path)
        if not side.exists():
            logger.warning("%s: no sidecar %s; counting the table as the whole input", path,
                           side.name)
            return cls(table, {}, (), len(table), "manifest", "custom",
                       tuple(ordered_groups(table["race"].dropna().unique())), payload=payload)
        meta = read_sidecar(side)
        skipped = [(str(s["sample_id"]), str(s["reason"])) for s in meta.get("skipped") or []]
        if not isinstance(meta.get("skipped"), list):  # an older notes sidecar: reasons only
            skipped = [("", str(r)) for r, n in meta.get("skipped_by_reason", {}).items()
                       for _ in range(int(n))]
        try:
            cohort = cls(table, dict(meta.get("excluded", {})), skipped, int(meta["n_input_rows"]),
                         str(meta.get("source", meta.get("dataset", "manifest"))),
                         str(meta.get("collapse", "abw")), tuple(meta.get("groups_order", ())),
                         dict(meta.get("extra", {})), payload or _SCHEMAS[meta["schema"]])
        except DataError as exc:
            raise SchemaError(f"{path}: rows were added or removed after the cohort was written "
                              f"({exc}); rebuild it with `racelens imaging manifest` or "
                              "`racelens text cohort`") from exc
        if meta.get("fingerprint") and meta["fingerprint"] != cohort.fingerprint():
            logger.warning("%s: the table changed since the cohort was written (fingerprint "
                           "differs)", path)
        return cohort


def is_cohort_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has a racelens cohort sidecar beside it (written by
    :meth:`Cohort.write`); an unrelated JSON file of the same name is not one."""
    side = sidecar_path(path)
    if not side.is_file():
        return False
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("schema") in _SCHEMAS


def read_sidecar(side: Path) -> dict[str, Any]:
    """The sidecar's JSON, checked to be a racelens cohort sidecar (:class:`SchemaError`)."""
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{side}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("schema") not in _SCHEMAS:
        found = meta.get("schema") if isinstance(meta, dict) else None
        raise SchemaError(f"{side}: schema is {found!r}, expected one of {sorted(_SCHEMAS)}")
    if "n_input_rows" not in meta:
        raise SchemaError(f"{side}: has no 'n_input_rows'")
    return meta


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Standard columns first (:data:`STANDARD_COLUMNS`), then the others; index reset."""
    first = [c for c in STANDARD_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)


def build_cohort(table: pd.DataFrame, *, source: str, n_input_rows: int,
                 excluded: Mapping[str, int], collapse: str, groups_order: Sequence[str],
                 skipped: Sequence[tuple[str, str]] = (), payload: Payload | None = None,
                 extra: Mapping[str, Any] | None = None) -> Cohort:
    """The last step of every source: ids as text and unique, split normalised, standard columns
    first, and the :class:`Cohort` (whose accounting check runs here)."""
    table = table.copy()
    table["sample_id"] = table["sample_id"].astype(str)
    table["patient_id"] = table["patient_id"].astype(str)
    dup = table["sample_id"].duplicated()
    if dup.any():
        raise DataError(f"{source}: {int(dup.sum())} duplicate sample ids (e.g. "
                        f"{table.loc[dup, 'sample_id'].iloc[0]!r}); sample ids are not unique, "
                        "give a unique sample column")
    if "split" in table.columns:
        table["split"] = normalise_split(table["split"], "split")
    cohort = Cohort(order_columns(table), dict(Counter(excluded).most_common()), tuple(skipped),
                    int(n_input_rows), source, collapse, tuple(groups_order), dict(extra or {}),
                    payload)
    logger.info("%s cohort: %d of %d input rows kept, %d excluded, %d skipped", source,
                len(cohort.table), n_input_rows, sum(cohort.excluded.values()),
                len(cohort.skipped))
    return cohort
