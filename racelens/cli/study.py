"""``racelens study``: one file reproduces a paper (``init`` writes a preset, ``run`` runs it).

A thin shell over :mod:`racelens.study`: the runner is handed this CLI's own commands, so a
study step takes exactly the options the command takes on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from racelens.cli._util import say
from racelens.errors import ConfigError

__all__ = ["app", "CliCommands", "init", "run"]

app = typer.Typer(help="Reproduce a paper from one study file: init a preset, run it.",
                  no_args_is_help=True)


class CliCommands:
    """The racelens commands, as a study runner sees them (options read from the Typer app)."""

    def __init__(self) -> None:
        import typer.main

        from racelens.cli.main import app as root  # lazily: this module is a group of that app

        self._root = typer.main.get_command(root)

    def _command(self, command: Sequence[str]) -> Any:
        node = self._root
        for i, name in enumerate(command):
            sub = getattr(node, "commands", {}).get(name)
            if sub is None:
                have = ", ".join(sorted(getattr(node, "commands", {})))
                raise ConfigError(f"no command `racelens {' '.join(command[:i + 1])}`"
                                  + (f"; available: {have}" if have else ""))
            node = sub
        if getattr(node, "commands", None):
            raise ConfigError(f"`racelens {' '.join(command)}` is a group; name one of its "
                              f"commands: {', '.join(sorted(node.commands))}")
        return node

    def options(self, command: Sequence[str]) -> Mapping[str, Any]:
        from racelens.study.run import OptionSpec

        out: dict[str, OptionSpec] = {}
        for p in self._command(command).params:
            longs = [o for o in getattr(p, "opts", ()) if o.startswith("--")]
            if not longs or getattr(p, "param_type_name", "") != "option":
                continue
            offs = [o for o in getattr(p, "secondary_opts", ()) if o.startswith("--")]
            out[longs[0][2:]] = OptionSpec(flag=longs[0], is_flag=bool(p.is_flag),
                                           off_flag=offs[0] if offs else None,
                                           multiple=bool(p.multiple))
        return out

    def run(self, argv: Sequence[str]) -> None:
        cmd = self._root
        try:
            cmd.main(args=list(argv), prog_name="racelens", standalone_mode=False)
        except Exception as exc:
            # usage errors of the bundled click: recognise them by their interface
            if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
                raise ConfigError(f"racelens {' '.join(argv[:2])}: {exc.format_message()}") from exc
            raise


@app.command()
def init(
    preset: Annotated[str, typer.Argument(help="Preset name; `racelens study init --list` lists them.")] = "",
    out: Annotated[Path, typer.Option("--out", "-o", help="Study file to write.")] = Path("study.toml"),
    list_: Annotated[bool, typer.Option("--list", help="List the presets and exit.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing study file.")] = False,
) -> None:
    """Write a preset study file with every choice commented; fill in [data], then `study run`."""
    from racelens.study.presets import PRESETS, write_preset

    if list_ or not preset:
        for name, p in PRESETS.items():
            say(f"{name:24s} {p.title}")
        if not list_:
            raise ConfigError("name a preset, e.g. `racelens study init gichoya2022-mimic --out study.toml`")
        return
    path = write_preset(preset, out, overwrite=force)
    say(f"wrote {path}: fill in [data] (and check the options), then `racelens study run {path}`")


@app.command()
def run(
    study_file: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study file.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: the "
                                             "study's [study] out).")] = None,
    resume: Annotated[bool, typer.Option(help="Skip steps whose inputs are unchanged since "
                                         "they finished; resume half-trained audits.")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this step "
                                                   "(repeatable).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override an option: STEP.OPTION=VALUE, data.KEY=VALUE, study.seed=N "
        "(repeatable; the value is read as TOML, else as a string).")] = None,
    report: Annotated[bool, typer.Option(help="Build the report at the end.")] = True,
) -> None:
    """Run every step of a study, then put the paper's numbers beside the measured ones."""
    from racelens.study.run import run_study
    from racelens.study.schema import load_study

    overrides = list(set_ or []) + ([f"study.out={out}"] if out is not None else [])
    study = load_study(study_file, overrides)
    result = run_study(study, CliCommands(), only=tuple(only or ()), resume=resume,
                       report=report, progress=say)
    for c in result.comparisons:
        m = c.measured
        got = ("-" if m is None or m.estimate is None else
               f"{m.estimate:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]" if m.ci_low is not None
               else f"{m.estimate:.3f}")
        say(f"{c.paper.step:10s} {c.paper.condition:28s} {c.paper.group:8s} paper "
            f"{c.paper.reported:>11s}  measured {got}" + (f"  ({c.note})" if c.note else ""))
    for name, path in result.files.items():
        say(f"{name}: {path}")
