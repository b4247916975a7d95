"""``racelens text cohort``: join a note export to race and write one note table.

MIMIC-IV-Note and MIMIC-III keep race in the admissions table, not beside the note; these
commands do the join (with the cohort rules of :mod:`racelens.text.sources`) and write a table
(``.parquet``, ``.csv``, ``.csv.gz`` or ``.jsonl``, by suffix) with the standard columns that
``racelens text redact/check/audit`` read. A JSON sidecar beside it records what was excluded or skipped, by reason. Output is aggregates only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from racelens.cli._util import CollapseOpt, say

__all__ = ["cohort_app"]

cohort_app = typer.Typer(help="Join notes to race (MIMIC-IV-Note, MIMIC-III) into one note table.",
                         no_args_is_help=True)


def _write(cohort: Any, out: Path) -> None:
    """Write the cohort with its sidecar (:meth:`racelens.shared.cohort.Cohort.write`); print
    the accounting read back from the sidecar."""
    from racelens.shared.cohort import read_sidecar

    _, side = cohort.write(out)
    _print(read_sidecar(side), out)


def _print(meta: dict[str, Any], out: Path) -> None:
    say(f"input rows {meta['n_input_rows']}: notes {meta['n_samples']} "
        f"({meta['n_patients']} patients), excluded {sum(meta['excluded'].values())}, "
        f"skipped {sum(meta['skipped_by_reason'].values())}")
    say("groups: " + ", ".join(f"{g} {n}" for g, n in meta["groups"].items()))
    for reason, n in meta["excluded"].items():
        say(f"  excluded {reason}: {n}")
    for reason, n in meta["skipped_by_reason"].items():
        say(f"  skipped {reason}: {n}")
    say(f"wrote {out}")


@cohort_app.command("mimic-iv")
def mimic_iv(
    notes: Annotated[Path, typer.Option(help="note/discharge.csv.gz or note/radiology.csv.gz")],
    admissions: Annotated[Path, typer.Option(help="MIMIC-IV hosp/admissions.csv.gz")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Note table to write "
                                      "(.parquet, .csv, .csv.gz or .jsonl).")],
    collapse: CollapseOpt = "abw",
    consistency: Annotated[str, typer.Option(help="drop (Gichoya), mode or none.")] = "drop",
    join: Annotated[str, typer.Option(help="Join race by hadm (admission) or subject.")] = "hadm",
) -> None:
    """MIMIC-IV-Note joined to MIMIC-IV admissions (race, or ethnicity before v2.0)."""
    from racelens.shared.tables import check_write_suffix
    from racelens.text.sources import mimic_iv_notes

    check_write_suffix(out)
    cohort = mimic_iv_notes(notes, admissions, collapse=collapse, consistency=consistency,  # type: ignore[arg-type]
                            join=join)  # type: ignore[arg-type]
    _write(cohort, out)


@cohort_app.command("mimic-iii")
def mimic_iii(
    notes: Annotated[Path, typer.Option(help="NOTEEVENTS.csv.gz")],
    admissions: Annotated[Path, typer.Option(help="ADMISSIONS.csv.gz (ETHNICITY)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Note table to write "
                                      "(.parquet, .csv, .csv.gz or .jsonl).")],
    category: Annotated[list[str] | None, typer.Option(
        help="Note CATEGORY kept (repeatable); default: Discharge summary.")] = None,
    one_per_admission: Annotated[bool, typer.Option(help="Keep one note per admission.")] = False,
    collapse: CollapseOpt = "abw",
    consistency: Annotated[str, typer.Option(help="drop (Gichoya), mode or none.")] = "drop",
) -> None:
    """MIMIC-III NOTEEVENTS joined to ADMISSIONS (ETHNICITY, 41 values)."""
    from racelens.shared.tables import check_write_suffix
    from racelens.text.sources import mimic_iii_notes

    check_write_suffix(out)
    cohort = mimic_iii_notes(notes, admissions, categories=tuple(category or ("Discharge summary",)),
                             one_per_admission=one_per_admission, collapse=collapse,
                             consistency=consistency)  # type: ignore[arg-type]
    _write(cohort, out)
