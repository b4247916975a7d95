"""``racelens report``: combine result.json files into one HTML/JSON/Markdown report.

A thin shell over :func:`racelens.shared.report.build.write_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from racelens.cli._util import say

__all__ = ["report"]


def report(
    paths: Annotated[list[Path], typer.Argument(
        metavar="RESULT_OR_RUN_DIR",
        help="result.json files or run folders (searched recursively for result.json).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="The HTML file to write; report.json and report.md go beside it.")
    ] = Path("report.html"),
) -> dict[str, Path]:
    """Combine audit results (imaging, text, covariates; any datasets) into one report.

    Writes a self-contained HTML page, its JSON payload and a Markdown summary, all aggregates
    only, and prints where they are.
    """
    from racelens.shared.report.build import write_report

    written = write_report(paths, out)
    say(f"report: {written['html']}")
    say(f"        {written['json']}")
    say(f"        {written['md']}")
    return written
