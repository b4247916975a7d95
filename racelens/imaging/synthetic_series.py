"""Synthetic CT series trees: axial slices as real DICOM files, written in shuffled order.

For the series tests and ``racelens demo --ct``: each patient has one study of ``series_per_study``
axial series; slices carry ``ImagePositionPatient``/``ImageOrientationPatient``, instance
numbers that count the *other* way (so an ordering by number would be wrong) and random file
names. A planted race signal (``signal`` HU added to a region: the top half of every slice for
Black patients, the left half for Asian patients) gives the audit a known answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["AXIAL", "write_ct_slice", "write_ct_tree", "CT_GROUPS"]

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
#: Race groups in order of patient index (patient ``p`` is ``CT_GROUPS[p % len(groups)]``).
CT_GROUPS = ("White", "Black", "Asian")


def write_ct_slice(path: str | os.PathLike[str], pixels: np.ndarray, *, patient: str, race: str,
                   study: str, series: str, z: float | None, instance: int | None,
                   orientation: list[float] | None = AXIAL, modality: str = "CT") -> Path:
    """Write one CT slice (12-bit stored, rescale to HU with intercept -1024)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.EthnicGroup = modality, patient, race
    ds.PatientName = f"SYNTHETIC^{patient}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.set_pixel_data(pixels.astype(np.uint16), "MONOCHROME2", 12)
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, z]
    if orientation is not None:
        ds.ImageOrientationPatient = orientation
    if instance is not None:
        ds.InstanceNumber = instance
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_ct_tree(root: str | os.PathLike[str], *, n_patients: int, n_slices: int = 6,
                  size: int = 16, seed: int = 0, signal: float = 0.0,
                  groups: tuple[str, ...] = ("White", "Black"), series_per_study: int = 2
                  ) -> dict[str, list[float]]:
    """Write the tree; return series UID -> slice z positions in the order the files were written.

    Parameters
    ----------
    root
        Folder to write ``P###/x<random>.dcm`` files into.
    n_patients, n_slices, size
        Patients, slices per series and slice side in pixels.
    seed
        Seeds the pixels, the file order and names, and the UIDs.
    signal
        HU added to a group's region (see the module docstring); 0 plants nothing.
    groups
        Race groups cycled over the patients (values of the ``EthnicGroup`` tag).
    """
    from pydicom.uid import generate_uid

    root = Path(root)
    rng = np.random.default_rng(seed)
    written: dict[str, list[float]] = {}
    for p in range(n_patients):
        race = groups[p % len(groups)]
        study = generate_uid(entropy_srcs=[str(seed), str(p), "study"])
        for s in range(series_per_study):
            series = generate_uid(entropy_srcs=[str(seed), str(p), str(s), "series"])
            zs = [float(-100 + 2.5 * k) for k in range(n_slices)]
            order = rng.permutation(n_slices)
            written[series] = [zs[k] for k in order]
            for k in order:
                pixels = rng.normal(1024, 30, (size, size))
                if race == "Black":
                    pixels[: size // 2] += signal
                elif race == "Asian":
                    pixels[:, : size // 2] += signal
                # instance numbers count the other way: positions, not numbers, must win
                write_ct_slice(root / f"P{p:03d}" / f"x{rng.integers(1_000_000_000)}.dcm",
                               np.clip(pixels, 0, 4095), patient=f"P{p:03d}", race=race,
                               study=study, series=series, z=zs[k], instance=n_slices - int(k))
    return written
