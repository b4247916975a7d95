"""``racelens.shared.export.export_run`` on a real run folder with planted identifiers.

The run (``_export_fixtures.make_run``) is a user's whole session: a PNG cohort inside the
folder, an imaging audit, a text audit, a text check and the combined report. Patient ids,
sample ids, image file names and note text carry a marker; the export must hold none of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from _export_fixtures import TAG, files, make_run, marker_hits, skipped

from racelens.errors import ConfigError, DataError, SchemaError
from racelens.shared.export import EXPORT_RECORD, export_run
from racelens.shared.report.build import build_report
from racelens.shared.results import AuditResult
from racelens.shared.run_files import FILES_NOTE, classify, write_files_note

PER_SAMPLE_SUFFIXES = {".parquet", ".csv", ".npy", ".pt", ".ckpt", ".jsonl"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("shared") / "out"
    return out, export_run(run, out)


def test_only_aggregates_are_copied_and_every_one_is(run, exported):
    out, summary = exported
    got = files(out)
    assert not [f for f in got if f.suffix in PER_SAMPLE_SUFFIXES]
    assert not [f for f in got if TAG in str(f)]  # no file named after a patient or sample
    # every result, check and report of the run is there, at the same relative path
    wanted = [f for f in files(run) if f.name in {"result.json", "check.json", "report.html",
                                                  "report.json", "report.md"}]
    assert len(wanted) == 2 + 1 + 3
    assert set(wanted) <= set(got)
    plots = {Path("imaging/roc.png"), Path("imaging/auc_vs_strength.png")}
    assert set(got) == {*wanted, *plots, Path(EXPORT_RECORD)}
    assert sorted(summary.files) == sorted(str(f) for f in got)
    # the plots are copied byte for byte
    assert all((out / p).read_bytes() == (run / p).read_bytes() for p in plots)


def test_summary_counts_every_file_of_the_run(run, exported):
    out, s = exported
    source = files(run)
    assert s.copied == {"result": 2, "redaction check": 1, "report": 3, "plot": 2}
    assert s.n_copied + s.n_left == len(source)
    # the radiographs are PNGs too, but no plot: all left (the empty one included)
    n_images = len(list((run / "cohort" / "img").iterdir()))
    assert s.left["image"] == n_images
    in_cache = [f for f in source if "cache" in f.parts]
    assert s.left["cache"] == len(in_cache)
    assert s.left["per-sample table"] == sum(f.suffix in {".parquet", ".csv"} for f in source
                                             if f not in in_cache)
    assert s.left["model weights"] == sum(f.suffix == ".pt" for f in source)
    assert s.left["run notes"] == sum(f.name == FILES_NOTE for f in source) == 4
    assert s.scrubbed["skipped-row ids"] == 2
    assert json.loads((out / EXPORT_RECORD).read_text())["left"] == s.left


def test_no_planted_identifier_reaches_the_export(run, exported):
    out, _ = exported
    # the markers went in: the run's result.json name the skipped rows, the tables hold them
    assert skipped(run / "imaging" / "result.json")[0]["sample_id"].startswith(TAG)
    assert {"imaging/result.json", "text/result.json", "cohort/notes.csv"} <= set(marker_hits(run))
    assert marker_hits(out) == []
    assert str(run) not in "".join(f.read_text(errors="replace") for f in out.rglob("*.json"))


def test_exported_results_still_add_up_and_make_a_report(run, exported):
    out, s = exported
    for m in ("imaging", "text"):
        before, after = AuditResult.read(run / m), AuditResult.read(out / m)
        assert after.data.n_input_rows == before.data.n_input_rows
        assert [r.reason for r in after.data.skipped] == [r.reason for r in before.data.skipped]
        assert {r.sample_id for r in after.data.skipped} == {"(omitted)"}
        assert after.conditions == before.conditions
        assert after.config["input" if m == "text" else "manifest"] == "(path)"
    payload = build_report([out], figures=False)
    assert [c["n_skipped"] for c in payload["cohorts"]] == [1, 1]
    check = json.loads((out / "check" / "check.json").read_text())
    original = json.loads((run / "check" / "check.json").read_text())
    assert check["schema"] == "racelens.redaction_check/1"
    assert check["leakage"] == original["leakage"] and check["proxies"] == original["proxies"]


def _aggregates_only(run: Path, dest: Path) -> Path:
    """A small run folder: the run's result, report and check files only."""
    for f in ("imaging/result.json", "text/result.json", "check/check.json", "report.html",
              "report.json", "report.md"):
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / f, dest / f)
    return dest


