"""Benchmark: ``racelens text explain`` (linear model) on MIMIC-like discharge notes.

Target (issue 13): 100,000 notes in under 10 minutes and 4 GB on 2 cores. The notes are
racelens's synthetic discharge-style notes (HPI, ROS, past history, medications, social and
family history, exam, labs, plan; about 1.3 kB each, planted proxies and a section-only proxy);
real MIMIC-IV discharge summaries are longer (several kB), which the vectoriser pays for roughly
linearly. Wall time and peak RSS (``ru_maxrss`` of this process) of one full explain run are
printed per size; run several sizes to extrapolate.

Run:  .venv/bin/python benchmarks/bench_text_explain.py --notes 5000 20000 [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notes", type=int, nargs="+", default=[5000])
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.explain import ExplainConfig, run_text_explain
    from racelens.text.synthetic import synthetic_notes

    print(f"python {platform.python_version()}, {platform.machine()}")
    print("notes  patients  generate_s  explain_s  notes_per_s  peak_rss_mib  redacted_auc")
    for n in args.notes:
        t0 = time.perf_counter()
        # synthetic_patients writes about 2.3 notes per patient
        pats = synthetic_patients(max(50, round(n / 2.3)), seed=args.seed)
        notes = synthetic_notes(pats, proxies=0.3, section_proxies=0.3, seed=args.seed).notes
        gen = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as out:
            t1 = time.perf_counter()
            doc = run_text_explain(ExplainConfig(notes, label_col="race_raw",
                                                 patient_col="subject_id", sample_col="note_id",
                                                 n_boot=args.n_boot, seed=args.seed, out=out))
            dt = time.perf_counter() - t1
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{len(notes):>6}  {doc['data']['n_patients']:>8}  {gen:>10.1f}  {dt:>9.1f}  "
              f"{len(notes) / dt:>11.0f}  {rss:>12.0f}  {doc['redacted']['macro']['estimate']:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
