"""From a manifest to the labelled, split, cached rows an imaging audit trains and tests on.

:func:`prepare_data` is shared by the audit, the frozen-feature probe and the covariate baseline,
so all three account for every manifest row the same way: rows excluded by label rules (the
manifest's own, a re-collapse, a missing or uncertain disease label) are counted in ``excluded``;
rows whose image could not be read (at manifest time or when the cache was built) are listed in
``skipped``; ``n_samples + sum(excluded) + len(skipped)`` equals the manifest's input rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import DataError, LabelError, SplitError
from racelens.shared.cohort import ordered_groups
from racelens.shared.results import DataSummary, SkippedRow

__all__ = ["PreparedData", "prepare_data", "cache_manifest", "TASK_CLASSES", "DEFAULT_SLICES"]

log = logging.getLogger(__name__)
TASK_CLASSES = ("negative", "positive")
#: Slices sampled per series of a series manifest when nothing else is asked.
DEFAULT_SLICES = 16


@dataclass(frozen=True)
class PreparedData:
    """The rows an audit uses, their labels, split and cache rows, and the accounting.

    Attributes
    ----------
    table
        Used manifest rows (index reset).
    classes
        Class names in label-index order (race groups, or ``negative``/``positive`` for a task).
    labels, split, rows
        Per used row: label index, ``train``/``val``/``test`` and row in the image cache
        (``-1`` without a cache).
    cache
        The :class:`~racelens.imaging.cache.build.ImageCache`, or ``None`` when images were not needed.
    summary
        The ``data`` block of ``result.json`` (counting manifest rows: series, not slices).
    n_input_rows
        Rows of the manifest's input table.
    slice_skips
        Unreadable slices of the series kept, by reason (see :mod:`racelens.imaging.audit.slices`).

    With a series manifest, ``table``, ``labels``, ``split`` and ``rows`` hold one entry per sampled
    slice (an *item*), each carrying its series' ``sample_id``, label and split.
    """

    table: pd.DataFrame
    classes: list[str]
    labels: np.ndarray
    split: np.ndarray
    rows: np.ndarray
    cache: Any
    summary: DataSummary
    n_input_rows: int
    slice_skips: dict[str, int] = field(default_factory=dict)

    def mask(self, split: str) -> np.ndarray:
        return self.split == split

    def dataset(self, split: str) -> Any:
        """A torch dataset of ``(image, label)`` for one split, read from the cache."""
        if self.cache is None:
            raise DataError("this data was prepared without images")
        m = self.mask(split)
        return self.cache.torch_dataset(self.rows[m], self.labels[m])


def _task_labels(table: pd.DataFrame, task: str, excluded: Counter[str]) -> tuple[pd.DataFrame, np.ndarray]:
    if task not in table.columns:
        raise DataError(f"manifest has no column {task!r} for --task; its columns are "
                        f"{list(table.columns)[:20]}")
    values = pd.to_numeric(table[task], errors="coerce")
    missing = values.isna()
    uncertain = values.notna() & ~values.isin([0, 1])
    if missing.any():
        excluded[f"{task}: missing"] += int(missing.sum())
    if uncertain.any():
        excluded[f"{task}: not 0/1 (uncertain)"] += int(uncertain.sum())
    keep = ~(missing | uncertain)
    return table[keep].reset_index(drop=True), values[keep].to_numpy(dtype=np.int64)


def cache_manifest(manifest: Path | Any, *, size: int = 224, cache_dir: Path, workers: int = 1,
                   strict: bool = False, progress: bool = True, voi: str = "auto",
                   slices: int | str | None = DEFAULT_SLICES) -> Any:
    """Build (or resume, or reuse) the image cache an audit of ``manifest`` reads.

    The cache is keyed by the manifest's fingerprint, the image size and the VOI mode, so
    ``racelens imaging audit --manifest M --size S --cache-dir D`` (and ``probe``) reuse what this
    built without decoding again. Building it first, with many CPU workers, is how a multi-GPU job
    starts without its GPUs waiting on rank 0's decode.

    Parameters
    ----------
    manifest
        A manifest path written by ``racelens imaging manifest``, or an already loaded one.
    size, cache_dir, workers, strict, progress, voi
        As :func:`racelens.imaging.cache.build.build_cache`.
    slices
        Slices sampled per series of a series manifest (``None`` or ``"all"``: every slice).

    Returns
    -------
    ImageCache
        The finished cache (its ``skipped`` lists the unreadable files' rows with reasons).
    """
    from racelens.imaging.audit.slices import check_slices, expand_items, items_fingerprint
    from racelens.imaging.cache.build import build_cache
    from racelens.imaging.sources import load_manifest

    cohort = load_manifest(manifest) if isinstance(manifest, (str, Path)) else manifest
    count = check_slices(slices)
    items = expand_items(cohort.table, count)
    return build_cache(items["path"].tolist(), items["item_id"].tolist(), size=size,
                       cache_dir=cache_dir,
                       fingerprint=items_fingerprint(cohort.fingerprint(), items, count),
                       workers=workers, progress=progress, strict=strict, voi=voi,
                       frames=items["frame"].tolist())


def prepare_data(
    manifest: Path,
    *,
    size: int = 224,
    seed: int = 0,
    cache_dir: Path | None = None,
    collapse: str | None = None,
    task: str | None = None,
    workers: int = 1,
    strict: bool = False,
    progress: bool = True,
    images: bool = True,
    split_from: pd.DataFrame | None = None,
    voi: str = "auto",
    slices: int | str | None = DEFAULT_SLICES,
) -> PreparedData:
    """Load, relabel, cache and split a manifest for an audit.

    Parameters
    ----------
    manifest
        A manifest written by ``racelens imaging manifest``.
    size, cache_dir, workers, strict, progress, voi
        Passed to :func:`racelens.imaging.cache.build.build_cache`.
    slices
        Evenly spaced slices per series of a series manifest (``None``/``"all"``: all).
    seed
        Seed of the patient split (an existing ``split`` column is kept).
    collapse
        Re-collapse the manifest's race groups; rows outside it are excluded by raw value.
    task
        A binary (0/1) disease column; other values are excluded. ``None``: race is the label.
    images
        Build the cache (``False`` for the covariate baseline).
    split_from
        ``sample_id``, ``split`` of an earlier run to reuse; other rows are excluded.

    Raises
    ------
    LabelError
        When fewer than two classes remain.
    SplitError
        When a split is empty.
    """
    from racelens.imaging.sources import load_manifest
    from racelens.shared.splits import patient_split

    cohort = load_manifest(manifest)
    table = cohort.table.reset_index(drop=True)
    excluded: Counter[str] = Counter({str(k): int(v) for k, v in cohort.excluded.items()})
    skipped = list(cohort.skipped)
    cache = None
    rows = np.full(len(table), -1, dtype=np.int64)
    slice_skips: dict[str, int] = {}
    if images:
        from racelens.imaging.audit.slices import check_slices, drop_unreadable, expand_items

        if cache_dir is None:
            raise DataError("an image cache directory is needed; pass cache_dir")
        cache = cache_manifest(cohort, size=size, cache_dir=cache_dir, workers=workers,
                               strict=strict, progress=progress, voi=voi, slices=slices)
        outcome = drop_unreadable(expand_items(table, check_slices(slices)), dict(cache.skipped))
        skipped += [SkippedRow(s, r) for s, r in outcome.skipped]
        slice_skips = outcome.slice_skips
        lost = {s for s, _ in outcome.skipped}
        table = table[~table["sample_id"].astype(str).isin(lost).to_numpy()].reset_index(drop=True)
        # per kept sample, the cache rows of its readable items (one for a radiograph)
        item_rows = pd.Series(cache.rows(outcome.items["item_id"].tolist()))
        by_sample = item_rows.groupby(outcome.items["sample_id"].to_numpy(), sort=False).agg(list)
        rows = np.empty(len(table), dtype=object)
        for i, sid in enumerate(table["sample_id"].astype(str)):
            rows[i] = np.asarray(by_sample[sid], dtype=np.int64)
    if collapse is not None and collapse != cohort.collapse:
        from racelens.shared.labels import apply_collapse

        groups, exc = apply_collapse(table["race"], collapse,
                                     raw=table["race_raw"] if "race_raw" in table else None)
        excluded.update(exc)
        keep = groups.notna().to_numpy()
        table, rows = table[keep].reset_index(drop=True), rows[keep]
        table["race"] = groups[keep].to_numpy()
    no_race = table["race"].isna().to_numpy()
    if no_race.any():
        excluded["<missing race>"] += int(no_race.sum())
        table, rows = table[~no_race].reset_index(drop=True), rows[~no_race]
    if split_from is not None:
        known = dict(zip(split_from["sample_id"].astype(str), split_from["split"], strict=True))
        inside = table["sample_id"].astype(str).isin(known).to_numpy()
        if (~inside).any():
            excluded["not in the audited run"] += int((~inside).sum())
        table, rows = table[inside].reset_index(drop=True), rows[inside]
        table["split"] = table["sample_id"].astype(str).map(known)
    if task is not None:
        idx = table.index.to_numpy()
        table, labels = _task_labels(table.assign(_i=idx), task, excluded)
        rows = rows[table.pop("_i").to_numpy()]
        classes = list(TASK_CLASSES)
    else:
        classes = ordered_groups(table["race"].astype(str), cohort.groups_order)
        labels = table["race"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    if len(set(labels.tolist())) < 2:
        raise LabelError(f"only {len(set(labels.tolist()))} class(es) left after exclusions; "
                         "an audit needs at least two (check --collapse/--task)")
    split = patient_split(table, "patient_id", "race", seed=seed).to_numpy().astype(str)
    for name in ("train", "val", "test"):
        if not (split == name).any():
            raise SplitError(f"the {name} split is empty; add patients or set a split column")
    # the rows used, with the manifest's accounting: the Cohort checks that they add up
    used = replace(cohort, table=table, excluded=excluded, skipped=tuple(skipped))
    race_counts = table["race"].astype(str).value_counts()
    summary = DataSummary(len(table), used.n_patients,
                          {g: int(race_counts[g]) for g in ordered_groups(race_counts.index,
                                                                          cohort.groups_order)},
                          used.excluded, used.skipped, cohort.fingerprint(), cohort.source)
    log.info("data: %d samples, %d patients, %d excluded, %d skipped", summary.n_samples,
             summary.n_patients, sum(excluded.values()), len(skipped))
    if images:  # one entry per item (a radiograph, or a sampled slice of a series)
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        repeat = np.repeat(np.arange(len(table)), counts)
        table, labels, split = table.iloc[repeat].reset_index(drop=True), labels[repeat], \
            split[repeat]
        rows = np.concatenate(list(rows)) if len(rows) else np.zeros(0, dtype=np.int64)
    return PreparedData(table, classes, labels, split, rows, cache, summary, cohort.n_input_rows,
                        slice_skips)
