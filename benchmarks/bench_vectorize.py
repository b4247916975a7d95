"""Paired timing of the TF-IDF vectorising: scikit-learn, a base checkout's and this one's.

The vectorising of ``racelens text explain`` is one ``fit_transform`` of the training notes
and one ``transform`` of the others. This script times it, in one process and interleaved
over a few rounds (the order rotated each round), for scikit-learn's plain ``TfidfVectorizer``,
the ``FastTfidfVectorizer`` of a base checkout (``git archive main | tar -x -C /tmp/vec_base``)
and this checkout's, all with racelens's parameters (``make_vectorizer()``); it checks that
the three give the same vocabulary, idf and matrices (indptr, indices, data, dtypes) and prints
each one's seconds and the time ratios of the same round (on the project's VM the CPU clock
moves between runs, so only ratios from one run are comparable).

The notes are the first ``--notes`` rows of a parquet file with a ``text`` column (by default
the cached 10 kB MIMIC-like notes of ``bench_text_explain.py --note-chars 10000`` where they
exist), else racelens's synthetic notes; 70 % of the patients (``subject_id``) are the training
notes. ``--redact`` runs racelens's redactor over them first (``[RACE]``-style placeholders,
as the redacted model of text explain sees them).

Run:  python benchmarks/bench_vectorize.py --base /tmp/vec_base [--notes 10000] [--rounds 3]
      [--parquet FILE] [--redact]
"""

from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_PARQUET = Path("/tmp/tx13/cache/notes-100000-10000-0.parquet")


def load_notes(path: Path | None, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` notes and their patients, from ``path`` when it exists, else synthetic."""
    if path is not None and path.exists():
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["subject_id", "text"]).slice(0, n)
        return table.column("text").to_pylist(), table.column("subject_id").to_numpy()
    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_patients(n, seed=seed), proxies=0.3, section_proxies=0.3,
                            seed=seed).notes
    return notes["text"].tolist(), notes["patient"].to_numpy()


def vectorizer_class(root: Path) -> tuple[type, dict[str, Any]]:
    """``FastTfidfVectorizer`` as the checkout at ``root`` defines it (a fresh import), and
    the parameters of that checkout's ``make_vectorizer()``."""
    for name in [k for k in sys.modules if k == "racelens" or k.startswith("racelens.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        cls = importlib.import_module("racelens.text.models.vectorize").FastTfidfVectorizer
        params = importlib.import_module("racelens.text.models.tfidf").make_vectorizer()
        return cls, params.get_params()
    finally:
        sys.path.remove(str(root))
        for name in [k for k in sys.modules if k == "racelens" or k.startswith("racelens.")]:
            del sys.modules[name]


def vectorise(cls: type, params: dict[str, Any], train: list[str], test: list[str]
              ) -> tuple[Any, Any, Any]:
    vec = cls(**params)
    return vec, vec.fit_transform(train), vec.transform(test)


def same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype
            and all(getattr(a, p).dtype == getattr(b, p).dtype
                    and np.array_equal(getattr(a, p), getattr(b, p))
                    for p in ("indptr", "indices", "data")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="a checkout to compare against")
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parquet", type=Path, default=DEFAULT_PARQUET)
    ap.add_argument("--redact", action="store_true", help="vectorise redacted notes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    notes, patients = load_notes(args.parquet, args.notes, args.seed)
    if args.redact:
        sys.path.insert(0, str(HERE.parent))
        from racelens.text.redact import RaceRedactor

        notes = [r.text for r in RaceRedactor().redact_batch(notes)]
    rng = np.random.default_rng(args.seed)
    people = np.unique(patients)
    in_train = np.isin(patients, rng.permutation(people)[: int(len(people) * 0.7)])
    train = [t for t, k in zip(notes, in_train, strict=True) if k]
    test = [t for t, k in zip(notes, in_train, strict=True) if not k]

    from sklearn.feature_extraction.text import TfidfVectorizer

    this, params = vectorizer_class(HERE.parent)
    runs: dict[str, Callable[[], tuple[Any, Any, Any]]] = {
        name: (lambda c=cls: vectorise(c, params, train, test))
        for name, cls in (("sklearn", TfidfVectorizer), ("base", vectorizer_class(args.base)[0]),
                          ("this", this))}
    mb = sum(map(len, notes)) / 1e6
    print(f"# {len(notes)} notes ({mb:.1f} MB{', redacted' if args.redact else ''}): "
          f"fit_transform {len(train)} + transform {len(test)}; {args.rounds} rounds; "
          f"base {args.base}; {platform.machine()}, {platform.python_version()}")
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for r in range(args.rounds):
        order = names[r % 3:] + names[: r % 3]
        out = {}
        for name in order:
            t0 = time.perf_counter()
            out[name] = runs[name]()
            seconds[name].append(time.perf_counter() - t0)
        ref = out["sklearn"]
        for name in ("base", "this"):
            vec = out[name][0]
            if not (same(ref[1], out[name][1]) and same(ref[2], out[name][2])
                    and list(ref[0].vocabulary_.items()) == list(vec.vocabulary_.items())
                    and np.array_equal(ref[0].idf_, vec.idf_)):
                sys.exit(f"{name}'s vectoriser differs from scikit-learn's")
        n_features = len(ref[0].vocabulary_)
        del out, ref
        print(f"round {r + 1} ({' -> '.join(order)}): "
              + ", ".join(f"{k} {seconds[k][-1]:.2f} s" for k in names)
              + f"; this/base {seconds['this'][-1] / seconds['base'][-1]:.3f}")
    print(f"# same vocabulary, idf and matrices; {n_features} features")
    for name in names:
        print(f"{name:8s} median {statistics.median(seconds[name]):7.2f} s "
              f"({len(notes) / statistics.median(seconds[name]):.0f} notes/s)")
    for num, den in (("this", "base"), ("this", "sklearn"), ("base", "sklearn")):
        ratios = sorted(a / b for a, b in zip(seconds[num], seconds[den], strict=True))
        print(f"{num} / {den} time: median {statistics.median(ratios):.3f} "
              f"(range {ratios[0]:.3f}-{ratios[-1]:.3f}), speed-up "
              f"{1 / statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
