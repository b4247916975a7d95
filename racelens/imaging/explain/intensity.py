"""Race from what is not anatomy: the intensity histogram alone, and the acquisition tags.

Gichoya et al. found race from a 256-bin intensity histogram at AUC 0.55-0.60 (Burns et al. 2023:
grayscale histograms alone 0.69-0.77), and Lotter et al. (2024) showed that acquisition settings
shift race scores. Both questions go to the shared linear probe on the audited run's patient
split: the histogram of each model-size image (256 bins, as frequencies), and the acquisition
columns the manifest carries (:data:`ACQUISITION_COLUMNS`, from the DICOM headers) through the
covariate baseline of :mod:`racelens.imaging.audit.baselines`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from racelens.imaging.audit.data import PreparedData
from racelens.imaging.sources.archives import ACQUISITION_COLUMNS

__all__ = ["intensity_histograms", "intensity_auc", "acquisition_auc"]

log = logging.getLogger(__name__)
_CHUNK = 2048


def intensity_histograms(cache: Any, rows: np.ndarray, *, bins: int = 256) -> np.ndarray:
    """``(len(rows), bins)`` histogram frequencies of the cached images at ``rows``."""
    out = np.zeros((len(rows), bins), dtype=np.float64)
    for start in range(0, len(rows), _CHUNK):
        x = cache.as_float(np.asarray(rows[start:start + _CHUNK]))
        n = len(x)
        levels = np.clip((x.reshape(n, -1) * bins).astype(np.int64), 0, bins - 1)
        offsets = (np.arange(n, dtype=np.int64) * bins)[:, None]
        counts = np.bincount((levels + offsets).ravel(), minlength=n * bins).reshape(n, bins)
        out[start:start + n] = counts / levels.shape[1]
    return out


def intensity_auc(data: PreparedData, *, seed: int, n_boot: int) -> dict[str, Any]:
    """The ``auc`` block of race from the intensity histogram alone."""
    from racelens.shared.metrics.probe import linear_probe
    from racelens.shared.results import Condition

    hist = intensity_histograms(data.cache, data.rows)
    labels = np.asarray(data.classes, dtype=object)[data.labels]
    fit = linear_probe(hist, labels, data.table["patient_id"].to_numpy(), data.split, data.classes,
                       condition=Condition("intensity_histogram"), seed=seed, n_boot=n_boot)
    return fit.result.auc.to_dict()


def acquisition_auc(data: PreparedData, *, seed: int, n_boot: int
                    ) -> tuple[dict[str, Any] | None, list[str], int]:
    """Race from the acquisition columns present in the manifest.

    Returns the ``auc`` block (``None`` when the manifest carries no acquisition column, or too
    few rows have them all), the columns used and the number of rows left out for a missing value.
    """
    from racelens.errors import RacelensError
    from racelens.imaging.audit.baselines import covariate_probe

    present = [c for c in ACQUISITION_COLUMNS if c in data.table.columns
               and data.table[c].notna().any() and data.table[c].nunique(dropna=True) > 1]
    if not present:
        log.info("acquisition: the manifest carries none of %s", ", ".join(ACQUISITION_COLUMNS))
        return None, [], 0
    try:
        result, keep, _ = covariate_probe(data, present, seed=seed, n_boot=n_boot)
    except RacelensError as exc:  # e.g. a split left without a group once missing rows go
        log.warning("acquisition baseline not computed: %s", exc)
        return None, present, 0
    return result.auc.to_dict(), present, int((~keep).sum())
