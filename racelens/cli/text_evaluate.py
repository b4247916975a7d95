"""``racelens text evaluate``: a thin shell over :func:`racelens.text.evaluate.evaluate_redactor`.

Prints aggregates only; the misses (which quote the annotated text) go to a per-sample file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from racelens.cli._util import say

__all__ = ["evaluate_command"]


def evaluate_command(
    gold: Annotated[Path, typer.Option("--gold", "-g", help="Annotated gold: a JSONL file, a BRAT "
                                       "folder (or .ann file), or C-REACT's "
                                       "indicators_assignments_df.jsonl (or its folder).")],
    format: Annotated[Literal["jsonl", "brat", "creact"], typer.Option(
        "--format", "-f", help="jsonl: {id, text, spans: [[start, end, category]]} per line; "
        "brat: .txt + .ann standoff; creact: C-REACT's collected indicator file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for evaluation.json and "
                                      "evaluation_misses.jsonl.")],
    level: Annotated[Literal["explicit", "extended"], typer.Option(
        "--level", help="explicit: score race and ethnicity spans (national origin, language, "
        "birthplace gold spans are counted, not scored); extended: score every span, with the "
        "extended redactor.")] = "explicit",
    lexicon: Annotated[Path | None, typer.Option(
        "--lexicon", help="YAML file of extra terms / safe phrases for the redactor.")] = None,
    overlap: Annotated[float, typer.Option(
        "--overlap", min=0.0, max=1.0, help="Minimum character overlap (intersection over "
        "union) of a match.")] = 0.5,
) -> None:
    """Score the redactor on annotated gold: span precision, recall, F2 per category, misses."""
    from racelens.text.evaluate import evaluate_redactor, read_gold, write_evaluation
    from racelens.text.redact import RaceRedactor

    corpus = read_gold(gold, format)
    redactor = RaceRedactor(level=level, lexicon=str(lexicon) if lexicon else None)
    evaluation = evaluate_redactor(corpus, level=level, redactor=redactor, overlap_threshold=overlap)
    summary, misses = write_evaluation(evaluation, out)
    for line in evaluation.lines():
        say(line)
    say(f"wrote {summary} (counts) and {misses} (misses with the annotated text: keep it inside "
        "the protected environment)")
