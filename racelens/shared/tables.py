"""The one table reader/writer: whole or chunked reading, atomic writes, one fingerprint.

Outputs are written to a temporary file in the destination folder and renamed into place, so a
reader never sees a half-written file and an interrupted run never leaves one that looks finished.
A table is written in the format its name says (:data:`WRITE_SUFFIXES`: ``.csv``, ``.csv.gz``,
``.jsonl``, ``.parquet``); any other name is refused before anything is written. Large tables are
read in chunks (:func:`iter_table_chunks`) and written chunk by chunk (:func:`table_writer`), so
memory is one chunk whatever the file's size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.shared.atomic import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_writable_dir,
    json_default,
)

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_parquet",
    "read_table",
    "read_table_chunked",
    "iter_table_chunks",
    "table_kind",
    "write_table",
    "table_writer",
    "TableWriter",
    "table_stem",
    "check_write_suffix",
    "require_columns",
    "fingerprint_table",
    "TABLE_SUFFIXES",
    "WRITE_SUFFIXES",
    "check_writable_dir",
    "json_default",
]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq", ".jsonl", ".json", ".xlsx")
#: What a table may be written as; the format follows the suffix.
WRITE_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".parquet")
TableKind = Literal["csv", "parquet", "jsonl"]
# suffix -> streamed format, longest first so ".csv.gz" is not taken for ".gz"
_STREAMED: tuple[tuple[str, TableKind], ...] = (
    (".csv.gz", "csv"), (".jsonl.gz", "jsonl"), (".csv", "csv"), (".parquet", "parquet"),
    (".pq", "parquet"), (".jsonl", "jsonl"), (".ndjson", "jsonl"))
_WRITTEN: dict[str, TableKind] = {".csv.gz": "csv", ".csv": "csv", ".jsonl": "jsonl",
                                  ".parquet": "parquet", ".pq": "parquet"}


def atomic_write_parquet(path: str | os.PathLike[str], df: pd.DataFrame) -> Path:
    """Write ``df`` to parquet atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def read_table(path: str | os.PathLike[str], *, columns: Iterable[str] | None = None,
               dtype: Any = None) -> pd.DataFrame:
    """Read a CSV (optionally gzipped), TSV, parquet, JSON-lines or Excel table.

    Raises
    ------
    DataError
        When the file is missing, has an unknown suffix or cannot be parsed; the message names it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a table file")
    name = path.name.lower()
    cols = list(columns) if columns is not None else None
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(path, columns=cols)
        elif name.endswith((".csv", ".csv.gz")):
            df = pd.read_csv(path, usecols=cols, dtype=dtype, low_memory=False)
        elif name.endswith((".tsv", ".tsv.gz")):
            df = pd.read_csv(path, sep="\t", usecols=cols, dtype=dtype, low_memory=False)
        elif name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            df = pd.read_json(path, lines=True, dtype=dtype)
        elif name.endswith(".json"):
            df = pd.read_json(path, dtype=dtype)
        elif name.endswith((".xlsx", ".xls")):
            df = pd.read_excel(path, usecols=cols, dtype=dtype)
        else:
            raise DataError(
                f"{path}: unknown table format; use .csv, .csv.gz, .tsv, .parquet, .jsonl or .xlsx"
            )
    except DataError:
        raise
    except ValueError as exc:
        raise DataError(f"{path}: cannot read table ({exc})") from exc
    except Exception as exc:  # parsers raise many types; name the file either way
        raise DataError(f"{path}: cannot read table ({type(exc).__name__}: {exc})") from exc
    if cols is not None:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
        df = df[cols]
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str], where: str | None = None) -> None:
    """A :class:`DataError` naming ``where`` and the missing columns, if any is missing."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}missing column(s) {missing}; the table has "
                        f"{list(df.columns)[:20]}")


def table_kind(path: str | os.PathLike[str]) -> TableKind:
    """The streamed format of ``path`` by suffix: ``csv``, ``parquet`` or ``jsonl``.

    Raises
    ------
    DataError
        For any other suffix.
    """
    name = Path(path).name.lower()
    for suffix, kind in _STREAMED:
        if name.endswith(suffix):
            return kind
    raise DataError(f"{path}: unknown note table format; use .csv, .csv.gz, .parquet, .jsonl")


