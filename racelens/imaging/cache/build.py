"""Decode and resize every image once into an on-disk, memory-mapped uint16 cache.

Training epochs and every perturbation condition read this cache, never the DICOMs again.

Layout of ``cache_dir/<fingerprint[:16]>-<size>[-voinone]/``::

    meta.json       what the cache is for: fingerprint, size, voi, rows, a hash of the inputs
    images.npy      (N, size, size) uint16, intensity * 65535, rows in the order of the inputs
    progress.json   one character per row (``.`` pending, ``o`` ok, ``s`` skipped) + skip reasons
    index.parquet   sample_id, row, status (``ok``/``skipped``), reason
    stats.npy       (N, 2) int64 size and mtime (ns) of each file when it was decoded
    complete.json   written last and atomically: only a directory holding it is a finished cache

Decisions
---------
- Images are resized directly to ``size x size`` (no padding, aspect ratio not kept), as Gichoya
  et al. did, with Pillow's antialiased bilinear filter (a triangle filter widened by the scale
  factor on down-sampling), then clipped to [0, 1] and stored as ``round(x * 65535)``.
- Resumable: workers write finished rows into the memory map (shared pages of the file); the
  parent fsyncs the file *before* it records them in ``progress.json`` (atomic rename, every
  2 s and at the end), so a killed build restarts at the first row not recorded, and a row is
  never recorded before its pixels are on disk. One fsync per save, not a flush per task: the
  build writes about as fast as it decodes.
- An unreadable file becomes a ``skipped`` row (all zeros) with the
  :class:`~racelens.errors.ImageLoadError` reason. With ``strict=True`` the build stops at the
  first one instead (after recording the rows that were read), and the failed row stays pending,
  so a build resumed after fixing the file reads it.
- Files rewritten after they were cached (another size or modification time) are decoded again
  when the cache is next opened by :func:`build_cache`, with a warning; files that have since
  disappeared keep their cached pixels (the manifest, not the cache, decides what is used).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.imaging.cache.fill import OK, PENDING, fill_rows, save_progress
from racelens.imaging.io.load import VoiMode, check_voi, resize_image
from racelens.imaging.io.resize import from_levels
from racelens.shared.tables import atomic_write_bytes, atomic_write_json, atomic_write_parquet

__all__ = ["ImageCache", "build_cache", "open_cache", "cache_path", "resize_image"]

logger = logging.getLogger(__name__)

SCHEMA = "racelens.imagecache/1"
#: Bumped when the meaning of an intensity mode changes (2: no-VOI images are no longer min-max
#: scaled), so a cache of the old rule is not silently reused.
INTENSITY_RULES = 2


@dataclass(frozen=True, eq=False)
class ImageCache:
    """A finished cache: the memory-mapped images and their index.

    Attributes
    ----------
    directory
        The cache directory.
    array
        ``np.memmap`` of shape ``(N, size, size)``, uint16, read-only.
    index
        DataFrame with columns ``sample_id``, ``row``, ``status`` (``ok``/``skipped``), ``reason``.
    meta
        The content of ``complete.json`` (fingerprint, size, voi, counts).
    """

    directory: Path
    array: np.memmap = field(repr=False)
    index: pd.DataFrame = field(repr=False)
    meta: dict[str, Any] = field(repr=False)

    @property
    def size(self) -> int:
        """Side length of the cached images."""
        return int(self.array.shape[1])

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(sample_id, reason)`` of every row whose file could not be read."""
        bad = self.index[self.index["status"] == "skipped"]
        return list(zip(bad["sample_id"].astype(str), bad["reason"].astype(str), strict=True))

    @property
    def ok_rows(self) -> np.ndarray:
        """Row numbers of the images that were read."""
        return self.index.loc[self.index["status"] == "ok", "row"].to_numpy(dtype=np.int64)

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def rows(self, sample_ids: Sequence[Any]) -> np.ndarray:
        """Row numbers of ``sample_ids``; DataError for an unknown or skipped sample."""
        lookup = self.index.set_index(self.index["sample_id"].astype(str))
        keys = [str(s) for s in sample_ids]
        missing = [k for k in keys if k not in lookup.index]
        if missing:
            raise DataError(f"{len(missing)} sample_id(s) not in the cache at {self.directory}, "
                            f"e.g. {missing[0]!r}; rebuild it from the current manifest")
        found = lookup.loc[keys]
        bad = found[found["status"] != "ok"]
        if len(bad):
            raise DataError(f"{len(bad)} sample_id(s) were skipped when the cache was built, "
                            f"e.g. {bad.index[0]!r} ({bad['reason'].iloc[0]}); leave them out")
        return found["row"].to_numpy(dtype=np.int64)

    def as_float(self, rows: Sequence[int] | np.ndarray | slice | int) -> np.ndarray:
        """Images at ``rows`` as float32 in [0, 1] (shape ``(len(rows), size, size)``)."""
        data = self.array[rows]
        return from_levels(data)

    def torch_dataset(self, rows: Sequence[int] | np.ndarray,
                      labels: Sequence[int] | np.ndarray) -> Any:
        """A ``torch.utils.data.Dataset`` of ``(image 1 x H x W float32, label index)`` pairs.

        It re-opens the memory map in each DataLoader worker instead of pickling the images.
        """
        return _dataset_class()(self.directory / "images.npy", rows, labels)


