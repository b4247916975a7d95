"""Imaging sources: MIMIC-CXR-JPG, CheXpert, DICOM folders and any table, each building the one
:class:`racelens.shared.cohort.Cohort` (payload ``path``) through the one label policy."""

from racelens.imaging.sources.archives import chexpert, from_dicom_folder, mimic_cxr
from racelens.imaging.sources.cohort import (
    MANIFEST_SCHEMA,
    STANDARD_COLUMNS,
    Cohort,
    from_table,
    load_manifest,
    manifest_sidecar,
    write_manifest,
)

__all__ = [
    "Cohort",
    "STANDARD_COLUMNS",
    "MANIFEST_SCHEMA",
    "from_table",
    "mimic_cxr",
    "chexpert",
    "from_dicom_folder",
    "write_manifest",
    "load_manifest",
    "manifest_sidecar",
]
