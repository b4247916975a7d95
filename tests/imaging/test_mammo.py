"""Mammograms (EMBED layout, MONOCHROME1, both sides, FOR PROCESSING) and other radiographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
from racelens.imaging.io.load import load_image
from racelens.imaging.sources.archives import from_dicom_folder
from racelens.imaging.sources.cohort import write_manifest
from racelens.imaging.sources.embed import EMBED_COLUMNS, embed

RACES = {"White": "Caucasian or White", "Black": "African American  or Black"}


def mammogram(path: Path, *, patient: str, side: str, view: str, dense: bool,
              intent: str = "FOR PRESENTATION", part: str = "BREAST", modality: str = "MG",
              seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    stored = rng.normal(600, 40, (48, 40))
    stored[:, :14] += 2000 if dense else 900  # tissue at the chest wall (left, before flipping)
    if side == "R":
        stored = stored[:, ::-1]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.ImageLaterality, ds.ViewPosition = modality, patient, side, view
    ds.PresentationIntentType, ds.BodyPartExamined = intent, part
    ds.EthnicGroup = "White"  # the DICOM tag is the race when no labels table is given
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    # MONOCHROME1: dense tissue is stored dark
    ds.set_pixel_data((4095 - np.clip(stored, 0, 4095)).astype(np.uint16), "MONOCHROME1", 12)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def embed_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("embed")
    c = EMBED_COLUMNS
    meta, clinical = [], []
    for p in range(24):
        race = ("White", "Black")[p % 2]
        exam = f"E{p}"
        for k, (side, view) in enumerate([("L", "CC"), ("R", "CC"), ("L", "MLO"), ("R", "MLO")]):
            rel = f"cohort_1/{p}/{exam}/{k}.dcm"
            mammogram(root / rel, patient=str(p), side=side, view=view, dense=race == "Black",
                      seed=p * 10 + k)
            meta.append({c["patient"]: p, c["exam"]: exam, c["path"]: f"/mnt/NAS2/anon/{rel}",
                         c["image_type"]: "2D", c["laterality"]: side, c["view"]: view,
                         c["spot_mag"]: 0})
        for numfind in (1, 2):  # two finding rows of one exam
            clinical.append({c["patient"]: p, c["exam"]: exam, "numfind": numfind,
                             c["race"]: RACES[race], c["ethnicity"]: "Not Hispanic or Latino",
                             c["density"]: 4 if race == "Black" else 1, "age_at_study": 50 + p})
    meta += [{c["patient"]: 0, c["exam"]: "E0", c["path"]: "cohort_1/0/E0/cv.dcm",
              c["image_type"]: "C-view", c["laterality"]: "L", c["view"]: "CC", c["spot_mag"]: 0},
             {c["patient"]: 1, c["exam"]: "E1", c["path"]: "cohort_1/1/E1/m.dcm",
              c["image_type"]: "2D", c["laterality"]: "L", c["view"]: "CC", c["spot_mag"]: 1},
             {c["patient"]: 99, c["exam"]: "E99", c["path"]: "cohort_1/99/E99/x.dcm",
              c["image_type"]: "2D", c["laterality"]: "L", c["view"]: "XCCL", c["spot_mag"]: 0},
             {c["patient"]: 98, c["exam"]: "E98", c["path"]: "cohort_1/98/E98/x.dcm",
              c["image_type"]: "2D", c["laterality"]: "R", c["view"]: "MLO", c["spot_mag"]: 0}]
    clinical.append({c["patient"]: 97, c["exam"]: "E97", c["race"]: "Asian"})
    pd.DataFrame(meta).to_csv(root / "metadata.csv", index=False)
    pd.DataFrame(clinical).to_csv(root / "clinical.csv", index=False)
    return root, root / "metadata.csv", root / "clinical.csv"


def test_embed_tables_joined_by_exam(embed_tree: tuple[Path, Path, Path]) -> None:
    cohort = embed(*embed_tree)
    table = cohort.table
    assert len(table) == 96 and cohort.n_input_rows == 100
    assert dict(cohort.excluded) == {"image type:C-view": 1, "spot/magnification view": 1,
                                     "view:XCCL": 1, "no clinical record": 1}
    assert set(table["laterality"]) == {"L", "R"} and set(table["view"]) == {"CC", "MLO"}
    assert table.groupby("race")["density"].agg(set).to_dict() == {"Black": {"D"},
                                                                    "White": {"A"}}
    assert table["study_id"].nunique() == 24 and table["age"].min() == 50
    assert all(Path(p).exists() for p in table["path"])  # /mnt/NAS2/... resolved under root


def test_both_sides_look_alike_after_flipping(embed_tree: tuple[Path, Path, Path]) -> None:
    table = embed(*embed_tree).table
    left = table[(table["laterality"] == "L") & (table["patient_id"] == "1")]["path"].iloc[0]
    right = table[(table["laterality"] == "R") & (table["patient_id"] == "1")]["path"].iloc[0]
    for path in (left, right):
        image = load_image(path, voi="bits")
        assert image[:, :14].mean() > image[:, 20:].mean() + 0.3  # dense tissue left, bright


def test_embed_audit_per_study_and_density_baseline(embed_tree: tuple[Path, Path, Path],
                                                    tmp_path: Path) -> None:
    manifest = write_manifest(embed(*embed_tree), tmp_path / "m.parquet")[0]
    res = run_imaging_audit(ImagingAuditConfig(
        manifest=manifest, out=tmp_path / "run", size=16, epochs=4, batch_size=32, lr=3e-3,
        n_boot=20, device="cpu", progress=False, unit="study", cache_dir=tmp_path / "cache"))
    original = res.conditions[0]
    assert original.n_test == original.extras["n_test_items"] // 4  # four views per exam
    assert res.data.n_samples + sum(res.data.excluded.values()) + len(res.data.skipped) == 100
    from racelens.imaging.audit.baselines import CovariateBaselineConfig, run_covariate_baseline

    base = run_covariate_baseline(CovariateBaselineConfig(
        manifest=manifest, out=tmp_path / "base", features=["density"], n_boot=20))
    assert base.conditions[0].auc.macro.estimate == pytest.approx(1.0)  # density is the label


def test_for_processing_skipped_and_other_body_parts(tmp_path: Path) -> None:
    mammogram(tmp_path / "a.dcm", patient="1", side="L", view="CC", dense=True)
    mammogram(tmp_path / "raw.dcm", patient="1", side="L", view="CC", dense=True,
              intent="FOR PROCESSING")
    for k, part in enumerate(("HAND", "CSPINE", "HAND")):
        mammogram(tmp_path / f"x{k}.dcm", patient=str(k), side="L", view="PA", dense=False,
                  part=part, modality="DX")
    cohort = from_dicom_folder(tmp_path, body_parts=["hand", "breast"])
    assert dict(cohort.skipped) == {
        "raw.dcm": "FOR PROCESSING image (raw detector data, not for display)"}
    assert cohort.excluded["body part:CSPINE"] == 1
    assert sorted(cohort.table["sample_id"]) == ["a.dcm", "x0.dcm", "x2.dcm"]
    assert cohort.table.set_index("sample_id").loc["a.dcm", "laterality"] == "L"
    assert cohort.n_input_rows == 5
