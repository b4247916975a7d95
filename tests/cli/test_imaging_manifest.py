"""``racelens imaging manifest {mimic-cxr,chexpert,table,dicom}``: files written, aggregates printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pydicom.data import get_testdata_file
from typer.testing import CliRunner

from racelens.cli.imaging_manifest import manifest_app
from racelens.errors import ConfigError, LabelError
from racelens.imaging.sources.cohort import load_manifest

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(manifest_app, [str(a) for a in args])


def sidecar(out: Path) -> dict:
    return json.loads(out.with_suffix(".json").read_text())


@pytest.fixture
def table_dir(tmp_path: Path) -> Path:
    d = tmp_path / "site"
    (d / "png").mkdir(parents=True)
    for i in (1, 2, 3):
        (d / "png" / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    pd.DataFrame({"path": ["png/1.png", "png/2.png", "png/3.png", "png/4.png", "png/5.png"],
                  "race": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN", "WHITE", "UNKNOWN"],
                  "patient_id": ["a", "b", "c", "d", "e"]}).to_csv(d / "cohort.csv", index=False)
    return d


def test_table_command(table_dir, tmp_path):
    out = tmp_path / "run" / "manifest.parquet"
    res = invoke("table", "--table", table_dir / "cohort.csv", "--path-col", "path",
                 "--race-col", "race", "--patient-col", "patient_id", "--race-source", "mimic-iv",
                 "--collapse", "abw", "--out", out)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"manifest: {out} (table, collapse abw)",
        "  input rows: 5", "  rows:       3", "  patients:   3",
        "  groups:     Asian 1, Black 1, White 1",
        "  excluded:   1", "    UNKNOWN: 1",
        "  skipped:    1 (reasons in manifest.json)"]
    assert "png/4.png" not in res.output  # aggregates only: no identifiers, no paths of rows
    t = pd.read_parquet(out)
    assert list(t["path"]) == [str(table_dir / "png" / f"{i}.png") for i in (1, 2, 3)]
    meta = sidecar(out)
    assert meta["n_input_rows"] == 5 and meta["excluded"] == {"UNKNOWN": 1}
    assert meta["skipped"] == [{"sample_id": "png/4.png", "reason": "file not found"}]
    assert meta["fingerprint"] == load_manifest(out).fingerprint()


def test_bad_options_raise_racelens_errors(table_dir, tmp_path):
    base = ["table", "--table", table_dir / "cohort.csv", "--out", tmp_path / "m.parquet"]
    res = invoke(*base, "--race-source", "mimic-v")
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert "--race-source 'mimic-v' is not one of: auto, mimic-iii" in str(res.exception)
    res = invoke(*base, "--collapse", "xyz")
    assert isinstance(res.exception, LabelError)
    res = invoke(*base, "--consistency", "vote")
    assert "drop, mode, none" in str(res.exception)


def test_mimic_cxr_command(tmp_path):
    root = tmp_path / "mimic-cxr-jpg"
    rows = [("a1", 10000032, 50000001, "PA"), ("a2", 10000032, 50000001, "LATERAL"),
            ("b1", 10000764, 50000002, "AP"), ("c1", 10001217, 50000003, "AP")]
    root.mkdir()
    pd.DataFrame(rows, columns=["dicom_id", "subject_id", "study_id", "ViewPosition"]).to_csv(
        root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    for dicom, subj, study, _ in rows:
        f = root / "files" / f"p{str(subj)[:2]}" / f"p{subj}" / f"s{study}" / f"{dicom}.jpg"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"\xff\xd8\xff")
    pd.DataFrame({"subject_id": [10000032, 10000764, 10001217], "hadm_id": [1, 2, 3],
                  "race": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - KOREAN"]}).to_csv(
        tmp_path / "admissions.csv.gz", index=False)
    pd.DataFrame({"subject_id": [10000032, 10000764, 10001217], "gender": ["F", "M", "F"],
                  "anchor_age": [52, 60, 71]}).to_csv(tmp_path / "patients.csv.gz", index=False)
    out = tmp_path / "manifest.parquet"
    res = invoke("mimic-cxr", "--images-root", root, "--metadata",
                 root / "mimic-cxr-2.0.0-metadata.csv.gz", "--admissions",
                 tmp_path / "admissions.csv.gz", "--patients", tmp_path / "patients.csv.gz",
                 "--out", out)
    assert res.exit_code == 0, res.output
    assert "    view:LATERAL: 1" in res.output
    c = load_manifest(out)
    assert list(c.table["race"]) == ["White", "Black", "Asian"]
    assert list(c.table["age"]) == [52, 60, 71]
    res = invoke("mimic-cxr", "--images-root", root, "--metadata",
                 root / "mimic-cxr-2.0.0-metadata.csv.gz", "--admissions",
                 tmp_path / "admissions.csv.gz", "--views", "all", "--out", out)
    assert res.exit_code == 0 and load_manifest(out).summary()["rows"] == 4


def test_chexpert_command(tmp_path):
    base = tmp_path / "CheXpert-v1.0"
    paths = ["CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg",
             "CheXpert-v1.0/valid/patient64542/study1/view1_frontal.jpg",
             "CheXpert-v1.0/valid/patient64542/study1/view2_lateral.jpg"]
    base.mkdir()
    pd.DataFrame({"Path": paths, "Sex": ["Male", "Female", "Female"], "Age": [73, 70, 70],
                  "Frontal/Lateral": ["Frontal", "Frontal", "Lateral"],
                  "AP/PA": ["AP", "PA", None], "No Finding": [1.0, 0.0, 0.0]}
                 ).to_csv(base / "valid.csv", index=False)
    for p in paths:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_bytes(b"\xff\xd8\xff")
    pd.DataFrame({"PATIENT": ["patient64541", "patient64542"], "GENDER": ["Male", "Female"],
                  "AGE_AT_CXR": [73, 70], "PRIMARY_RACE": ["White", "Asian"],
                  "ETHNICITY": ["Non-Hispanic/Non-Latino", "Hispanic/Latino"]}
                 ).to_excel(tmp_path / "CHEXPERT DEMO.xlsx", index=False)
    out = tmp_path / "m.parquet"
    res = invoke("chexpert", "--root", tmp_path, "--csv", "valid.csv", "--out", out)
    assert res.exit_code == 0, res.output
    assert sidecar(out)["excluded"] == {"view:Lateral": 1, "Asian": 1}
    res = invoke("chexpert", "--root", base, "--csv", "valid.csv", "--keep-hispanic",
                 "--all-views", "--demo", tmp_path / "CHEXPERT DEMO.xlsx", "--out", out)
    assert res.exit_code == 0, res.output
    assert load_manifest(out).groups == {"Asian": 2, "Black": 0, "White": 1}


def test_dicom_command_on_pydicom_test_files(tmp_path):
    root = tmp_path / "dicoms"
    root.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        shutil.copy(get_testdata_file(name), root / name)
    (root / "readme.txt").write_text("export notes")
    pd.DataFrame({"PatientID": ["1CT1", "4MR1"], "race": ["Black", "White"]}).to_csv(
        tmp_path / "labels.csv", index=False)
    out = tmp_path / "m.parquet"
    res = invoke("dicom", "--root", root, "--labels-csv", tmp_path / "labels.csv", "--out", out)
    assert res.exit_code == 0, res.output
    assert "  input rows: 4" in res.output and "  skipped:    2" in res.output
    c = load_manifest(out)
    assert list(c.table["sample_id"]) == ["CT_small.dcm", "MR_small.dcm"]
    assert list(c.table["race"]) == ["Black", "White"]
    reasons = dict(c.skipped)
    assert reasons["rtplan.dcm"].startswith("no pixel data")
    assert "not a DICOM" in reasons["readme.txt"]


def test_mounted_under_racelens_imaging(table_dir, tmp_path):
    cli_imaging = pytest.importorskip("racelens.cli.imaging")
    names = [g.name for g in cli_imaging.app.registered_groups]
    if "manifest" not in names:
        pytest.skip("racelens.cli.imaging does not mount the manifest group yet")
    from racelens.cli.main import main

    out = tmp_path / "m.parquet"
    main(["imaging", "manifest", "table", "--table", str(table_dir / "cohort.csv"),
          "--out", str(out)])
    assert sidecar(out)["rows"] == 3
    with pytest.raises(SystemExit) as exc:
        main(["imaging", "manifest", "table", "--table", str(table_dir / "none.csv"),
              "--out", str(out)])
    assert exc.value.code == 2
