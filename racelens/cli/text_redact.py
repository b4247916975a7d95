"""``racelens text redact``: a thin shell over :func:`racelens.text.redact.stream.redact_file`.

Prints aggregates only (rows, notes with mentions, spans per category), never note text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from racelens.cli._util import say

__all__ = ["redact_command"]


def redact_command(
    input: Annotated[Path, typer.Option("--input", "-i", help="Notes: .csv, .csv.gz, .parquet or .jsonl.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Table to write, in the format its "
                                      "suffix names: .parquet, .csv, .csv.gz or .jsonl (a "
                                      "parquet directory with --engine spark).")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column holding the note text.")] = "text",
    level: Annotated[Literal["explicit", "extended"], typer.Option(
        "--level", help="explicit: race/ethnicity terms; extended: also national origin, "
        "languages, birthplaces.")] = "explicit",
    spans: Annotated[Path | None, typer.Option(
        "--spans", help="Write a span audit file (JSON lines: row, offsets, rule, term).")] = None,
    keep_original: Annotated[str | None, typer.Option(
        "--keep-original", help="Keep the original text in a new column of this name.")] = None,
    id_col: Annotated[str | None, typer.Option(
        "--id-col", help="Column identifying notes in the span audit file.")] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows per chunk.")] = 10_000,
    lexicon: Annotated[Path | None, typer.Option(
        "--lexicon", help="YAML file of extra terms / safe phrases (same shape as the packaged "
        "lexicon).")] = None,
    replacement: Annotated[str | None, typer.Option(
        "--replacement", help="Replacement token (default [RACE]; '' deletes the mentions, "
        "like --delete).", show_default=False)] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Delete each mention instead of replacing it (and the space it leaves "
        "doubled): the token's count is itself a race signal when groups' mention rates "
        "differ.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="Show a progress bar.")] = True,
    engine: Annotated[Literal["local", "spark"], typer.Option(
        "--engine", help="local: stream the file in this process; spark: redact with Spark "
        "(needs racelens[spark] and Java 17+; --spans becomes a directory).")] = "local",
    master: Annotated[str, typer.Option(
        "--master", help="Spark master for --engine spark (local[4], spark://host:7077, yarn); "
        "ignored when a Spark session is already active.")] = "local[2]",
    resume: Annotated[bool, typer.Option(
        "--resume/--no-resume", help="Local engine only: keep the chunks an interrupted run "
        "already redacted (the hidden .<out>.parts/ folder next to --out) and redact the rest; "
        "refused if the input file or the options changed. Without it the folder is "
        "discarded.")] = False,
) -> None:
    """Redact race and ethnicity mentions from a note table, streaming it in chunks."""
    from racelens.errors import ConfigError
    from racelens.text.redact.redactor import RaceRedactor
    from racelens.text.redact.stream import redact_file

    # --delete against any token the user named, whatever the redactor's default token is
    if delete and replacement not in (None, ""):
        raise ConfigError(f"--delete and --replacement {replacement!r} contradict each other; "
                          "give one of them")
    chosen = {"replacement": ""} if delete else (
        {} if replacement is None else {"replacement": replacement})
    redactor = RaceRedactor(level=level, lexicon=str(lexicon) if lexicon is not None else None,
                            **chosen)
    if engine == "spark" and resume:
        raise ConfigError("--resume applies to the local engine only; with --engine spark "
                          "rerun without --resume")
    if engine == "spark":
        from racelens.text.spark.file import redact_file_spark

        stats = redact_file_spark(input, out, text_col=text_col, master=master,
                                  keep_original=keep_original, spans_out=spans, id_col=id_col,
                                  redactor=redactor)
    else:
        stats = redact_file(input, out, text_col=text_col, keep_original=keep_original,
                            spans_out=spans, id_col=id_col, chunk_rows=chunk_rows,
                            progress=progress, redactor=redactor, resume=resume)
    say(f"rows: {stats.rows}  notes with mentions: {stats.notes_with_mentions}  "
               f"spans: {stats.spans}  skipped (empty/missing): {stats.skipped}")
    if stats.by_category:
        say("by category: " + ", ".join(f"{k}={v}" for k, v in stats.by_category.items()))
    if stats.decode_replaced:
        say(f"notes with undecodable bytes (replaced): {stats.decode_replaced}")
    say(f"wrote {out}" + (f" and {spans}" if spans is not None else ""))
