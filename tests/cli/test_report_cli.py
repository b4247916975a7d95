"""``racelens report`` through the real console entry point."""

from __future__ import annotations

import json

import pytest

from racelens.cli.main import main


def test_report_command_writes_three_files(tmp_path, capsys, helpers):
    fx = helpers("shared/_report_fixtures.py")
    files = fx.write_all(tmp_path / "runs")
    out = tmp_path / "out" / "report.html"
    main(["report", str(tmp_path / "runs" / "imaging_run"), str(files[1]), str(files[2]),
          "--out", str(out)])
    stdout = capsys.readouterr().out
    assert f"report: {out}" in stdout
    assert out.exists() and out.with_suffix(".md").exists()
    data = json.loads(out.with_suffix(".json").read_text())
    assert [r["modality"] for r in data["results"]] == ["imaging", "covariates", "text"]
    assert fx.SKIPPED_MARKER not in out.read_text()


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nothing-here", "no such file or directory"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no result.json in this folder"),
    (lambda d: (d / "x.json").write_text('{"schema": "other/1"}') and d / "x.json",
     "not a racelens audit result"),
])
def test_report_command_errors_are_one_line_exit_2(tmp_path, capsys, make, message):
    with pytest.raises(SystemExit) as exc:
        main(["report", str(make(tmp_path)), "--out", str(tmp_path / "r.html")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_report_command_needs_a_path(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report"])
    assert exc.value.code == 2
    assert "RESULT_OR_RUN_DIR" in capsys.readouterr().err
