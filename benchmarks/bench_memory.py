"""Peak memory and throughput of ``racelens text redact``, ``racelens text check`` and the image
cache build on generated data (issue 6: redact/check of a 2 GB notes CSV < 1.5 GB; a cache of
20,000 images < 2 GB).

Each measured command runs as its own child process. Its peak resident memory is taken two
ways: ``ru_maxrss`` from ``os.wait4`` (the kernel's peak of that child) and a thread polling
``/proc/<pid>/status`` every 20 ms for the child and its descendants, which also separates
anonymous memory (``RssAnon``: what the program allocated) from file-backed pages
(``RssFile``: e.g. the memory-mapped image cache, reclaimable page cache).

Usage::

    .venv/bin/python benchmarks/bench_memory.py --size-gb 0.02 --size-gb 0.2 \\
        --n-images 20000 --write docs/benchmarks/memory.md
    .venv/bin/python benchmarks/bench_memory.py --size-gb 2   # the issue's size (long)

``--size-gb`` may be given several times to show how peak memory scales with the input.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measure:
    """One child run: wall seconds, exit code, and peaks in MiB."""

    label: str
    seconds: float
    code: int
    maxrss_mib: float
    hwm_mib: float
    anon_mib: float
    file_mib: float


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def _descendants(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            kids = [int(x) for x in fh.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []
    return kids + [d for k in kids for d in _descendants(k)]


def run_measured(label: str, argv: list[str], env: dict[str, str] | None = None) -> Measure:
    """Run ``argv`` as a child and record its peak memory (see the module doc)."""
    peaks = {"hwm": 0, "anon": 0, "file": 0}
    proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            total_anon = total_file = 0
            for pid in [proc.pid, *_descendants(proc.pid)]:
                st = _status(pid)
                total_anon += st.get("RssAnon", 0)
                total_file += st.get("RssFile", 0)
                if pid == proc.pid:
                    peaks["hwm"] = max(peaks["hwm"], st.get("VmHWM", 0))
            peaks["anon"] = max(peaks["anon"], total_anon)
            peaks["file"] = max(peaks["file"], total_file)
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    start = time.perf_counter()
    thread.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"{label}: exit {code}\n{err[-2000:]}", file=sys.stderr)
    return Measure(label, seconds, code, usage.ru_maxrss * 1024 / MIB, peaks["hwm"] / MIB,
                   peaks["anon"] / MIB, peaks["file"] / MIB)


# --- notes ------------------------------------------------------------------------------------


def write_notes_csv(path: Path, size_bytes: int, seed: int = 0) -> int:
    """Write synthetic notes (realistic sentences, race mentions, proxies) up to ``size_bytes``;
    return the number of rows. Written in blocks, so generating it takes little memory."""
    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_patients(400, seed=seed), seed=seed).notes
    texts, races = notes["text"].tolist(), notes["race_raw"].tolist()
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["note_id", "patient_id", "race_raw", "text"])
        while fh.tell() < size_bytes:
            for k in range(len(texts)):
                i = rows + k
                # patients of about 4 notes; a note's race follows its template's patient
                writer.writerow([f"N{i:09d}", f"P{i // 4:08d}", races[k], texts[k]])
            rows += len(texts)
    return rows


def bench_notes(size_gb: float, work: Path, racelens: list[str],
                full_check: bool) -> tuple[list[Measure], float]:
    """Generate a notes CSV of ``size_gb`` GiB, then redact it and check the redacted notes
    (residual scan; with ``full_check`` also the labelled check with its leakage probe).

    Returns the measures and the CSV's size in MiB.
    """
    src = work / f"notes_{size_gb:g}GB.csv"
    t0 = time.perf_counter()
    rows = write_notes_csv(src, int(size_gb * 1024**3))
    gen_s = time.perf_counter() - t0
    mb = src.stat().st_size / MIB
    print(f"notes CSV {mb:,.0f} MiB, {rows:,} rows (generated in {gen_s:.0f} s)", flush=True)
    out: list[Measure] = []
    red = work / f"red_{size_gb:g}.parquet"
    m = run_measured(f"text redact ({mb:,.0f} MiB CSV, {rows:,} notes)",
                     [*racelens, "text", "redact", "-i", str(src), "-o", str(red), "--no-progress"])
    out.append(m)
    m = run_measured(f"text check, residual scan only ({mb:,.0f} MiB)",
                     [*racelens, "text", "check", "-i", str(red), "-o", str(work / "check_scan")])
    out.append(m)
    if full_check:
        m = run_measured(f"text check with labels (+ leakage probe) ({mb:,.0f} MiB)",
                         [*racelens, "text", "check", "-i", str(red), "-o",
                          str(work / "check_full"), "--label-col", "race_raw", "--patient-col",
                          "patient_id", "--n-boot", "200"])
        out.append(m)
    for p in (src, red):
        p.unlink(missing_ok=True)
    return out, mb


# --- images -----------------------------------------------------------------------------------

_CACHE_CHILD = """
import sys, pandas as pd
from racelens.imaging.cache.build import build_cache
t = pd.read_csv(sys.argv[1])
build_cache(t["path"].tolist(), t["sample_id"].tolist(), size=int(sys.argv[3]),
            cache_dir=sys.argv[2], fingerprint="sha256:bench", workers=int(sys.argv[4]),
            progress=False)
