"""Atomic writes, table reading and data fingerprints shared by every command.

Outputs are written to a temporary file in the destination folder and renamed into place, so a
reader never sees a half-written file and an interrupted run never leaves one that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import DataError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_parquet",
    "read_table",
    "fingerprint_table",
    "TABLE_SUFFIXES",
    "check_writable_dir",
    "json_default",
]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq", ".jsonl", ".json", ".xlsx")


def _umask_mode() -> int:
    # mkstemp creates 0600 files; give outputs the permissions a plain open() would.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed onto it when the block ends without error.

    The one mechanism behind every atomic write: the writer (pandas, pyarrow, torch, a plain
    file) writes the yielded path; on success it is given the umask's permissions and renamed
    into place, on any exception (Ctrl-C included) it is removed and ``path`` is untouched.

    Example
    -------
    >>> with atomic_path(tmp / "model.pt") as t:  # doctest: +SKIP
    ...     torch.save(state, t)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, _umask_mode())
        os.close(fd)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (NaN is refused: JSON has none)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False, default=json_default) + "\n")


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays and paths."""
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


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


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Check, without creating anything, that ``path`` can be (or is) a writable folder.

    Long commands call this first, so a typo in ``--out`` fails before the work, not after it.

    Raises
    ------
    ConfigError
        When ``path`` or one of its parents is a file, or the nearest existing folder is not
        writable.
    """
    from racelens.errors import ConfigError

    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{path}: cannot be a folder: {probe} is a file")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: cannot write there ({probe} is not writable)")
    return path
