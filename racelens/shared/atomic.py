"""Atomic file writes: a temporary file in the destination folder, renamed into place.

A reader never sees a half-written file and an interrupted run never leaves one that looks
finished. :mod:`racelens.shared.tables` re-exports these next to the table reader/writer.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "json_default", "check_writable_dir"]


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
