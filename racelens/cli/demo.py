"""``racelens demo``: the whole audit on a built-in synthetic cohort whose answers are known.

A thin shell over :func:`racelens.demo.run.run_demo`: prints each stage as it starts and ends, where
the report is, a short results table and the known-answer checks (aggregates only). Exits 1 when
a known answer did not hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from racelens.demo.run import DemoResult

__all__ = ["demo", "print_demo"]


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_demo(result: DemoResult, console=None) -> None:  # type: ignore[no-untyped-def]
    """Print the report's location, the results table and the known answers with PASS/FAIL."""
    from rich.console import Console
    from rich.table import Column, Table

    console = console or Console()
    table = Table(Column("modality"), Column("condition", no_wrap=True), "macro AUC", "95% CI",
                  title="race predictability (macro one-vs-rest AUC, test split)")
    for row in result.summary:
        table.add_row(row.modality, row.condition, _fmt(row.macro_auc),
                      f"{_fmt(row.ci_low)}–{_fmt(row.ci_high)}")
    console.print(table)
    checks = Table(Column("known answer", no_wrap=True), "expected", "observed", "",
                   title="known answers of the synthetic cohort")
    for c in result.checks:
        checks.add_row(c.name, c.expected, c.observed,
                       "[green]PASS[/green]" if c.passed else "[bold red]FAIL[/bold red]")
    console.print(checks)
    n_pass = sum(c.passed for c in result.checks)
    console.print(f"{n_pass}/{len(result.checks)} known answers hold")
    console.print(f"report: {result.report['html']}")
    console.print(f"        {result.report['json']}")
    console.print(f"        {result.report['md']}")
    if result.reader_study is not None:
        study = result.reader_study.parent
        console.print(f"reader study (optional step, not a known answer): {result.reader_study}")
        console.print(f"        answer it in a browser, export the CSV, then: racelens reader score "
                      f"--study {study} --answers ANSWERS.csv --run {study.parent / 'text'} "
                      f"--out {study.parent / 'human'}")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Run folder for the cohort, results and report.")
                   ] = Path("out/demo"),
    quick: Annotated[bool, typer.Option("--quick", help="A small cohort (about a minute on two "
                                        "CPU cores) instead of the default (a few minutes).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cohort, splits, models and "
                                      "bootstraps.")] = 0,
    reader_study: Annotated[bool, typer.Option(
        "--reader-study", help="Optional step: also make a small blinded reader study of the "
        "test notes (OUT/reader/reader.html; not a known answer).")] = False,
    ct: Annotated[bool, typer.Option(
        "--ct", help="Also run the CT part: 60 synthetic CT series scored per series (about "
        "half a minute more).")] = False,
) -> None:
    """Run the whole audit on a built-in synthetic cohort and check its known answers.

    Writes the cohort (DICOM images, notes), the imaging, covariate and text results and the
    combined report (report.html, report.json, report.md) under OUT; with --reader-study also
    a small blinded reader study (OUT/reader) to try the page on.
    """
    import time

    from rich.console import Console

    from racelens.demo.run import DemoConfig, run_demo

    console = Console()
    if not console.is_terminal:  # pipes and logs: keep labels whole
        console = Console(width=140)
    t0 = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[dim]{time.perf_counter() - t0:6.1f} s[/dim]  {message}")

    result = run_demo(DemoConfig(out=out, quick=quick, seed=seed, progress=progress,
                                 reader_study=reader_study, ct=ct))
    print_demo(result, console)
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
    if not result.passed:
        raise typer.Exit(code=1)