def iter_table_chunks(path: str | os.PathLike[str], chunk_rows: int = 10_000, *,
                      columns: Sequence[str] | None = None,
                      encoding_errors: Literal["replace", "strict"] = "replace") -> Iterator[Any]:
    """Yield a CSV, parquet or JSON-lines file as Arrow tables of at most ``chunk_rows`` rows.

    CSV columns are read as strings (CSV carries no types, and types guessed per chunk would
    disagree between chunks); parquet keeps its schema; JSON lines take the first chunk's types.
    Memory is one chunk (and, for parquet, the row group being decoded), whatever the file's size.

    Parameters
    ----------
    columns
        Read only these columns (in this order); a missing one is a :class:`DataError`.
    encoding_errors
        ``replace`` (default): bytes that are not UTF-8 become U+FFFD, so one bad byte does not
        stop a multi-gigabyte run (callers count the replaced notes); ``strict``: refuse them.
    """
    import pyarrow as pa

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    kind = table_kind(path)
    cols = list(columns) if columns is not None else None
    try:
        for table in _raw_chunks(path, kind, chunk_rows, cols, encoding_errors):
            if cols is not None:
                missing = [c for c in cols if c not in table.column_names]
                if missing:
                    raise DataError(f"{path}: missing column(s) {missing}; found "
                                    f"{table.column_names}")
                table = table.select(cols)
            yield table
    except (DataError, ConfigError):
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid utf-8 ({exc.reason} at byte {exc.start}); "
                        "re-encode the file as UTF-8") from exc
    except (pa.ArrowException, pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read note table ({type(exc).__name__}: {exc})") from exc


def _raw_chunks(path: Path, kind: TableKind, chunk_rows: int, cols: list[str] | None,
                errors: str) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "parquet":
        # pre_buffer=False: a pre-buffering reader keeps every row group's bytes it has read
        # in its cache until it is closed (apache/arrow#39808), so memory grew with the file.
        with pq.ParquetFile(path, pre_buffer=False) as pf:
            names = pf.schema_arrow.names
            use = [c for c in cols if c in names] if cols is not None else None
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=use):
                yield pa.Table.from_batches([batch])
    elif kind == "csv":
        usecols = (lambda c: c in cols) if cols is not None else None
        with pd.read_csv(path, chunksize=chunk_rows, dtype=str, encoding="utf-8",
                         encoding_errors=errors, usecols=usecols) as reader:
            for df in reader:
                yield pa.Table.from_pandas(df, preserve_index=False)
    else:
        yield from _jsonl_chunks(path, chunk_rows, errors)


def _jsonl_chunks(path: Path, chunk_rows: int, errors: str) -> Iterator[Any]:
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    schema: Any = None
    with opener(path, "rt", encoding="utf-8", errors=errors) as fh:
        rows: list[dict[str, Any]] = []
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if len(rows) == chunk_rows:
                schema, table = _jsonl_table(rows, schema, path)
                yield table
                rows = []
        if rows or schema is None:
            yield _jsonl_table(rows, schema, path)[1]


def _jsonl_table(rows: list[dict[str, Any]], schema: Any, path: Path) -> tuple[Any, Any]:
    import pyarrow as pa

    if schema is None:
        table = pa.Table.from_pylist(rows)
        # An all-null column in the first chunk becomes a string column.
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                            for f in table.schema])
    try:
        return schema, pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowException, TypeError) as exc:
        raise DataError(f"{path}: JSON lines change type between rows ({exc}); "
                        "convert the file to parquet or CSV first") from exc


def read_table_chunked(
    path: str | os.PathLike[str], columns: Sequence[str], *, chunk_rows: int = 50_000,
    dtype: Mapping[str, Any] | None = None, keep: Callable[[pd.DataFrame], Any] | None = None,
) -> tuple[pd.DataFrame, int, int]:
    """Read ``columns`` of a table chunk by chunk, keeping rows where ``keep(chunk)`` is true.

    A filter (MIMIC-III note categories) then never holds the whole file in memory. Bytes that
    are not UTF-8 are refused (a cohort's notes must be read faithfully).

    Returns
    -------
    table, n_read, n_dropped
        The kept rows (``dtype`` applied per column), the rows read and the rows filtered out.
    """
    parts: list[pd.DataFrame] = []
    n_read = n_dropped = 0
    types = dict(dtype or {})
    for chunk in iter_table_chunks(path, chunk_rows, columns=columns, encoding_errors="strict"):
        df = chunk.to_pandas()
        try:
            df = df.astype({c: t for c, t in types.items() if c in df.columns})
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: cannot read columns {list(columns)} as {types} ({exc}); "
                            "is this the right file?") from exc
        n_read += len(df)
        if keep is not None:
            mask = np.asarray(keep(df), dtype=bool)
            n_dropped += int((~mask).sum())
            df = df.loc[mask]
        parts.append(df)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))
    return table, n_read, n_dropped


# --- writing ------------------------------------------------------------------------------------


def _write_kind(path: Path) -> TableKind:
    name = path.name.lower()
    for suffix, kind in _WRITTEN.items():
        if name.endswith(suffix):
            return kind
    raise ConfigError(f"{path}: cannot tell the table format from the name; end it in "
                      f"{', '.join(WRITE_SUFFIXES)}")


def check_write_suffix(path: str | os.PathLike[str]) -> Path:
    """``path`` if its suffix names a table format racelens writes, else :class:`ConfigError`.

    Commands call it before the work, so a wrong ``--out`` fails at once.
    """
    _write_kind(Path(path))
    return Path(path)


