"""Write synthetic images as PNG files plus a manifest, for imaging tests (load with ``helpers``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from racelens.imaging.sources.cohort import from_table, write_manifest
from racelens.imaging.synthetic import write_png


def write_png_manifest(root: Path, patients: pd.DataFrame, images: np.ndarray) -> Path:
    """``root/img/<i>.png`` per row, ``root/table.csv`` and ``root/manifest.parquet``; returns the manifest."""
    paths = [f"img/{i}.png" for i in range(len(images))]
    for p, img in zip(paths, images, strict=True):
        write_png(root / p, img)
    patients.assign(path=paths).to_csv(root / "table.csv", index=False)
    cohort = from_table(root / "table.csv", path_col="path", race_col="race_raw",
                        patient_col="patient_id", sample_col="sample_id")
    return write_manifest(cohort, root / "manifest.parquet")[0]