def _dataset_class() -> type:
    """Build the torch Dataset class on first use, so that importing this module needs no torch."""
    global _CacheDataset
    if _CacheDataset is None:
        import torch

        class CacheDataset(torch.utils.data.Dataset):
            """``(image 1 x H x W float32, label)`` from a cache's ``images.npy``."""

            def __init__(self, images_file: Path, rows: Any, labels: Any) -> None:
                self.images_file = Path(images_file)
                self.rows = np.asarray(rows, dtype=np.int64)
                self.labels = np.asarray(labels, dtype=np.int64)
                # labels: one per row, or one row of k labels per row (several heads' targets)
                if (self.rows.ndim != 1 or self.labels.ndim not in (1, 2)
                        or self.labels.shape[0] != self.rows.shape[0]):
                    raise ConfigError(f"rows (1-D) and labels (1-D, or 2-D for several heads) must be of one length, "
                                      f"not {self.rows.shape} and {self.labels.shape}")
                self._images: np.ndarray | None = None

            def __len__(self) -> int:
                return int(self.rows.shape[0])

            def __getitem__(self, i: int) -> tuple[Any, Any]:
                if self._images is None:  # opened lazily: once per DataLoader worker
                    self._images = np.load(self.images_file, mmap_mode="r")
                img = from_levels(self._images[self.rows[i]])
                label = self.labels[i]
                return torch.from_numpy(img)[None], (int(label) if label.ndim == 0
                                                     else torch.from_numpy(label.copy()))

            def __getstate__(self) -> dict[str, Any]:
                return {**self.__dict__, "_images": None}

        CacheDataset.__module__ = __name__
        CacheDataset.__qualname__ = "CacheDataset"
        _CacheDataset = CacheDataset
    return _CacheDataset


_CacheDataset: type | None = None


def __getattr__(name: str) -> Any:
    # lets pickle find the lazily built class in a DataLoader worker process
    if name == "CacheDataset":
        return _dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def cache_path(cache_dir: str | os.PathLike[str], fingerprint: str, size: int,
               voi: VoiMode = "auto") -> Path:
    """The directory a cache for ``fingerprint`` at ``size`` lives in."""
    digest = fingerprint.split(":", 1)[-1]
    prefix = "".join(ch for ch in digest if ch.isalnum())[:16]
    if not prefix:
        raise ConfigError(f"fingerprint {fingerprint!r} has no letters or digits to name a cache")
    from racelens.imaging.io.intensity import slug

    suffix = "" if voi == "auto" else f"-voi{slug(voi)}"
    return Path(cache_dir) / f"{prefix}-{int(size)}{suffix}"


