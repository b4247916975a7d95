"""DDP step time: the shared training loop on 1 vs N processes (torchrun), same data, same global batch.

Writes the demo's synthetic cohort (:func:`racelens.demo.synth.write_synthetic_cohort`, PNG) and its
image cache once, then for each process count N launches
``python -m torch.distributed.run --nproc_per_node=N`` on this script in worker mode. Every worker
opens the cache (rank 0 built it), runs one warm-up epoch of
:func:`racelens.shared.train.loop.train_classifier` and then times ``--epochs`` more on a fresh
model (each epoch = the training pass plus the sharded, gathered validation pass). The global
batch is the same for every N (each rank takes ``batch / N``), so the work per epoch is the same
and only its spread over processes changes. Each process gets ``--cores // N`` torch threads
(or ``--threads-per-process``).

Usage::

    python benchmarks/bench_ddp.py --nprocs 1,2 --cores 2 --device cpu        # gloo
    python benchmarks/bench_ddp.py --nprocs 1,2,4,8 --cores 16 --device cpu
    python benchmarks/bench_ddp.py --nprocs 1,8 --device cuda --arch densenet121 --size 224

Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cohort(root: Path, n_patients: int, size: int) -> Path:
    from racelens.demo.synth import write_synthetic_cohort
    from racelens.imaging.sources.cohort import from_table, write_manifest

    synth = write_synthetic_cohort(root, n_patients, seed=0, image_signal="band=mid,strength=2.0",
                                   image_size=size, image_format="png")
    cohort = from_table(synth.images_csv, path_col="path", race_col="race", patient_col="patient_id",
                        sample_col="sample_id", race_source="mimic-iv", collapse="abw")
    return write_manifest(cohort, root / "manifest.parquet")[0]


def _worker(args: argparse.Namespace) -> None:
    import torch

    from racelens.imaging.audit.data import prepare_data
    from racelens.imaging.models import build_model
    from racelens.shared.train.distributed import barrier, distributed_session, main_first
    from racelens.shared.train.loop import TrainConfig, train_classifier

    torch.set_num_threads(args.threads)
    with distributed_session(args.device) as ctx:
        data = main_first(lambda: prepare_data(Path(args.manifest), size=args.size, seed=0,
                                               cache_dir=Path(args.cache), progress=False), ctx)
        train, val = data.dataset("train"), data.dataset("val")

        def fit(epochs: int) -> float:
            model = build_model(args.arch, len(data.classes), seed=0)
            cfg = TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=1e-3, patience=99,
                              device=args.device, progress=False, seed=0,
                              num_workers=args.loader_workers)
            barrier(ctx)
            t0 = time.perf_counter()
            train_classifier(model, train, val, data.classes, cfg)
            barrier(ctx)
            return time.perf_counter() - t0

        fit(1)  # warm-up: allocator, DDP buckets, page cache
        seconds = fit(args.epochs)
        if ctx.is_main:
            steps = -(-len(train) // args.batch_size)
            Path(args.result).write_text(json.dumps({
                "world_size": ctx.world_size, "backend": ctx.backend or "none",
                "threads": args.threads, "seconds": seconds, "epochs": args.epochs,
                "n_train": len(train), "n_val": len(val), "steps_per_epoch": steps}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nprocs", default="1,2", help="comma-separated process counts")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n-patients", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32, help="global batch")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    ap.add_argument("--loader-workers", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1, help="repeat each N, keep the best")
    ap.add_argument("--threads-per-process", type=int, default=0,
                    help="torch threads in every process (default: cores // N)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifest = _cohort(root, args.n_patients, max(args.size, 64))
        print(f"cohort written in {time.perf_counter() - t0:.1f} s", flush=True)
        rows = []
        for n in (int(x) for x in args.nprocs.split(",")):
            best = None
            for r in range(args.rounds):
                out = root / f"result-{n}-{r}.json"
                threads = args.threads_per_process or max(1, args.cores // n)
                cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
                       f"--nproc_per_node={n}", "--master_addr=127.0.0.1",
                       f"--master_port={_free_port()}", __file__, "--worker",
                       "--manifest", str(manifest), "--cache", str(root / "cache"),
                       "--result", str(out), "--threads", str(threads), "--device", args.device,
                       "--arch", args.arch, "--size", str(args.size), "--batch-size",
                       str(args.batch_size), "--epochs", str(args.epochs),
                       "--loader-workers", str(args.loader_workers)]
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GLOO_SOCKET_IFNAME": "lo"}
                subprocess.run(cmd, check=True, env=env)
                res = json.loads(out.read_text())
                if best is None or res["seconds"] < best["seconds"]:
                    best = res
            rows.append(best)
        base = rows[0]["seconds"]
        print(f"\n{rows[0]['n_train']} training images, {rows[0]['n_val']} validation images, "
              f"{args.arch} at {args.size} px, global batch {args.batch_size}, "
              f"{args.epochs} timed epochs after 1 warm-up, device {args.device}\n")
        print("| processes | backend | threads/process | s per epoch | ms per global step | "
              "train images/s | speed-up vs first row |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            per_epoch = r["seconds"] / r["epochs"]
            step_ms = 1000 * per_epoch / r["steps_per_epoch"]
            print(f"| {r['world_size']} | {r['backend']} | {r['threads']} | {per_epoch:.2f} | "
                  f"{step_ms:.1f} | {r['n_train'] / per_epoch:.0f} | {base / r['seconds']:.2f} |")


if __name__ == "__main__":
    main()
