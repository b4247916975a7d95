"""Benchmark: note redaction on Spark local[1] and local[2] vs the single-process RaceRedactor.

All three redact the same synthetic discharge-style notes (racelens.text.synthetic, about 1.2 kB
each; ``--repeat`` concatenates k notes into one to reach a target length). Spark runs
``redact_spark`` on a DataFrame read from a parquet file and forces every row through the
Python workers with the ``noop`` writer; each Spark mode gets a fresh session (started outside
the timed region) and a warm-up pass on a slice (Python workers start and build their redactor),
then the best of ``--rounds`` timed passes. The single-process redactor is timed the same way.

Run:  .venv/bin/python benchmarks/bench_spark.py [--notes 4000] [--repeat 1] [--rounds 3]
          [--write docs/benchmarks/spark.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd


def make_notes(n: int, repeat: int, seed: int) -> pd.DataFrame:
    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    need = n * repeat
    patients = synthetic_patients(max(10, need // 2), seed=seed)
    texts = synthetic_notes(patients, seed=seed).notes["text"].tolist()
    while len(texts) < need:
        texts = texts + texts
    texts = ["\n\n".join(texts[i * repeat:(i + 1) * repeat]) for i in range(n)]
    return pd.DataFrame({"note_id": [f"N{i:07d}" for i in range(n)], "text": texts})


def time_local(texts: list[str], rounds: int) -> float:
    from racelens.text.redact.redactor import RaceRedactor

    r = RaceRedactor()
    for t in texts[:50]:
        r.redact(t)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            r.redact(t)
        best = min(best, time.perf_counter() - t0)
    return best


def time_spark(path: Path, master: str, rounds: int, partitions: int) -> tuple[float, float]:
    from racelens.text.spark.session import redact_spark, spark_session

    t0 = time.perf_counter()
    spark = spark_session(master, app_name="racelens-bench", conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.driver.memory": "2g", "spark.sql.execution.arrow.maxRecordsPerBatch": "1000"})
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - t0
    if spark.sparkContext.master != master:
        raise RuntimeError(f"asked for {master}, got {spark.sparkContext.master}")
    try:
        df = spark.read.parquet(str(path)).repartition(partitions).cache()
        df.count()
        redact_spark(df.limit(200)).write.format("noop").mode("overwrite").save()  # warm-up
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            redact_spark(df).write.format("noop").mode("overwrite").save()
            best = min(best, time.perf_counter() - t0)
        df.unpersist()
    finally:
        spark.stop()
    return best, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=1, help="synthetic notes joined per note")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", type=Path, default=None, help="write the Markdown table here")
    args = ap.parse_args()

    notes = make_notes(args.notes, args.repeat, args.seed)
    mb = notes["text"].str.len().sum() / 1e6
    mean_kb = notes["text"].str.len().mean() / 1e3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "notes.parquet")
        notes.to_parquet(path, index=False)
        rows = [("single process (RaceRedactor.redact loop)", time_local(notes["text"].tolist(),
                                                                          args.rounds), None)]
        for master, parts in (("local[1]", 8), ("local[2]", 8)):
            secs, startup = time_spark(path, master, args.rounds, parts)
            rows.append((f"Spark {master} (redact_spark, mapInPandas)", secs, startup))
    load = os.getloadavg()
    lines = [f"Notes: {args.notes:,} synthetic notes, mean {mean_kb:.2f} kB ({mb:.1f} MB), "
             f"best of {args.rounds}.",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average at the end {load[0]:.1f}/{load[1]:.1f}/"
             f"{load[2]:.1f} (shared VM, other work running).", "",
             "| engine | seconds | notes/s | MB/s | session start (s) |",
             "|---|---:|---:|---:|---:|"]
    for name, secs, startup in rows:
        lines.append(f"| {name} | {secs:.2f} | {args.notes / secs:,.0f} | {mb / secs:.2f} | "
                     f"{'' if startup is None else f'{startup:.1f}'} |")
    text = "\n".join(lines)
    print(text)
    if args.write is not None:
        args.write.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
