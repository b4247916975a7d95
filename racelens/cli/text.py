"""``racelens text``: redact notes, check a redaction, audit race leakage from notes.

Each command is a thin shell over a library function; output is aggregates only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from racelens.cli._util import CollapseOpt, NBootOpt, RaceSourceOpt, SeedOpt, say
from racelens.cli.text_cohort import cohort_app
from racelens.cli.text_evaluate import evaluate_command
from racelens.cli.text_explain import explain_command
from racelens.cli.text_redact import redact_command
from racelens.errors import DataError

__all__ = ["app", "check", "audit", "read_gold_spans"]

app = typer.Typer(help="Clinical notes: redaction, redaction checks, leakage audits.",
                  no_args_is_help=True)

app.command("redact", help="Redact race and ethnicity terms from a note table.")(redact_command)
app.command("evaluate", help="Score the redactor on annotated gold (JSONL, BRAT, C-REACT).")(
    evaluate_command)
app.command("explain", help="Which words, kinds of words and sections carry race after "
            "redaction.")(explain_command)
app.add_typer(cohort_app, name="cohort")


def read_gold_spans(path: Path, n_notes: int) -> list[list[tuple[int, int]]]:
    """Gold spans from JSON lines: ``{"row": i, "start": s, "end": e}`` per span (``row`` may
    also be ``index`` or ``note_index``), or one JSON list of ``[start, end]`` pairs per note."""
    spans: list[list[tuple[int, int]]] = [[] for _ in range(n_notes)]
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    try:
        rows = [json.loads(ln) for ln in lines]
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON lines ({exc})") from exc
    if rows and all(isinstance(r, list) for r in rows):
        if len(rows) != n_notes:
            raise DataError(f"{path}: {len(rows)} lines of spans for {n_notes} notes")
        return [[(int(s), int(e)) for s, e in r] for r in rows]
    for k, r in enumerate(rows):
        key = next((c for c in ("row", "index", "note_index") if c in r), None)
        if key is None or "start" not in r or "end" not in r:
            raise DataError(f"{path}: line {k + 1} needs 'row', 'start' and 'end'")
        i = int(r[key])
        if not 0 <= i < n_notes:
            raise DataError(f"{path}: line {k + 1} names row {i}; the input has {n_notes} notes")
        spans[i].append((int(r["start"]), int(r["end"])))
    return spans


def _count_rows(path: Path, column: str) -> int:
    from racelens.text.check.stream import _chunks

    return sum(len(df) for df in _chunks(path, [column], 50_000))


@app.command()
def check(
    input: Annotated[Path, typer.Option("--input", "-i", help="Redacted notes (csv/parquet/jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for check.json.")],
    text_col: Annotated[str, typer.Option(help="Column of redacted text.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Race column (raw values are harmonised).")] = None,
    patient_col: Annotated[str | None, typer.Option(help="Patient id column.")] = None,
    original_col: Annotated[str | None, typer.Option(help="Column holding the original text.")] = None,
    gold_spans: Annotated[Path | None, typer.Option(help="Gold spans (JSON lines, original offsets).")] = None,
    level: Annotated[str, typer.Option(help="Terms the residual scan looks for: explicit|extended.")] = "explicit",
    collapse: CollapseOpt = "abw",
    race_source: RaceSourceOpt = "auto",
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    min_patients: Annotated[int, typer.Option(
        help="Report a proxy only if it occurs in notes of at least this many training "
             "patients (keeps names/MRNs out of the report).")] = 10,
    max_leakage_notes: Annotated[int, typer.Option(
        help="Most notes (whole patients, hash-sampled) the leakage probe is fitted on.")
                                 ] = 50_000,
    chunk_rows: Annotated[int, typer.Option(help="Rows read at a time.")] = 10_000,
) -> None:
    """Check a redaction: residual terms, span scores, mention rates, leakage, proxies.

    The table is read in chunks (memory does not grow with it); the leakage probe uses a
    sample of whole patients of at most --max-leakage-notes notes. The probe is the text
    audit's leakage model, split and C search: when the sample is the whole table, its AUC
    equals `text audit --original-col` on the same file for that level.
    """
    from racelens.shared.run_files import write_files_note
    from racelens.shared.tables import atomic_write_text
    from racelens.text.check.stream import check_file

    gold = read_gold_spans(gold_spans, _count_rows(input, text_col)) if gold_spans else None
    report = check_file(
        input, text_col=text_col, label_col=label_col, patient_col=patient_col,
        original_col=original_col, gold_spans=gold, level=level,  # type: ignore[arg-type]
        collapse=collapse, race_source=race_source, seed=seed, n_boot=n_boot,
        min_patients=min_patients, max_leakage_notes=max_leakage_notes, chunk_rows=chunk_rows)
    atomic_write_text(out / "check.json", report.to_json() + "\n")
    write_files_note(out)
    say(report.summary())
    say(f"wrote {out / 'check.json'}")


@app.command()
def audit(
    input: Annotated[Path, typer.Option("--input", "-i", help="Notes (csv/parquet/jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")],
    text_col: Annotated[str, typer.Option(help="Column of note text.")] = "text",
    label_col: Annotated[str, typer.Option(help="Race column (raw source values).")] = "race",
    patient_col: Annotated[str, typer.Option(help="Patient id column.")] = "patient_id",
    sample_col: Annotated[str | None, typer.Option(help="Unique note id column.")] = None,
    model: Annotated[str, typer.Option(help="tfidf | embeddings:DIR | transformer:DIR.")] = "tfidf",
    levels: Annotated[str, typer.Option(help="Redaction levels, comma-separated.")
                      ] = "none,explicit,extended",
    replacements: Annotated[str, typer.Option(
        help="How a redaction level treats a mention, comma-separated: token (replaced by "
             "[RACE]), delete (deleted: no token whose count could carry race).")] = "token",
    strip_proxies: Annotated[int, typer.Option(help="Remove up to K top proxies and re-measure.")] = 0,
    proxy_step: Annotated[int, typer.Option(help="Proxies removed between measurements (0: K/10).")] = 0,
    min_patients: Annotated[int, typer.Option(
        help="Strip/list a proxy only if it occurs in notes of at least this many training "
             "patients.")] = 10,
    collapse: CollapseOpt = "abw",
    race_source: RaceSourceOpt = "auto",
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    original_col: Annotated[str | None, typer.Option(
        help="The input is `text redact --keep-original COL` output: --text-col holds the "
             "redacted notes, this column the originals. --redacted-level (with "
             "--redacted-replacement) is then measured on the file's own redaction, not "
             "redacted again; level none reads this column.")] = None,
    redacted_level: Annotated[str, typer.Option(
        help="With --original-col: the --level the file was redacted at.")] = "explicit",
    redacted_replacement: Annotated[str, typer.Option(
        help="With --original-col: token ([RACE]) or delete (`text redact --delete`).")
                                    ] = "token",
) -> None:
    """AUC of race from notes at each redaction level (and after stripping proxies).

    Every level is scored by the same leakage model, split and C search as `text check`, so a
    level's AUC here equals the check's leakage AUC for it on the same table.
    """
    from racelens.text.audit import TextAuditConfig, run_text_audit

    cfg = TextAuditConfig(input, text_col=text_col, label_col=label_col,
                          patient_col=patient_col, sample_col=sample_col, out=out, model=model,
                          levels=tuple(v.strip() for v in levels.split(",") if v.strip()),
                          replacements=tuple(v.strip() for v in replacements.split(",")
                                             if v.strip()),
                          strip_proxies=strip_proxies, proxy_step=proxy_step,
                          min_patients=min_patients, collapse=collapse,
                          race_source=race_source, seed=seed, n_boot=n_boot,
                          original_col=original_col, redacted_level=redacted_level,
                          redacted_replacement=redacted_replacement)
    res = run_text_audit(cfg)
    d = res.data
    say(f"{d.n_samples:,} notes, {d.n_patients:,} patients; "
               f"excluded {sum(d.excluded.values()):,}, skipped {len(d.skipped):,}")
    for c in res.conditions:
        m = c.auc.macro
        say(f"{c.condition.label:<40} macro AUC {m.estimate:.3f} "
                   f"[{m.ci_low:.3f}, {m.ci_high:.3f}]  p={c.p_value_vs_chance:.2g}  "
                   f"n_test={c.n_test}")
    say(f"wrote {out / 'result.json'}")