def test_refuses_a_result_of_another_schema_and_writes_nothing(run, tmp_path):
    src = _aggregates_only(run, tmp_path / "src")
    d = json.loads((src / "text" / "result.json").read_text())
    d["schema"] = "someone.else/2"
    (src / "text" / "result.json").write_text(json.dumps(d))
    with pytest.raises(SchemaError, match=r"src/text/result.json: schema is 'someone.else/2'"):
        export_run(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_a_report_holding_a_skipped_rows_id(run, tmp_path):
    src = _aggregates_only(run, tmp_path / "src")
    sid = skipped(run / "imaging" / "result.json")[0]["sample_id"]
    html = (src / "report.html").read_text()
    (src / "report.html").write_text(html.replace("</body>", f"<p>{sid}</p></body>"))
    with pytest.raises(SchemaError, match="report.html: it holds an id") as exc:
        export_run(src, tmp_path / "out")
    assert sid not in str(exc.value)  # the error names the file, never the id
    assert not (tmp_path / "out").exists()


def test_destination_rules(run, tmp_path):
    src = _aggregates_only(run, tmp_path / "src")
    with pytest.raises(ConfigError, match="inside the run directory"):
        export_run(src, src / "share")
    with pytest.raises(ConfigError, match="is inside --out"):
        export_run(src, tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        export_run(src, tmp_path / "busy")
    s = export_run(src, tmp_path / "busy", overwrite=True)
    assert (tmp_path / "busy" / "mine.txt").read_text() == "keep me"
    assert s.copied == {"result": 2, "redaction check": 1, "report": 3}
    with pytest.raises(DataError, match="no such run directory"):
        export_run(tmp_path / "missing", tmp_path / "o2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="nothing to export"):
        export_run(tmp_path / "empty", tmp_path / "o3")


def test_several_runs_go_to_their_own_folders(run, tmp_path):
    a = _aggregates_only(run, tmp_path / "a")
    b = _aggregates_only(run, tmp_path / "b")
    s = export_run([a, b], tmp_path / "out")
    assert (tmp_path / "out" / "a" / "imaging" / "result.json").is_file()
    assert (tmp_path / "out" / "b" / "report.html").is_file()
    assert s.copied["result"] == 4
    with pytest.raises(ConfigError, match="inside the other"):
        export_run([a, a / "text"], tmp_path / "o2")


def test_symlinks_are_not_followed(run, tmp_path):
    src = _aggregates_only(run, tmp_path / "src")
    elsewhere = _aggregates_only(run, tmp_path / "elsewhere")
    shutil.copy(run / "text" / "predictions.parquet", elsewhere / "predictions.parquet")
    os.symlink(elsewhere, src / "linked_dir")
    os.symlink(elsewhere / "report.html", src / "text" / "report.html")
    s = export_run(src, tmp_path / "out")
    assert s.left["symlink"] == 2
    assert not (tmp_path / "out" / "linked_dir").exists()
    assert not (tmp_path / "out" / "text" / "report.html").exists()


def test_files_note_in_every_run_folder_and_a_users_note_is_kept(run, tmp_path):
    for folder in (run, run / "imaging", run / "text", run / "check"):
        note = (folder / FILES_NOTE).read_text()
        assert "predictions.parquet" in note and "racelens export" in note
    assert classify(Path("imaging/predictions.parquet")) == "per-sample table"
    assert classify(Path("imaging/cache/x/meta.json")) == "cache"
    (tmp_path / FILES_NOTE).write_text("my own notes")
    assert write_files_note(tmp_path) is None
    assert (tmp_path / FILES_NOTE).read_text() == "my own notes"
