"""Fill a cache's pending rows: decode in worker processes, write the memory map, save progress.

It exists apart from :mod:`racelens.imaging.cache.build` (layout, reuse, resume, the finished
:class:`~racelens.imaging.cache.build.ImageCache`) because the decode loop is its own concept with its
own ordering rule: workers write finished rows into ``images.npy`` (shared pages of the file) and
the parent fsyncs the file *before* it records them in ``progress.json``, so a row is never
recorded before its pixels are on disk. Tasks of a few rows go to a bounded window of futures, so
memory stays flat and an interrupt stops soon.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from racelens.errors import ImageLoadError
from racelens.imaging.io.load import VoiMode, load_resized
from racelens.shared.tables import atomic_write_json

__all__ = ["PENDING", "OK", "SKIPPED", "fill_rows", "save_progress"]

#: One character per row in ``progress.json``: pending, read, skipped.
PENDING, OK, SKIPPED = ".", "o", "s"
_TASK_ROWS = 16  # images per task handed to a worker
_SAVE_EVERY_S = 2.0  # how often progress.json is rewritten during a build


def save_progress(directory: Path, status: list[str], reasons: dict[int, str],
                  images_file: Path | None = None) -> None:
    """Record ``status``/``reasons`` in ``progress.json``, after fsyncing ``images_file`` if given."""
    if images_file is not None:  # the rows about to be recorded reach the disk first
        fd = os.open(images_file, os.O_RDONLY)
        try:
            os.fsync(fd)  # the file's dirty pages, whichever process's mapping wrote them
        finally:
            os.close(fd)
    atomic_write_json(directory / "progress.json",
                      {"status": "".join(status), "reasons": {str(k): v for k, v in reasons.items()}})


def fill_rows(directory: Path, paths: list[str], pending: list[int], status: list[str],
              reasons: dict[int, str], *, size: int, voi: VoiMode, workers: int, progress: bool,
              strict: bool, frames: list[int] | None = None) -> None:
    """Decode the ``pending`` rows into ``directory/images.npy``, updating ``status`` and
    ``reasons`` in place and saving them every few seconds and at the end.

    With ``strict`` the first unreadable file raises its :class:`ImageLoadError` (after saving
    the rows read so far) and its row stays pending. ``frames`` names the frame of a multi-frame
    file per row (``-1``: a single-frame file).
    """
    tasks = [pending[i:i + _TASK_ROWS] for i in range(0, len(pending), _TASK_ROWS)]
    images_file = directory / "images.npy"
    last_save = time.monotonic()
    bar = _progress_bar(progress, len(pending), len(status) - len(pending))
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 and len(tasks) > 1 else None
    try:
        with bar or nullcontext():
            for outcome in _run_tasks(tasks, paths, frames, images_file, size, voi, pool,
                                      2 * workers):
                for row, reason in outcome:
                    if reason is None:
                        status[row] = OK
                    elif not strict:  # strict: left pending, so a resume retries the fixed file
                        status[row], reasons[row] = SKIPPED, reason
                if bar is not None:
                    bar.advance(bar.task_ids[0], len(outcome))
                first_bad = next((r for r, reason in outcome if reason is not None), None)
                if strict and first_bad is not None:
                    save_progress(directory, status, reasons, images_file)
                    raise ImageLoadError(paths[first_bad], dict(outcome)[first_bad] or "")
                if time.monotonic() - last_save >= _SAVE_EVERY_S:
                    save_progress(directory, status, reasons, images_file)
                    last_save = time.monotonic()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    save_progress(directory, status, reasons, images_file)


def _run_tasks(tasks: list[list[int]], paths: list[str], frames: list[int] | None,
               images_file: Path, size: int, voi: VoiMode, pool: ProcessPoolExecutor | None,
               window: int) -> Any:
    """Yield each task's ``[(row, reason or None), ...]`` once its pixels are flushed."""
    def jobs(rows: list[int]) -> list[tuple[int, str, int]]:
        return [(r, paths[r], -1 if frames is None else int(frames[r])) for r in rows]

    if pool is None:
        for rows in tasks:
            yield _decode_rows(images_file, jobs(rows), size, voi)
        return
    # a bounded window of tasks in flight keeps memory flat and lets an interrupt stop soon
    queue = iter(tasks)
    running: set[Future[list[tuple[int, str | None]]]] = set()
    while True:
        while len(running) < window and (rows := next(queue, None)) is not None:
            running.add(pool.submit(_decode_rows, images_file, jobs(rows), size, voi))
        if not running:
            return
        done, running = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


def _decode_rows(images_file: Path, jobs: list[tuple[int, str, int]], size: int,
                 voi: VoiMode) -> list[tuple[int, str | None]]:
    """Worker: decode, resize and write ``jobs`` (row, path, frame) into the memory map."""
    images = np.load(images_file, mmap_mode="r+")
    outcome: list[tuple[int, str | None]] = []
    for row, path, frame in jobs:
        try:
            images[row] = load_resized(path, size, voi=voi, frame=None if frame < 0 else frame)
            outcome.append((row, None))
        except ImageLoadError as exc:
            images[row] = 0
            outcome.append((row, exc.reason))
    del images  # unmapped: the pages stay in the OS page cache (a killed build keeps them);
    # the parent fsyncs the file before it records these rows in progress.json
    return outcome


def _progress_bar(show: bool, total: int, done: int) -> Any:
    if not show:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("caching images", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=False)
    bar.add_task("cache", total=total + done, completed=done)
    return bar
