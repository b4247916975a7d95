"""Per-image cost of the explain's forward and gradient passes by batch size and memory format.

What chose ``racelens.imaging.explain.run.CPU_BATCH`` and channels-last inference: the forward
pass over ``--n`` images and input gradients (what Integrated Gradients computes) over half of
them, for each batch size in the default (NCHW) and the channels-last memory format. The cases
are interleaved ``--repeats`` times and the median is printed, so a load that drifts during the
run hits every case alike.

Run::

    OMP_NUM_THREADS=2 python benchmarks/explain_batch.py                  # small CNN, 64 px, CPU
    python benchmarks/explain_batch.py --arch densenet121 --size 224 --device cuda --n 512
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # the target machine has two cores

import torch  # noqa: E402

from racelens.imaging.models import build_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    dev = torch.device(args.device)
    x = torch.rand(args.n, 1, args.size, args.size, generator=torch.Generator().manual_seed(0))
    nchw = build_model(args.arch, 3, seed=0).to(dev).eval()
    last = copy.deepcopy(nchw).to(memory_format=torch.channels_last)

    def forward(model: torch.nn.Module, bs: int) -> None:
        with torch.no_grad():
            for s in range(0, len(x), bs):
                model(x[s:s + bs].to(dev))

    def gradient(model: torch.nn.Module, bs: int) -> None:
        for s in range(0, len(x) // 2, bs):
            xi = x[s:s + bs].to(dev).requires_grad_(True)
            torch.autograd.grad(model(xi)[:, 0].sum(), xi)

    cases = {}
    for bs in args.batches:
        for fmt, model in (("nchw", nchw), ("channels_last", last)):
            cases[f"forward  {fmt:13s} batch {bs:4d}"] = (forward, model, bs)
            cases[f"gradient {fmt:13s} batch {bs:4d}"] = (gradient, model, bs)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for fn, model, bs in cases.values():
        fn(model, bs)  # warm-up
    for _ in range(args.repeats):
        for name, (fn, model, bs) in cases.items():
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(model, bs)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    print(f"{args.arch} {args.size} px on {dev}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}; forward: {args.n} images, gradient: {args.n // 2}")
    for name, ts in times.items():
        print(f"{name}: median {statistics.median(ts):.3f} s, min {min(ts):.3f} s")


if __name__ == "__main__":
    main()
