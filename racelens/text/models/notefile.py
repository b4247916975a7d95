"""Notes kept in a file and read one at a time: a list of notes that does not hold the text.

``text explain`` hands each of its fits the notes as a file (the main process writes each
redaction as it is produced; a worker process fits on it). A :class:`NoteFile` is a sequence of
``str`` over that file: indexing reads one note (``os.pread``), a slice or an index array gives
a view of those notes (nothing read), and iterating reads them in order. The TF-IDF model and
the leakage fit take it where they take a list (:func:`racelens.text.models.tfidf.validate_texts`
passes it through, :func:`take` selects rows of it), so a fit holds one note's text at a time
instead of all of them: the vectoriser reads each note once per pass.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> w = NoteWriter(path)
>>> w.extend(["first note", "second", ""])
>>> notes = w.notes()
>>> len(notes), notes[1], list(notes[[0, 2]])
(3, 'second', ['first note', ''])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

__all__ = ["NoteFile", "NoteWriter", "take"]

_PREAD = getattr(os, "pread", None)  # POSIX; absent on Windows


class NoteFile(Sequence[str]):
    """Notes stored as UTF-8 in a file, ``[starts[i], ends[i])`` the bytes of note ``i``."""

    def __init__(self, path: str, starts: np.ndarray, ends: np.ndarray) -> None:
        self.path = path
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self._fd: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "starts": self.starts, "ends": self.ends}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["starts"], state["ends"])  # type: ignore[misc]

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.starts)

    def _read(self, i: int) -> str:
        start, end = int(self.starts[i]), int(self.ends[i])
        if end <= start:
            return ""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        if _PREAD is not None:
            return _PREAD(self._fd, end - start, start).decode("utf-8")
        os.lseek(self._fd, start, os.SEEK_SET)  # Windows has no pread; one reader a process
        return os.read(self._fd, end - start).decode("utf-8")

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice | Sequence[int] | np.ndarray) -> NoteFile: ...

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (int, np.integer)):
            n = len(self)
            if not -n <= i < n:
                raise IndexError(f"note {i} of {n}")
            return self._read(int(i) % n)
        return NoteFile(self.path, self.starts[i], self.ends[i])

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self._read(i)


class NoteWriter:
    """Appends notes to a file part by part; :meth:`notes` is the :class:`NoteFile` of them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._ends: list[np.ndarray] = []
        self._at = 0
        open(path, "wb").close()

    def extend(self, texts: Iterable[str]) -> None:
        blobs = [t.encode("utf-8") for t in texts]
        with open(self.path, "ab") as f:
            f.write(b"".join(blobs))
        self._ends.append(self._at + np.cumsum([len(b) for b in blobs], dtype=np.int64))
        if len(self._ends[-1]):
            self._at = int(self._ends[-1][-1])

    def notes(self) -> NoteFile:
        ends = np.concatenate(self._ends) if self._ends else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        return NoteFile(self.path, starts, ends)


def take(texts: Sequence[str], rows: Sequence[int] | np.ndarray) -> Sequence[str]:
    """``texts[i]`` for each row: a view of a :class:`NoteFile`, a list otherwise."""
    if isinstance(texts, NoteFile):
        return texts[np.asarray(rows, dtype=np.intp)]
    return [texts[i] for i in rows]
