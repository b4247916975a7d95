"""Benchmark: ``racelens text explain`` (linear model) on MIMIC-like discharge notes.

Target (issue 13): 100,000 notes in under 10 minutes and 4 GB on 2 cores. The notes are
racelens's synthetic discharge-style notes (HPI, ROS, past history, medications, social and
family history, exam, labs, plan; about 1.3 kB each, planted proxies and a section-only proxy);
``--note-chars N`` appends a BRIEF HOSPITAL COURSE section of seeded, race-free clinical
sentences until each note is at least N characters (real MIMIC-IV discharge summaries are
about 10 kB).

Each size runs in its own child process, so its numbers are its own: wall time of one full
explain run, and peak memory of the child and its worker processes (sampled from /proc every
0.2 s) two ways: the largest sum of their resident sizes (RSS: a page mapped by several
processes - shared libraries, the TF-IDF matrix's file that the workers map - counts once per
process, an upper bound) and the largest sum of their proportional set sizes (PSS, from
``/proc/PID/smaps_rollup``: a page shared by k processes counts 1/k in each, so the tree's
shared pages count once); beside them the child's own ``ru_maxrss``.

By default the child reads the notes into a DataFrame and passes that (the caller's table stays
in memory all run); ``--from-file`` passes the cached parquet's path instead, as ``racelens text
explain --input notes.parquet`` does (the child holds no table; ``--cache`` required).

Run:  .venv/bin/python benchmarks/bench_text_explain.py --notes 5000 20000 [--workers 2]
      [--note-chars 10000] [--n-boot 1000] [--progress] [--timeline 5]
      [--cache DIR [--generate-only | --from-file]] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

_SENTENCES = (
    "Patient was started on {drug} {dose} mg and tolerated it well.",
    "{organ} function was monitored daily and remained {trend}.",
    "On hospital day {day} the {lab} was {num} and {drug} was {action}.",
    "{consult} was consulted and recommended {plan}.",
    "Imaging of the {organ} showed {finding}.",
    "The patient reported {symptom} which {trend2} with {therapy}.",
    "Vital signs were notable for {vital} of {num}.",
    "{drug} was held for {lab} of {num} and resumed on day {day}.",
    "Physical therapy evaluated the patient and recommended {plan}.",
    "Repeat {lab} on day {day} was {num}, {trend}.",
)
_WORDS = {
    "drug": ("metoprolol", "lisinopril", "furosemide", "heparin", "enoxaparin", "warfarin",
             "apixaban", "insulin glargine", "vancomycin", "ceftriaxone", "piperacillin",
             "pantoprazole", "atorvastatin", "amlodipine", "prednisone", "levetiracetam",
             "oxycodone", "acetaminophen", "albuterol", "tamsulosin"),
    "organ": ("renal", "hepatic", "cardiac", "pulmonary", "chest", "abdomen", "head", "pelvis",
              "kidney", "liver", "lower extremity", "spine"),
    "trend": ("stable", "improving", "at baseline", "slowly improving", "unchanged"),
    "trend2": ("improved", "resolved", "persisted", "worsened briefly"),
    "lab": ("creatinine", "potassium", "sodium", "hemoglobin", "platelet count", "INR",
            "troponin", "lactate", "white count", "glucose", "magnesium", "bilirubin"),
    "action": ("continued", "held", "uptitrated", "discontinued", "restarted"),
    "consult": ("Cardiology", "Nephrology", "Infectious disease", "Surgery", "Neurology",
                "Gastroenterology", "Pulmonology", "Endocrinology"),
    "plan": ("outpatient follow up", "continued diuresis", "a repeat study in six weeks",
             "discharge to rehab", "home with services", "no further intervention"),
    "finding": ("no acute process", "small bilateral effusions", "mild atelectasis",
                "a stable nodule", "no fracture", "mild edema"),
    "symptom": ("nausea", "chest pain", "dyspnea", "abdominal pain", "dizziness", "fatigue"),
    "therapy": ("supportive care", "antiemetics", "diuresis", "analgesia", "fluids"),
    "vital": ("heart rate", "blood pressure", "temperature", "oxygen saturation"),
}


def _longer(texts: list[str], chars: int, seed: int) -> list[str]:
    """Each note with a BRIEF HOSPITAL COURSE section appended up to ``chars`` characters."""
    import numpy as np

    rng = np.random.default_rng([seed, chars])
    out = []
    for t in texts:
        parts = [t.rstrip(), "\n\nBRIEF HOSPITAL COURSE:\n"]
        n = len(parts[0]) + len(parts[1])
        while n < chars:
            s = _SENTENCES[int(rng.integers(len(_SENTENCES)))].format(
                num=f"{rng.uniform(0.1, 200):.1f}", day=int(rng.integers(1, 15)),
                dose=int(rng.integers(1, 100)) * 5,
                **{k: v[int(rng.integers(len(v)))] for k, v in _WORDS.items()}) + " "
            parts.append(s)
            n += len(s)
        out.append("".join(parts))
    return out


def _child(args: argparse.Namespace) -> None:
    import inspect
    import resource
    import tempfile

    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.explain import ExplainConfig, run_text_explain
    from racelens.text.synthetic import synthetic_notes

    n = args.child
    t0 = time.perf_counter()
    cached = (Path(args.cache) / f"notes-{n}-{args.note_chars}-{args.seed}.parquet"
              if args.cache else None)
    if args.from_file and cached is not None and cached.exists() and not args.generate_only:
        notes = None  # read by the explain itself; counted here a batch at a time
        n_rows, mb = _count_file(cached)
    elif cached is not None and cached.exists():
        import pandas as pd

        notes = pd.read_parquet(cached)
    else:
        # synthetic_patients writes about 2.3 notes per patient
        pats = synthetic_patients(max(50, round(n / 2.3)), seed=args.seed)
        notes = synthetic_notes(pats, proxies=0.3, section_proxies=0.3, seed=args.seed).notes
        del pats
        if args.note_chars:
            notes["text"] = _longer(notes["text"].tolist(), args.note_chars, args.seed)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            notes.to_parquet(cached)
    if notes is not None:
        n_rows, mb = len(notes), float(notes["text"].str.len().sum()) / 1e6
    gen = time.perf_counter() - t0
    if args.generate_only:
        print(json.dumps({"notes": n_rows, "mb": mb, "gen_s": gen}), flush=True)
        return
    if args.from_file:
        del notes
        notes = str(cached)
    kw = {}
    if "workers" in inspect.signature(ExplainConfig).parameters:  # absent before issue 13's
        kw["workers"] = args.workers                                # speed work (baseline)
    t_start = time.perf_counter()

    def progress(m: str) -> None:
        print(f"  [{time.perf_counter() - t_start:6.1f} s] {m}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        t1 = time.perf_counter()
        doc = run_text_explain(ExplainConfig(notes, label_col="race_raw",
                                             patient_col="subject_id", sample_col="note_id",
                                             n_boot=args.n_boot, seed=args.seed, out=out,
                                             progress=progress if args.progress else None,
                                             **kw))
        dt = time.perf_counter() - t1
    print(json.dumps({
        "notes": n_rows, "patients": doc["data"]["n_patients"], "mb": mb, "gen_s": gen,
        "explain_s": dt, "workers": kw.get("workers", 1),
        "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_max_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "auc": doc["redacted"]["macro"]["estimate"]}), flush=True)


def _count_file(path: Path) -> tuple[int, float]:
    """Rows and MB of text (characters / 1e6) of a note parquet, read a batch at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    chars = sum(int(pc.sum(pc.utf8_length(b.column(0))).as_py() or 0)
                for b in f.iter_batches(batch_size=2000, columns=["text"]))
    n = f.metadata.num_rows
    del f
    pa.default_memory_pool().release_unused()
    return n, chars / 1e6


