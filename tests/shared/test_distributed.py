"""DDP on the CPU: two gloo processes launched by torchrun against one process, on localhost.

Tolerances, and why:

- Without batch normalisation, and with a training split that divides evenly among the ranks,
  two processes take the same global batches of the same permutation and average the same
  (class-weighted) gradients, so weights and every epoch's losses agree with one process to float
  rounding (asserted at 1e-5). (With an uneven split the sampler repeats a sample in each epoch's
  last batch; measured max weight difference 0.03 after 3 epochs; not asserted, see
  docs/distributed.md.)
- With batch normalisation (the small CNN), each rank normalises with its own half of the global
  batch during training (SyncBatchNorm needs a GPU), so the runs are no longer the same run:
  test-set membership, accounting and ordering are asserted identical, and the macro AUC within
  0.02 on a cohort with a strong planted signal that both runs learn in 3 epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from racelens.demo.synth import write_synthetic_cohort
from racelens.errors import ConfigError, DataError
from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
from racelens.imaging.sources.cohort import from_table, write_manifest
from racelens.shared.train.distributed import (
    DistContext,
    gather_predictions,
    launch_context,
    local_batch_size,
    main_first,
    shard_indices,
)

SIZE = 32
AUDIT = dict(size=SIZE, batch_size=32, lr=5e-3, seed=0, n_boot=50, device="cpu", progress=False)

# trains a small MLP on fixed Gaussian blobs with the shared loop;
# one process when run plainly, DDP when run by torchrun; rank 0 saves the last-epoch weights
WORKER = '''
import sys
from pathlib import Path
import numpy as np, torch
from torch import nn
from torch.utils.data import TensorDataset
from racelens.shared.train.distributed import distributed_session
from racelens.shared.train.loop import TrainConfig, seeded_rng, train_classifier

out, n_train, batch, accum = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.55, 0.3, 0.15])  # unbalanced: exercises class weights
    x = np.random.default_rng(0).normal(0, 1, (3, 8))[y] * 2 + rng.normal(0, 1, (n, 8))
    return TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y))

with seeded_rng(0):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
cfg = TrainConfig(epochs=3, batch_size=batch, grad_accum=accum, lr=1e-2, patience=5, progress=False, device="cpu",
                  seed=7, class_weights=True)
with distributed_session("cpu") as ctx:
    res = train_classifier(model, blobs(n_train, 1), blobs(45, 2), list("ABC"), cfg, run_dir=out)
    if ctx.is_main:
        ck = torch.load(out / "checkpoint.pt", weights_only=True)
        torch.save({"last": ck["model"], "history": list(res.history), "world": ctx.world_size},
                   out / "summary.pt")
'''


def _train_mlp(torchrun, tmp_path: Path, nproc: int, n_train: int, batch: int, accum: int) -> dict:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / f"mlp-{nproc}-{n_train}-{batch}x{accum}"
    torchrun([str(script), str(out), str(n_train), str(batch), str(accum)], nproc, tmp_path)
    return torch.load(out / "summary.pt", weights_only=True)


def _max_weight_diff(a: dict, b: dict) -> float:
    return max(float((a["last"][k].double() - b["last"][k].double()).abs().max()) for k in a["last"])


# --- helpers on one process ------------------------------------------------------------------


def test_shards_cover_the_data_and_gather_restores_order():
    two = [DistContext(rank=r, world_size=2) for r in (0, 1)]
    shards = [shard_indices(5, c) for c in two]
    assert [s.tolist() for s in shards] == [[0, 2, 4], [1, 3, 0]]  # padded by wrapping
    idx = np.concatenate(shards)
    probs = np.column_stack([idx / 10, 1 - idx / 10])
    labels = idx % 2
    p, y = gather_predictions(idx, probs, labels, n_total=5)  # one process: dedupe + reorder
    np.testing.assert_array_equal(p[:, 0], np.arange(5) / 10)
    np.testing.assert_array_equal(y, np.arange(5) % 2)
    p, y = gather_predictions(idx, probs, None, n_total=5)
    assert y is None and p.shape == (5, 2)
    with pytest.raises(DataError, match="cover 3 of 5"):
        gather_predictions(shards[0], probs[:3], None, n_total=5)


def test_global_batch_split_and_launch_context(monkeypatch):
    assert local_batch_size(256, DistContext(rank=3, world_size=8, backend="nccl")) == 32
    with pytest.raises(ConfigError, match="multiple of the 3 processes"):
        local_batch_size(32, DistContext(world_size=3, backend="gloo"))
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = launch_context()
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main) == (3, 4, 1, False)
    assert not ctx.is_distributed  # announced, not started
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="RANK"):
        launch_context()
    assert main_first(lambda: 42, DistContext()) == 42


# --- the training loop under torchrun ----------------------------------------------------------


def test_two_processes_train_as_one(torchrun, tmp_path):
    # global batches of 8 (4 per rank), two accumulated per step: under DDP the gradient
    # all-reduce is skipped on the first micro-batch (no_sync)
    one = _train_mlp(torchrun, tmp_path, 1, 96, batch=8, accum=2)
    two = _train_mlp(torchrun, tmp_path, 2, 96, batch=8, accum=2)
    assert (one["world"], two["world"]) == (1, 2)
    assert _max_weight_diff(one, two) < 1e-5
    for h1, h2 in zip(one["history"], two["history"], strict=True):
        for key in ("train_loss", "val_loss", "val_macro_auc", "lr"):
            assert h2[key] == pytest.approx(h1[key], abs=1e-5), key


# --- the imaging audit under torchrun ------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """The demo cohort's ~220 PNGs at 32 px with a strong mid-band race texture (learnt in 3 epochs)."""
    root = tmp_path_factory.mktemp("ddp")
    synth = write_synthetic_cohort(root, 90, seed=0, image_signal="band=mid,strength=6.0",
                                   image_size=SIZE, image_format="png")
    cohort = from_table(synth.images_csv, path_col="path", race_col="race", patient_col="patient_id",
                        sample_col="sample_id", race_source="mimic-iv", collapse="abw")
    return write_manifest(cohort, root / "manifest.parquet")[0]


