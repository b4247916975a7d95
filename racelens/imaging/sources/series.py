"""DICOM files grouped into series: one cohort row per CT/MR/PT volume, slices in body order.

:func:`group_series` turns the per-file header rows of a DICOM folder into per-series rows, for
``from_dicom_folder(..., series="auto"|"on")`` (``racelens imaging manifest dicom --series``).

Rules
-----
- Files are grouped by ``SeriesInstanceUID``. ``on`` groups every file; ``auto`` groups the
  series of Modality CT, MR or PT that hold more than one slice, and every multi-frame object (an
  enhanced CT/MR or tomosynthesis object is a series by itself); everything else stays one row
  per file (a one-slice row), because several CR/DX/MG images of one series are views, not
  slices, and a lone slice is not a volume.
- Slices are ordered by ``ImagePositionPatient`` projected on the slice normal (the cross product
  of the ``ImageOrientationPatient`` row and column directions); when a slice lacks either, by
  ``InstanceNumber``; a multi-frame object's frames by their per-frame plane positions, else in
  stored order. File names mean nothing.
- A series is skipped with the reason when its slices differ in size (``Rows x Columns``) or in
  orientation (direction cosines more than 0.01 apart), or when it cannot be ordered
  (neither positions nor instance numbers on every slice).
- Rows: ``sample_id`` and ``series_id`` are the series UID, ``study_id`` the study UID,
  ``n_slices``, ``slice_paths`` and ``slice_frames`` (``-1`` for a single-frame file) in order,
  ``path`` the first slice, and the first slice's header values.

Accounting: with grouping on, an *input row* is a series (all the files and frames sharing a
series UID) or a file that is in none (unreadable, no pixel data, no series UID under ``on``), so
``rows + excluded + skipped == input rows`` still holds; ``extra["n_files"]`` keeps the file count.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from racelens.errors import ConfigError

__all__ = ["SeriesMode", "SERIES_MODALITIES", "group_series", "slice_geometry"]

logger = logging.getLogger(__name__)

SeriesMode = Literal["auto", "on", "off"]
#: Modalities whose files ``series="auto"`` groups into volumes.
SERIES_MODALITIES = frozenset({"CT", "MR", "PT"})
_ORIENTATION_TOLERANCE = 0.01


def check_series_mode(mode: Any) -> str:
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"series must be auto, on or off, not {mode!r}")
    return str(mode)


def slice_geometry(path: str, frames: int) -> list[tuple[tuple[float, ...] | None,
                                                          tuple[float, ...] | None]]:
    """Per-frame ``(ImagePositionPatient, ImageOrientationPatient)`` of a multi-frame object
    from its functional groups (``None`` where absent)."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    out = []
    for k in range(frames):
        item = per_frame[k] if k < len(per_frame) else None
        out.append((_macro(item, shared, "PlanePositionSequence", "ImagePositionPatient"),
                    _macro(item, shared, "PlaneOrientationSequence", "ImageOrientationPatient")))
    return out


def _macro(item: Any, shared: Any, sequence: str, keyword: str) -> tuple[float, ...] | None:
    for group in (item, shared):
        inner = group.get(sequence) if group is not None else None
        if inner and keyword in inner[0]:
            return tuple(float(v) for v in inner[0][keyword].value)
    return None


