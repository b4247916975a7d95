"""``racelens export`` through the root entry point, on a real text audit + check + report run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racelens.cli.main import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def fx(helpers):
    return helpers("shared/_export_fixtures.py")


@pytest.fixture(scope="module")
def run(fx, tmp_path_factory) -> Path:
    return fx.make_run(tmp_path_factory.mktemp("cli_export") / "run", imaging=False)


def test_export_prints_counts_and_copies_aggregates_only(fx, run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "share"
    code, stdout, err = _run(capsys, "export", str(run), "--out", str(out))
    assert code == 0, err
    record = json.loads((out / "EXPORT.json").read_text())
    assert record["copied"] == {"result": 1, "redaction check": 1, "report": 3}
    assert f"exported {record['n_copied']} files" in stdout
    assert f"left in the run directories: {record['n_left']} files" in stdout
    for kind, n in record["left"].items():
        assert f"{n} {kind}" in stdout
    assert "1 skipped-row ids" in stdout
    assert fx.TAG not in stdout + err  # counts, never ids
    assert [str(f) for f in fx.files(out)] == ["EXPORT.json", "check/check.json", "report.html",
                                                "report.json", "report.md", "text/result.json"]
    assert fx.marker_hits(out) == []
    # the export is itself a folder `racelens report` reads
    code, _, err = _run(capsys, "report", str(out), "--out", str(tmp_path / "again.html"))
    assert code == 0, err


def test_export_errors_are_one_line(run, tmp_path, capsys):
    code, _, err = _run(capsys, "export", str(run), "--out", str(run / "share"))
    assert code == 2 and err.startswith("error: ") and "inside the run directory" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("x")
    code, _, err = _run(capsys, "export", str(run), "--out", str(tmp_path / "busy"))
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "export", str(run), "--out", str(tmp_path / "busy"),
                        "--overwrite")
    assert code == 0, err
    assert (tmp_path / "busy" / "text" / "result.json").is_file()
