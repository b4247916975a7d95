"""Loaders for the real imaging sources: MIMIC-CXR-JPG, CheXpert and DICOM folders.

Each returns the one :class:`racelens.shared.cohort.Cohort`, labelled by the one policy
(:mod:`racelens.shared.labels.policy`); what counts as an input row is said in
each loader's docstring, so ``len(table) + sum(excluded) + len(skipped) == n_input_rows``.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pandas as pd

from racelens.errors import DataError, ImageLoadError
from racelens.imaging.sources.cohort import absolute_paths, finish_cohort, normalise_sex
from racelens.shared.cohort import Cohort
from racelens.shared.labels import (
    NO_RACE_RECORD,
    Collapse,
    Consistency,
    LabelSource,
    drop_missing_patients,
    get_collapse,
    label_by_patient,
    label_cohort,
    race_per_patient,
)
from racelens.shared.tables import read_table, require_columns

__all__ = ["ACQUISITION_COLUMNS", "mimic_cxr", "chexpert", "from_dicom_folder", "race_per_patient"]

#: Acquisition columns a manifest can carry (``from_dicom_folder`` fills them from the headers;
#: ``view`` comes from every source): the covariates of the explain's acquisition baseline.
ACQUISITION_COLUMNS: tuple[str, ...] = ("kvp", "exposure", "manufacturer", "view", "pixel_spacing",
                                        "window_center", "window_width")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

logger = logging.getLogger(__name__)


def _exclude_views(df: pd.DataFrame, column: str, keep: Sequence[str],
                   excluded: Counter[str], what: str = "view",
                   ignore_case: bool = False) -> pd.DataFrame:
    views = df[column].astype("string") if column in df else pd.Series(pd.NA, index=df.index,
                                                                        dtype="string")
    if ignore_case:
        ok = views.str.upper().isin([k.upper() for k in keep])
    else:
        ok = views.isin(list(keep))
    ok = ok.fillna(False).to_numpy(dtype=bool)
    for value, n in views[~ok].fillna("<missing>").value_counts().items():
        excluded[f"{what}:{value}"] += int(n)
    return df.loc[ok]


# --- MIMIC-CXR ----------------------------------------------------------------------------------


def mimic_cxr(
    images_root: str | os.PathLike[str],
    metadata_csv: str | os.PathLike[str],
    admissions_csv: str | os.PathLike[str],
    patients_csv: str | os.PathLike[str] | None = None,
    *,
    views: Sequence[str] | None = ("AP", "PA"),
    collapse: str | Collapse = "abw",
    consistency: Consistency = "drop",
    race_column: Literal["auto", "race", "ethnicity"] = "auto",
    chexpert_labels_csv: str | os.PathLike[str] | None = None,
    split_csv: str | os.PathLike[str] | None = None,
    check_files: bool = True,
) -> Cohort:
    """MIMIC-CXR-JPG 2.x joined to MIMIC-IV admissions (race) and patients (sex, age).

    Input rows are the rows of ``mimic-cxr-2.0.0-metadata.csv.gz`` (one per image). Defaults
    follow Gichoya et al.: AP/PA views only (others excluded as ``"view:LATERAL"`` etc.), patients
    whose harmonised race differs across admissions dropped (``"inconsistent race across
    rows"``), collapse ``abw`` (non-Hispanic Asian, Black, White).

    Parameters
    ----------
    images_root
        The folder holding ``files/`` (or ``files/`` itself); images are
        ``files/pNN/pSUBJECT/sSTUDY/DICOM_ID.jpg``.
    metadata_csv
        ``mimic-cxr-2.0.0-metadata.csv.gz`` (``dicom_id, subject_id, study_id, ViewPosition``...).
    admissions_csv
        MIMIC-IV ``hosp/admissions.csv.gz``: ``race`` (v2.0+) or ``ethnicity`` (v1.0).
    patients_csv
        Optional ``hosp/patients.csv.gz`` (``gender``, ``anchor_age`` become ``sex``, ``age``).
    views
        ``ViewPosition`` values kept; ``None`` keeps all.
    race_column
        ``auto`` picks ``race`` when present, else ``ethnicity``.
    chexpert_labels_csv
        Optional ``mimic-cxr-2.0.0-chexpert.csv.gz``: the 14 labels joined by study (1, 0, -1 or
        missing, as released).
    split_csv
        Optional ``mimic-cxr-2.0.0-split.csv.gz``: the official split (``validate`` -> ``val``).
    check_files
        List rows whose JPEG does not exist in ``skipped``.
    """
    spec = get_collapse(collapse)
    meta = read_table(metadata_csv)
    require_columns(meta, ["dicom_id", "subject_id", "study_id", "ViewPosition"], str(metadata_csv))
    n_input = len(meta)
    excluded: Counter[str] = Counter()
    if views is not None:
        meta = _exclude_views(meta, "ViewPosition", views, excluded)
    adm = read_table(admissions_csv)
    if race_column == "auto":
        race_column = "race" if "race" in adm.columns else "ethnicity"
    require_columns(adm, ["subject_id", race_column], str(admissions_csv))
    source = "mimic-iv" if race_column == "race" else "mimic-iv-v1"
    per_patient, bad = race_per_patient(adm, "subject_id", race_column, source, consistency)
    meta = drop_missing_patients(meta, "subject_id", excluded, str(metadata_csv))
    samples = meta.assign(patient_id=meta["subject_id"].astype(str))
    samples = label_by_patient(samples, per_patient, bad, spec, excluded)
    if patients_csv is not None:
        pat = read_table(patients_csv)
        require_columns(pat, ["subject_id", "gender", "anchor_age"], str(patients_csv))
        keep = [c for c in ("gender", "anchor_age", "anchor_year", "anchor_year_group") if c in pat]
        pat = pat.assign(patient_id=pat["subject_id"].astype(str)).drop_duplicates("patient_id")
        samples = samples.join(pat.set_index("patient_id")[keep], on="patient_id")
        samples["sex"] = normalise_sex(samples["gender"])
        samples["age"] = pd.to_numeric(samples["anchor_age"], errors="coerce")
    if chexpert_labels_csv is not None:
        lab = read_table(chexpert_labels_csv)
        require_columns(lab, ["subject_id", "study_id"], str(chexpert_labels_csv))
        lab = lab.drop_duplicates(["subject_id", "study_id"]).set_index(["subject_id", "study_id"])
        samples = samples.join(lab, on=["subject_id", "study_id"])
    if split_csv is not None:
        spl = read_table(split_csv)
        require_columns(spl, ["dicom_id", "split"], str(split_csv))
        samples = samples.join(spl.drop_duplicates("dicom_id").set_index("dicom_id")["split"],
                               on="dicom_id")
    root = Path(images_root)
    files = root if root.name == "files" else root / "files"
    subj = samples["subject_id"].astype(str)
    rel = ("p" + subj.str[:2] + "/p" + subj + "/s" + samples["study_id"].astype(str) + "/"
           + samples["dicom_id"].astype(str) + ".jpg")
    samples["path"] = absolute_paths(rel, files.absolute())
    samples["sample_id"] = samples["dicom_id"].astype(str)
    samples["view"] = samples["ViewPosition"]
    return finish_cohort(samples, source="mimic-cxr", n_input_rows=n_input, excluded=excluded,
                         collapse=spec, check_files=check_files)


# --- CheXpert -----------------------------------------------------------------------------------


def _find(root: Path, name: str | os.PathLike[str], what: str) -> Path:
    p = Path(name)
    for cand in (p, root / p, root / "CheXpert-v1.0" / p):
        if cand.exists():
            return cand
    raise DataError(f"{what} {name!s} not found (looked in the working directory, {root} and "
                    f"{root / 'CheXpert-v1.0'})")


def chexpert(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] = "train.csv",
    demo: str | os.PathLike[str] = "CHEXPERT DEMO.xlsx",
    *,
    frontal_only: bool = True,
    exclude_hispanic: bool = True,
    collapse: str | Collapse = "abw",
    check_files: bool = True,
) -> Cohort:
    """CheXpert ``train.csv``/``valid.csv`` joined to ``CHEXPERT DEMO.xlsx`` (or its CSV export).

    Input rows are the rows of ``csv``. Gichoya et al. kept frontal views (laterals are excluded as
    ``"view:Lateral"``) of non-Hispanic patients (``ETHNICITY``; excluded rows are counted by raw
    race value).

    Parameters
    ----------
    root
        The folder holding ``CheXpert-v1.0/`` or that folder itself; the CSV's ``Path`` values
        (``CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg``) are resolved against it.
    csv, demo
        File names (looked up as given, under ``root`` and under ``root/CheXpert-v1.0``).
        ``demo`` has ``PATIENT, PRIMARY_RACE, ETHNICITY, GENDER, AGE_AT_CXR``.
    frontal_only
        Keep ``Frontal/Lateral == "Frontal"`` rows only.
    exclude_hispanic
        Exclude patients whose ``ETHNICITY`` says Hispanic. ``False`` keeps them under their
        recorded race; a collapse with a Hispanic group (``abhw``) always keeps them.
    """
    root = Path(root)
    spec = get_collapse(collapse)
    if spec.hispanic != "group":
        spec = replace(spec, hispanic="exclude" if exclude_hispanic else "ignore")
    df = read_table(_find(root, csv, "CheXpert csv"))
    require_columns(df, ["Path", "Frontal/Lateral"], str(csv))
    n_input = len(df)
    excluded: Counter[str] = Counter()
    if frontal_only:
        df = _exclude_views(df, "Frontal/Lateral", ["Frontal"], excluded)
    dem = read_table(_find(root, demo, "CheXpert demographics file"))
    require_columns(dem, ["PATIENT", "PRIMARY_RACE", "ETHNICITY"], str(demo))
    dem = dem.assign(PATIENT=dem["PATIENT"].astype(str).str.strip())
    if dem["PATIENT"].duplicated().any():
        logger.warning("%s: %d duplicate PATIENT rows; the first is used", demo,
                       int(dem["PATIENT"].duplicated().sum()))
        dem = dem.drop_duplicates("PATIENT")
    pid = df["Path"].astype(str).str.extract(r"(patient\d+)", flags=re.IGNORECASE)[0]
    if pid.isna().any():
        bad = df.loc[pid.isna(), "Path"].iloc[0]
        raise DataError(f"{csv}: Path {bad!r} has no patientNNNNN folder; is this a CheXpert csv?")
    df = df.assign(patient_id=pid)
    known = df["patient_id"].isin(dem["PATIENT"])
    if (~known).any():
        excluded[NO_RACE_RECORD] += int((~known).sum())
    df = df.loc[known].join(dem.set_index("PATIENT"), on="patient_id")
    labeled = label_cohort(df, "PRIMARY_RACE", "patient_id", "chexpert", spec, "none",
                           ethnicity_col="ETHNICITY", where=str(csv))
    excluded.update(labeled.excluded)
    out = labeled.table
    first = Path(str(df["Path"].iloc[0])).parts[0] if len(df) else ""
    base = root.parent if root.name == first else root
    out["path"] = absolute_paths(out["Path"], base.absolute())
    out["sample_id"] = out["Path"].astype(str)
    sex = out["Sex"] if "Sex" in out else out.get("GENDER", pd.Series(pd.NA, index=out.index))
    out["sex"] = normalise_sex(sex)
    age = pd.to_numeric(out["Age"], errors="coerce") if "Age" in out else None
    out["age"] = age if age is not None else pd.to_numeric(out.get("AGE_AT_CXR"), errors="coerce")
    view = out["AP/PA"] if "AP/PA" in out else pd.Series(pd.NA, index=out.index)
    out["view"] = view.where(view.notna(), out["Frontal/Lateral"].astype(str).str.upper())
    return finish_cohort(out, source="chexpert", n_input_rows=n_input, excluded=excluded,
                         collapse=spec, check_files=check_files)


# --- DICOM folders ------------------------------------------------------------------------------


def _dicom_age(value: object) -> float | None:
    """DICOM Age String (``045Y``, ``006M``, ``003W``, ``010D``) in years."""
    m = re.fullmatch(r"\s*(\d{1,3})\s*([YMWD]?)\s*", str(value)) if value is not None else None
    if not m:
        return None
    return int(m.group(1)) / {"Y": 1, "": 1, "M": 12, "W": 52.1775, "D": 365.25}[m.group(2)]


def _first_number(values: pd.Series) -> pd.Series:
    """The first number of each header value (multi-valued tags are read as ``"[a, b]"``)."""
    def first(v: object) -> float | None:
        m = _NUMBER.search(str(v)) if v is not None else None
        return float(m.group(0)) if m else None

    return values.map(first).astype(float)


def _acquisition(df: pd.DataFrame) -> pd.DataFrame:
    spacing = df["PixelSpacing"].where(df["PixelSpacing"].notna(), df["ImagerPixelSpacing"])
    return df.assign(kvp=_first_number(df["KVP"]), exposure=_first_number(df["Exposure"]),
                     manufacturer=df["Manufacturer"], pixel_spacing=_first_number(spacing),
                     window_center=_first_number(df["WindowCenter"]),
                     window_width=_first_number(df["WindowWidth"]))


def from_dicom_folder(
    root: str | os.PathLike[str],
    *,
    labels_csv: str | os.PathLike[str] | None = None,
    race_col: str = "race",
    patient_col: str = "PatientID",
    race_source: LabelSource = "auto",
    collapse: str | Collapse = "abw",
    consistency: Consistency = "drop",
    series: Literal["auto", "on", "off"] = "off",
    skip_for_processing: bool = True,
    views: Sequence[str] | None = None,
    body_parts: Sequence[str] | None = None,
    ethnicity_col: str | None = None,
) -> Cohort:
    """A cohort from a folder of DICOM files, race from a CSV by PatientID or the EthnicGroup tag.

    Input rows are the files under ``root`` (recursively, hidden files ignored), or with ``series``
    grouping the series and the files in none (:mod:`racelens.imaging.sources.series`). Files that
    are not DICOM, unreadable, or hold no image (or, without grouping, a multi-frame one) go to
    ``skipped`` with the reason; images without a ``PatientID`` are excluded as
    ``"missing patient id"``. ``study_id`` and ``series_id`` come from the study and series UIDs.

    Parameters
    ----------
    root
        The folder.
    labels_csv
        Optional table with ``patient_col`` (matched to the DICOM ``PatientID``) and ``race_col``;
        without it the DICOM ``EthnicGroup`` tag is the race.
    race_source
        Vocabulary of the race values (``auto`` accepts all).
    consistency
        Policy for patients whose race differs across label rows or files.
    series
        ``off``: one row per file; ``on``: one row per series; ``auto``: CT/MR/PT, multi-file and
        multi-frame series as rows, single radiographs as they are.
    skip_for_processing
        Skip images whose ``PresentationIntentType`` is ``FOR PROCESSING`` (raw detector data of
        a mammogram or radiograph, not meant to be viewed) with that reason.
    views, body_parts
        Keep only these ``ViewPosition`` (e.g. ``CC``, ``MLO``, ``PA``) or ``BodyPartExamined``
        (e.g. ``HAND``, ``CSPINE``) values, case-insensitively; the others are excluded as
        ``"view:VALUE"`` or ``"body part:VALUE"``. ``None`` keeps all.
    ethnicity_col
        A column of ``labels_csv`` that sets the Hispanic flag (NLST ``ethnic``).
    """
    from racelens.imaging.io.load import read_dicom_header
    from racelens.imaging.sources.series import check_series_mode

    series = check_series_mode(series)  # type: ignore[assignment]
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise DataError(f"{root}: no files found")
    spec = get_collapse(collapse)
    rows, skipped = [], []
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            head = read_dicom_header(f)
        except ImageLoadError as exc:
            skipped.append((rel, exc.reason))
            continue
        if not head.get("has_pixel_data"):
            skipped.append((rel, "no pixel data (not an image object)"))
        elif skip_for_processing and str(head.get("PresentationIntentType") or "").upper() == \
                "FOR PROCESSING":
            skipped.append((rel, "FOR PROCESSING image (raw detector data, not for display)"))
        elif series == "off" and (head.get("NumberOfFrames") or 1) > 1:
            skipped.append((rel, f"multi-frame ({head['NumberOfFrames']} frames)"))
        else:
            rows.append({"sample_id": rel, "path": os.path.abspath(f), **head})
    n_input, extra = len(files), {}
    if series != "off":
        from racelens.imaging.sources.series import group_series

        rows, series_skipped, n_grouped = group_series(rows, series)
        n_input = n_grouped + len(skipped)
        skipped += series_skipped
        extra = {"n_files": len(files), "series": series}
    else:
        rows = [{**r, "study_id": r.get("StudyInstanceUID"),
                 "series_id": r.get("SeriesInstanceUID")} for r in rows]
    excluded: Counter[str] = Counter()
    df = pd.DataFrame(rows, columns=["sample_id", "path", "PatientID", "EthnicGroup"]
                      if not rows else None)
    if views is not None:
        df = _exclude_views(df, "ViewPosition", views, excluded, ignore_case=True)
    if body_parts is not None:
        df = _exclude_views(df, "BodyPartExamined", body_parts, excluded, "body part", True)
    df = drop_missing_patients(df, "PatientID", excluded, str(root))
    df = df.assign(patient_id=df["PatientID"].astype(str))
    if labels_csv is not None:
        lab = read_table(labels_csv)
        require_columns(lab, [patient_col, race_col], str(labels_csv))
        require_columns(lab, [ethnicity_col] if ethnicity_col else [], str(labels_csv))
        per_patient, bad = race_per_patient(lab, patient_col, race_col, race_source, consistency,
                                            ethnicity_col)
        df = label_by_patient(df, per_patient, bad, spec, excluded)
    elif len(df):
        labeled = label_cohort(df, "EthnicGroup", "patient_id", race_source, spec, consistency,
                               where=str(root))
        excluded.update(labeled.excluded)
        df = labeled.table
    if len(df):
        df["sex"] = normalise_sex(df["PatientSex"])
        df["age"] = df["PatientAge"].map(_dicom_age).astype(float)
        df["view"] = df["ViewPosition"]
        df = _acquisition(df)
    else:
        df = df.assign(race=pd.Series(dtype=object), race_raw=pd.Series(dtype=object))
    if len(df) and "ImageLaterality" in df:
        side = df["ImageLaterality"].where(df["ImageLaterality"].notna(), df.get("Laterality"))
        df["laterality"] = side
    return finish_cohort(df, source="dicom", n_input_rows=n_input, excluded=excluded,
                         collapse=spec, skipped=skipped, check_files=False, extra=extra)
