"""The redacted model's TF-IDF matrix of every note, as ``text explain`` keeps and shares it.

:class:`SplitRows` holds the matrix as its ``train``, ``val`` and ``test`` parts, as the leakage
fit vectorised them (:func:`split_features` takes them from that fit's own record). Between
processes it travels as a folder of raw arrays (:meth:`SplitRows.save`): each part's ``data``,
``indices`` and ``indptr`` as ``.npy`` files, which :meth:`SplitRows.load` maps read-only
(``numpy.load(..., mmap_mode="r")``) and wraps in CSR matrices without a copy. Every worker of a
run that maps the same folder reads the same pages of the operating system's file cache, so the
matrix is in memory once however many workers refit on it (a pickle would be unpickled into a
private copy per worker); the pages are read from disk as the rows are used and can be dropped
again under memory pressure. The mapped arrays are read-only: a computation that tried to
change the matrix in place would raise rather than corrupt it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SplitRows", "split_features"]

_ARRAYS = ("data", "indices", "indptr")
_META = "parts.json"


class SplitRows:
    """The TF-IDF matrix of every note, kept as its ``train``, ``val`` and ``test`` parts.

    Each part holds its split's notes in note order, as the leakage fit vectorised them, so a
    fit on one split's rows takes its part as it is (no copy of the whole matrix in note order
    is made, and the fit that records the matrix never stacks it). :meth:`full` gives the
    matrix in note order; :meth:`stacked` the parts one after the other (a row order any
    row-wise or order-free computation may use) with each row's note.
    """

    def __init__(self, parts: dict[str, Any], rows: dict[str, np.ndarray]) -> None:
        self.parts, self.rows = parts, rows

    @classmethod
    def of(cls, X: Any, split: np.ndarray) -> SplitRows:  # noqa: N803
        """The parts of a matrix in note order."""
        rows = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
        return cls({s: X[r] for s, r in rows.items() if len(r)},
                   {s: r for s, r in rows.items() if len(r)})

    def part(self, rows: np.ndarray) -> Any:
        """The rows ``rows`` (a split's own part when they are that split's notes)."""
        for name, r in self.rows.items():
            if np.array_equal(r, rows):
                return self.parts[name]
        return self.full()[rows]

    def names(self) -> list[str]:
        """The parts held, in the order train, val, test."""
        return [n for n in ("train", "val", "test") if n in self.parts]

    def stacked(self) -> tuple[Any, np.ndarray]:
        """The parts stacked (train, val, test) and the note of each row."""
        from scipy import sparse

        names = self.names()
        return (sparse.vstack([self.parts[n] for n in names], format="csr"),
                np.concatenate([self.rows[n] for n in names]))

    def doc_freq(self) -> np.ndarray:
        """Per column, the training notes whose value is above 0."""
        return np.asarray((self.parts["train"] > 0).sum(axis=0)).ravel()

    def full(self) -> Any:
        """The matrix in note order (indices sorted)."""
        stacked, order = self.stacked()
        inverse = np.empty(len(order), dtype=np.intp)
        inverse[order] = np.arange(len(order))
        X = stacked[inverse]
        X.sort_indices()
        return X

    def save(self, folder: str | Path) -> None:
        """Write the parts to ``folder`` as raw arrays (``PART-data.npy`` ...) for :meth:`load`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {}
        for name in self.names():
            X = self.parts[name]  # noqa: N806
            for a in _ARRAYS:
                np.save(folder / f"{name}-{a}.npy", getattr(X, a), allow_pickle=False)
            np.save(folder / f"{name}-rows.npy", self.rows[name], allow_pickle=False)
            meta[name] = {"shape": [int(s) for s in X.shape],
                          "sorted": bool(X.has_sorted_indices)}
        # written last: a folder with it is complete
        (folder / _META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: str | Path) -> SplitRows:
        """The parts :meth:`save` wrote, on read-only memory maps of its files (no copy)."""
        from scipy import sparse

        folder = Path(folder)
        meta = json.loads((folder / _META).read_text())
        parts, rows = {}, {}
        for name, m in meta.items():
            arrays = [np.load(folder / f"{name}-{a}.npy", mmap_mode="r", allow_pickle=False)
                      for a in _ARRAYS]
            # scipy keeps the mapped arrays as they are (same dtypes: nothing to convert);
            # tests/text/test_text_explain_memory.py checks it shares their memory
            X = sparse.csr_matrix(tuple(arrays), shape=tuple(m["shape"]))  # noqa: N806
            if m["sorted"]:
                X.has_sorted_indices = True  # as it was saved (saves a scan per use)
            parts[name] = X
            rows[name] = np.load(folder / f"{name}-rows.npy", allow_pickle=False)
        return cls(parts, rows)

    @staticmethod
    def is_saved(path: str | Path) -> bool:
        """Whether ``path`` is a folder :meth:`save` wrote."""
        return (Path(path) / _META).is_file()


def split_features(model: Any, notes: Any, split: np.ndarray,
                   record: list[tuple[str, Any]]) -> SplitRows:
    """``model.transform(notes)`` (as :class:`SplitRows`) from the matrices recorded while it
    was fitted and scored.

    The leakage fit vectorises the train notes (``fit``), the val notes (the ``C`` search, when
    they hold two groups) and the test notes (the scores), each in row order, indices sorted:
    they are the parts. Anything else recorded (another model) falls back to a transform.
    """
    parts = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
    kinds = [k for k, _ in record]
    if kinds == ["fit", "transform", "transform"]:
        names: tuple[str, ...] = ("train", "val", "test")
    elif kinds == ["fit", "transform"] and len(parts["val"]) == 0:
        names = ("train", "test")
    else:
        return SplitRows.of(model.transform(notes), split)
    mats = [m for _, m in record]
    if (any(m.shape[0] != len(parts[n]) for n, m in zip(names, mats, strict=True))
            or sum(len(parts[n]) for n in names) != len(notes)):
        return SplitRows.of(model.transform(notes), split)
    record.clear()
    for m in mats:
        m.sort_indices()  # already sorted (a no-op): what transform hands back
    return SplitRows(dict(zip(names, mats, strict=True)), {n: parts[n] for n in names})