def _pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (0 when it is gone or unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree(root: int) -> dict[int, int]:
    """Resident bytes of ``root`` and of each of its descendants, by process id (Linux /proc)."""
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parent[int(d)] = int(fields[1])
            rss[int(d)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    out = {}
    for pid in rss:
        p, seen = pid, 0
        while p and p in parent and seen < 64:
            if p == root:
                out[pid] = rss[pid]
                break
            p, seen = parent[p], seen + 1
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notes", type=int, nargs="+", default=[5000])
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--note-chars", type=int, default=0,
                   help="Lengthen each note to at least this many characters (0: as written).")
    p.add_argument("--progress", action="store_true", help="Stage lines on stderr.")
    p.add_argument("--timeline", type=float, default=0.0,
                   help="Every this many seconds, the resident MiB of the main process and of "
                        "each worker on stderr (0: no timeline).")
    p.add_argument("--cache", default=None,
                   help="Folder for the generated notes (parquet): read when there, written "
                        "when not (generate outside the timed hold with --generate-only).")
    p.add_argument("--generate-only", action="store_true",
                   help="With --cache: write the notes and stop (no explain).")
    p.add_argument("--out", default=None,
                   help="Keep each run's explain.json in this folder (default: a temporary one).")
    p.add_argument("--from-file", action="store_true",
                   help="With --cache: pass the parquet's path to the explain, not a DataFrame "
                        "(as the CLI's --input does).")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.from_file and not args.cache:
        p.error("--from-file needs --cache (the parquet it passes)")
    if args.child is not None:
        _child(args)
        return

    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("notes  patients   text_MB  generate_s  explain_s  notes_per_s  MB_per_s  "
          "peak_tree_mib  main_mib  worker_max_mib  redacted_auc  main_rss_mib  worker_rss_mib  "
          "peak_tree_pss_mib")
    for n in args.notes:
        cmd = [sys.executable, __file__, "--child", str(n), "--n-boot", str(args.n_boot),
               "--seed", str(args.seed), "--workers", str(args.workers),
               "--note-chars", str(args.note_chars)] + (["--progress"] if args.progress else [])
        cmd += (["--cache", args.cache] if args.cache else []) + (
            ["--out", args.out] if args.out else []) + (
            ["--generate-only"] if args.generate_only else []) + (
            ["--from-file"] if args.from_file else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        peak, main_peak, worker_peak, t0, last = 0, 0, 0, time.perf_counter(), -1e9
        pss_peak = 0
        while proc.poll() is None:
            tree = _tree(proc.pid)
            peak = max(peak, sum(tree.values()))
            pss = {pid: _pss(pid) for pid in tree}
            pss_peak = max(pss_peak, sum(pss.values()))
            main_peak = max(main_peak, tree.get(proc.pid, 0))
            workers = sorted((v for k, v in tree.items() if k != proc.pid), reverse=True)
            worker_peak = max([worker_peak, *workers])
            now = time.perf_counter() - t0
            if args.timeline and now - last >= args.timeline:
                last = now
                wpss = sorted((v for k, v in pss.items() if k != proc.pid), reverse=True)
                print(f"  <{now:6.1f} s> main {tree.get(proc.pid, 0) / 2**20:5.0f} MiB, workers "
                      f"{' '.join(f'{w / 2**20:.0f}' for w in workers) or '-'} MiB, tree "
                      f"{sum(tree.values()) / 2**20:.0f} MiB (RSS); main "
                      f"{pss.get(proc.pid, 0) / 2**20:.0f}, workers "
                      f"{' '.join(f'{w / 2**20:.0f}' for w in wpss) or '-'}, tree "
                      f"{sum(pss.values()) / 2**20:.0f} MiB (PSS)", file=sys.stderr, flush=True)
            time.sleep(0.2)
        out = proc.stdout.read() if proc.stdout else ""
        if proc.returncode != 0:
            raise SystemExit(f"{n} notes: the child failed ({proc.returncode})")
        r = json.loads(out.strip().splitlines()[-1])
        if args.generate_only:
            print(f"{r['notes']} notes, {r['mb']:.1f} MB written to {args.cache} in "
                  f"{r['gen_s']:.0f} s", flush=True)
            continue
        print(f"{r['notes']:>6}  {r['patients']:>8}  {r['mb']:>8.1f}  {r['gen_s']:>10.1f}  "
              f"{r['explain_s']:>9.1f}  {r['notes'] / r['explain_s']:>11.0f}  "
              f"{r['mb'] / r['explain_s']:>8.3f}  {peak / 2**20:>13.0f}  {r['self_mib']:>8.0f}  "
              f"{r['children_max_mib']:>14.0f}  {r['auc']:.3f}  {main_peak / 2**20:>12.0f}  "
              f"{worker_peak / 2**20:>14.0f}  {pss_peak / 2**20:>17.0f}", flush=True)


if __name__ == "__main__":
    main()
