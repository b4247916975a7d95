"""The fits of ``text explain`` as picklable jobs, run in this process or in worker processes.

Every AUC of an explain run is an independent fit that shares nothing with the others but the
labels and the split: the leakage model on the original and on the redacted notes, each section
alone, the placeholder modes, and the feature-space deletions and category removals (these read
the redacted model's TF-IDF matrix). :class:`Runner` runs them:

- ``workers=1``: each job runs at once, in this process, in the order submitted;
- ``workers>1``: a :class:`concurrent.futures.ProcessPoolExecutor` of that many processes,
  started with the ``spawn`` method (as :meth:`racelens.text.redact.RaceRedactor.redact_batch`:
  safe whatever threads the parent holds, and the same on Linux, macOS and Windows). A script
  that calls ``run_text_explain`` with workers therefore needs the ``if __name__ ==
  "__main__":`` guard.

Large inputs are written once to a temporary folder, so no job carries them: the notes as they
are produced (:class:`TextsWriter`; a fit reads them one note at a time from a
:class:`racelens.text.models.notefile.NoteFile`) and the redacted model's TF-IDF matrix as its
split parts (:class:`~racelens.text.explain.features.SplitRows`, saved as raw arrays that every
worker maps read-only, once, then keeps: the workers share one copy in the file cache). A
worker hands the memory a
job freed back to the system before the next. A job's result depends only on its inputs and the
seed, never on the process or the order it ran in, so ``workers=1`` and ``workers=2`` give the
same ``explain.json``.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from racelens.text.explain.features import SplitRows, split_features

__all__ = ["Common", "Ref", "TextsWriter", "SplitRows", "Runner", "fit_texts", "fit_deleted", "fit_pattern",
           "fit_section", "CONTEXT"]

#: The start method of the worker processes.
CONTEXT = "spawn"


@dataclass(frozen=True)
class Common:
    """What every fit needs besides its input: labels, patients, split, groups, model, seed."""

    y: np.ndarray
    pids: np.ndarray
    split: np.ndarray
    classes: tuple[str, ...]
    model: str
    model_params: Any
    seed: int
    n_boot: int


class Ref:
    """A large job input: the object itself (in-process runs) or the file it was written to."""

    def __init__(self, obj: Any = None, path: str | None = None) -> None:
        self.obj, self.path = obj, path

    def __getstate__(self) -> dict[str, Any]:
        return {"obj": None if self.path else self.obj, "path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.obj, self.path = state["obj"], state["path"]

    def get(self, *, keep: bool = False) -> Any:
        """The object; read from its file when it has one (``keep``: once per process)."""
        if self.path is None:
            return self.obj
        if keep:
            if self.path not in _KEPT:
                _KEPT.clear()  # one matrix per run: drop an earlier run's
                _KEPT[self.path] = _read(self.path)
            return _KEPT[self.path]
        return _read(self.path)


_KEPT: dict[str, Any] = {}


def _read(path: str) -> Any:
    if SplitRows.is_saved(path):  # a matrix's raw arrays: mapped, not read
        return SplitRows.load(path)
    with open(path, "rb") as f:
        return pickle.load(f)


class TextsWriter:
    """Notes gathered part by part: kept in a list (``path`` ``None``: jobs run in this
    process) or appended to a file as they come (:class:`racelens.text.models.notefile.NoteWriter`),
    so the writer never holds more than the part being added. :meth:`ref` gives the
    :class:`Ref` a job reads them from: the list, or a
    :class:`~racelens.text.models.notefile.NoteFile` that the fit reads one note at a time.
    """

    def __init__(self, path: str | None = None) -> None:
        from racelens.text.models.notefile import NoteWriter

        self._items: list[str] = []
        self._file = NoteWriter(path) if path is not None else None

    def extend(self, texts: Sequence[str]) -> None:
        if self._file is None:
            self._items.extend(texts)
        else:
            self._file.extend(texts)

    def ref(self) -> Ref:
        return Ref(self._items if self._file is None else self._file.notes())


def _trim(model: Any) -> Any:
    # the vectoriser's stop_words_ (every n-gram min_df / max_features dropped) is introspection
    # only and can dwarf the model: scikit-learn documents it as safe to remove
    vec = getattr(model, "vectorizer_", None)
    if vec is not None and hasattr(vec, "stop_words_"):
        vec.stop_words_ = None
    return model


def fit_texts(common: Common, texts: Ref, condition: Any, *, rows: np.ndarray | None = None,
              model: str | None = None, keep_model: bool = False,
              features: str | bool = False, terms: dict[str, int] | None = None
              ) -> dict[str, Any]:
    """The leakage model (:func:`racelens.text.check.leakage.fit_leakage`) on notes.

    Returns ``{"auc": ...}`` and, with ``keep_model``, ``"model"`` (the fitted model). With
    ``features`` (a TF-IDF model on all the notes), ``"X"`` too: a :class:`Ref` to the fitted
    vectoriser's TF-IDF matrix of every note as :class:`SplitRows` (its :meth:`SplitRows.full`
    is ``model.transform(texts)``, bit for bit), taken
    from the fit's own vectorising of the train, val and test notes
    (:func:`racelens.text.models.vectorize.recording`) rather than from a second pass over the
    text; saved to the folder ``features`` names when it is a path (:meth:`SplitRows.save`).

    With ``terms`` (``{"min_patients": ..., "top": ...}``, with ``features``, the linear model):
    the exact term contributions read from that matrix's parts here, where they already are
    (never stacked), so the caller never loads it: ``"terms"`` and ``"delta"``
    (:func:`racelens.text.explain.terms.split_terms`) and ``"doc_freq"`` (training notes
    holding each feature).
    """
    from contextlib import nullcontext

    from racelens.text.check.leakage import fit_leakage
    from racelens.text.models.vectorize import recording

    model = model or common.model
    params = common.model_params if model == common.model else None  # a transformer's own
    rows = np.arange(len(common.y)) if rows is None else rows
    notes = texts.get()
    record: list[tuple[str, Any]]
    with recording() if features else nullcontext([]) as record:
        fit = fit_leakage(notes, common.y[rows], common.pids[rows], common.split[rows],
                          list(common.classes), condition, model=model, model_params=params,
                          seed=common.seed, n_boot=common.n_boot)
    out: dict[str, Any] = {"auc": fit.result.auc.to_dict()}
    if keep_model:
        _trim(fit.model)  # before the features are gathered: the pruned n-grams go first
    if features:
        X = split_features(fit.model, notes, common.split[rows], record)
        del record
        if terms is not None:
            out.update(_exact_terms(fit.model, X, common, rows, **terms))
            out["doc_freq"] = X.doc_freq()
        if isinstance(features, str):
            X.save(features)
            out["X"] = Ref(path=features)
            del X  # written away
        else:
            out["X"] = Ref(X)
    if keep_model:
        out["model"] = fit.model  # trimmed above
    return out


def _exact_terms(model: Any, X: SplitRows, common: Common, rows: np.ndarray, *,  # noqa: N803
                 min_patients: int, top: int) -> dict[str, Any]:
    """The linear model's exact terms from the matrix's parts (each term's weight a mean over
    one group's test notes, the test part as it is; the rest integer counts)."""
    from racelens.text.explain.terms import split_terms

    names = X.names()
    y, pids = common.y[rows], common.pids[rows]
    found, delta = split_terms(model.classifier_, [X.parts[n] for n in names],
                               model.vectorizer_.get_feature_names_out(),
                               [y[X.rows[n]] for n in names], [pids[X.rows[n]] for n in names],
                               names.index("test") if "test" in names else None,
                               min_patients=min_patients, top=top)
    return {"terms": found, "delta": delta}


def fit_section(common: Common, texts: Ref, condition: Any, rows: np.ndarray
                ) -> dict[str, Any]:
    """One section alone (linear model); ``{"error": ...}`` when it cannot be scored."""
    from racelens.errors import LabelError, SplitError

    try:
        return fit_texts(common, texts, condition, rows=rows, model="tfidf")
    except (SplitError, LabelError, ValueError) as exc:
        return {"error": str(exc)}


def fit_deleted(common: Common, X: Ref, cols: np.ndarray, condition: Any,  # noqa: N803
                C: float, start: tuple[np.ndarray, np.ndarray] | None = None  # noqa: N803
                ) -> dict[str, Any]:
    """The linear model re-fitted with ``C`` on the TF-IDF matrix with ``cols`` deleted.

    Each split's rows are deleted and re-normalised when the fit uses them (a row does not
    depend on the others): the float64 copy of the whole matrix is never made. ``start`` (the
    redacted model's ``coef_`` and ``intercept_``) starts the solver at that model with the
    deleted columns' weights zeroed: the same optimum (strictly convex), reached in fewer
    Newton steps, the fewer the columns deleted.
    """
    from racelens.text.check.leakage import fit_features
    from racelens.text.explain.terms import delete_columns

    base: SplitRows = X.get(keep=True)
    init = None
    if start is not None:
        coef = np.array(start[0], dtype=np.float64)
        coef[:, np.asarray(cols, dtype=np.intp)] = 0.0
        init = (coef, np.array(start[1], dtype=np.float64))
    res, _, _, _ = fit_features(None, common.y, common.pids, common.split, list(common.classes),
                                condition, seed=common.seed, n_boot=common.n_boot, Cs=(C,),
                                rows_of=lambda rows: delete_columns(base.part(rows), cols),
                                init=init)
    return {"auc": res.auc.to_dict()}


def fit_pattern(common: Common, x: np.ndarray, condition: Any) -> dict[str, Any]:
    """The linear probe on the mention-pattern features of one placeholder mode."""
    from racelens.shared.metrics.probe import linear_probe

    fit = linear_probe(x, common.y, common.pids, common.split, list(common.classes),
                       condition=condition, seed=common.seed, n_boot=common.n_boot)
    return {"auc": fit.result.auc.to_dict()}


def _in_worker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a job in a worker process, then hand the memory it freed back to the system.

    A worker runs many jobs; without this its resident size stays at the largest any of them
    reached (the C allocator keeps freed blocks), so the two workers' high-water marks add up
    even when their large jobs run at different times. ``malloc_trim`` is glibc's; elsewhere
    nothing is done.
    """
    try:
        return fn(*args, **kwargs)
    finally:
        import gc

        gc.collect()
        _trim_heap()


def _trim_heap() -> None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Done:
    """The result of a job that ran in this process (the part of a future that is used)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class Runner:
    """Runs jobs in this process (``workers=1``) or in ``workers`` spawned processes.

    ``progress`` is called with a one-line message as each job finishes (its name, the jobs
    done so far and the seconds since the runner started; aggregates only).
    """

    def __init__(self, workers: int = 1, progress: Callable[[str], None] | None = None) -> None:
        self.workers = max(1, int(workers))
        self.progress = progress
        self._pool: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._n_files = 0
        self._jobs: dict[str, Any] = {}
        self._done = 0
        self._t0 = time.perf_counter()

    def __enter__(self) -> Runner:
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._tmp = tempfile.TemporaryDirectory(prefix="racelens-explain-")
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context(CONTEXT))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._tmp is not None:
            self._tmp.cleanup()

    def share(self, obj: Any) -> Ref:
        """A :class:`Ref` to ``obj`` (written to a file when jobs run in other processes; a
        :class:`SplitRows` to a folder its workers map, :meth:`SplitRows.save`)."""
        if self._tmp is None:
            return Ref(obj)
        self._n_files += 1
        if isinstance(obj, SplitRows):
            folder = str(Path(self._tmp.name) / f"input-{self._n_files}")
            obj.save(folder)
            return Ref(path=folder)
        path = str(Path(self._tmp.name) / f"input-{self._n_files}.pkl")
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        return Ref(path=path)

    def writer(self) -> TextsWriter:
        """A :class:`TextsWriter` (to a file of its own when jobs run in other processes)."""
        if self._tmp is None:
            return TextsWriter()
        self._n_files += 1
        return TextsWriter(str(Path(self._tmp.name) / f"notes-{self._n_files}.txt"))

    def path(self, name: str) -> str | bool:
        """A path in the runner's folder for a job to write a large result to (``True`` when
        jobs run in this process: the job keeps its result in memory)."""
        if self._tmp is None:
            return True
        return str(Path(self._tmp.name) / name)

    def submit(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run (or queue) ``fn(*args, **kwargs)`` as the job ``name``."""
        if name in self._jobs:
            raise ValueError(f"job {name!r} submitted twice")
        if self._pool is None:
            self._jobs[name] = _Done(fn(*args, **kwargs))
            self._tick(name)
        else:
            future = self._pool.submit(_in_worker, fn, *args, **kwargs)
            self._jobs[name] = future
            future.add_done_callback(lambda _f, n=name: self._tick(n))

    def result(self, name: str) -> Any:
        """The result of job ``name`` (waits for it)."""
        return self._jobs[name].result()

    def results(self, names: Sequence[str]) -> list[Any]:
        return [self.result(n) for n in names]

    def _tick(self, name: str) -> None:
        self._done += 1
        if self.progress is not None:
            self.progress(f"{name}: done ({self._done}/{len(self._jobs) or 1} fits so far, "
                          f"{time.perf_counter() - self._t0:.0f} s)")
