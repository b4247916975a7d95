"""Cache build for full-size mammograms: time per image and peak memory (bounded, not per image).

Writes ``--distinct`` real DICOM mammograms of 4096 x 3328 pixels (16 bits allocated, 12 stored,
MONOCHROME1, Modality MG, left and right breasts, uncompressed: 27 MB each) into a temporary
folder, then builds the audit's cache (:func:`racelens.imaging.cache.build.build_cache`, resize to
``--size`` with antialiasing) over ``--n`` rows that cycle through those files, in a fresh
process per intensity mode, reporting seconds per image and that process's peak RSS:

- ``window``: the files carry a VOI window that clips nothing (the loader's affine path: the
  stored values are resized first, then mapped);
- ``default``: no window, so the default scaling (0.5/99.5th percentiles) is computed on the
  full-size image before resizing (the slower, full-float path).

1,000 distinct 27 MB files would need 27 GB of disk; the rows reuse ``--distinct`` files instead,
every row decoded from its file again (no caching between rows), and the time for 1,000 images is
extrapolated linearly from the rows built. Peak RSS does not grow with the number of rows (the
cache is a memory map written row by row), which the ``--n`` sweep shows.

Usage::

    .venv/bin/python benchmarks/bench_mammo.py --distinct 6 --n 12 48 --size 224
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

ROWS, COLS = 4096, 3328


def write_mammogram(path: Path, side: str, window: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # smooth breast-like content: a bright band at the chest wall, noise, 12-bit values
    x = np.linspace(0.0, 1.0, COLS, dtype=np.float32)
    profile = 3000.0 * np.exp(-4.0 * x) + 400.0
    image = profile[None, :] + rng.normal(0.0, 60.0, (ROWS, COLS)).astype(np.float32)
    if side == "R":
        image = image[:, ::-1]
    stored = (4095 - np.clip(image, 0, 4095)).astype(np.uint16)  # MONOCHROME1
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.ImageLaterality, ds.ViewPosition = "MG", side, "CC"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.set_pixel_data(stored, "MONOCHROME1", 12)
    if window:
        ds.WindowCenter, ds.WindowWidth = 2048, 4097  # covers 0..4095: clips nothing
    ds.save_as(path, enforce_file_format=True)


def run_one(folder: Path, n: int, size: int, mode: str) -> dict[str, float]:
    """In a fresh process: build a cache of ``n`` rows; seconds and peak RSS (MiB)."""
    from racelens.imaging.cache.build import build_cache

    files = sorted((folder / mode).glob("*.dcm"))
    paths = [str(files[i % len(files)]) for i in range(n)]
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        cache = build_cache(paths, [f"r{i}" for i in range(n)], size=size, cache_dir=cache_dir,
                            fingerprint=f"sha256:{mode}{n:08d}", workers=1, progress=False)
        seconds = time.perf_counter() - start
        assert len(cache.skipped) == 0, cache.skipped[:3]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"seconds": seconds, "per_image_s": seconds / n, "peak_rss_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distinct", type=int, default=6)
    ap.add_argument("--n", type=int, nargs="+", default=[12, 48])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        folder, n, size, mode = args.child
        print(json.dumps(run_one(Path(folder), int(n), int(size), mode)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for mode in ("window", "default"):
            (folder / mode).mkdir()
            for k in range(args.distinct):
                write_mammogram(folder / mode / f"{k}.dcm", "LR"[k % 2], mode == "window", k)
        size_mb = sum(p.stat().st_size for p in (folder / "window").glob("*.dcm")) / 1e6
        print(f"{args.distinct} files per mode, {size_mb / args.distinct:.1f} MB each, "
              f"{ROWS}x{COLS}, cache size {args.size}; {platform.processor() or platform.machine()}")
        print("| mode | rows | s/image | peak RSS (MiB) | 1,000 images (extrapolated) |")
        print("|---|---|---|---|---|")
        for mode in ("window", "default"):
            for n in args.n:
                out = subprocess.run([sys.executable, __file__, "--child", str(folder), str(n),
                                      str(args.size), mode], check=True, capture_output=True,
                                     text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {mode} | {n} | {r['per_image_s']:.3f} | {r['peak_rss_mib']:.0f} | "
                      f"{1000 * r['per_image_s'] / 60:.1f} min |")


if __name__ == "__main__":
    main()
