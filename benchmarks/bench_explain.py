"""``racelens imaging explain`` wall-clock: the whole explain of an audited run's test set.

Target (issue 12): on CPU, the small CNN at 64 px with 1,000 test images in under 2 minutes; on
one GPU, DenseNet121 at 224 px in at most 3x the time of one evaluation pass per condition it
evaluates. The script makes a synthetic cohort with a planted texture (a ``split`` column fixes
600 train, 200 val and ``--n-test`` test images), audits it briefly, then times
:func:`racelens.imaging.explain.run_explain` with its defaults (8 rings, 4x4 tiles, three captum
methods on 256 images, deletion at 4 fractions, 1,000 bootstrap resamples, the inference batch
chosen for the device) and one plain evaluation pass over the test set as the explain runs its
conditions (same batch, channels-last), and prints the ratio. For reference it also times the
pass in the default memory format with a batch of 128 (how the explain ran its passes before).

Run::

    .venv/bin/python benchmarks/bench_explain.py                              # CPU, small CNN, 64 px
    .venv/bin/python benchmarks/bench_explain.py --arch densenet121 --size 224 --device cuda \\
        --epochs 1                                                            # the GPU recipe
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # the target machine has two cores

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def make_manifest(root: Path, *, n_test: int, size: int, seed: int = 0) -> Path:
    from racelens.imaging.synthetic import ImageSignal, synthetic_images, write_png_manifest
    from racelens.shared.synthetic import synthetic_patients

    n_rows = n_test + 800
    patients = synthetic_patients(int(n_rows / 2.0) + 50, seed=seed)
    patients = patients[patients["race"].isin(["Asian", "Black", "White"])].head(n_rows)
    images = synthetic_images(patients, size=size, seed=seed,
                              signal=ImageSignal(band="mid", strength=1.5, location="lungs"))
    pid = patients["patient_id"].to_numpy()
    order = list(dict.fromkeys(pid))
    rank = {p: i for i, p in enumerate(order)}
    # whole patients per split, in order of first appearance: ~600 train, ~200 val, the rest test
    cum = pd.Series(pid).map(rank).to_numpy()
    first_val = rank[pid[600]]
    first_test = rank[pid[800]]
    split = np.where(cum < first_val, "train", np.where(cum < first_test, "val", "test"))
    return write_png_manifest(root, patients, images, split=split)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="inputs per forward pass (default: the explain's choice for the device)")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(name)s: %(message)s")

    import torch

    from racelens.imaging.audit.data import prepare_data
    from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
    from racelens.imaging.explain import ExplainConfig, run_explain
    from racelens.imaging.models import load_model
    from racelens.shared.train.inference import predict_proba

    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_explain_"))
    root.mkdir(parents=True, exist_ok=True)
    manifest = make_manifest(root, n_test=args.n_test, size=args.size)
    run_imaging_audit(ImagingAuditConfig(manifest=manifest, out=root / "run", size=args.size,
                                         arch=args.arch, epochs=args.epochs, batch_size=32,
                                         lr=3e-3, n_boot=100, device=args.device, progress=False))
    config = ExplainConfig(run=root / "run", manifest=manifest, out=root / "explain",
                           device=args.device, batch_size=args.batch_size, progress=False)
    t0 = time.perf_counter()
    doc = run_explain(config).to_dict()
    explain_s = time.perf_counter() - t0

    batch = doc["extras"]["batch_size"]
    data = prepare_data(manifest, size=args.size, cache_dir=root / "run" / "cache", progress=False)
    test = data.mask("test")
    images = torch.from_numpy(data.cache.as_float(data.rows[test]))[:, None]
    ds = torch.utils.data.TensorDataset(images, torch.zeros(len(images), dtype=torch.long))

    def one_pass(**kw: object) -> float:
        model, _, _ = load_model(root / "run" / "model.pt")
        predict_proba(model, ds, device=args.device, **kw)  # warm-up
        t0 = time.perf_counter()
        predict_proba(model, ds, device=args.device, **kw)
        return time.perf_counter() - t0

    one_pass_s = one_pass(batch_size=batch, channels_last=True)
    default_pass_s = one_pass(batch_size=128)
    n_cond = 1 + 2 * len(doc["bands"]) + 2 * len(doc["tiles"]["cells"])
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
          f"device {args.device}")
    print(f"{args.arch} {args.size} px, {doc['extras']['n_test']} test images, "
          f"{doc['extras']['n_attribution']} attributed, batch {batch}, original macro AUC "
          f"{doc['original']['macro']['estimate']:.3f}")
    print(f"one pass in the default memory format, batch 128: {default_pass_s:.2f} s")
    print(f"explain: {explain_s:.1f} s; one evaluation pass: {one_pass_s:.2f} s; "
          f"{n_cond} full-test conditions + {2 * len(doc['deletion'])} deletion conditions; "
          f"explain / (conditions x one pass) = {explain_s / (n_cond * one_pass_s):.2f}")


if __name__ == "__main__":
    main()
