"""Where the cache's decoder spends its time on uncompressed DICOM, stage by stage.

The cache build misses its target on small uncompressed files (docs/benchmarks/cache.md); this
splits one image's work into the stages of :func:`racelens.imaging.io.load.load_resized` and compares
them with the bare ``pydicom.dcmread(f).pixel_array`` loop and with other antialiased resizers,
all in one process (CPU time per image, best of 5 passes over the same files).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_cache_decoder.py --n 200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).parent))
from bench_cache import make_files  # noqa: E402

from racelens.imaging.io import load as rio  # noqa: E402
from racelens.imaging.io.dicom_display import affine_display, stored_pixels  # noqa: E402
from racelens.imaging.io.resize import resize_float, to_levels  # noqa: E402


def per_image_ms(fn: Callable[[], object], n: int, passes: int = 5) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.n, 0.0)
        n, size = len(paths), args.size
        rows = [("bare loop: dcmread + pixel_array",
                 per_image_ms(lambda: [pydicom.dcmread(p).pixel_array for p in paths], n)),
                ("bare loop: dcmread only", per_image_ms(lambda: [pydicom.dcmread(p) for p in paths], n)),
                ("load_resized (the cache's decoder)",
                 per_image_ms(lambda: [rio.load_resized(p, size) for p in paths], n)),
                ("  file check + dcmread", per_image_ms(lambda: [rio._read_checked(p) for p in paths], n))]
        dss = [rio._read_checked(p) for p in paths]
        rows.append(("  stored pixels (in place) + range",
                     per_image_ms(lambda: [stored_pixels(p, d) for p, d in zip(paths, dss, strict=True)], n)))
        st = [stored_pixels(p, d) for p, d in zip(paths, dss, strict=True)]
        rows.append(("  affine display check", per_image_ms(
            lambda: [affine_display(d, "auto", s[1], *s[2]) for d, s in zip(dss, st, strict=True)], n)))
        rows.append(("  float32 + resize (sparse, Pillow's weights)", per_image_ms(
            lambda: [resize_float(s[0].astype(np.float32), size) for s in st], n)))
        small = [resize_float(s[0].astype(np.float32), size) for s in st]
        rows.append(("  to uint16 levels", per_image_ms(lambda: [to_levels(x) for x in small], n)))
        import torch
        from PIL import Image

        torch.set_num_threads(1)

        def torch_resize(a: np.ndarray) -> np.ndarray:
            t = torch.from_numpy(a.astype(np.float32))[None, None]
            return torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear",
                                                   antialias=True)[0, 0].numpy()

        rows.append(("  alternative: torch interpolate(antialias=True)",
                     per_image_ms(lambda: [torch_resize(s[0]) for s in st], n)))
        rows.append(("  alternative: Pillow 'F' resize (BILINEAR)", per_image_ms(
            lambda: [np.asarray(Image.fromarray(s[0].astype(np.float32), "F").resize(
                (size, size), Image.BILINEAR)) for s in st], n)))
    print(f"{n} uncompressed 512x512 16-bit DICOMs, output {size} px; CPU ms per image\n")
    print("| stage | CPU ms/image |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} |")


if __name__ == "__main__":
    main()
