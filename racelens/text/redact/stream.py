"""Redact a note table of any size in chunks: CSV, parquet or JSON lines in and out.

Memory is bounded by ``chunk_rows``: the input is read with
:func:`racelens.shared.tables.iter_table_chunks`, and the output is written in the format its
suffix names (``.csv``, ``.csv.gz``, ``.jsonl``, ``.parquet``). Each chunk is written as its own parquet part (with its span lines and counts) in a
hidden ``.<output name>.parts/`` folder next to the output, each renamed into place when complete;
when the whole input is done the parts are concatenated, part by part, into the output (in its
format) and the
span audit file (temporary files renamed into place), and the folder is removed. An interrupted
run leaves only that hidden folder; ``resume=True`` skips the parts already there (after checking
that the input file and the options are those recorded in the folder's ``manifest.json``).

Encoding decision: CSV and JSON lines are decoded as UTF-8 with ``errors="replace"``, so one bad
byte does not stop a multi-gigabyte run; every note holding a replacement character (U+FFFD)
afterwards is counted in :attr:`RedactStats.decode_replaced` and logged as a count. Parquet
strings are UTF-8 by construction.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from racelens.errors import ConfigError, DataError, RacelensError
from racelens.shared.tables import atomic_path, check_write_suffix, iter_table_chunks, table_kind
from racelens.text.redact.lexicon import Level
from racelens.text.redact.parts import Parts, manifest_for
from racelens.text.redact.redactor import RaceRedactor

__all__ = ["RedactStats", "redact_file", "iter_table_chunks", "table_kind"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedactStats:
    """Aggregates of one streaming redaction (no text, no identifiers)."""

    rows: int
    notes_with_mentions: int
    spans: int
    by_category: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    decode_replaced: int = 0
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The statistics as a plain dict."""
        return {"rows": self.rows, "notes_with_mentions": self.notes_with_mentions,
                "spans": self.spans, "by_category": dict(self.by_category),
                "skipped": self.skipped, "decode_replaced": self.decode_replaced,
                "chunks": self.chunks}


def _redact_column(values: list[Any], redactor: RaceRedactor, row0: int, ids: list[Any] | None,
                   counts: Counter[str], spans_fh: Any) -> list[Any]:
    out: list[Any] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            counts["skipped"] += 1
            out.append(None if isinstance(value, float) and math.isnan(value) else value)
            continue
        if "\ufffd" in value:
            counts["decode_replaced"] += 1
        red = redactor.redact(value)
        out.append(red.text)
        if red.spans:
            counts["notes_with_mentions"] += 1
            counts["spans"] += len(red.spans)
        for s in red.spans:
            counts["cat:" + s.category] += 1
            if spans_fh is not None:
                rec: dict[str, Any] = {"row": row0 + i}
                if ids is not None:
                    rec["note_id"] = ids[i]
                rec.update(start=s.start, end=s.end, rule=s.rule, category=s.category, term=s.text)
                spans_fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    return out


