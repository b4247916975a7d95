"""No patient data leaves the run directory.

Unique marker strings are planted in note text, patient ids, sample ids (note ids, DICOM file
names) and DICOM tags (PatientName, PatientID, InstitutionName, ReferringPhysicianName,
AccessionNumber). Every command runs with ``--verbose`` and all logging captured:
``imaging manifest dicom``, ``imaging audit`` (1 epoch, 32 px), ``imaging baseline``,
``imaging probe``, ``text redact``, ``text check``, ``text audit`` (with proxy stripping) and
``report``. No marker may appear in stdout, stderr, the log, the report files
(``report.html/.json/.md``), ``check.json`` or ``result.json`` — except
``result.json``'s ``data.skipped[].sample_id``, which DESIGN.md's schema defines to name the rows
that could not be read. Per-sample files the user asked for (manifest, predictions, spans, the
redacted notes) may hold them, and a test checks they do (so the markers really went in).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from _reliability_fixtures import (
    SIZE,
    CliRun,
    assert_clean_success,
    note_table,
    one_torch_thread,  # noqa: F401 - autouse
    png_cohort,
    run_cli,
)

from racelens.imaging.synthetic import synthetic_images, write_dicom
from racelens.shared.synthetic import synthetic_patients

TAG = "zqx"  # a token no vocabulary, lexicon or tokenizer knows; markers are TAG + kind + hex


def _marker(kind: str, k: int) -> str:
    return f"{TAG}{kind}{k:05x}"


def _dicom_cohort(root: Path) -> tuple[Path, Path]:
    """Synthetic radiographs as DICOMs carrying markers in their tags and file names."""
    patients = synthetic_patients(36, seed=1)
    images = synthetic_images(patients, size=SIZE, seed=1)
    pid = {p: _marker("pid", i) for i, p in enumerate(patients["patient_id"].unique())}
    for i, row in enumerate(patients.itertuples(index=False)):
        path = root / pid[row.patient_id] / f"{_marker('sid', i)}.dcm"
        write_dicom(path, images[i], patient_id=pid[row.patient_id], study_uid=f"1.2.826.0.1.{i}",
                    series_uid=f"1.2.826.0.1.{i}.1", sop_uid=f"1.2.826.0.1.{i}.1.1",
                    sex=row.sex, age=int(row.age))
        ds = pydicom.dcmread(path)
        ds.PatientName = f"{_marker('name', i)}^{_marker('given', i)}"
        ds.InstitutionName = _marker("inst", i)
        ds.ReferringPhysicianName = _marker("doc", i)
        ds.AccessionNumber = _marker("acc", i)[:16]
        ds.save_as(path)
    bad = root / "unreadable" / f"{_marker('sid', 99999)}.dcm"  # a skipped row: its id is
    bad.parent.mkdir()                                         # allowed in result.json only
    bad.write_bytes(b"")
    labels = pd.DataFrame({"PatientID": [pid[p] for p in patients["patient_id"]],
                           "race": patients["race_raw"]}).drop_duplicates("PatientID")
    labels.loc[len(labels)] = [_marker("pid", 99999), "WHITE"]
    labels.to_csv(root.parent / "labels.csv", index=False)
    return root, root.parent / "labels.csv"


def _notes(path: Path) -> pd.DataFrame:
    t = note_table(60, seed=2)
    pid = {p: _marker("npid", i) for i, p in enumerate(t["patient_id"].unique())}
    t["patient_id"] = t["patient_id"].map(pid)
    t["note_id"] = [_marker("nid", i) for i in range(len(t))]
    t["text"] = [f"Patient: {_marker('nname', i)}. MRN {_marker('mrn', i)}.\n{text}\n"
                 f"Signed: {_marker('sig', i)}" for i, text in enumerate(t["text"])]
    t.loc[0, "text"] = ""  # an empty note: skipped, its note id is allowed in result.json
    t.to_csv(path, index=False)
    return t


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("leak")
    dicoms, labels = _dicom_cohort(base / "pacs")
    notes = _notes(base / "notes.csv")
    out = base / "out"
    v = "--verbose"
    manifest = out / "imaging" / "manifest.parquet"
    commands = {
        "imaging manifest": (v, "imaging", "manifest", "dicom", "--root", dicoms, "--out",
                             manifest, "--labels-csv", labels),
        "imaging audit": (v, "imaging", "audit", "--manifest", manifest, "--out",
                          out / "imaging" / "run", "--size", SIZE, "--epochs", 1, "--n-boot", 20,
                          "--device", "cpu", "--no-progress", "-c", "lowpass:radius=4"),
        "imaging baseline": (v, "imaging", "baseline", "--manifest", manifest, "--features",
                             "age,sex", "--out", out / "covariates", "--n-boot", 20),
        "imaging probe": (v, "imaging", "probe", "--run", out / "imaging" / "run", "--manifest",
                          manifest, "--out", out / "probe", "--device", "cpu", "--n-boot", 20),
        "text redact": (v, "text", "redact", "-i", base / "notes.csv", "-o",
                        out / "text" / "redacted.parquet", "--spans", out / "text" / "spans.jsonl",
                        "--id-col", "note_id", "--keep-original", "original", "--no-progress"),
        "text check": (v, "text", "check", "-i", out / "text" / "redacted.parquet", "-o",
                       out / "text" / "check", "--label-col", "race_raw", "--patient-col",
                       "patient_id", "--original-col", "original", "--n-boot", 20),
        "text audit": (v, "text", "audit", "-i", base / "notes.csv", "-o", out / "text" / "run",
                       "--label-col", "race_raw", "--sample-col", "note_id", "--n-boot", 20,
                       "--strip-proxies", 6, "--proxy-step", 3),
        "report": (v, "report", out / "imaging" / "run", out / "covariates", out / "probe",
                   out / "text" / "run", "--out", out / "report" / "report.html"),
    }
    results: dict[str, CliRun] = {name: run_cli(*args) for name, args in commands.items()}
    return {"out": out, "results": results, "notes": notes}


def _markers_in(text: str) -> list[str]:
    import re

    return sorted(set(re.findall(TAG + r"[a-z]+[0-9a-f]{5}", text.lower())))


def test_every_command_succeeds(runs) -> None:
    for name, run in runs["results"].items():
        assert_clean_success(run), name


def test_no_marker_in_stdout_stderr_or_logs(runs) -> None:
    results = runs["results"]
    # the capture works: the audit logged its training and the cache at DEBUG/INFO
    assert "epoch 1/1" in results["imaging audit"].log
    assert "image cache" in results["imaging audit"].log
    for name, run in results.items():
        assert _markers_in(run.everything) == [], name


def test_no_marker_in_report_files(runs) -> None:
    report = runs["out"] / "report"
    for name in ("report.html", "report.json", "report.md"):
        text = (report / name).read_text(encoding="utf-8")
        assert len(text) > 500 and _markers_in(text) == [], name
    check = (runs["out"] / "text" / "check" / "check.json").read_text(encoding="utf-8")
    assert _markers_in(check) == []


def test_result_json_names_only_skipped_rows(runs) -> None:
    found = sorted(runs["out"].rglob("result.json"))
    assert len(found) == 4
    allowed = {_marker("sid", 99999), _marker("nid", 0)}
    for path in found:
        result = json.loads(path.read_text(encoding="utf-8"))
        skipped = result["data"].pop("skipped")
        assert {m for s in skipped for m in _markers_in(s["sample_id"])} <= allowed
        assert all(_markers_in(s["reason"]) == [] for s in skipped)
        assert _markers_in(json.dumps(result)) == [], path
    imaging = json.loads((runs["out"] / "imaging" / "run" / "result.json").read_text())
    assert [s["sample_id"] for s in imaging["data"]["skipped"]] == [
        f"unreadable/{_marker('sid', 99999)}.dcm"]


def test_markers_did_reach_the_per_sample_outputs(runs) -> None:
    # the planted data really went through: the per-sample files the user asked for hold it
    out = runs["out"]
    manifest = pd.read_parquet(out / "imaging" / "manifest.parquet")
    assert manifest["patient_id"].str.startswith(TAG + "pid").all()
    preds = pd.read_parquet(out / "imaging" / "run" / "predictions.parquet")
    assert preds["sample_id"].str.contains(TAG + "sid").all()
    redacted = pd.read_parquet(out / "text" / "redacted.parquet")
    assert redacted["text"].str.contains(TAG + "nname", na=False).sum() == len(runs["notes"]) - 1
    spans = (out / "text" / "spans.jsonl").read_text()
    assert TAG + "nid" in spans
    text_preds = pd.read_parquet(out / "text" / "run" / "predictions.parquet")
    assert text_preds["patient_id"].str.startswith(TAG + "npid").all()


def test_dicom_tag_markers_are_in_the_files(runs) -> None:
    # guard against a silent no-op: the tags were written where the loaders read from
    manifest = pd.read_parquet(runs["out"] / "imaging" / "manifest.parquet")
    ds = pydicom.dcmread(manifest["path"].iloc[0])
    assert str(ds.InstitutionName).startswith(TAG + "inst")
    assert str(ds.PatientName).startswith(TAG + "name")
    assert np.isfinite(manifest["age"]).all()


def test_an_identifier_repeated_in_a_patients_notes_is_not_a_proxy(tmp_path: Path) -> None:
    t = note_table(80, seed=2)
    extra = []
    for i, pid in enumerate(t["patient_id"].unique()[:10]):
        src = t[t["patient_id"] == pid].iloc[0]
        for k in range(8):  # eight notes of this patient, each signed with the patient's name
            body = t["text"].iloc[(17 * i + 5 * k) % len(t)]
            extra.append({**src.to_dict(), "note_id": f"{pid}_x{k}",
                          "text": f"Patient name: {_marker('pname', i)} Smith.\n{body}"})
    t = pd.concat([t, pd.DataFrame(extra)], ignore_index=True)
    t.to_csv(tmp_path / "notes.csv", index=False)
    check = run_cli("text", "check", "-i", tmp_path / "notes.csv", "-o", tmp_path / "check",
                    "--label-col", "race_raw", "--patient-col", "patient_id", "--n-boot", 20)
    assert_clean_success(check)
    assert _markers_in(check.everything) == []
    assert _markers_in((tmp_path / "check" / "check.json").read_text()) == []
    audit = run_cli("text", "audit", "-i", tmp_path / "notes.csv", "-o", tmp_path / "run",
                    "--label-col", "race_raw", "--sample-col", "note_id", "--n-boot", 20,
                    "--levels", "explicit", "--strip-proxies", 20, "--proxy-step", 10)
    assert_clean_success(audit)
    assert _markers_in((tmp_path / "run" / "result.json").read_text()) == []
    report = run_cli("report", tmp_path / "run", "--out", tmp_path / "report.html")
    assert_clean_success(report)
    assert _markers_in((tmp_path / "report.html").read_text()) == []


def test_an_identifier_column_given_as_race_is_not_printed(tmp_path: Path) -> None:
    images = png_cohort(tmp_path, 20)
    images["patient_id"] = [_marker("pid", i) for i in range(len(images))]
    images.to_csv(tmp_path / "images.csv", index=False)
    manifest = run_cli("imaging", "manifest", "table", "--table", tmp_path / "images.csv",
                       "--out", tmp_path / "m.parquet", "--race-col", "patient_id",
                       "--patient-col", "sample_id")
    assert manifest.code in (0, 2) and "Traceback" not in manifest.err
    notes = note_table(20, seed=4)
    notes["patient_id"] = [_marker("npid", i) for i in range(len(notes))]
    notes.to_csv(tmp_path / "notes.csv", index=False)
    audit = run_cli("text", "audit", "-i", tmp_path / "notes.csv", "-o", tmp_path / "a",
                    "--label-col", "patient_id", "--patient-col", "note_id", "--n-boot", 20)
    assert audit.code in (0, 2) and "Traceback" not in audit.err
    assert _markers_in(manifest.out + manifest.err) == []
    assert _markers_in(audit.out + audit.err) == []
