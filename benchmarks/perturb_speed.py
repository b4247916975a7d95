"""Throughput of each image perturbation on a (B, 1, S, S) float32 batch.

Run: python benchmarks/perturb_speed.py [--device cpu|cuda] [--batch 64] [--size 224] [--repeats 5]
Prints one line per condition: milliseconds per batch (median of repeats) and images/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from racelens.imaging.perturb.transforms import make_perturbation
from racelens.shared.results import Condition

CONDITIONS = [
    Condition("original"), Condition("lowpass", {"radius": 10}),
    Condition("highpass", {"radius": 100}), Condition("bandpass", {"inner": 10, "outer": 50}),
    Condition("notch", {"inner": 10, "outer": 50}), Condition("resolution", {"size": 32}),
    Condition("gaussian_noise", {"sigma": 0.1}), Condition("gaussian_blur", {"sigma": 2.0}),
    Condition("patch", {"grid": 3, "index": 4}), Condition("mask_patch", {"grid": 3, "index": 4}),
    Condition("random_crop", {"scale": 0.5}), Condition("clip", {"threshold": 0.6}),
    Condition("window", {"center": 0.5, "width": 0.5}), Condition("jpeg", {"quality": 30}),
    Condition("equalize"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, 1, args.size, args.size, generator=g).to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    print(f"device={args.device} batch={args.batch} size={args.size} repeats={args.repeats}")
    for cond in CONDITIONS:
        p = make_perturbation(cond, seed=0)
        p(x)  # warm-up
        sync()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            p(x)
            sync()
            times.append(time.perf_counter() - t0)
        ms = statistics.median(times) * 1000
        print(f"{cond.label:32s} {ms:9.2f} ms/batch {args.batch / (ms / 1000):10.0f} img/s")


if __name__ == "__main__":
    main()
