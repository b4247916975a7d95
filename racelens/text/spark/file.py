"""``redact_file_spark``: a note table on disk or in cluster storage, redacted with Spark.

The cluster counterpart of :func:`racelens.text.redact.stream.redact_file`: CSV (quoted
multi-line fields), parquet or JSON lines in, a parquet *directory* out (Spark writes one part
file per partition) and the same :class:`~racelens.text.redact.stream.RedactStats`. The
redacted frame is persisted (memory, then disk) so the notes are redacted once for the output,
the statistics and the span audit. Local outputs are written to a temporary sibling directory
and renamed into place; remote outputs (``s3://``, ``dbfs:/``) rely on Spark's commit protocol
(``_SUCCESS`` is written last).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from racelens.errors import ConfigError, DataError
from racelens.text.redact.lexicon import Level
from racelens.text.redact.redactor import RaceRedactor
from racelens.text.redact.stream import RedactStats, table_kind
from racelens.text.spark.session import _require_pyspark, redact_spark, spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["redact_file_spark"]

log = logging.getLogger(__name__)


def _read_notes(spark: SparkSession, path: str) -> DataFrame:
    kind = table_kind(Path(path))
    if kind == "parquet":
        return spark.read.parquet(path)
    if kind == "csv":
        # pandas/MIMIC-style CSV: quotes doubled inside quoted fields that may span lines.
        return spark.read.csv(path, header=True, multiLine=True, quote='"', escape='"',
                              encoding="UTF-8", inferSchema=False)
    frame = spark.read.json(path, multiLine=False, encoding="UTF-8")
    order = _first_json_keys(path)  # Spark sorts inferred JSON fields; keep the file's order
    if order and set(order) == set(frame.columns):
        frame = frame.select(*order)
    return frame


def _first_json_keys(path: str) -> list[str]:
    import gzip
    import json

    if not _is_local(path) or not _local(path).is_file():
        return []
    opener: Any = gzip.open if path.lower().endswith(".gz") else open
    with opener(_local(path), "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                try:
                    return list(json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    return []
    return []


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> Path:
    return Path(path[len("file://"):] if path.startswith("file://") else path)


def _check_target(path: str) -> None:
    if not _is_local(path):
        return
    target = _local(path)
    if target.exists() and not (target.is_dir() and (target / "_SUCCESS").exists()):
        raise ConfigError(f"{path} exists and is not an earlier Spark output directory; "
                          "choose a new path or remove it")


def _write(frame: DataFrame, path: str, fmt: str) -> None:
    """Write ``frame`` as a directory; locally into a temporary sibling renamed into place."""
    if not _is_local(path):
        frame.write.mode("errorifexists").format(fmt).save(path)
        return
    target = _local(path).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
    try:
        frame.write.format(fmt).save(str(tmp))
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _with_row_index(frame: DataFrame, name: str) -> DataFrame:
    """A contiguous 0-based row number in partition order (input row order for files).

    ``monotonically_increasing_id`` is ``partition << 33 | position``; one small job counts
    the rows per partition, and the offsets turn it into the row number without a shuffle.
    """
    from pyspark.sql import functions as F

    tagged = (frame.withColumn("__racelens_pid", F.spark_partition_id())
              .withColumn("__racelens_mid", F.monotonically_increasing_id()))
    counts = dict(tagged.groupBy("__racelens_pid").count().collect())
    offsets, running = {}, 0
    for pid in sorted(counts):
        offsets[pid] = running
        running += counts[pid]
    offset = F.create_map(*[F.lit(v) for kv in offsets.items() for v in kv]) if offsets else None
    row = (F.lit(0).cast("long") if offset is None else
           offset[F.col("__racelens_pid")] + F.col("__racelens_mid")
           - F.shiftleft(F.col("__racelens_pid").cast("long"), 33))
    return tagged.withColumn(name, row.cast("long")).drop("__racelens_pid", "__racelens_mid")


def _stats(red: DataFrame, text_col: str, spans: str, chunks: int) -> RedactStats:
    from pyspark.sql import functions as F

    has = F.col(spans).isNotNull()
    one = F.lit(1)
    agg = red.agg(
        F.count(one).alias("rows"),
        F.sum(F.when(has, 0).otherwise(one)).alias("skipped"),
        F.sum(F.when(has & (F.size(spans) > 0), one).otherwise(0)).alias("with"),
        F.sum(F.when(has, F.size(spans)).otherwise(0)).alias("spans"),
        # U+FFFD is never part of a term, so the redacted text holds it iff the input did
        F.sum(F.when(has & (F.instr(F.col(text_col), "\ufffd") > 0), one).otherwise(0))
        .alias("decode")).collect()[0]
    cats = red.select(F.explode(spans).alias("s")).groupBy("s.category").count().collect()
    return RedactStats(rows=int(agg["rows"]), notes_with_mentions=int(agg["with"] or 0),
                       spans=int(agg["spans"] or 0),
                       by_category={r["category"]: int(r["count"])
                                    for r in sorted(cats, key=lambda r: r["category"])},
                       skipped=int(agg["skipped"] or 0), decode_replaced=int(agg["decode"] or 0),
                       chunks=chunks)


def redact_file_spark(input: str | os.PathLike[str], output: str | os.PathLike[str], *,
                      text_col: str = "text", level: Level = "explicit", master: str = "local[2]",
                      keep_original: str | None = None,
                      spans_out: str | os.PathLike[str] | None = None, id_col: str | None = None,
                      redactor: RaceRedactor | None = None) -> RedactStats:
    """Redact a note table with Spark: the cluster counterpart of ``redact_file``.

    Parameters
    ----------
    input
        ``.csv`` / ``.csv.gz`` (header row, quoted fields may span lines; all columns read as
        strings), ``.parquet`` (file or directory) or ``.jsonl`` path, local or a cluster URI.
    output
        Parquet directory to write; the redacted text replaces ``text_col`` and every other
        column is kept. An earlier Spark output at a local path is replaced.
    text_col, level, keep_original, id_col, redactor
        As for :func:`racelens.text.redact.stream.redact_file`.
    master
        Spark master when no session is active (``local[4]``, ``spark://host:7077``,
        ``yarn``); an active session (Databricks, a test) is used as it is and left running.
    spans_out
        Directory of JSON-lines part files, one line per span: ``row`` (0-based input row),
        ``note_id`` (with ``id_col``), ``start``, ``end``, ``rule``, ``category``, ``term``.

    Returns
    -------
    RedactStats
        The same counts as ``redact_file``; ``chunks`` counts Spark partitions.
    """
    _require_pyspark()
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    src, dst = os.fspath(input), os.fspath(output)
    if _is_local(src) and not _local(src).exists():
        raise DataError(f"{src}: file not found")
    for target in (dst, None if spans_out is None else os.fspath(spans_out)):
        if target is not None:
            _check_target(target)
    session = SparkSession.getActiveSession()
    created = session is None
    if session is None:
        session = spark_session(master, app_name="racelens-redact")
    try:
        df = _read_notes(session, src)
        for col, what in ((text_col, "--text-col"), (id_col, "--id-col")):
            if col is not None and col not in df.columns:
                raise DataError(f"{src}: no column {col!r}; found {df.columns}; name it with {what}")
        df = df.withColumn(text_col, F.col(text_col).cast("string"))
        spans = "__racelens_spans"
        red = redact_spark(df, text_col=text_col, level=level, keep_original=keep_original,
                           spans_col=spans, redactor=redactor).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            _write(red.drop(spans), dst, "parquet")
            stats = _stats(red, text_col, spans, red.rdd.getNumPartitions())
            if spans_out is not None:
                indexed = _with_row_index(red, "row")
                key = [F.col("row")] + ([F.col(id_col).alias("note_id")] if id_col else [])
                flat = indexed.select(*key, F.posexplode(spans).alias("_i", "s")).orderBy("row", "_i")
                _write(flat.select(*key, "s.start", "s.end", "s.rule", "s.category",
                                   F.col("s.text").alias("term")), os.fspath(spans_out), "json")
        finally:
            red.unpersist()
    finally:
        if created:
            session.stop()
    log.info("redacted %d rows in %d partitions: %d spans", stats.rows, stats.chunks, stats.spans)
    return stats
