"""``racelens text explain``: a thin shell over :func:`racelens.text.explain.run_text_explain`.

Prints aggregates only (AUCs, the top terms seen for at least --min-patients patients, section
names), never note text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from racelens.cli._util import (
    CollapseOpt,
    NBootOpt,
    ProgressOpt,
    RaceSourceOpt,
    SeedOpt,
    note,
    say,
)

__all__ = ["explain_command"]


def _ci(block: dict | None) -> str:
    m = (block or {}).get("macro") or {}
    if m.get("estimate") is None:
        return "n/a"
    return f"{m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def explain_command(
    input: Annotated[Path, typer.Option("--input", "-i", help="Notes (csv/parquet/jsonl), "
                                        "original text: they are redacted at --level here.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory for explain.json.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column of note text.")] = "text",
    label_col: Annotated[str, typer.Option("--label-col", help="Race column (raw values).")
                         ] = "race",
    patient_col: Annotated[str, typer.Option("--patient-col", help="Patient id column.")
                           ] = "patient_id",
    sample_col: Annotated[str | None, typer.Option("--sample-col", help="Unique note id column.")
                          ] = None,
    level: Annotated[Literal["explicit", "extended"], typer.Option(
        "--level", help="Redaction level of the notes explained.")] = "explicit",
    model: Annotated[str, typer.Option(
        "--model", help="tfidf (exact linear attributions) or transformer:DIR (a local "
        "checkpoint; captum integrated gradients merged to words).")] = "tfidf",
    min_patients: Annotated[int, typer.Option(
        "--min-patients", min=1, help="List a term only if at least this many patients have "
        "it (no rare n-gram that could be a name or an identifier).")] = 10,
    collapse: CollapseOpt = "abw",
    race_source: RaceSourceOpt = "auto",
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Processes the independent fits run in (the results do not "
        "depend on it; a transformer model fits in one).")] = 2,
    progress: ProgressOpt = True,
) -> None:
    """Which words, kinds of words and note sections still carry race after redaction.

    Terms per group (exact coefficient x tf-idf for the linear model), a deletion curve (top-k
    terms against k random terms of the same document frequency), the AUC with each kind of
    term removed, the AUC of each section alone, and the placeholder's own leak (a model that
    sees only the mention pattern, for token, category and delete replacements). The leakage
    model, split and C search are the text audit's: `original` and `redacted` are its numbers.
    """
    from racelens.shared.run_files import write_files_note
    from racelens.text.explain import EXPLAIN_FILE, ExplainConfig, run_text_explain

    doc = run_text_explain(ExplainConfig(
        input, text_col=text_col, label_col=label_col, patient_col=patient_col,
        sample_col=sample_col, level=level, model=model, min_patients=min_patients, out=out,
        collapse=collapse, race_source=race_source, seed=seed, n_boot=n_boot,
        workers=workers, progress=note if progress else None))
    write_files_note(out)
    d = doc["data"]
    say(f"{d['n_notes']:,} notes, {d['n_patients']:,} patients")
    say(f"original {_ci(doc['original'])}; redacted ({level}) {_ci(doc['redacted'])}")
    for g in sorted({t["group"] for t in doc["terms"]}):
        top = [t["term"] for t in doc["terms"] if t["group"] == g][:8]
        say(f"  top terms {g}: " + ", ".join(top))
    for row in doc["deletion"]:
        say(f"  delete {row['k']:>3} terms: top {_ci(row['top'])}, random {_ci(row['random'])}")
    cats = [c for c in doc["categories"] if c["remove"]]
    if cats:
        say("  without: " + ", ".join(f"{c['name']} {_ci(c['remove'])}" for c in cats))
    secs = [s for s in doc["sections"] if s["auc"]]
    if secs:
        say("  section alone: " + ", ".join(f"{s['name']} {_ci(s['auc'])}" for s in secs))
    say("  mention pattern only: " + ", ".join(f"{k} {_ci(v)}"
                                               for k, v in doc["placeholder"].items()))
    say(f"wrote {out / EXPLAIN_FILE}")