def open_cache(directory: str | os.PathLike[str]) -> ImageCache:
    """Open a finished cache; DataError if ``directory`` holds no ``complete.json``."""
    directory = Path(directory)
    done = directory / "complete.json"
    if not done.is_file():
        raise DataError(f"{directory}: not a finished image cache (no complete.json); "
                        "run build_cache again to finish it")
    meta = json.loads(done.read_text())
    array = np.load(directory / "images.npy", mmap_mode="r")
    index = pd.read_parquet(directory / "index.parquet")
    return ImageCache(directory=directory, array=array, index=index, meta=meta)


def build_cache(paths: Sequence[str | os.PathLike[str]], sample_ids: Sequence[Any], *,
                size: int = 224, cache_dir: str | os.PathLike[str], fingerprint: str,
                workers: int = 1, voi: VoiMode = "auto", progress: bool = True,
                strict: bool = False, frames: Sequence[int] | None = None) -> ImageCache:
    """Decode and resize every image once into a memory-mapped cache (or reuse/resume one).

    Parameters
    ----------
    paths, sample_ids
        One image file and one unique sample id per row, in cache row order.
    size
        Side of the square cached images (Gichoya et al. used 320 for ResNet34; default 224).
    cache_dir
        Parent folder; the cache is ``cache_path(cache_dir, fingerprint, size, voi)``.
    fingerprint
        The manifest's fingerprint (``racelens.shared.tables.fingerprint_table``).
    workers
        Processes decoding in parallel (1 decodes in this process).
    voi
        The intensity mode (:mod:`racelens.imaging.io.intensity`), passed to
        :func:`~racelens.imaging.io.load.load_image`.
    progress
        Show a rich progress bar on stderr.
    strict
        Raise the first :class:`ImageLoadError` instead of recording the row as skipped.
    frames
        Per row, the frame of a multi-frame file (``-1`` for a single-frame file); ``None``: all
        single-frame. A CT series is cached slice by slice this way.

    Returns
    -------
    ImageCache
        The finished cache; a finished one with the same inputs is returned without work.

    Raises
    ------
    ConfigError
        Bad arguments, or the directory holds a cache built from different inputs.
    ImageLoadError
        With ``strict=True``, for the first file that cannot be read.
    """
    paths = [os.fspath(p) for p in paths]
    ids = [str(s) for s in sample_ids]
    _check_args(paths, ids, size, workers, voi)
    voi = check_voi(voi)
    directory = cache_path(cache_dir, fingerprint, size, voi)
    frame_list = None if frames is None or all(int(f) < 0 for f in frames) else [
        int(f) for f in frames]
    if frame_list is not None and len(frame_list) != len(paths):
        raise ConfigError(f"{len(frame_list)} frames for {len(paths)} paths: give one per path")
    meta = {"schema": SCHEMA, "fingerprint": fingerprint, "size": int(size), "voi": voi,
            "intensity_rules": INTENSITY_RULES,
            "n": len(ids), "inputs": _inputs_hash(paths, ids, frame_list)}
    stats = _file_stats(paths)
    if (directory / "complete.json").is_file():
        cache = open_cache(directory)
        _check_same(directory, cache.meta, meta)
        stale = _stale_rows(directory, stats)
        if not stale:
            return cache
        logger.warning("image cache %s: %d file(s) changed since they were cached; decoding "
                       "them again", directory.name, len(stale))
        (directory / "complete.json").unlink()
    status, reasons = _prepare(directory, meta)
    for row in _stale_rows(directory, stats):  # on a fresh layout every row is pending anyway
        status[row] = PENDING
        reasons.pop(row, None)
    _save_stats(directory, stats)
    pending = [i for i, s in enumerate(status) if s == PENDING]
    logger.info("image cache %s: %d of %d rows to decode with %d worker(s)",
                directory.name, len(pending), len(ids), workers)
    fill_rows(directory, paths, pending, status, reasons, size=size, voi=voi, workers=workers,
              progress=progress, strict=strict, frames=frame_list)
    return _finish(directory, ids, status, reasons, meta)


# --- build steps ------------------------------------------------------------------------------


