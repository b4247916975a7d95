"""What every ``racelens`` command shares: option aliases, and one way to write to the terminal.

Option aliases keep one name, one default and one help text per concept across the groups
(``--collapse`` had three help texts before). Output goes through :func:`say` (results, to
stdout) and :func:`note` (progress and rank messages, to stderr), both on a rich console that
keeps lines whole when the output is a pipe or a log, so commands never mix ``print``,
``typer.echo`` and rich.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CollapseOpt",
    "OptionalCollapseOpt",
    "RaceSourceOpt",
    "SeedOpt",
    "NBootOpt",
    "DeviceOpt",
    "ProgressOpt",
    "RunDirOpt",
    "console",
    "say",
    "note",
]

_COLLAPSE_HELP = "Race collapse: abw (Asian/Black/White), abhw, omb or bw."
CollapseOpt = Annotated[str, typer.Option("--collapse", help=_COLLAPSE_HELP)]
OptionalCollapseOpt = Annotated[str | None, typer.Option(
    "--collapse", help=_COLLAPSE_HELP + " Default: the manifest's own.")]
RaceSourceOpt = Annotated[str, typer.Option(
    "--race-source", help="Vocabulary of the race column: auto, mimic-iv, mimic-iv-v1, mimic-iii, "
    "chexpert, free-text, nlst (NLST participant race codes).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the split, models and bootstrap "
                                      "(children get derived seeds).")]
NBootOpt = Annotated[int, typer.Option("--n-boot", min=1, help="Patient-bootstrap resamples for "
                                       "intervals.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda[:N].")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
RunDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")]


@cache
def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    out, err = Console(), Console(stderr=True)
    if not out.is_terminal:  # pipes and logs: keep labels and paths whole
        out = Console(width=160)
    if not err.is_terminal:
        err = Console(stderr=True, width=160)
    return out, err


def console(*, stderr: bool = False) -> Console:
    """The rich console of the CLI: stdout for results, stderr for progress and notes."""
    return _consoles()[1 if stderr else 0]


def say(*objects: object) -> None:
    """Print a result line (or a rich table) to stdout, as plain text (no markup parsing)."""
    console().print(*objects, markup=False, highlight=False, emoji=False, soft_wrap=True)


def note(message: str) -> None:
    """Print a progress or status line to stderr."""
    console(stderr=True).print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)