@pytest.fixture(scope="module")
def one_process(manifest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "run"
    run_imaging_audit(ImagingAuditConfig(manifest=manifest, out=out, epochs=3,
                                         cache_dir=manifest.parent / "cache", **AUDIT))
    return out


def _cli(manifest: Path, out: Path, epochs: int) -> list[str]:
    return ["-m", "racelens", "imaging", "audit", "--manifest", str(manifest), "--out", str(out),
            "--size", str(SIZE), "--epochs", str(epochs), "--batch-size", str(AUDIT["batch_size"]),
            "--lr", str(AUDIT["lr"]), "--seed", "0", "--n-boot", "50", "--device", "cpu",
            "--no-progress", "--cache-dir", str(manifest.parent / "cache")]


def _macro(run: Path) -> float:
    return json.loads((run / "result.json").read_text())["conditions"][0]["auc"]["macro"]["estimate"]


def test_torchrun_audit_matches_one_process(manifest, one_process, torchrun, tmp_path):
    out = tmp_path / "two"
    proc = torchrun(_cli(manifest, out, epochs=3), 2, tmp_path)
    assert proc.stdout.count("wrote ") == 1  # rank 0 alone reports
    a = json.loads((one_process / "result.json").read_text())
    b = json.loads((out / "result.json").read_text())
    assert b["data"] == a["data"]
    assert b["extras"]["split_sizes"] == a["extras"]["split_sizes"]
    assert (a["extras"]["world_size"], b["extras"]["world_size"]) == (1, 2)
    assert b["conditions"][0]["n_test"] == a["conditions"][0]["n_test"]
    pa, pb = (pd.read_parquet(r / "predictions.parquet") for r in (one_process, out))
    assert pb["sample_id"].tolist() == pa["sample_id"].tolist()
    assert pb["y_true"].tolist() == pa["y_true"].tolist()
    assert _macro(out) == pytest.approx(_macro(one_process), abs=0.02)
    assert _macro(out) > 0.9
    # the same files, written once; the checkpoint holds the unwrapped model's keys
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in one_process.iterdir())
    ck = torch.load(out / "train" / "original" / "checkpoint.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in ck["model"]) and "generator" not in ck


def test_resume_on_another_world_size(manifest, one_process, torchrun, tmp_path):
    out = tmp_path / "resumed"
    torchrun(_cli(manifest, out, epochs=2), 2, tmp_path)  # two processes, two epochs ...
    first = json.loads((out / "result.json").read_text())["extras"]["training"]["original"]
    assert first["epochs_run"] == 2
    res = run_imaging_audit(ImagingAuditConfig(  # ... then one process resumes to three
        manifest=manifest, out=out, epochs=3, resume=True, cache_dir=manifest.parent / "cache",
        **AUDIT))
    training = res.extras["training"]["original"]
    assert training["resumed_from_epoch"] == 2 and training["epochs_run"] == 3
    # epoch 3 runs on one process where the uninterrupted run had one throughout; epochs 1-2
    # differ by per-rank batch-norm statistics only
    assert _macro(out) == pytest.approx(_macro(one_process), abs=0.02)
