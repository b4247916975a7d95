"""The root command: version, groups, and the one-line error contract."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from racelens import __version__
from racelens.cli import main as cli_main
from racelens.errors import DataError


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "racelens", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_version() -> None:
    proc = _run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"racelens {__version__}"


def test_help_lists_every_group() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    for group in ("imaging", "text", "report", "demo", "synth"):
        assert group in proc.stdout


def test_unknown_command_is_a_usage_error() -> None:
    proc = _run("no-such-command")
    assert proc.returncode == 2
    assert "No such command" in proc.stderr


def test_racelens_error_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    boom = typer.Typer()

    @boom.command()
    def fail() -> None:
        raise DataError("notes.csv: missing column 'text'")

    monkeypatch.setattr(cli_main, "app", boom)
    monkeypatch.delenv("RACELENS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli_main.main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: notes.csv: missing column 'text'\n"


def test_debug_flag_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    boom = typer.Typer()

    @boom.command()
    def fail() -> None:
        raise DataError("bad")

    monkeypatch.setattr(cli_main, "app", boom)
    monkeypatch.setenv("RACELENS_DEBUG", "1")
    with pytest.raises(DataError, match="bad"):
        cli_main.main([])


def test_os_error_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    boom = typer.Typer()
    blocker = tmp_path / "file"
    blocker.write_text("x")

    @boom.command()
    def fail() -> None:
        (blocker / "run").mkdir(parents=True)  # a file where a folder should go

    monkeypatch.setattr(cli_main, "app", boom)
    monkeypatch.delenv("RACELENS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli_main.main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {blocker}") and "Traceback" not in err


def test_ctrl_c_says_so_and_exits_130(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    boom = typer.Typer()

    @boom.command()
    def fail() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "app", boom)
    with pytest.raises(SystemExit) as info:
        cli_main.main([])
    assert info.value.code == 130
    assert capsys.readouterr().err.startswith("interrupted")


def test_commands_that_need_no_model_do_not_import_torch(tmp_path) -> None:
    # the rank-0 check every command makes under torchrun reads the environment only; importing
    # torch there cost every command ~3.5 s and ~450 MiB (seen in text check's peak memory)
    notes = tmp_path / "notes.csv"
    notes.write_text("note_id,text\n1,54 yo AA M with CP\n2,white count 12\n")
    code = (
        "import sys\n"
        "from racelens.cli.main import main\n"
        "try:\n"
        f"    main(['text', 'redact', '-i', {str(notes)!r}, '-o', {str(tmp_path / 'red.csv')!r},"
        " '--id-col', 'note_id', '--no-progress'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('torch imported:', 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "spans: 1" in proc.stdout
    assert "torch imported: False" in proc.stdout
