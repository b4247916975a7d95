"""Time ``mimic_cxr`` on MIMIC-CXR-sized tables written in the real layout (no image files).

Run: python benchmarks/cohort_scale.py [--images 377110] [--subjects 65379]
The metadata/admissions/patients gzip CSVs are generated in a temporary folder; the loader runs
with and without its file-existence check (every file is missing, so all rows are skipped there).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from racelens.imaging.sources import mimic_cxr

RACES = ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN", "ASIAN - CHINESE", "HISPANIC/LATINO - DOMINICAN",
         "UNKNOWN", "OTHER", "WHITE - OTHER EUROPEAN"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=377110)
    ap.add_argument("--subjects", type=int, default=65379)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subj = 10_000_000 + rng.integers(0, args.subjects, args.images)
        pd.DataFrame({"dicom_id": [f"{i:08x}-dicom" for i in range(args.images)], "subject_id": subj,
                      "study_id": 50_000_000 + rng.integers(0, 10**6, args.images),
                      "ViewPosition": rng.choice(["PA", "AP", "LATERAL", "LL"], args.images)}
                     ).to_csv(d / "meta.csv.gz", index=False)
        n_adm = args.subjects * 7
        pd.DataFrame({"subject_id": 10_000_000 + rng.integers(0, args.subjects, n_adm),
                      "hadm_id": np.arange(n_adm), "race": rng.choice(RACES, n_adm,
                      p=[.6, .15, .04, .01, .05, .05, .05, .05])}).to_csv(d / "adm.csv.gz", index=False)
        pd.DataFrame({"subject_id": 10_000_000 + np.arange(args.subjects),
                      "gender": rng.choice(["F", "M"], args.subjects),
                      "anchor_age": rng.integers(18, 91, args.subjects)}).to_csv(d / "pat.csv.gz", index=False)
        for check in (False, True):
            t0 = time.perf_counter()
            c = mimic_cxr(d, d / "meta.csv.gz", d / "adm.csv.gz", d / "pat.csv.gz", check_files=check)
            dt = time.perf_counter() - t0
            print(f"check_files={check}: {dt:.2f} s for {args.images} metadata rows, {n_adm} admissions "
                  f"-> rows={len(c.table)} excluded={sum(c.excluded.values())} skipped={len(c.skipped)}")


if __name__ == "__main__":
    main()
