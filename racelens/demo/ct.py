"""The demo's optional CT part (``racelens demo --ct``): series as samples on a known answer.

A synthetic tree of axial CT series (:mod:`racelens.imaging.synthetic_series`; files in shuffled
order, two series per study, race in the ``EthnicGroup`` tag, a planted HU signal) goes through
the DICOM manifest with ``series="auto"`` and the imaging audit with a few slices per series; the
known answers: the per-series AUC is high, ``n_test`` counts test series (not slices), and every
series is accounted for. It is off by default so ``--quick`` stays well under 90 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CT_PATIENTS", "CT_SLICES", "run_ct_part", "ct_answers"]

CT_PATIENTS = 30  # 60 series
CT_SLICES = 8
_SAMPLED = 4


def run_ct_part(out: Path, *, seed: int, n_boot: int) -> tuple[Any, int]:
    """Write the tree, build the series manifest, audit it; the result and the input rows."""
    import shutil

    from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
    from racelens.imaging.sources.archives import from_dicom_folder
    from racelens.imaging.sources.cohort import write_manifest
    from racelens.imaging.synthetic_series import CT_GROUPS, write_ct_tree

    tree = out / "cohort" / "ct"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(out / "ct" / "cache", ignore_errors=True)
    write_ct_tree(tree, n_patients=CT_PATIENTS, n_slices=CT_SLICES, size=32, seed=seed,
                  signal=300.0, groups=CT_GROUPS)
    cohort = from_dicom_folder(tree, series="auto")
    manifest, _ = write_manifest(cohort, out / "ct" / "manifest.parquet")
    result = run_imaging_audit(ImagingAuditConfig(
        manifest=manifest, out=out / "ct", arch="small_cnn", size=32, epochs=6, batch_size=32,
        lr=3e-3, seed=seed, n_boot=n_boot, device="cpu", progress=False, slices=_SAMPLED,
        unit="sample", patience=6))
    return result, cohort.n_input_rows


def ct_answers(result: Any) -> list[tuple[str, str, Any, bool]]:
    """``(name, expected, condition, passed)`` of the CT part's own known answers."""
    original = result.condition("original")
    n_series = result.extras["split_sizes"]["test"]
    return [("ct: per-series original", ">= 0.80", original,
             (original.auc.macro.estimate or 0) >= 0.8),
            (f"ct: n_test counts series ({original.n_test} of {n_series} test series)",
             "n_test = test series", original, original.n_test == n_series)]
