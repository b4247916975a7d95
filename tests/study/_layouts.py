"""Tiny datasets in the real file layouts (MIMIC-CXR-JPG + MIMIC-IV, CheXpert, MIMIC-IV-Note).

Built from the demo's synthetic cohort (decodable images with a planted group signal, notes with
explicit mentions and proxies), then laid out the way the credentialed sources are, so a study
preset runs through the real loaders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from racelens.demo.synth import write_synthetic_cohort
from racelens.imaging.io.load import load_image

LABELS = ["No Finding", "Cardiomegaly", "Pleural Effusion", "Edema", "Atelectasis"]
CHEXPERT_RACE = {"ASIAN": "Asian", "BLACK/AFRICAN AMERICAN": "Black or African American",
                 "WHITE": "White"}


def _cohort(tmp: Path, n_patients: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    synth = write_synthetic_cohort(tmp / "synth", n_patients, seed=seed,
                                   image_signal="band=high,strength=1.0", image_size=64,
                                   image_format="png", source="mimic-iv")
    images = pd.read_csv(synth.images_csv)
    notes = pd.read_csv(synth.notes_csv)
    return images, notes, synth.out


def _jpg(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((load_image(src) * 255).round().astype(np.uint8)).save(dst, quality=95)


def mimic_layout(tmp: Path, n_patients: int = 60, seed: int = 0) -> dict[str, Path]:
    """MIMIC-CXR-JPG 2.x (files/pNN/pSUBJECT/sSTUDY/DICOM.jpg + metadata + chexpert labels) and
    MIMIC-IV hosp (admissions with race, patients); also MIMIC-IV-Note's note/discharge.csv.gz."""
    images, notes, synth = _cohort(tmp, n_patients, seed)
    pid = {p: 10_000_000 + i for i, p in enumerate(sorted(images["patient_id"].unique()))}
    root = tmp / "mimic-cxr-jpg" / "2.1.0"
    rows = []
    for k, r in enumerate(images.itertuples(index=False)):
        subj, study = pid[r.patient_id], 50_000_000 + k
        dicom = f"{k:08x}-{subj}"
        _jpg(synth / r.path, root / "files" / f"p{str(subj)[:2]}" / f"p{subj}" / f"s{study}"
             / f"{dicom}.jpg")
        rows.append({"dicom_id": dicom, "subject_id": subj, "study_id": study,
                     "ViewPosition": "PA" if k % 2 else "AP", "Rows": 64, "Columns": 64})
    meta = pd.DataFrame(rows)
    meta.to_csv(root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    lab = meta[["subject_id", "study_id"]].copy()
    for c in LABELS:
        lab[c] = images[c].to_numpy().astype(float) if c in images else 0.0
    lab.to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)
    hosp = tmp / "mimiciv" / "3.1" / "hosp"
    hosp.mkdir(parents=True)
    first = images.drop_duplicates("patient_id")
    adm = pd.DataFrame({"subject_id": first["patient_id"].map(pid).to_numpy(),
                        "hadm_id": 20_000_000 + np.arange(len(first)),
                        "race": first["race"].to_numpy()})
    adm.to_csv(hosp / "admissions.csv.gz", index=False)
    pd.DataFrame({"subject_id": adm["subject_id"], "gender": first["sex"].to_numpy(),
                  "anchor_age": first["age"].round().astype(int).to_numpy()}
                 ).to_csv(hosp / "patients.csv.gz", index=False)
    note_dir = tmp / "mimic-iv-note" / "2.2" / "note"
    note_dir.mkdir(parents=True)
    hadm = dict(zip(first["patient_id"].map(pid), adm["hadm_id"], strict=True))
    subj = notes["subject_id"].map(pid)
    pd.DataFrame({"note_id": [f"{s}-DS-{i}" for i, s in enumerate(subj)], "subject_id": subj,
                  "hadm_id": subj.map(hadm), "note_type": "DS", "note_seq": 1,
                  "charttime": "2180-05-07 00:00:00", "storetime": "2180-05-07 01:00:00",
                  "text": notes["text"]}).to_csv(note_dir / "discharge.csv.gz", index=False)
    return {"images_root": root, "metadata": root / "mimic-cxr-2.0.0-metadata.csv.gz",
            "chexpert_labels": root / "mimic-cxr-2.0.0-chexpert.csv.gz",
            "admissions": hosp / "admissions.csv.gz", "patients": hosp / "patients.csv.gz",
            "notes": note_dir / "discharge.csv.gz"}


def chexpert_layout(tmp: Path, n_patients: int = 60, seed: int = 0) -> dict[str, Path]:
    """CheXpert-v1.0/train/patientNNNNN/studyK/view1_frontal.jpg, train.csv and a CSV export of
    CHEXPERT DEMO.xlsx (PATIENT, PRIMARY_RACE, ETHNICITY, GENDER, AGE_AT_CXR)."""
    images, _, synth = _cohort(tmp, n_patients, seed)
    root = tmp / "chexpert"
    pid = {p: f"patient{i + 1:05d}" for i, p in enumerate(sorted(images["patient_id"].unique()))}
    rows, seen = [], {}
    for r in images.to_dict("records"):
        p = pid[r["patient_id"]]
        seen[p] = seen.get(p, 0) + 1
        rel = f"CheXpert-v1.0/train/{p}/study{seen[p]}/view1_frontal.jpg"
        _jpg(synth / r["path"], root / rel)
        rows.append({"Path": rel, "Sex": "Female" if r["sex"] == "F" else "Male",
                     "Age": int(r["age"]), "Frontal/Lateral": "Frontal", "AP/PA": "PA",
                     **{c: float(r[c]) for c in LABELS}})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    first = images.drop_duplicates("patient_id")
    pd.DataFrame({"PATIENT": first["patient_id"].map(pid),
                  "PRIMARY_RACE": first["race"].map(lambda v: CHEXPERT_RACE.get(v, "Other")),
                  "ETHNICITY": "Non-Hispanic/Non-Latino", "GENDER": first["sex"].map(
                      {"F": "Female", "M": "Male"}), "AGE_AT_CXR": first["age"].round().astype(int)}
                 ).to_csv(root / "CHEXPERT DEMO.csv", index=False)
    return {"root": root, "csv": Path("train.csv"), "demo": root / "CHEXPERT DEMO.csv"}
