"""What the CLI tests share: running the root command in-process and capturing its output."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli(*args) -> (exit code, stdout, stderr)`` of ``racelens ARGS`` run in this process."""
    from racelens.cli import main as cli_main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            cli_main.main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return run
