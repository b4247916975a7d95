"""Synthetic image manifests for the imaging tests (audit, explain): PNGs plus a table manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from racelens.imaging.synthetic import ImageSignal, synthetic_images, write_png_manifest
from racelens.shared.synthetic import synthetic_patients


def synthetic_manifest(root: Path, signal: ImageSignal, *, size: int, n_patients: int,
                       seed: int = 0, permute_seed: int | None = None, corrupt: int = 0) -> Path:
    """Render ``n_patients``' images with ``signal`` into ``root/img`` and write the manifest.

    ``permute_seed`` reassigns race labels across patients after rendering, so the images carry
    no information about the label at all (the synthetic anatomy follows BMI, which is weakly
    linked to race, so strength 0 alone would still leave a faint real signal); ``corrupt``
    makes that many kept files unreadable.
    """
    patients = synthetic_patients(n_patients, seed=seed)
    images = synthetic_images(patients, size=size, signal=signal, seed=seed)
    if permute_seed is not None:
        ids = patients["patient_id"].unique()
        race = patients.groupby("patient_id")["race_raw"].first()
        perm = np.random.default_rng(permute_seed).permutation(ids)
        shuffled = dict(zip(ids, race.loc[perm], strict=True))
        patients = patients.assign(race_raw=patients["patient_id"].map(shuffled))
    manifest = write_png_manifest(root, patients, images)
    kept = patients.index[patients["race"].isin(["Asian", "Black", "White"])]
    for i in kept[:corrupt]:  # the manifest reads no pixels: the cache meets the broken files
        (root / f"img/{i}.png").write_bytes(b"not a png")
    return manifest
