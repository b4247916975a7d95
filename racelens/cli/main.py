"""The ``racelens`` command: one Typer app with a sub-app per group.

Each command is a thin shell over a library function that returns data. Every
:class:`~racelens.errors.RacelensError` becomes one line on stderr and exit code 2; set
``RACELENS_DEBUG=1`` for the traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from racelens import __version__
from racelens.cli._distributed import rank_zero_command, rank_zero_commands
from racelens.cli._util import note, say
from racelens.errors import RacelensError

__all__ = ["app", "main"]

app = typer.Typer(
    name="racelens",
    help="Audit whether self-reported race stays predictable from chest radiographs and "
    "clinical notes after race is stripped out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# group name -> (module, attribute, help). A module exposes a typer.Typer (a group) or a
# function (a single command). Groups are imported here, but each module imports its heavy
# dependencies (torch, spaCy) inside the commands, so `racelens --help` stays fast.
_GROUPS: dict[str, tuple[str, str, str]] = {
    "imaging": ("racelens.cli.imaging", "app", "Chest radiographs: manifests, audits, baselines, probes."),
    "text": ("racelens.cli.text", "app", "Clinical notes: redaction, redaction checks, leakage audits."),
    "report": ("racelens.cli.report", "report", "Combine result.json files into one HTML/JSON/Markdown report."),
    "demo": ("racelens.cli.demo", "demo", "Run the whole audit on a built-in synthetic cohort."),
    "reader": ("racelens.cli.reader", "app",
               "A blinded reader study: make the page, score the answers beside the model."),
    "synth": ("racelens.cli.synth", "synth", "Write a synthetic cohort in the real loaders' file layouts."),
    "study": ("racelens.cli.study", "app", "Reproduce a paper from one study file (init a preset, run it)."),
    "export": ("racelens.cli.export", "export",
               "Copy aggregate results out of run directories, without per-sample data."),
}


def _version_callback(value: bool) -> None:
    if value:
        say(f"racelens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    for group, (module, attr, help_text) in _GROUPS.items():
        obj = getattr(importlib.import_module(module), attr)
        # under torchrun every command but the distributed imaging audit runs on rank 0 only
        if isinstance(obj, typer.Typer):
            app.add_typer(rank_zero_commands(obj, f"racelens {group}"), name=group, help=help_text)
        else:
            app.command(name=group, help=help_text)(rank_zero_command(obj, f"racelens {group}"))


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; maps known errors to one line and exit code 2."""
    debug = os.environ.get("RACELENS_DEBUG", "") not in ("", "0")
    try:
        rc = app(args=argv, standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into this exit code itself
            raise KeyboardInterrupt
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except RacelensError as exc:
        if debug:
            raise
        note(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        note("interrupted: no half-written output was left in place (outputs are written "
                   "atomically)")
        sys.exit(130)
    except OSError as exc:
        # an output folder that cannot be created, a full disk, a permission problem
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        note(f"error: {where}{exc.strerror or exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        note("aborted")
        sys.exit(1)
    except Exception as exc:
        # Usage errors come from the click that typer bundles (typer._click in recent
        # releases, click in older ones): recognise them by their interface, not their module.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        raise
