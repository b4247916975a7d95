"""``racelens export``: copy a run's aggregate results, without per-sample data, to share them.

A thin shell over :func:`racelens.shared.export.export_run`; prints counts only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from racelens.cli._util import say

__all__ = ["export"]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items()) or "none"


def export(
    runs: Annotated[list[Path], typer.Argument(
        metavar="RUN_DIR...", help="Run directories (of an audit, a check, a report or the demo).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder to copy the aggregates into (outside the run directories).")],
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Write into a non-empty --out (same-named files are replaced).")
    ] = False,
) -> None:
    """Copy result.json, check.json, reports and plots out of run directories, checked and
    scrubbed of skipped-row ids and paths; per-sample files (predictions, splits, manifests,
    caches, model weights, notes) stay where they are."""
    from racelens.shared.export import export_run

    s = export_run(runs, out, overwrite=overwrite)
    say(f"exported {s.n_copied:,} files to {s.out}: {_counts(dict(s.copied))}")
    say(f"replaced in the results: {_counts(dict(s.scrubbed))}")
    say(f"left in the run directories: {s.n_left:,} files: {_counts(dict(s.left))}")
