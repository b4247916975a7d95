"""``racelens reader``: a blinded reader study (make the page, score the answers).

Thin shells over :func:`racelens.reader.make.make_study` and
:func:`racelens.reader.score.score_study`; output is aggregates only, and ``make`` says that the
study folder holds patient data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from racelens.cli._util import CollapseOpt, NBootOpt, RaceSourceOpt, SeedOpt, note, say

__all__ = ["app", "make", "score"]

app = typer.Typer(help="A blinded reader study: human experts beside the model.",
                  no_args_is_help=True)


@app.command()
def make(
    out: Annotated[Path, typer.Option("--out", "-o", help="Study folder to write.")],
    notes: Annotated[Path | None, typer.Option(help="Note table (csv/parquet/jsonl).")] = None,
    manifest: Annotated[Path | None, typer.Option(help="Imaging manifest (racelens imaging "
                                                  "manifest).")] = None,
    text_col: Annotated[str, typer.Option(help="Column of note text.")] = "text",
    label_col: Annotated[str, typer.Option(help="Race column (raw values are harmonised).")] = "race",
    patient_col: Annotated[str, typer.Option(help="Patient id column.")] = "patient_id",
    sample_col: Annotated[str | None, typer.Option(
        help="Unique note id column (the audit's, when pairing with --run).")] = None,
    race_source: RaceSourceOpt = "auto",
    collapse: CollapseOpt = "abw",
    level: Annotated[str, typer.Option(help="Redaction level of the notes shown: none, explicit, "
                                       "extended.")] = "explicit",
    run: Annotated[Path | None, typer.Option(
        help="Audit run folder: sample from its test split (paired with the model).")] = None,
    n: Annotated[int, typer.Option("--n", help="Items to sample (one per patient, stratified "
                                   "by group).")] = 200,
    seed: SeedOpt = 0,
    image_size: Annotated[int, typer.Option(help="Longest side of the images shown (px).")] = 512,
    confidence: Annotated[bool, typer.Option("--confidence/--no-confidence",
                                             help="Show the optional confidence slider.")] = True,
) -> None:
    """Sample items and write reader.html, items.csv, key.json and study.json into OUT."""
    from racelens.reader.make import StudyConfig, make_study

    study = make_study(StudyConfig(
        out=out, notes=notes, manifest=manifest, text_col=text_col, label_col=label_col,
        patient_col=patient_col, sample_col=sample_col, race_source=race_source,
        collapse=collapse, level=level, run=run, n=n, seed=seed,  # type: ignore[arg-type]
        image_size=image_size, confidence=confidence))
    groups = ", ".join(f"{g} {c}" for g, c in study.groups.items())
    say(f"reader study: {study.n_items} items ({groups}) from {study.n_candidates} candidates, "
        f"shown as {study.condition.label}")
    if study.skipped:
        say("left out: " + ", ".join(f"{r}: {c}" for r, c in study.skipped.items()))
    say(f"page:  {study.page}")
    say(f"items: {study.items_csv}")
    say(f"key:   {study.key} (organiser only; never hand it out)")
    note("note: reader.html holds patient data (the notes or images themselves); keep it inside "
         "the protected environment (see FILES.md). Reports built from the study hold "
         "aggregates only.")


@app.command(context_settings={"allow_extra_args": True})
def score(
    ctx: typer.Context,
    study: Annotated[Path, typer.Option("--study", help="Study folder (racelens reader make).")],
    answers: Annotated[list[Path], typer.Option("--answers", help="Answer CSV(s): several may "
                                                "follow the option.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder for result.json.")],
    run: Annotated[Path | None, typer.Option(
        help="Audit run folder scored on the same items: paired DeLong test.")] = None,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
) -> None:
    """Score the answers: pooled macro AUC with intervals, readers, agreement (result.json).

    Several answer files follow one --answers (--answers a.csv b.csv, or a shell glob).
    """
    from racelens.errors import ConfigError
    from racelens.reader.score import ScoreConfig, score_study

    stray = [a for a in ctx.args if a.startswith("-")]
    if stray:
        raise ConfigError(f"unknown option(s) {stray}; see racelens reader score --help")
    files = [*answers, *map(Path, ctx.args)]
    res = score_study(ScoreConfig(study=study, answers=files, run=run, out=out,
                                  n_boot=n_boot, seed=seed))
    c = res.conditions[0]
    m = c.auc.macro
    say(f"human readers ({res.extras['n_readers']}), {c.condition.label}: macro AUC "
        f"{m.estimate:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}] over {c.n_test} answers")
    agr = res.extras["agreement"]
    if agr.get("kappa") is not None:
        say(f"agreement: {agr['method']} kappa {agr['kappa']:.3f} on {agr['n_items']} items")
    say(f"can't tell: {res.extras['cant_tell_rate']:.1%} of answers")
    if "paired" in res.extras:
        p = res.extras["paired"]
        say(f"human vs model on {p['n_items']} items: {p['human_macro']:.3f} vs "
            f"{p['model_macro']:.3f}, paired DeLong p = {p['p_value']:.3g}")
    say(f"result: {out / 'result.json'}")