def group_series(rows: Sequence[dict[str, Any]], mode: str
                 ) -> tuple[list[dict[str, Any]], list[tuple[str, str]], int]:
    """Group per-file header rows into series rows.

    Parameters
    ----------
    rows
        One dict per readable image file: ``sample_id`` (its path under the root), ``path`` and the
        header values of :func:`racelens.imaging.io.load.read_dicom_header`.
    mode
        ``auto`` or ``on`` (see the module docstring).

    Returns
    -------
    (rows, skipped, n_input_rows)
        The series (and ungrouped file) rows, the skipped series and files with reasons, and the
        input rows they account for.
    """
    mode = check_series_mode(mode)
    by_series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    singles: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for row in rows:
        uid = row.get("SeriesInstanceUID")
        if uid:
            by_series[str(uid)].append(row)
        elif mode == "on":
            skipped.append((row["sample_id"], "no SeriesInstanceUID (cannot be grouped)"))
        else:
            singles.append(row)
    out: list[dict[str, Any]] = []
    for uid, files in by_series.items():
        modality = str(files[0].get("Modality") or "").upper()
        multi = any((f.get("NumberOfFrames") or 1) > 1 for f in files)
        volume = multi or (modality in SERIES_MODALITIES and len(files) > 1)
        if mode == "auto" and not volume:
            singles.extend(files)
            continue
        built = _series_row(uid, files)
        if isinstance(built, str):
            skipped.append((uid, built))
        else:
            out.append(built)
    for row in singles:
        if (row.get("NumberOfFrames") or 1) > 1:  # only reachable without a series UID
            skipped.append((row["sample_id"], f"multi-frame ({row['NumberOfFrames']} frames) "
                                              "without a SeriesInstanceUID"))
            continue
        out.append({**row, "series_id": row.get("SeriesInstanceUID"),
                    "study_id": row.get("StudyInstanceUID"), "n_slices": 1,
                    "slice_paths": [row["path"]], "slice_frames": [-1]})
    n_input = len(out) + len(skipped)
    logger.info("series: %d file(s) -> %d row(s), %d skipped", len(rows), len(out), len(skipped))
    return out, skipped, n_input


def _series_row(uid: str, files: list[dict[str, Any]]) -> dict[str, Any] | str:
    """One series row, or the reason the series is skipped."""
    slices = []  # (path, frame, position, orientation, instance, (rows, cols))
    for f in files:
        frames = int(f.get("NumberOfFrames") or 1)
        size = (f.get("Rows"), f.get("Columns"))
        if frames == 1:
            slices.append((f["path"], -1, f.get("ImagePositionPatient"),
                           f.get("ImageOrientationPatient"), f.get("InstanceNumber"), size))
            continue
        geometry = slice_geometry(f["path"], frames)
        for k, (pos, ori) in enumerate(geometry):
            # frames without positions keep their stored order (the instance number is k)
            slices.append((f["path"], k, pos, ori or f.get("ImageOrientationPatient"),
                           (f.get("InstanceNumber") or 0) * 100000 + k, size))
    sizes = sorted({s[5] for s in slices}, key=str)
    if len(sizes) > 1:
        listed = ", ".join(f"{r}x{c}" for r, c in sizes[:3])
        return f"inconsistent series: slices of {len(sizes)} sizes ({listed})"
    order = _slice_order(slices)
    if isinstance(order, str):
        return order
    first = files[0]
    ordered = [slices[i] for i in order]
    head = next(f for f in files if f["path"] == ordered[0][0])
    return {**head, "sample_id": uid, "series_id": uid, "study_id": first.get("StudyInstanceUID"),
            "path": ordered[0][0], "n_slices": len(ordered), "n_files": len(files),
            "slice_paths": [s[0] for s in ordered], "slice_frames": [int(s[1]) for s in ordered]}


def _slice_order(slices: list[tuple[Any, ...]]) -> list[int] | str:
    if len(slices) == 1:
        return [0]
    if all(s[2] is not None and s[3] is not None and len(s[3]) == 6 for s in slices):
        cosines = np.array([s[3] for s in slices], dtype=float)
        if np.abs(cosines - cosines[0]).max() > _ORIENTATION_TOLERANCE:
            return "inconsistent series: slices of different orientations"
        normal = np.cross(cosines[0, :3], cosines[0, 3:])
        where = np.array([s[2] for s in slices], dtype=float) @ normal
        tie = [s[4] if s[4] is not None else 0 for s in slices]
        return sorted(range(len(slices)), key=lambda i: (where[i], tie[i]))
    if all(s[4] is not None for s in slices):
        return sorted(range(len(slices)), key=lambda i: slices[i][4])
    missing = sum(s[4] is None for s in slices)
    return (f"no slice order: {missing} slice(s) lack both ImagePositionPatient and "
            "InstanceNumber")

