"""Benchmark: the note models' logistic regression solver, side by side with L-BFGS.

Every text AUC in racelens is a :func:`racelens.text.models.tfidf.search_logreg` fit (the ``C``
search of the one leakage model; ``text explain`` adds 17 feature-space re-fits). On long notes
its solver dominates a fit. This times, in one process, on the same TF-IDF rows:

- ``lbfgs``: scikit-learn's default, each candidate ``C`` from zeros (racelens before);
- ``search_logreg``: racelens's solver and regularisation path (:data:`SOLVER`, warm-started
  along increasing ``C``);

and, for each ``C``, each fit's distance from the optimum (the objective minus that of a fit to
``tol=1e-9``) and its validation macro AUC beside the tight fit's. Then one ``text explain``
style re-fit: the top 300 columns deleted and rows re-normalised, ``C`` fixed.

Run:  .venv/bin/python benchmarks/bench_logreg.py [--notes 10000] [--parquet F]
The notes: a parquet with ``text`` and ``race`` columns (e.g. bench_text_explain.py's
``--cache`` file), or generated 10 kB notes when none is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _notes(path: str | None, n: int) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    if path:
        df = pd.read_parquet(path, columns=["text", "race"]).iloc[:n]
        return df["text"].astype(str).tolist(), df["race"].astype(str).to_numpy(object)
    from bench_text_explain import _longer

    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_patients(max(50, round(n / 2.3)), seed=0), proxies=0.3,
                            section_proxies=0.3, seed=0).notes.iloc[:n]
    return _longer(notes["text"].tolist(), 10_000, 0), notes["race"].astype(str).to_numpy(object)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    from racelens.shared.metrics import macro_auc
    from racelens.text.explain.terms import delete_columns
    from racelens.text.models.tfidf import SOLVER, make_vectorizer, search_logreg

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notes", type=int, default=10_000)
    p.add_argument("--parquet", default=None)
    p.add_argument("--Cs", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    args = p.parse_args()
    texts, y = _notes(args.parquet, args.notes)
    rng = np.random.default_rng(0)
    tr = rng.random(len(texts)) < 0.7
    vec = make_vectorizer()
    X = vec.fit_transform([t for t, k in zip(texts, tr, strict=True) if k])
    Xv = vec.transform([t for t, k in zip(texts, tr, strict=True) if not k])
    ytr, yva = y[tr], y[~tr]
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {X.shape[0]} train rows, "
          f"{X.shape[1]} features, {X.nnz:,} non-zeros; {SOLVER} path vs lbfgs")

    def objective(m, X) -> float:  # noqa: ANN001, N803
        w = np.asarray(m.coef_, dtype=float)
        return log_loss(ytr, m.predict_proba(X), labels=m.classes_) + (w * w).sum() / (
            2 * m.C * X.shape[0])

    def auc(m, Xv) -> float:  # noqa: ANN001, N803
        return macro_auc(yva, m.predict_proba(Xv), list(m.classes_))

    def fit(X, c, solver="lbfgs", tol=1e-4):  # noqa: ANN001, ANN202, N803
        t = time.perf_counter()
        m = LogisticRegression(C=c, solver=solver, tol=tol, max_iter=10_000).fit(X, ytr)
        return m, time.perf_counter() - t

    t = time.perf_counter()
    _, chosen, _ = search_logreg(X, ytr, Xv, yva, C=1.0, Cs=args.Cs, max_iter=2000,
                                 random_state=0)
    t_path = time.perf_counter() - t
    t_lbfgs, rows = 0.0, []
    for c in sorted(args.Cs):
        tight, _ = fit(X, c, tol=1e-9)
        lb, dt = fit(X, c)
        t_lbfgs += dt
        rows.append((c, tight, lb))
    # the path's models, re-fitted one by one (each from the one before, search_logreg's
    # init) only to report each candidate's gap (not timed)
    path, start = {}, None
    for c in sorted(args.Cs):
        path[c], _, _ = search_logreg(X, ytr, None, None, C=c, Cs=(c,), max_iter=2000,
                                      random_state=0, init=start)
        start = (path[c].coef_, path[c].intercept_)
    print(f"C search ({len(args.Cs)} candidates): lbfgs {t_lbfgs:.1f} s, {SOLVER} path "
          f"{t_path:.1f} s ({t_path / t_lbfgs:.2f} of lbfgs); chosen C {chosen}")
    print("C        objective gap: lbfgs    path    | val AUC: tight   lbfgs   path")
    for c, tight, lb in rows:
        ref = objective(tight, X)
        print(f"{c:<8g} {objective(lb, X) - ref:>20.2e} {objective(path[c], X) - ref:>8.2e}"
              f"    | {auc(tight, Xv):.5f} {auc(lb, Xv):.5f} {auc(path[c], Xv):.5f}")
    # a text explain deletion: the top 300 columns of the chosen model gone, C fixed
    cols = np.argsort(-np.abs(np.asarray(path[chosen].coef_)).max(axis=0))[:300]
    Xd, Xvd = delete_columns(X, cols), delete_columns(Xv, cols)
    tight, _ = fit(Xd, chosen, tol=1e-9)
    lb, t_lb = fit(Xd, chosen)
    t = time.perf_counter()
    one, _, _ = search_logreg(Xd, ytr, None, None, C=chosen, Cs=(chosen,), max_iter=2000,
                              random_state=0)
    t_one = time.perf_counter() - t
    ref = objective(tight, Xd)
    print(f"deletion re-fit (C {chosen}): lbfgs {t_lb:.1f} s (gap {objective(lb, Xd) - ref:.2e},"
          f" AUC {auc(lb, Xvd):.5f}), {SOLVER} {t_one:.1f} s ({t_one / t_lb:.2f} of lbfgs; gap "
          f"{objective(one, Xd) - ref:.2e}, AUC {auc(one, Xvd):.5f}); tight AUC "
          f"{auc(tight, Xvd):.5f}")


if __name__ == "__main__":
    main()
