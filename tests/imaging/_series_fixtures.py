"""CT series trees written with pydicom for the series tests (file names shuffled on purpose)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def ct_slice(path: Path, pixels: np.ndarray, *, patient: str, race: str, study: str, series: str,
             z: float | None, instance: int | None, orientation: list[float] | None = AXIAL,
             modality: str = "CT") -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.EthnicGroup = modality, patient, race
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.set_pixel_data(pixels.astype(np.uint16), "MONOCHROME2", 12)
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, z]
    if orientation is not None:
        ds.ImageOrientationPatient = orientation
    if instance is not None:
        ds.InstanceNumber = instance
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def ct_tree(root: Path, *, n_patients: int, n_slices: int = 6, size: int = 16, seed: int = 0,
            signal: float = 0.0) -> dict[str, list[float]]:
    """Each patient: one study holding two axial series, slices written under shuffled names.

    Returns series UID -> slice z positions in the order the files were written (shuffled), and
    puts a race signal of ``signal`` HU into the Black patients' slices.
    """
    rng = np.random.default_rng(seed)
    written: dict[str, list[float]] = {}
    for p in range(n_patients):
        race = ("White", "Black")[p % 2]
        study = generate_uid(entropy_srcs=[str(seed), str(p), "study"])
        for s in range(2):
            series = generate_uid(entropy_srcs=[str(seed), str(p), str(s), "series"])
            zs = [float(-100 + 2.5 * k) for k in range(n_slices)]
            order = rng.permutation(n_slices)
            written[series] = [zs[k] for k in order]
            for j, k in enumerate(order):
                pixels = rng.normal(1024, 30, (size, size))
                if race == "Black":
                    pixels[: size // 2] += signal
                # instance numbers count the other way: positions, not numbers, must win
                ct_slice(root / f"P{p:03d}" / f"x{rng.integers(1e9)}.dcm",
                         np.clip(pixels, 0, 4095), patient=f"P{p:03d}", race=race, study=study,
                         series=series, z=zs[k], instance=n_slices - int(k), )
                del j
    return written