"""


def bench_cache(n_images: int, size: int, workers: int, work: Path) -> Measure:
    """Write ``n_images`` tiny images (a tenth DICOM, the rest 16-bit PNG) and build the cache."""
    from racelens.imaging.synthetic import write_dicom, write_png

    folder = work / "images"
    rng = np.random.default_rng(0)
    base = rng.random((8, 64, 64)).astype(np.float32)
    paths = []
    t0 = time.perf_counter()
    for i in range(n_images):
        img = base[i % 8]
        if i % 10 == 0:
            p = write_dicom(folder / f"{i // 1000}" / f"{i}.dcm", img, patient_id=f"P{i}",
                            study_uid=f"1.2.3.{i}", series_uid=f"1.2.3.{i}.1",
                            sop_uid=f"1.2.3.{i}.1.1")
        else:
            p = write_png(folder / f"{i // 1000}" / f"{i}.png", img)
        paths.append(str(p))
    print(f"{n_images:,} images written in {time.perf_counter() - t0:.0f} s", flush=True)
    table = work / "images.csv"
    import pandas as pd

    pd.DataFrame({"path": paths, "sample_id": [f"s{i}" for i in range(n_images)]}).to_csv(
        table, index=False)
    m = run_measured(f"image cache build ({n_images:,} images, {size} px, {workers} worker(s))",
                     [sys.executable, "-c", _CACHE_CHILD, str(table), str(work / "cache"),
                      str(size), str(workers)])
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / "cache", ignore_errors=True)
    return m


# --- report -------------------------------------------------------------------------------------


def markdown(rows: list[tuple[Measure, float, str]], command: str) -> str:
    lines = ["## Peak memory (issue 6)", "",
             f"Command: `{command}`", "",
             f"Machine: {platform.machine()} {os.cpu_count()}-core shared VM, "
             f"{platform.python_version()}; other engineers' work was running (timings are "
             "noisy, memory is not).", "",
             "| run | wall s | throughput | peak RSS (ru_maxrss) MiB | peak anon MiB | "
             "peak file-backed MiB | exit |", "|---|---:|---:|---:|---:|---:|---:|"]
    for m, amount, unit in rows:
        rate = f"{amount / m.seconds:,.1f} {unit}/s" if m.seconds else "-"
        lines.append(f"| {m.label} | {m.seconds:,.1f} | {rate} | {m.maxrss_mib:,.0f} | "
                     f"{m.anon_mib:,.0f} | {m.file_mib:,.0f} | {m.code} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, action="append",
                    help="Notes CSV size in GiB (repeatable; default 2).")
    ap.add_argument("--full-check-gb", type=float, default=0.02,
                    help="Also run the labelled check (leakage probe: model fits and bootstrap, "
                    "slow) for sizes up to this (GiB).")
    ap.add_argument("--n-images", type=int, default=20_000, help="Images in the cache (0: skip).")
    ap.add_argument("--cache-size", type=int, default=224, help="Cached image side in pixels.")
    ap.add_argument("--workers", type=int, default=2, help="Cache build worker processes.")
    ap.add_argument("--workdir", type=Path, default=None, help="Scratch folder (default: temp).")
    ap.add_argument("--write", type=Path, default=None, help="Write the Markdown table here.")
    args = ap.parse_args()
    sizes = args.size_gb or [2.0]
    racelens = [sys.executable, "-m", "racelens"]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="racelens-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[Measure, float, str]] = []
    try:
        for gb in sizes:
            measures, mib = bench_notes(gb, work, racelens, gb <= args.full_check_gb)
            rows += [(m, mib, "MiB") for m in measures]
            for m in measures:
                print(f"{m.label}: {m.seconds:.1f} s, {mib / m.seconds:.1f} MiB/s, peak RSS "
                      f"{m.maxrss_mib:,.0f} MiB (anon {m.anon_mib:,.0f})", flush=True)
        if args.n_images:
            m = bench_cache(args.n_images, args.cache_size, args.workers, work)
            rows.append((m, args.n_images, "images"))
            print(f"{m.label}: {m.seconds:.1f} s, peak RSS {m.maxrss_mib:,.0f} MiB (anon "
                  f"{m.anon_mib:,.0f}, file {m.file_mib:,.0f})", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(rows, "python benchmarks/bench_memory.py " + " ".join(sys.argv[1:]))
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)


if __name__ == "__main__":
    main()
