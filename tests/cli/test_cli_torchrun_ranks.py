"""Commands other than `imaging audit` and `imaging shortcut` under torchrun: rank 0 runs them once, the others step aside.

The subprocess tests launch real `torchrun --nproc_per_node=2` jobs on CPU (the `torchrun`
fixture of tests/conftest.py); the in-process tests set the variables torchrun sets.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
import typer

from racelens.cli import main as cli_main
from racelens.cli._distributed import rank_zero_command
from racelens.demo.synth import write_synthetic_cohort
from racelens.shared.train.distributed import distributed_session, launch_context

SYNTH = ["--n-patients", "6", "--seed", "1", "--image-size", "32", "--image-format", "png"]


def _synth_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_synth_under_torchrun_runs_once_on_rank_zero(torchrun, tmp_path):
    out = tmp_path / "cohort"
    proc = torchrun(["-m", "racelens", "synth", "--out", str(out), *SYNTH], 2, tmp_path)
    # one summary line, from rank 0; one line from rank 1 saying it stepped aside
    assert proc.stdout.count("wrote ") == 1, proc.stdout
    assert proc.stderr.count("rank 1: racelens synth runs on rank 0 only") == 1, proc.stderr
    assert "rank 0:" not in proc.stderr
    # torchrun returned after rank 0 finished: the whole cohort is there, the same files (byte
    # for byte) as one process writes, and no temporary file of a concurrent writer is left
    ref = write_synthetic_cohort(tmp_path / "ref", 6, seed=1, image_size=32, image_format="png")
    assert _synth_files(out) == _synth_files(ref.out)
    assert len(ref.image_files) >= 6
    match, mismatch, errors = filecmp.cmpfiles(out, ref.out, _synth_files(ref.out), shallow=False)
    assert not mismatch and not errors and len(match) == len(_synth_files(ref.out))


def test_failure_on_rank_zero_fails_the_torchrun_job(torchrun, tmp_path):
    missing = tmp_path / "missing.csv"
    proc = torchrun(["-m", "racelens", "text", "redact", "-i", str(missing),
                     "-o", str(tmp_path / "redacted.parquet")], 2, tmp_path, check=False)
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [f"error: {missing}: file not found"]
    assert not (tmp_path / "redacted.parquet").exists()


@pytest.fixture
def torchrun_env(monkeypatch):
    """The variables torchrun sets for a worker of a 2-process job; call with the rank."""
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)

    def set_rank(rank: int) -> None:
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")

    return set_rank


def test_rank_one_writes_nothing_and_says_so(torchrun_env, tmp_path, capsys):
    torchrun_env(1)
    out = tmp_path / "cohort"
    cli_main.main(["synth", "--out", str(out), *SYNTH])  # returns: exit status 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "rank 1: racelens synth runs on rank 0 only\n"
    assert not out.exists()


def test_rank_zero_runs_the_command_as_one_process(torchrun_env, tmp_path, capsys):
    torchrun_env(0)
    out = tmp_path / "cohort"
    cli_main.main(["synth", "--out", str(out), *SYNTH])
    assert capsys.readouterr().out.startswith("wrote ")
    assert (out / "images.csv").exists() and (out / "notes.csv").exists()
    # while a rank-0 command runs, library code sees one process (a distributed_session inside
    # it, e.g. the demo's imaging audit, must not wait for ranks that are not coming) ...
    seen = []

    def command() -> None:
        seen.append(launch_context())
        with distributed_session("cpu") as ctx:  # what run_imaging_audit enters
            seen.append(ctx)

    rank_zero_command(command, "racelens probe-env")()
    assert [(c.rank, c.world_size, c.local_rank, c.backend) for c in seen] == [(0, 1, 0, None)] * 2
    # ... and torchrun's variables are back afterwards
    assert launch_context().world_size == 2


def _commands(app: typer.Typer, prefix: str) -> dict[str, object]:
    from typer.main import get_command_name

    found = {f"{prefix} {c.name or get_command_name(c.callback.__name__)}": c.callback
             for c in app.registered_commands}
    for g in app.registered_groups:
        found.update(_commands(g.typer_instance, f"{prefix} {g.name}"))
    return found


def test_every_command_but_the_imaging_audit_and_shortcut_runs_on_rank_zero_only():
    commands = _commands(cli_main.app, "racelens")
    assert {"racelens synth", "racelens text redact", "racelens imaging manifest table",
            "racelens imaging audit"} <= set(commands)
    unwrapped = {name for name, fn in commands.items()
                 if not getattr(fn, "__racelens_rank_zero__", False)}
    # the audit joins a process group (DDP); the shortcut sweep spreads its models over the ranks
    assert unwrapped == {"racelens imaging audit", "racelens imaging shortcut"}
