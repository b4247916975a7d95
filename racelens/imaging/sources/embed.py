"""EMBED (Emory Breast Imaging Dataset) open data: metadata and clinical tables joined by exam.

The AWS open-data release ships ``tables/EMBED_OpenData_metadata.csv`` (one row per DICOM file)
and ``tables/EMBED_OpenData_clinical.csv`` (one row per radiologist finding; demographics and
breast density repeat on every row of an exam). Images live under
``cohort_N/<patient>/<exam>/<SOPInstanceUID>.dcm``. Every column name racelens reads is in
:data:`EMBED_COLUMNS`, checked against the dataset's README (Emory-HITI/EMBED_Open_Data); see
the notes there for what was and was not verified.

Input rows are the metadata rows (files). Defaults: ``FinalImageType`` 2D (C-view and others
excluded as ``"image type:C-view"``), CC and MLO views (``"view:XCCL"`` ...), full-field images
only (``spot_mag`` 1, the spot compression and magnification views, excluded as
``"spot/magnification view"``); files of an exam without a clinical row are excluded as
``"no clinical record"``. Race is ``RACE_DESC`` (vocabulary ``embed``), the Hispanic flag
``ETHNIC_GROUP_DESC``; a patient's race must agree across exams (``consistency``).

Columns added: ``laterality`` (``ImageLateralityFinal``), ``view``, ``study_id`` (the exam),
``density`` (BI-RADS ``A``-``D`` from ``tissueden`` 1-4; 5, "normal male", and missing values
are left empty), ``age`` when the clinical table has ``age_at_study``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from racelens.errors import DataError
from racelens.imaging.sources.archives import _exclude_views
from racelens.imaging.sources.cohort import absolute_paths, finish_cohort
from racelens.shared.cohort import Cohort
from racelens.shared.labels import (
    Collapse,
    Consistency,
    drop_missing_patients,
    get_collapse,
    label_cohort,
)
from racelens.shared.tables import read_table, require_columns

__all__ = ["EMBED_COLUMNS", "DENSITY_LETTERS", "embed"]

#: The one mapping of EMBED's column names: racelens's name -> the tables' column.
#: Verified in the README's tables (sections VI and VII): empi_anon, acc_anon, anon_dicom_path,
#: FinalImageType, ImageLateralityFinal, ViewPosition, spot_mag, tissueden, RACE_DESC,
#: ETHNIC_GROUP_DESC. Not in the README: age_at_study (used when present).
EMBED_COLUMNS: dict[str, str] = {
    "patient": "empi_anon",
    "exam": "acc_anon",
    "path": "anon_dicom_path",
    "image_type": "FinalImageType",
    "laterality": "ImageLateralityFinal",
    "view": "ViewPosition",
    "spot_mag": "spot_mag",
    "density": "tissueden",
    "race": "RACE_DESC",
    "ethnicity": "ETHNIC_GROUP_DESC",
    "age": "age_at_study",
}
#: ``tissueden`` -> BI-RADS density category (5, "normal male", has none).
DENSITY_LETTERS = {1: "A", 2: "B", 3: "C", 4: "D"}
_COHORT_DIR = re.compile(r"(?:^|/)(cohort_\d+/.*)$")
_CLINICAL_COLUMNS = ("race", "ethnicity", "density", "age")


def embed(
    root: str | os.PathLike[str],
    metadata_csv: str | os.PathLike[str],
    clinical_csv: str | os.PathLike[str],
    *,
    image_types: Sequence[str] | None = ("2D",),
    views: Sequence[str] | None = ("CC", "MLO"),
    full_field_only: bool = True,
    collapse: str | Collapse = "abw",
    consistency: Consistency = "drop",
    check_files: bool = True,
) -> Cohort:
    """A mammography cohort from the EMBED open-data tables (see the module docstring).

    Parameters
    ----------
    root
        The folder holding ``cohort_1/``, ``cohort_2/``; a metadata path is resolved from its
        ``cohort_N/`` part onwards (the release's paths start with the curators' own mount), or
        as given when it exists.
    metadata_csv, clinical_csv
        ``EMBED_OpenData_metadata.csv`` (or ``_reduced``) and ``EMBED_OpenData_clinical.csv``.
    image_types, views
        ``FinalImageType`` and ``ViewPosition`` values kept (``None`` keeps all).
    full_field_only
        Leave out spot compression and magnification views (``spot_mag`` 1).
    """
    spec = get_collapse(collapse)
    c = EMBED_COLUMNS
    meta = read_table(metadata_csv)
    require_columns(meta, [c["patient"], c["exam"], c["path"]], str(metadata_csv))
    clinical = read_table(clinical_csv)
    require_columns(clinical, [c["exam"], c["race"]], str(clinical_csv))
    n_input = len(meta)
    excluded: Counter[str] = Counter()
    if image_types is not None:
        meta = _exclude_views(meta, c["image_type"], image_types, excluded, "image type", True)
    if views is not None:
        meta = _exclude_views(meta, c["view"], views, excluded, ignore_case=True)
    if full_field_only and c["spot_mag"] in meta:
        spot = pd.to_numeric(meta[c["spot_mag"]], errors="coerce").fillna(0).to_numpy() == 1
        if spot.any():
            excluded["spot/magnification view"] += int(spot.sum())
        meta = meta.loc[~spot]
    meta = drop_missing_patients(meta, c["patient"], excluded, str(metadata_csv))
    keep = [c[k] for k in _CLINICAL_COLUMNS if c[k] in clinical]
    # demographics and density repeat on every finding row of an exam: one row per exam
    exams = clinical.drop_duplicates(c["exam"]).set_index(c["exam"])[keep]
    known = meta[c["exam"]].isin(exams.index).to_numpy()
    if (~known).any():
        excluded["no clinical record"] += int((~known).sum())
    df = meta.loc[known].drop(columns=[k for k in keep if k in meta], errors="ignore")
    df = df.join(exams, on=c["exam"]).reset_index(drop=True)
    labeled = label_cohort(df, c["race"], c["patient"], "embed", spec, consistency,
                           ethnicity_col=c["ethnicity"] if c["ethnicity"] in df else None)
    excluded.update(labeled.excluded)
    out = labeled.table
    out["patient_id"] = out[c["patient"]].astype(str)
    out["study_id"] = out[c["exam"]].astype(str)
    out["path"] = _resolve(out[c["path"]], Path(root))
    out["sample_id"] = out[c["path"]].astype(str)
    if c["laterality"] in out:
        out["laterality"] = out[c["laterality"]]
    if c["view"] in out:
        out["view"] = out[c["view"]]
    if c["density"] in out:
        codes = pd.to_numeric(out[c["density"]], errors="coerce")
        out["density"] = codes.map(DENSITY_LETTERS).astype(object)
    if c["age"] in out:
        out["age"] = pd.to_numeric(out[c["age"]], errors="coerce")
    if out["sample_id"].duplicated().any():
        raise DataError(f"{metadata_csv}: a file is listed twice; use the metadata table as "
                        "released (one row per file)")
    return finish_cohort(out, source="embed", n_input_rows=n_input, excluded=excluded,
                         collapse=spec, check_files=check_files)


def _resolve(paths: pd.Series, root: Path) -> pd.Series:
    def one(p: str) -> str:
        if os.path.exists(p):
            return p
        found = _COHORT_DIR.search(p.replace("\\", "/"))
        return found.group(1) if found else p.lstrip("/")

    return absolute_paths(paths.astype(str).map(one), root.absolute())
