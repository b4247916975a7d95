"""Cost of a perturbation sweep against k times one evaluation pass over the image cache.

The imaging audit evaluates ``original`` and every condition on the test split by reading the
memory-mapped cache and perturbing each batch on the model's device, so k conditions should cost
about k clean evaluation passes (target: <= 1.15 x k). This script builds a synthetic cohort, trains
the model briefly (recording training throughput), then times, best of ``--rounds``:

- one clean evaluation pass (``original``: inference over the cache, ROC points, patient-bootstrap
  AUC intervals), and each condition's evaluation pass, through the audit's own code;
- the inference part alone (``predict_proba`` with and without the perturbation).

Example::

    .venv/bin/python benchmarks/bench_sweep.py --device cpu --size 64 --n-patients 300 \\
        --write docs/benchmarks/imaging_sweep.md
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from racelens.imaging.audit.data import prepare_data
from racelens.imaging.audit.run import ORIGINAL, ImagingAuditConfig, _evaluate
from racelens.imaging.models import build_model
from racelens.imaging.perturb.transforms import make_perturbation
from racelens.imaging.synthetic import ImageSignal, synthetic_images, write_png_manifest
from racelens.shared.results import Condition, parse_conditions
from racelens.shared.synthetic import synthetic_patients
from racelens.shared.train.loop import TrainConfig, predict_proba, resolve_device, train_classifier


def _conditions(size: int) -> list[Condition]:
    r_low, r_high = max(2, size // 22), max(4, size // 2)
    specs = [f"lowpass:radius={r_low},{size // 4}", f"highpass:radius={r_high}",
             "gaussian_noise:sigma=0.05", f"resolution:size={size // 4}", "gaussian_blur:sigma=2",
             "clip:threshold=0.6", "mask_patch:grid=3;index=4"]
    return [c for s in specs for c in parse_conditions(s)]


def _manifest(root: Path, n_patients: int, size: int) -> Path:
    patients = synthetic_patients(n_patients, seed=0)
    images = synthetic_images(patients, size=size, signal=ImageSignal(band="mid", strength=1.0))
    return write_png_manifest(root, patients, images)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _best(fn, rounds: int, device: torch.device) -> float:
    times = []
    for _ in range(rounds):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n-patients", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--write", type=Path, default=None)
    args = ap.parse_args()
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifest = _manifest(root, args.n_patients, args.size)
        t_make = time.perf_counter() - t0
        config = ImagingAuditConfig(manifest=manifest, out=root / "run", arch=args.arch,
                                    size=args.size, epochs=args.epochs, batch_size=args.batch_size,
                                    n_boot=args.n_boot, device=str(device), progress=False,
                                    cache_dir=root / "cache")
        t0 = time.perf_counter()
        data = prepare_data(manifest, size=args.size, cache_dir=root / "cache", progress=False,
                            workers=args.workers)
        t_cache = time.perf_counter() - t0
        model = build_model(args.arch, len(data.classes), seed=0)
        train = data.dataset("train")
        t0 = time.perf_counter()
        res = train_classifier(model, train, data.dataset("val"), data.classes,
                               TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                           device=str(device), progress=False, patience=99,
                                           channels_last=device.type == "cuda"))
        _sync(device)
        t_train = time.perf_counter() - t0
        test = data.dataset("test")
        n_test = len(test)
        bs = max(2 * args.batch_size, 64)

        rows = []
        identity = make_perturbation(ORIGINAL)
        _evaluate(data, model, ORIGINAL, config, identity)  # warm-up
        clean_full = _best(lambda: _evaluate(data, model, ORIGINAL, config, identity), args.rounds, device)
        clean_inf = _best(lambda: predict_proba(model, test, batch_size=bs, device=str(device),
                                                transform=identity), args.rounds, device)
        conds = _conditions(args.size)
        for cond in conds:
            pert = make_perturbation(cond, seed=0)
            full = _best(lambda p=pert, c=cond: _evaluate(data, model, c, config, p), args.rounds, device)
            inf = _best(lambda p=pert: predict_proba(model, test, batch_size=bs, device=str(device),
                                                     transform=p), args.rounds, device)
            rows.append((cond.label, full, inf))

    k = len(conds)
    sweep_full = sum(r[1] for r in rows)
    sweep_inf = sum(r[2] for r in rows)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    lines = [
        f"## Perturbation sweep vs k x one evaluation pass ({device.type}, {args.arch}, {args.size} px)",
        "",
        "Command:",
        "",
        f"    python benchmarks/bench_sweep.py --device {args.device} --arch {args.arch} "
        f"--size {args.size} --n-patients {args.n_patients} --epochs {args.epochs} "
        f"--batch-size {args.batch_size} --rounds {args.rounds} --n-boot {args.n_boot}",
        "",
        f"Machine: {dev_name}; torch {torch.__version__}; torch threads {torch.get_num_threads()}. "
        "Best of the rounds for every number.",
        "",
        f"cohort: {data.summary.n_samples} images ({n_test} test), made in {t_make:.1f} s; cache built "
        f"in {t_cache:.1f} s; training {args.epochs} epochs on {len(train)} images in {t_train:.1f} s "
        f"({args.epochs * len(train) / t_train:.0f} images/s, best val macro AUC {res.best_val_auc:.3f})",
        "",
        "| condition | evaluation pass (s) | vs clean | inference only (s) | vs clean |",
        "|---|---|---|---|---|",
        f"| original (clean) | {clean_full:.3f} | 1.00x | {clean_inf:.3f} | 1.00x |",
    ]
    lines += [f"| {label} | {full:.3f} | {full / clean_full:.2f}x | {inf:.3f} | {inf / clean_inf:.2f}x |"
              for label, full, inf in rows]
    lines += [
        "",
        f"Sweep of k = {k} conditions: {sweep_full:.3f} s = **{sweep_full / (k * clean_full):.2f} x k x "
        f"one clean evaluation pass** (target <= 1.15); inference alone {sweep_inf:.3f} s = "
        f"{sweep_inf / (k * clean_inf):.2f} x k x one clean inference pass.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write is not None:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        with args.write.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
