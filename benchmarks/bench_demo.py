"""Wall-clock of ``racelens demo --quick`` and of the default demo, each as a fresh subprocess.

The issue's budgets on two CPU cores: ``--quick`` at most 90 s, the default at most 5 minutes.
Each run is a new ``python -m racelens demo`` process into a fresh folder (imports, cohort
generation, DICOM decoding, training, report: everything a user waits for), with torch's default
thread count. Per-stage seconds come from the demo's own progress lines; CPU time of the child
(user + system) and the load average before and after are recorded, since the machine may be
shared.

Usage::

    .venv/bin/python benchmarks/bench_demo.py --rounds 1 --write docs/benchmarks/demo.md
    .venv/bin/python benchmarks/bench_demo.py --only quick --rounds 3
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = {"quick": 90.0, "default": 300.0}
NOTES_MARKER = "<!-- notes: kept when the table above is re-measured -->"
_STAGE = re.compile(r"^\s*[\d.]+ s\s+(\w+): .*\(([\d.]+) s\)\s*$")


def run_once(flavour: str, seed: int) -> dict[str, object]:
    """Run the demo once in a subprocess; return wall, CPU, per-stage seconds and pass/fail."""
    with tempfile.TemporaryDirectory(prefix="racelens-bench-demo-") as tmp:
        cmd = [sys.executable, "-m", "racelens", "demo", "--out", str(Path(tmp) / "out"),
               "--seed", str(seed)] + (["--quick"] if flavour == "quick" else [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stages = {m.group(1): float(m.group(2)) for m in map(_STAGE.match, proc.stdout.splitlines()) if m}
    hold = re.search(r"(\d+)/(\d+) known answers hold", proc.stdout)
    return {"flavour": flavour, "rc": proc.returncode, "wall": wall,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "load": (load0, os.getloadavg()[0]), "stages": stages,
            "answers": hold.group(0) if hold else "no summary (see stderr)",
            "stderr": proc.stderr[-2000:] if proc.returncode not in (0, 1) else ""}


def machine() -> str:
    cpus = os.cpu_count()
    try:
        import torch

        threads = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:  # pragma: no cover
        threads = ""
    return f"{platform.machine()} {platform.system()}, {cpus} CPUs, Python {platform.python_version()}{threads}"


def to_markdown(rows: list[dict[str, object]], command: str) -> str:
    lines = ["## `racelens demo` wall-clock", "",
             f"Command: `{command}`", f"Machine: {machine()}; the load columns show what else was "
             "running (on two cores, a load above 2 slows these runs badly: torch's thread pool "
             "contends). Each run is a fresh `python -m racelens demo` subprocess, torch's "
             "default thread count.", "",
             "| run | wall (s) | budget (s) | CPU user+sys (s) | load before/after | stages (s) | known answers | exit |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())  # type: ignore[union-attr]
        load = "/".join(f"{x:.1f}" for x in r["load"])  # type: ignore[union-attr]
        lines.append(f"| {r['flavour']} | {r['wall']:.1f} | {BUDGET_S[str(r['flavour'])]:.0f} | "
                     f"{r['cpu']:.1f} | {load} | {stages} | {r['answers']} | {r['rc']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("quick", "default"), default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", type=Path, default=None, help="Markdown file to (over)write.")
    args = ap.parse_args()
    flavours = [args.only] if args.only else ["quick", "default"]
    rows = []
    for _ in range(args.rounds):
        for flavour in flavours:
            row = run_once(flavour, args.seed)
            rows.append(row)
            print(f"{flavour}: wall {row['wall']:.1f} s, cpu {row['cpu']:.1f} s, load "
                  f"{row['load'][0]:.1f}->{row['load'][1]:.1f}, {row['answers']}, rc {row['rc']}, "
                  f"stages {row['stages']}", flush=True)
            if row["stderr"]:
                print(row["stderr"], file=sys.stderr)
    if args.write:
        command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
        args.write.parent.mkdir(parents=True, exist_ok=True)
        # hand-written notes below the marker survive a re-run
        old = args.write.read_text(encoding="utf-8") if args.write.exists() else ""
        notes = old[old.index(NOTES_MARKER):] if NOTES_MARKER in old else NOTES_MARKER + "\n"
        args.write.write_text(to_markdown(rows, command) + "\n" + notes, encoding="utf-8")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
