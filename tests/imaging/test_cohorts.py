"""Cohort loaders on tiny fixtures in each source's exact layout; every input row accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from racelens.errors import DataError, LabelError, SchemaError
from racelens.imaging.sources import (
    Cohort,
    chexpert,
    from_dicom_folder,
    from_table,
    load_manifest,
    manifest_sidecar,
    mimic_cxr,
    write_manifest,
)
from racelens.shared.labels import INCONSISTENT_KEY


def accounted(c: Cohort) -> int:
    return len(c.table) + sum(c.excluded.values()) + len(c.skipped)


# --- MIMIC-CXR ----------------------------------------------------------------------------------

CHEXPERT_LABELS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                   "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity",
                   "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax",
                   "Support Devices"]

# (dicom_id, subject_id, study_id, ViewPosition, file exists)
MIMIC_IMAGES = [
    ("d01", 10000032, 50414267, "PA", True),
    ("d02", 10000032, 50414267, "LATERAL", True),
    ("d03", 10000032, 53189527, "PA", True),
    ("d04", 10000032, 53189527, None, True),
    ("d05", 10000764, 57375967, "AP", False),  # file missing -> skipped
    ("d06", 10001217, 52067803, "PA", True),
    ("d07", 11000001, 51000001, "AP", True),  # inconsistent race
    ("d08", 11000001, 51000002, "AP", True),  # inconsistent race
    ("d09", 12000002, 52000002, "PA", True),  # WHITE + UNKNOWN: consistent
    ("d10", 13000003, 53000003, "AP", True),  # Hispanic
    ("d11", 14000004, 54000004, "PA", True),  # UNABLE TO OBTAIN
    ("d12", 15000005, 55000005, "AP", True),  # no admission
]
MIMIC_ADMISSIONS = [
    (10000032, 22595853, "WHITE"), (10000032, 22841357, "WHITE"),
    (10000764, 27897940, "BLACK/AFRICAN AMERICAN"),
    (10001217, 24597018, "ASIAN - CHINESE"), (10001217, 27703517, "ASIAN"),
    (10001217, 27703518, "ASIAN - CHINESE"),
    (11000001, 21000001, "WHITE"), (11000001, 21000002, "BLACK/AFRICAN AMERICAN"),
    (12000002, 22000002, "WHITE"), (12000002, 22000003, "UNKNOWN"),
    (13000003, 23000003, "HISPANIC/LATINO - PUERTO RICAN"),
    (14000004, 24000004, "UNABLE TO OBTAIN"),
]


@pytest.fixture
def mimic(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "mimic-cxr-jpg" / "2.0.0"
    meta = pd.DataFrame({
        "dicom_id": [r[0] for r in MIMIC_IMAGES], "subject_id": [r[1] for r in MIMIC_IMAGES],
        "study_id": [r[2] for r in MIMIC_IMAGES],
        "PerformedProcedureStepDescription": "CHEST (PA AND LAT)",
        "ViewPosition": [r[3] for r in MIMIC_IMAGES], "Rows": 3056, "Columns": 2544,
        "StudyDate": 21800506, "StudyTime": 213014.531,
        "ProcedureCodeSequence_CodeMeaning": "CHEST (PA AND LAT)",
        "ViewCodeSequence_CodeMeaning": "postero-anterior",
        "PatientOrientationCodeSequence_CodeMeaning": "Erect"})
    root.mkdir(parents=True)
    meta.to_csv(root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    for dicom, subj, study, _, exists in MIMIC_IMAGES:
        if exists:
            f = root / "files" / f"p{str(subj)[:2]}" / f"p{subj}" / f"s{study}" / f"{dicom}.jpg"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"\xff\xd8\xff")  # never decoded by the cohort loader
    studies = sorted({(r[1], r[2]) for r in MIMIC_IMAGES})
    lab = pd.DataFrame(studies, columns=["subject_id", "study_id"])
    for i, name in enumerate(CHEXPERT_LABELS):
        lab[name] = [[1.0, 0.0, -1.0, np.nan][(i + j) % 4] for j in range(len(lab))]
    lab.to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)
    pd.DataFrame({"dicom_id": [r[0] for r in MIMIC_IMAGES],
                  "study_id": [r[2] for r in MIMIC_IMAGES],
                  "subject_id": [r[1] for r in MIMIC_IMAGES],
                  "split": ["train", "train", "train", "train", "validate", "test", "train", "train",
                            "test", "train", "train", "train"]}
                 ).to_csv(root / "mimic-cxr-2.0.0-split.csv.gz", index=False)
    hosp = tmp_path / "mimiciv" / "2.2" / "hosp"
    hosp.mkdir(parents=True)
    pd.DataFrame({"subject_id": [a[0] for a in MIMIC_ADMISSIONS],
                  "hadm_id": [a[1] for a in MIMIC_ADMISSIONS],
                  "admittime": "2180-05-06 22:23:00", "admission_type": "URGENT",
                  "insurance": "Other", "language": "ENGLISH", "marital_status": "WIDOWED",
                  "race": [a[2] for a in MIMIC_ADMISSIONS]}
                 ).to_csv(hosp / "admissions.csv.gz", index=False)
    subjects = sorted({r[1] for r in MIMIC_IMAGES})
    pd.DataFrame({"subject_id": subjects, "gender": ["F", "M"] * 4,
                  "anchor_age": [52, 60, 71, 45, 33, 80, 27, 64], "anchor_year": 2180,
                  "anchor_year_group": "2014 - 2016", "dod": None}
                 ).to_csv(hosp / "patients.csv.gz", index=False)
    return {"root": root, "meta": root / "mimic-cxr-2.0.0-metadata.csv.gz",
            "adm": hosp / "admissions.csv.gz", "pat": hosp / "patients.csv.gz",
            "chex": root / "mimic-cxr-2.0.0-chexpert.csv.gz",
            "split": root / "mimic-cxr-2.0.0-split.csv.gz"}


def test_mimic_cxr_gichoya_defaults(mimic):
    c = mimic_cxr(mimic["root"], mimic["meta"], mimic["adm"], mimic["pat"],
                  chexpert_labels_csv=mimic["chex"], split_csv=mimic["split"])
    t = c.table
    assert c.n_input_rows == 12 and accounted(c) == 12
    assert list(t["sample_id"]) == ["d01", "d03", "d06", "d09"]
    assert list(t["patient_id"]) == ["10000032", "10000032", "10001217", "12000002"]
    assert list(t["race"]) == ["White", "White", "Asian", "White"]
    assert list(t["race_raw"]) == ["WHITE", "WHITE", "ASIAN - CHINESE", "WHITE"]
    assert dict(c.excluded) == {"view:LATERAL": 1, "view:<missing>": 1, INCONSISTENT_KEY: 2,
                                "HISPANIC/LATINO - PUERTO RICAN": 1, "UNABLE TO OBTAIN": 1,
                                "no race record": 1}
    assert c.skipped == (("d05", "file not found"),)
    assert list(t.columns[:9]) == ["sample_id", "patient_id", "race", "race_raw", "split", "path",
                                   "age", "sex", "view"]
    assert t.loc[0, "path"] == str(mimic["root"] / "files/p10/p10000032/s50414267/d01.jpg")
    assert Path(t.loc[0, "path"]).is_absolute()
    assert list(t["sex"]) == ["F", "F", "F", "F"]  # subjects 0, 0, 2, 4 of the patients table
    assert list(t["age"]) == [52, 52, 71, 33]
    assert list(t["view"]) == ["PA", "PA", "PA", "PA"]
    assert list(t["split"]) == ["train", "train", "test", "test"]
    # raw columns kept beside the standard ones, disease labels joined by study
    for col in ("dicom_id", "subject_id", "study_id", "ViewPosition", "gender", "anchor_age",
                "StudyDate", *CHEXPERT_LABELS):
        assert col in t.columns
    lab = pd.read_csv(mimic["chex"]).set_index(["subject_id", "study_id"])
    assert t.loc[2, "Cardiomegaly"] == lab.loc[(10001217, 52067803), "Cardiomegaly"]
    s = c.summary()
    assert s == {"source": "mimic-cxr", "rows": 4, "patients": 3,
                 "groups": {"Asian": 1, "Black": 0, "White": 3}, "excluded": dict(c.excluded),
                 "skipped": 1, "n_input_rows": 12, "collapse": "abw"}


def test_mimic_cxr_options(mimic):
    # all views, mode consistency, no file check; images_root may be files/ itself
    c = mimic_cxr(mimic["root"] / "files", mimic["meta"], mimic["adm"], views=None,
                  consistency="mode", check_files=False)
    assert accounted(c) == 12 and not c.skipped
    assert "view:LATERAL" not in c.excluded and INCONSISTENT_KEY not in c.excluded
    # subject 11000001 has one WHITE and one BLACK admission: the tie goes to the first name
    assert set(c.table.loc[c.table["patient_id"] == "11000001", "race"]) == {"Black"}
    assert "age" not in c.table.columns  # no patients table given
    assert c.table.loc[c.table["sample_id"] == "d05", "path"].item().endswith(
        "files/p10/p10000764/s57375967/d05.jpg")
    omb = mimic_cxr(mimic["root"], mimic["meta"], mimic["adm"], collapse="abhw")
    assert omb.groups["Hispanic"] == 1 and accounted(omb) == 12
    with pytest.raises(LabelError, match="unknown collapse 'xyz'"):
        mimic_cxr(mimic["root"], mimic["meta"], mimic["adm"], collapse="xyz")


def test_mimic_iv_v1_ethnicity_column(mimic, tmp_path):
    adm = pd.read_csv(mimic["adm"])
    adm["race"] = adm["race"].replace({"ASIAN - CHINESE": "ASIAN",
                                       "HISPANIC/LATINO - PUERTO RICAN": "HISPANIC/LATINO"})
    adm = adm.rename(columns={"race": "ethnicity"})
    v1 = tmp_path / "admissions_v1.csv.gz"
    adm.to_csv(v1, index=False)
    c = mimic_cxr(mimic["root"], mimic["meta"], v1)
    assert list(c.table["race"]) == ["White", "White", "Asian", "White"]
    assert c.excluded["HISPANIC/LATINO"] == 1 and accounted(c) == 12
    with pytest.raises(DataError, match=r"missing column\(s\) \['race'\]"):
        mimic_cxr(mimic["root"], mimic["meta"], v1, race_column="race")


# --- CheXpert -----------------------------------------------------------------------------------

# (Path, Sex, Age, Frontal/Lateral, AP/PA, exists)
CHEX_ROWS = [
    ("CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg", "Female", 68, "Frontal", "PA", 1),
    ("CheXpert-v1.0/train/patient00001/study1/view2_lateral.jpg", "Female", 68, "Lateral", None, 1),
    ("CheXpert-v1.0/train/patient00002/study1/view1_frontal.jpg", "Male", 87, "Frontal", "AP", 1),
    ("CheXpert-v1.0/train/patient00002/study2/view1_frontal.jpg", "Male", 87, "Frontal", "AP", 0),
    ("CheXpert-v1.0/train/patient00003/study1/view1_frontal.jpg", "Male", 41, "Frontal", "AP", 1),
    ("CheXpert-v1.0/train/patient00004/study1/view1_frontal.jpg", "Female", 55, "Frontal", "PA", 1),
    ("CheXpert-v1.0/train/patient00005/study1/view1_frontal.jpg", "Unknown", 30, "Frontal", "AP", 1),
    ("CheXpert-v1.0/train/patient00006/study1/view1_frontal.jpg", "Male", 77, "Frontal", "AP", 1),
]
CHEX_DEMO = [
    ("patient00001", "Female", 68, "White", "Non-Hispanic/Non-Latino"),
    ("patient00002", "Male", 87, "Black or African American", "Non-Hispanic/Non-Latino"),
    ("patient00003", "Male", 41, "White", "Hispanic/Latino"),
    ("patient00004", "Female", 55, "Asian", "Non-Hispanic/Non-Latino"),
    ("patient00005", "Female", 30, "Unknown", "Unknown"),
]


@pytest.fixture
def chex(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    base = root / "CheXpert-v1.0"
    base.mkdir(parents=True)
    df = pd.DataFrame([r[:5] for r in CHEX_ROWS],
                      columns=["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"])
    for name in CHEXPERT_LABELS:
        df[name] = [1.0, np.nan, 0.0, -1.0, np.nan, 1.0, 0.0, np.nan]
    df.to_csv(base / "train.csv", index=False)
    for r in CHEX_ROWS:
        if r[5]:
            (root / r[0]).parent.mkdir(parents=True, exist_ok=True)
            (root / r[0]).write_bytes(b"\xff\xd8\xff")
    demo = pd.DataFrame(CHEX_DEMO, columns=["PATIENT", "GENDER", "AGE_AT_CXR", "PRIMARY_RACE",
                                            "ETHNICITY"])
    demo.to_excel(root / "CHEXPERT DEMO.xlsx", index=False, engine="openpyxl")
    demo.to_csv(root / "chexpert_demo.csv", index=False)
    return root


def test_chexpert_gichoya_defaults(chex):
    c = chexpert(chex, "train.csv", "CHEXPERT DEMO.xlsx")
    t = c.table
    assert c.n_input_rows == 8 and accounted(c) == 8
    assert list(t["patient_id"]) == ["patient00001", "patient00002", "patient00004"]
    assert list(t["race"]) == ["White", "Black", "Asian"]
    assert list(t["race_raw"]) == ["White", "Black or African American", "Asian"]
    assert dict(c.excluded) == {"view:Lateral": 1, "no race record": 1, "White": 1, "Unknown": 1}
    assert c.skipped == (("CheXpert-v1.0/train/patient00002/study2/view1_frontal.jpg",
                          "file not found"),)
    assert t.loc[0, "path"] == str(chex / CHEX_ROWS[0][0])
    assert list(t["sex"]) == ["F", "M", "F"] and list(t["age"]) == [68, 87, 55]
    assert list(t["view"]) == ["PA", "AP", "PA"]
    for col in ("Path", "Frontal/Lateral", "AP/PA", "PRIMARY_RACE", "ETHNICITY", "No Finding"):
        assert col in t.columns
    # the root may be CheXpert-v1.0 itself, and the demographics a CSV export
    same = chexpert(chex / "CheXpert-v1.0", "train.csv", chex / "chexpert_demo.csv")
    assert list(same.table["path"]) == list(t["path"]) and same.fingerprint() == c.fingerprint()


def test_chexpert_options(chex):
    c = chexpert(chex, "train.csv", "CHEXPERT DEMO.xlsx", exclude_hispanic=False,
                 frontal_only=False, check_files=False)
    assert accounted(c) == 8
    assert list(c.table["race"]) == ["White", "White", "Black", "Black", "White", "Asian"]
    assert list(c.table["view"]) == ["PA", "LATERAL", "AP", "AP", "AP", "PA"]
    abhw = chexpert(chex, "train.csv", "CHEXPERT DEMO.xlsx", collapse="abhw")
    assert abhw.groups == {"Asian": 1, "Black": 1, "Hispanic": 1, "White": 1}
    with pytest.raises(DataError, match="CheXpert csv valid.csv not found"):
        chexpert(chex, "valid.csv", "CHEXPERT DEMO.xlsx")


# --- generic tables -----------------------------------------------------------------------------


def test_from_table_resolves_relative_paths(tmp_path):
    d = tmp_path / "study"
    (d / "img").mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png", "e.png"):
        (d / "img" / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    tab = pd.DataFrame({
        "file": ["img/a.png", "img/b.png", "img/c.png", "img/d.png", "img/e.png", "img/f.png"],
        "self_race": ["Caucasian", "African American", "Asian", "Black", "Declined", "White"],
        "mrn": ["m1", "m2", "m3", "m4", "m5", "m1"],
        "fold": ["train", "valid", "test", "train", "train", "train"],
        "uid": ["s1", "s2", "s3", "s4", "s5", "s6"], "sex": ["female", "M", "F", "m", "x", "F"]})
    tab.to_csv(d / "cohort.csv", index=False)
    c = from_table(d / "cohort.csv", path_col="file", race_col="self_race", patient_col="mrn",
                   race_source="free-text", sample_col="uid", split_col="fold")
    assert accounted(c) == 6 == c.n_input_rows
    assert list(c.table["sample_id"]) == ["s1", "s2", "s3"]
    assert list(c.table["race"]) == ["White", "Black", "Asian"]
    assert list(c.table["split"]) == ["train", "val", "test"]
    assert list(c.table["sex"]) == ["F", "M", "F"]
    assert c.table.loc[0, "path"] == str(d / "img" / "a.png")
    # s6 (m1, White again) is consistent with s1 but its file is missing
    assert c.skipped == (("s4", "file not found"), ("s6", "file not found"))
    assert dict(c.excluded) == {"Declined": 1}
    c2 = from_table(d / "cohort.csv", path_col="file", race_col="self_race", patient_col="mrn",
                    race_source="free-text", check_files=False)
    assert list(c2.table["sample_id"]) == ["img/a.png", "img/b.png", "img/c.png", "img/d.png",
                                           "img/f.png"]
    with pytest.raises(DataError, match=r"no column\(s\) \['race'\]"):
        from_table(d / "cohort.csv", path_col="file", race_col="race", patient_col="mrn")
    bad = tab.assign(fold="holdout")
    with pytest.raises(DataError, match="split column 'fold' has values \\['holdout'\\]"):
        from_table(bad, path_col="file", race_col="self_race", patient_col="mrn",
                   split_col="fold", check_files=False)


def test_from_table_excludes_and_counts_missing_patient_ids(tmp_path, caplog):
    tab = pd.DataFrame({"file": [f"{k}.png" for k in range(6)],
                        "race": ["WHITE", "ASIAN", "WHITE", "BLACK", "WHITE", "ASIAN"],
                        "pid": ["p1", None, "  ", "p2", "", "p3"]})
    tab.to_csv(tmp_path / "t.csv", index=False)  # the CSV turns "" into NaN, keeps "  "
    for table in (tab, tmp_path / "t.csv"):
        with caplog.at_level("WARNING", logger="racelens.imaging.sources.cohort"):
            c = from_table(table, path_col="file", race_col="race", patient_col="pid",
                           check_files=False)
        assert list(c.table["patient_id"]) == ["p1", "p2", "p3"]
        assert dict(c.excluded) == {"missing patient id": 3} and accounted(c) == 6
        assert c.summary()["patients"] == 3
    assert "3 row(s) without a patient id in column 'pid'" in caplog.text
    assert "p1" not in caplog.text  # counts only, no identifiers


def test_from_table_errors_name_the_file(tmp_path):
    tab = pd.DataFrame({"file": ["a.png"], "race": ["WHITE"], "pid": ["p1"]})
    tab.to_csv(tmp_path / "cohort.csv", index=False)
    with pytest.raises(DataError, match=r"cohort\.csv has no column\(s\) \['mrn'\]"):
        from_table(tmp_path / "cohort.csv", path_col="file", race_col="race", patient_col="mrn")
    tab.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DataError, match=r"empty\.csv has no rows"):
        from_table(tmp_path / "empty.csv", path_col="file", race_col="race", patient_col="pid")
    with pytest.raises(DataError, match=r"^table has no column\(s\) \['mrn'\]"):
        from_table(tab, path_col="file", race_col="race", patient_col="mrn")


# --- DICOM folders ------------------------------------------------------------------------------


def write_dicom(path: Path, patient: str | None, ethnic: str | None, *, pixels: bool = True,
                frames: int = 1) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    if patient is not None:
        ds.PatientID = patient
    if ethnic is not None:
        ds.EthnicGroup = ethnic
    ds.PatientSex = "F"
    ds.PatientAge = "045Y"
    ds.ViewPosition = "PA"
    if pixels:
        ds.Rows, ds.Columns = 4, 4
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        if frames > 1:
            ds.NumberOfFrames = frames
        ds.PixelData = np.arange(16 * frames, dtype=np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def dicom_dir(tmp_path: Path) -> Path:
    root = tmp_path / "pacs"
    write_dicom(root / "P1" / "1.dcm", "P1", "White")
    write_dicom(root / "P1" / "2.dcm", "P1", "White")
    write_dicom(root / "P2" / "1.dcm", "P2", "Black")
    write_dicom(root / "P3" / "1.dcm", "P3", None)
    write_dicom(root / "P4" / "1.dcm", None, "Asian")
    write_dicom(root / "P5" / "1.dcm", "P5", "Asian")
    write_dicom(root / "P6" / "sr.dcm", "P6", "Asian", pixels=False)
    write_dicom(root / "P7" / "cine.dcm", "P7", "Asian", frames=2)
    (root / "notes.txt").write_text("not an image")
    (root / "empty.dcm").write_bytes(b"")
    (root / ".DS_Store").write_bytes(b"junk")  # hidden: not an input row
    return root


def test_from_dicom_folder_ethnic_group_tags(dicom_dir):
    c = from_dicom_folder(dicom_dir)
    assert c.n_input_rows == 10 and accounted(c) == 10
    assert list(c.table["sample_id"]) == ["P1/1.dcm", "P1/2.dcm", "P2/1.dcm", "P5/1.dcm"]
    assert list(c.table["race"]) == ["White", "White", "Black", "Asian"]
    assert list(c.table["sex"]) == ["F"] * 4 and list(c.table["age"]) == [45.0] * 4
    assert dict(c.excluded) == {"missing patient id": 1, "<missing>": 1}
    reasons = dict(c.skipped)
    assert set(reasons) == {"P6/sr.dcm", "P7/cine.dcm", "notes.txt", "empty.dcm"}
    assert reasons["P6/sr.dcm"].startswith("no pixel data")
    assert reasons["P7/cine.dcm"] == "multi-frame (2 frames)"
    assert reasons["empty.dcm"] == "empty file (0 bytes)"
    assert "not a DICOM" in reasons["notes.txt"]


def test_from_dicom_folder_labels_csv(dicom_dir, tmp_path):
    labels = pd.DataFrame({"mrn": ["P1", "P1", "P2", "P3", "P5", "P5"],
                           "ethnicity": ["WHITE", "WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN",
                                         "ASIAN", "WHITE"]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    c = from_dicom_folder(dicom_dir, labels_csv=tmp_path / "labels.csv", race_col="ethnicity",
                          patient_col="mrn", race_source="mimic-iv")
    assert accounted(c) == 10
    assert list(c.table["patient_id"]) == ["P1", "P1", "P2", "P3"]
    assert list(c.table["race"]) == ["White", "White", "Black", "Asian"]
    assert dict(c.excluded) == {"missing patient id": 1, INCONSISTENT_KEY: 1}


# --- manifests ----------------------------------------------------------------------------------


def test_manifest_round_trip(mimic, tmp_path):
    c = mimic_cxr(mimic["root"], mimic["meta"], mimic["adm"], mimic["pat"])
    pq, side = write_manifest(c, tmp_path / "out" / "manifest.parquet")
    assert side == manifest_sidecar(pq) == tmp_path / "out" / "manifest.json"
    meta = json.loads(side.read_text())
    assert meta["schema"] == "racelens.manifest/1" and meta["n_input_rows"] == 12
    assert meta["skipped"] == [{"sample_id": "d05", "reason": "file not found"}]
    assert meta["fingerprint"] == c.fingerprint()
    back = load_manifest(pq)
    assert back.fingerprint() == c.fingerprint()
    assert back.summary() == c.summary() and back.skipped == c.skipped
    ds = back.data_summary()
    assert ds.n_input_rows == 12 and ds.n_samples == 4 and ds.groups == {"Asian": 1, "Black": 0,
                                                                           "White": 3}
    # a split assigned later changes the fingerprint, not the accounting
    split = back.with_split(["train", "val", "test", "test"])
    assert list(split.table["split"]) == ["train", "val", "test", "test"]
    assert split.fingerprint() != back.fingerprint()
    # rows removed behind the sidecar's back are refused
    pd.read_parquet(pq).iloc[:2].to_parquet(pq)
    with pytest.raises(SchemaError, match="rows were added or removed"):
        load_manifest(pq)
    side.unlink()
    assert load_manifest(pq).n_input_rows == 2
    with pytest.raises(DataError, match="a manifest is a parquet file"):
        write_manifest(c, tmp_path / "manifest.csv")


def test_from_dicom_folder_carries_acquisition_tags(dicom_dir):
    import pydicom

    from racelens.imaging.sources.archives import ACQUISITION_COLUMNS

    ds = pydicom.dcmread(dicom_dir / "P1" / "1.dcm")
    ds.KVP, ds.Exposure, ds.Manufacturer = "110", 4, "ACME"
    ds.PixelSpacing, ds.WindowCenter, ds.WindowWidth = [0.139, 0.139], [2048, 1024], 4096
    ds.save_as(dicom_dir / "P1" / "1.dcm")
    c = from_dicom_folder(dicom_dir)
    assert set(ACQUISITION_COLUMNS) <= set(c.table.columns)
    row = c.table.set_index("sample_id").loc["P1/1.dcm"]
    assert (row["kvp"], row["exposure"], row["manufacturer"]) == (110.0, 4.0, "ACME")
    # multi-valued tags: the first value
    assert (row["pixel_spacing"], row["window_center"], row["window_width"]) == (0.139, 2048.0, 4096.0)
    other = c.table.set_index("sample_id").loc["P2/1.dcm"]
    assert pd.isna(other["kvp"]) and pd.isna(other["manufacturer"])