def _check_args(paths: list[str], ids: list[str], size: int, workers: int, voi: str) -> None:
    if len(paths) != len(ids):
        raise ConfigError(f"{len(paths)} paths but {len(ids)} sample ids: give one id per path")
    if not ids:
        raise ConfigError("no images to cache: the manifest has no rows")
    if len(set(ids)) != len(ids):
        raise ConfigError("sample ids are not unique; the cache needs one row per sample")
    if not isinstance(size, int | np.integer) or not 8 <= size <= 4096:
        raise ConfigError(f"size must be an integer from 8 to 4096, not {size!r}")
    if not isinstance(workers, int | np.integer) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, not {workers!r}")
    check_voi(voi)


def _inputs_hash(paths: list[str], ids: list[str], frames: list[int] | None = None) -> str:
    h = hashlib.sha256()
    for i, (sid, path) in enumerate(zip(ids, paths, strict=True)):
        frame = b"" if frames is None or frames[i] < 0 else b"#" + str(frames[i]).encode()
        h.update(sid.encode() + b"\0" + path.encode() + frame + b"\n")
    return "sha256:" + h.hexdigest()


def _file_stats(paths: list[str]) -> np.ndarray:
    """Size and modification time (ns) per file; -1 where the file cannot be stat'ed."""
    out = np.full((len(paths), 2), -1, dtype=np.int64)
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out[i] = (st.st_size, st.st_mtime_ns)
    return out


def _stale_rows(directory: Path, stats: np.ndarray) -> list[int]:
    """Rows whose file exists now but differs from when it was cached."""
    file = directory / "stats.npy"
    if not file.is_file():
        return []
    old = np.load(file)
    if old.shape != stats.shape:
        return []
    changed = (stats[:, 0] >= 0) & (old != stats).any(axis=1)
    return [int(i) for i in np.flatnonzero(changed)]


def _save_stats(directory: Path, stats: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, stats)
    atomic_write_bytes(directory / "stats.npy", buf.getvalue())


def _check_same(directory: Path, found: dict[str, Any], wanted: dict[str, Any]) -> None:
    keys = ("fingerprint", "size", "voi", "intensity_rules", "n", "inputs")
    if any(found.get(k) != wanted[k] for k in keys):
        raise ConfigError(f"{directory} holds a cache built from other inputs; delete it, or pass "
                          "the fingerprint of the manifest it was built from")


def _prepare(directory: Path, meta: dict[str, Any]) -> tuple[list[str], dict[int, str]]:
    """Resume a partial cache with the same inputs, or lay out a new one."""
    meta_file, progress_file = directory / "meta.json", directory / "progress.json"
    if meta_file.is_file() and progress_file.is_file() and (directory / "images.npy").is_file():
        _check_same(directory, json.loads(meta_file.read_text()), meta)
        state = json.loads(progress_file.read_text())
        status = list(state["status"])
        reasons = {int(k): v for k, v in state["reasons"].items()}
        logger.info("resuming image cache %s: %d rows already done", directory.name,
                    sum(s != PENDING for s in status))
        return status, reasons
    directory.mkdir(parents=True, exist_ok=True)
    n, size = meta["n"], meta["size"]
    images = np.lib.format.open_memmap(directory / "images.npy", mode="w+", dtype=np.uint16,
                                       shape=(n, size, size))
    del images  # the file exists at full (sparse) length; workers open it themselves
    status = [PENDING] * n
    save_progress(directory, status, {})
    atomic_write_json(meta_file, meta)  # last: a directory without it is re-laid out
    return status, {}


def _finish(directory: Path, ids: list[str], status: list[str], reasons: dict[int, str],
            meta: dict[str, Any]) -> ImageCache:
    index = pd.DataFrame({
        "sample_id": pd.array(ids, dtype="string"),
        "row": np.arange(len(ids), dtype=np.int64),
        "status": pd.array(["ok" if s == OK else "skipped" for s in status], dtype="string"),
        "reason": pd.array([reasons.get(i) for i in range(len(ids))], dtype="string"),
    })
    atomic_write_parquet(directory / "index.parquet", index)
    n_skipped = int((index["status"] == "skipped").sum())
    atomic_write_json(directory / "complete.json",
                      {**meta, "n_ok": len(ids) - n_skipped, "n_skipped": n_skipped})
    logger.info("image cache %s complete: %d ok, %d skipped", directory.name,
                len(ids) - n_skipped, n_skipped)
    return open_cache(directory)