def redact_file(input: str | os.PathLike[str], output: str | os.PathLike[str], *,
                text_col: str = "text", level: Level = "explicit",
                keep_original: str | None = None, spans_out: str | os.PathLike[str] | None = None,
                id_col: str | None = None, chunk_rows: int = 10_000, progress: bool = True,
                redactor: RaceRedactor | None = None, resume: bool = False) -> RedactStats:
    """Redact the ``text_col`` of a note table into a table file, chunk by chunk.

    Parameters
    ----------
    input
        ``.csv`` / ``.csv.gz`` / ``.parquet`` / ``.jsonl`` file.
    output
        Table file to write (atomically), in the format its suffix names (``.csv``,
        ``.csv.gz``, ``.jsonl``, ``.parquet``; any other is a :class:`ConfigError`). The redacted
        text replaces ``text_col``; every other column is kept.
    text_col
        The note text column. Missing or empty notes pass through unchanged (``skipped``).
    level
        Redaction level (ignored when ``redactor`` is given).
    keep_original
        Name of a new column that keeps the original text; by default it is not kept.
    spans_out
        JSON-lines audit file: one line per span with ``row`` (0-based input row), ``note_id``
        (with ``id_col``), ``start``, ``end``, ``rule``, ``category`` and ``term`` (the matched
        term only).
    id_col
        Column whose value identifies a note in the audit file.
    chunk_rows
        Rows held in memory at a time.
    progress
        Show a progress bar (rows done) on stderr.
    redactor
        A configured :class:`RaceRedactor` (for example with a user lexicon).
    resume
        Keep the chunks an interrupted run already redacted (the hidden ``.<output>.parts/``
        folder) and redact only the rest; :class:`ConfigError` if the input file (size, mtime)
        or the options differ from those recorded. Without it an existing folder is discarded.
        The output and the statistics are those of an uninterrupted run.

    Returns
    -------
    RedactStats
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    redactor = redactor if redactor is not None else RaceRedactor(level=level)
    output = check_write_suffix(output)
    if not Path(input).is_file():
        raise DataError(f"{input}: file not found")
    table_kind(Path(input))
    parts = Parts(output, manifest_for(input, redactor, chunk_rows=chunk_rows, text_col=text_col,
                                        keep_original=keep_original, id_col=id_col,
                                        spans=spans_out is not None), resume)
    counts: Counter[str] = Counter()
    rows = chunks = resumed = 0
    try:
        with ExitStack() as stack:
            bar = _progress(stack, progress, input)
            for table in iter_table_chunks(input, chunk_rows):
                if table.num_columns == 0:  # an empty JSON-lines file
                    continue
                _check_columns(table, input, text_col, id_col, keep_original)
                done = parts.done(chunks, table.num_rows)
                if done is None:
                    done = _redact_part(table, parts, chunks, rows, redactor, text_col=text_col,
                                        id_col=id_col, keep_original=keep_original)
                else:
                    resumed += 1
                counts.update(done)
                rows += table.num_rows
                chunks += 1
                if bar is not None:
                    bar[0].update(bar[1], advance=table.num_rows)
            if resumed:
                logger.info("resumed: %d of %d chunks were already redacted", resumed, chunks)
            parts.finish(chunks, output, spans_out, text_col)
    except RacelensError:
        parts.discard()  # bad input or options: a resume would fail the same way
        raise
    stats = RedactStats(rows=rows, notes_with_mentions=counts["notes_with_mentions"],
                        spans=counts["spans"],
                        by_category={k[4:]: v for k, v in sorted(counts.items()) if k.startswith("cat:")},
                        skipped=counts["skipped"], decode_replaced=counts["decode_replaced"],
                        chunks=chunks)
    if stats.decode_replaced:
        logger.warning("%d notes held bytes that were not UTF-8 (replaced by U+FFFD)",
                       stats.decode_replaced)
    logger.info("redacted %d rows in %d chunks: %d spans", rows, chunks, stats.spans)
    return stats


def _check_columns(table: pa.Table, input: Any, text_col: str, id_col: str | None,
                   keep_original: str | None) -> None:
    if text_col not in table.column_names:
        raise DataError(f"{input}: no column {text_col!r}; found {table.column_names}; "
                        "name the note column with --text-col")
    if id_col is not None and id_col not in table.column_names:
        raise DataError(f"{input}: no id column {id_col!r}; found {table.column_names}")
    if keep_original is not None and keep_original in table.column_names:
        raise ConfigError(f"--keep-original {keep_original!r} already names a column; "
                          "choose a new column name")


def _redact_part(table: pa.Table, parts: Parts, index: int, row0: int, redactor: RaceRedactor,
                 *, text_col: str, id_col: str | None, keep_original: str | None) -> Counter[str]:
    """Redact one chunk into its part files; return its counts."""
    counts: Counter[str] = Counter()
    values = table.column(text_col).to_pylist()
    ids = table.column(id_col).to_pylist() if id_col is not None else None
    if parts.manifest["spans"]:
        with atomic_path(parts.spans_path(index)) as spans_tmp, \
                open(spans_tmp, "w", encoding="utf-8") as spans_fh:
            redacted = _redact_column(values, redactor, row0, ids, counts, spans_fh)
    else:
        redacted = _redact_column(values, redactor, row0, ids, counts, None)
    idx = table.column_names.index(text_col)
    new = table.set_column(idx, pa.field(text_col, pa.string()),
                           pa.array(redacted, type=pa.string()))
    if keep_original is not None:
        new = new.append_column(pa.field(keep_original, pa.string()),
                                pa.array(values, type=pa.string()))
    parts.commit(index, new, {"rows": table.num_rows, **counts})
    return counts


def _progress(stack: ExitStack, enabled: bool, input: Any) -> tuple[Any, Any] | None:
    if not enabled:
        return None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    total = None
    if table_kind(Path(input)) == "parquet":
        total = pq.ParquetFile(input).metadata.num_rows
    bar = stack.enter_context(Progress(SpinnerColumn(), TextColumn("{task.completed} rows"),
                                       TimeElapsedColumn(), transient=True))
    return bar, bar.add_task("redact", total=total)
