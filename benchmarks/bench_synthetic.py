"""Time the synthetic generators: 1,000 images at 128 px, notes, and `racelens synth` writing DICOM.

Run: .venv/bin/python benchmarks/bench_synthetic.py
"""

from __future__ import annotations

import tempfile
import time

from racelens.demo.synth import write_synthetic_cohort
from racelens.imaging.synthetic import synthetic_images
from racelens.shared.synthetic import synthetic_patients
from racelens.text.synthetic import synthetic_notes


def main() -> None:
    patients = synthetic_patients(400, seed=0).iloc[:1000]
    t = time.perf_counter()
    synthetic_images(patients, size=128, seed=0)
    print(f"images: {len(patients)} at 128 px in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    synthetic_notes(patients, seed=0)
    print(f"notes: {len(patients)} in {time.perf_counter() - t:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = write_synthetic_cohort(tmp, 200, seed=0)
        print(f"synth: {len(paths.image_files)} DICOM + notes written in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