def table_stem(path: str | os.PathLike[str]) -> Path:
    """``path`` without its table suffix: ``notes.csv.gz`` -> ``notes``, ``m.parquet`` -> ``m``."""
    path = Path(path)
    name = path.name
    for suffix in (*_WRITTEN, *(s for s, _ in _STREAMED)):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path.with_suffix("")


class TableWriter:
    """Appends Arrow tables or DataFrames to one open table file in the format of its suffix.

    Made by :func:`table_writer`; the first chunk fixes the columns (parquet: the schema; later
    chunks are cast to it).
    """

    def __init__(self, path: Path, kind: TableKind, display: Path) -> None:
        self.path, self.kind, self.display = path, kind, display
        self.rows = 0
        self._parquet: Any = None
        self._fh: Any = None

    def write(self, chunk: Any) -> None:
        """Append one chunk (a :class:`pyarrow.Table` or a :class:`pandas.DataFrame`)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.kind == "parquet":
            table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_pandas(
                chunk, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            elif not table.schema.equals(self._parquet.schema):
                try:
                    table = table.cast(self._parquet.schema)
                except (pa.ArrowException, ValueError) as exc:
                    raise DataError(f"{self.display}: a chunk has other column types than the "
                                    f"first ({exc}); convert the input to parquet first") from exc
            self._parquet.write_table(table)
            self.rows += table.num_rows
            return
        df = chunk.to_pandas() if isinstance(chunk, pa.Table) else chunk
        if self._fh is None:
            gz = self.display.name.lower().endswith(".gz")
            opener: Callable[..., Any] = gzip.open if gz else open
            self._fh = opener(self.path, "wt", encoding="utf-8", newline="")
            header = True
        else:
            header = False
        if self.kind == "csv":
            df.to_csv(self._fh, index=False, header=header)
        elif len(df):
            self._fh.write(df.to_json(orient="records", lines=True, force_ascii=False,
                                      date_format="iso", default_handler=str))
            self._fh.write("\n")
        self.rows += len(df)

    def close(self, empty_columns: Sequence[str] = ()) -> None:
        """Finish the file; with nothing written, an empty table of ``empty_columns``."""
        if self.kind == "parquet" and self._parquet is None:
            import pyarrow as pa

            self.write(pa.table({c: pa.array([], pa.string()) for c in empty_columns}))
        elif self.kind != "parquet" and self._fh is None:
            self.write(pd.DataFrame(columns=list(empty_columns)))
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.flush()
            if hasattr(self._fh, "fileno"):
                os.fsync(self._fh.fileno())
            self._fh.close()


@contextmanager
def table_writer(path: str | os.PathLike[str], *,
                 empty_columns: Sequence[str] = ()) -> Iterator[TableWriter]:
    """A :class:`TableWriter` onto a temporary file renamed onto ``path`` when the block ends.

    The format follows the suffix (:data:`WRITE_SUFFIXES`); memory is one chunk.

    Raises
    ------
    ConfigError
        When the suffix names no format racelens writes (before anything is written).

    Example
    -------
    >>> with table_writer(tmp / "notes.csv.gz") as w:  # doctest: +SKIP
    ...     for chunk in iter_table_chunks(src):
    ...         w.write(chunk)
    """
    path = Path(path)
    kind = _write_kind(path)
    with atomic_path(path) as tmp:
        writer = TableWriter(tmp, kind, path)
        try:
            yield writer
        finally:
            # closed on error too, so the temporary file can be removed
            writer.close(empty_columns)


def write_table(path: str | os.PathLike[str], df: pd.DataFrame) -> Path:
    """Write ``df`` atomically in the format of ``path``'s suffix (:data:`WRITE_SUFFIXES`).

    Raises
    ------
    ConfigError
        When the suffix names no format racelens writes.
    """
    path = Path(path)
    if _write_kind(path) == "parquet":
        return atomic_write_parquet(path, df)
    with table_writer(path, empty_columns=list(df.columns)) as w:
        w.write(df)
    return path


def fingerprint_table(df: pd.DataFrame, columns: Iterable[str] | None = None) -> str:
    """SHA-256 of the chosen columns of ``df``, independent of row order.

    Rows are hashed one by one and the sorted row hashes are hashed again, so shuffling a
    manifest keeps its fingerprint while changing any value changes it.
    """
    cols = [c for c in (columns if columns is not None else df.columns) if c in df.columns]
    # np.sort copies: pandas' copy-on-write hands out read-only views.
    row_hashes = np.sort(pd.util.hash_pandas_object(df[cols].astype("string"), index=False).to_numpy())
    h = hashlib.sha256()
    h.update(json.dumps(cols).encode())
    h.update(row_hashes.tobytes())
    return "sha256:" + h.hexdigest()
