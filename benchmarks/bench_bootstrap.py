"""Patient-bootstrap AUC intervals: racelens's vectorised bootstrap against a naive loop.

The naive loop is what one would write by hand: per resample, expand the drawn patients to
their samples and call scikit-learn's ``roc_auc_score`` once per group. It runs on a few
resamples and is extrapolated to ``--n-boot``; on the same draws it must agree with racelens.

Run::

    .venv/bin/python benchmarks/bench_bootstrap.py                     # 100,000 x 3, 1,000 resamples
    .venv/bin/python benchmarks/bench_bootstrap.py --n 20000 --n-boot 200   # quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # the target machine has two cores

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from racelens.shared.metrics import (  # noqa: E402
    auc_with_ci,
    p_value_vs_chance,
    patient_bootstrap_counts,
    patient_codes,
)
from racelens.shared.metrics.bootstrap import bootstrap_aucs  # noqa: E402

CLASSES = ["Asian", "Black", "White"]


def make_data(n: int, samples_per_patient: float, seed: int):
    """Scores of three groups with a real signal; patients hold one or more samples."""
    rng = np.random.default_rng(seed)
    n_pat = max(3, int(round(n / samples_per_patient)))
    pat_group = rng.choice(3, n_pat, p=[0.15, 0.25, 0.6])
    patient = np.sort(rng.integers(0, n_pat, n)) if samples_per_patient > 1 else np.arange(n)
    codes = pat_group[patient]
    scores = rng.normal(size=(n, 3)) + 1.2 * (codes[:, None] == np.arange(3))
    return np.asarray(CLASSES)[codes], scores, patient, codes


def naive(codes: np.ndarray, scores: np.ndarray, patient: np.ndarray, n_boot: int, seed: int,
          k: int) -> tuple[float, np.ndarray]:
    """Seconds for ``k`` hand-written resamples (same draws as racelens) and their AUCs."""
    pidx, _ = patient_codes(patient, len(codes))
    order = np.argsort(pidx, kind="stable")
    starts = np.searchsorted(pidx[order], np.arange(pidx.max() + 1))
    lengths = np.diff(np.r_[starts, len(order)])
    out = np.empty((k, 3))
    t0 = time.perf_counter()
    done = 0
    for _, counts in patient_bootstrap_counts(codes, patient, n_boot, seed):
        for row in counts:
            if done == k:
                break
            drawn = np.repeat(np.arange(len(row)), row.astype(int))
            n_rows = lengths[drawn]
            first = np.repeat(starts[drawn] - np.cumsum(n_rows) + n_rows, n_rows)
            rows = order[first + np.arange(n_rows.sum())]  # each drawn patient's samples
            for j in range(3):
                out[done, j] = roc_auc_score(codes[rows] == j, scores[rows, j])
            done += 1
        if done == k:
            break
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="samples")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--naive-resamples", type=int, default=10,
                    help="resamples the naive loop runs (extrapolated to --n-boot)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of racelens (best kept)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print("\n| samples | samples/patient | what | seconds | per resample (ms) |")
    print("|---|---|---|---|---|")
    for spp in (1.0, 2.0):
        y, s, patient, codes = make_data(args.n, spp, args.seed)
        pids = patient if spp > 1 else None
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            block = auc_with_ci(y, s, CLASSES, patient_ids=pids, n_boot=args.n_boot,
                                seed=args.seed)
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(f"| {args.n:,} | {spp:g} | racelens auc_with_ci bootstrap, {args.n_boot} resamples "
              f"(best of {args.repeats}) | {best:.2f} | {1000 * best / args.n_boot:.2f} |")
        t0 = time.perf_counter()
        auc_with_ci(y, s, CLASSES, patient_ids=pids, method="delong")
        p_value_vs_chance(y, s, CLASSES, patient_ids=pids)
        t_delong = time.perf_counter() - t0
        print(f"| {args.n:,} | {spp:g} | racelens DeLong interval + p-value | {t_delong:.2f} | - |")
        t_naive, aucs = naive(codes, s, patient, args.n_boot, args.seed, args.naive_resamples)
        per = t_naive / args.naive_resamples
        print(f"| {args.n:,} | {spp:g} | naive loop with sklearn roc_auc_score, "
              f"{args.naive_resamples} resamples, extrapolated to {args.n_boot} | "
              f"{per * args.n_boot:.1f} | {1000 * per:.1f} |")
        ours = bootstrap_aucs(codes, s, [0, 1, 2], pids, args.n_boot, args.seed)
        diff = float(np.abs(ours[: args.naive_resamples] - aucs).max())
        print(f"|  |  | max abs difference, racelens vs naive on the same draws | {diff:.1e} | |")
        print(f"|  |  | macro AUC {block.macro.estimate:.4f} "
              f"[{block.macro.ci_low:.4f}, {block.macro.ci_high:.4f}] | | |")


if __name__ == "__main__":
    main()
