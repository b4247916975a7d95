"""PyTorch distributed (DDP) helpers: one training loop on one process or on ``torchrun``'s many.

Under ``torchrun --nproc_per_node=N -m racelens ...`` (or SLURM through torchrun's rendezvous) the
environment holds ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. :func:`distributed_session` reads
them, starts the process group (NCCL on CUDA, gloo on CPU), pins each process to GPU
``LOCAL_RANK`` and destroys the group at exit; without those variables it is a no-op and every
helper below behaves as on one process.

Decisions
---------
- ``--batch-size`` is the *global* batch: each of N ranks takes ``B / N`` samples of the same
  seeded global permutation (a :class:`~torch.utils.data.DistributedSampler` seeded by
  ``seed + epoch``), so the global batches, and hence results, do not depend on N (up to batch
  normalisation statistics, which are per rank, and the sampler's padding of the last batch).
- Evaluation shards a dataset the same way (without shuffling), runs each shard on its rank and
  :func:`gather_predictions` all-gathers ``(index, probabilities, label)`` rows, drops the
  sampler's padded duplicates and restores dataset order, so every rank holds identical arrays.
- Nothing here depends on the world size once written: checkpoints hold the unwrapped model, and
  the sampler order derives from the seed and the epoch, so a run resumes on another N.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from racelens.errors import ConfigError, DataError, RacelensError
from racelens.shared.train.launch import DistContext, env_int, launch_context

__all__ = [
    "DistContext",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "current_context",
    "distributed_session",
    "gather_predictions",
    "init_distributed",
    "launch_context",
    "local_batch_size",
    "main_first",
    "rank_device",
    "shard_indices",
    "sync_buffers",
    "wrap_ddp",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


def current_context() -> DistContext:
    """The running process group's ranks, or a one-process context when none runs."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=env_int("LOCAL_RANK", 0), backend=str(dist.get_backend()))


def init_distributed(device: str = "auto", *, timeout_min: float | None = None) -> DistContext:
    """Start the process group ``torchrun`` asked for (``WORLD_SIZE > 1``); else do nothing.

    Parameters
    ----------
    device
        ``auto``/``cuda``: NCCL on GPU ``LOCAL_RANK`` when CUDA is available; ``cpu``: gloo.
    timeout_min
        How long a collective waits for the slowest rank, e.g. the other ranks for rank 0 while
        it builds the image cache. Default: ``RACELENS_DIST_TIMEOUT_MIN`` or 60 minutes.

    Returns
    -------
    DistContext
        The running group's context (one process when ``WORLD_SIZE`` is unset or 1).
    """
    import torch.distributed as dist

    env = launch_context()
    if dist.is_available() and dist.is_initialized():
        return current_context()
    if env.world_size <= 1:
        return DistContext()
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed; "
                          "run one process")
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        if env.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {env.local_rank} but only {torch.cuda.device_count()} "
                              "GPU(s) here; set --nproc_per_node to the GPUs per node")
        torch.cuda.set_device(env.local_rank)
    if timeout_min is None:
        timeout_min = float(os.environ.get("RACELENS_DIST_TIMEOUT_MIN", "") or 60)
    dist.init_process_group(backend="nccl" if cuda else "gloo", init_method="env://",
                            timeout=datetime.timedelta(minutes=timeout_min))
    ctx = current_context()
    log.info("process group up: rank %d of %d (%s)", ctx.rank, ctx.world_size, ctx.backend)
    return ctx


@contextlib.contextmanager
def distributed_session(device: str = "auto") -> Iterator[DistContext]:
    """Run a block inside the process group ``torchrun`` asked for, then destroy the group.

    A group that was already running when the block started is left running. Ranks other than
    0 log warnings only, so progress is reported once.
    """
    import torch.distributed as dist

    owned = not (dist.is_available() and dist.is_initialized())
    ctx = init_distributed(device)
    pkg_log = logging.getLogger("racelens")
    level = pkg_log.level
    if not ctx.is_main:
        pkg_log.setLevel(logging.WARNING)
    failed = False
    try:
        yield ctx
    except BaseException:
        failed = True
        raise
    finally:
        pkg_log.setLevel(level)
        if owned and ctx.is_distributed and dist.is_initialized():
            # gloo aborts a rank ("terminate called without an active exception") whose peer
            # tore its connections down first: meet before the teardown. Not after a failure,
            # where the other ranks may never arrive (torchrun stops them).
            if not failed:
                dist.barrier()
            dist.destroy_process_group()


def _collective_device(ctx: DistContext) -> torch.device:
    if ctx.backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier(ctx: DistContext | None = None) -> None:
    """Wait for every rank (no-op on one process)."""
    ctx = ctx or current_context()
    if ctx.is_distributed:
        import torch.distributed as dist

        dist.barrier()


def broadcast_object(obj: T, src: int = 0, ctx: DistContext | None = None) -> T:
    """Rank ``src``'s ``obj`` on every rank (a picklable object; identity on one process)."""
    ctx = ctx or current_context()
    if not ctx.is_distributed:
        return obj
    import torch.distributed as dist

    box = [obj if ctx.rank == src else None]
    dist.broadcast_object_list(box, src=src, device=_collective_device(ctx))
    return box[0]  # type: ignore[return-value]


def all_reduce_sum(values: Sequence[float] | Tensor, ctx: DistContext | None = None) -> Tensor:
    """Element-wise sum over ranks of a small vector (float64, on the CPU when returned)."""
    ctx = ctx or current_context()
    t = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if not ctx.is_distributed:
        return t.cpu()
    import torch.distributed as dist

    t = t.to(_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu()


def main_first(fn: Callable[[], T], ctx: DistContext | None = None) -> T:
    """Run ``fn`` on rank 0, then on the other ranks (e.g. build a cache once, then open it).

    A :class:`RacelensError` on rank 0 is re-raised on every rank instead of leaving them waiting.
    """
    ctx = ctx or current_context()
    if not ctx.is_distributed:
        return fn()
    if ctx.is_main:
        try:
            out = fn()
        except BaseException as exc:
            broadcast_object(f"{type(exc).__name__}: {exc}", ctx=ctx)
            raise
        broadcast_object(None, ctx=ctx)
        return out
    failure = broadcast_object(None, ctx=ctx)
    if failure is not None:
        raise RacelensError(f"rank 0 failed ({failure}); see its message")
    return fn()


def local_batch_size(batch_size: int, ctx: DistContext) -> int:
    """Per-rank share of the global ``batch_size``; it must divide evenly among the ranks."""
    if batch_size % ctx.world_size:
        raise ConfigError(f"batch size {batch_size} is the global batch and must be a multiple of "
                          f"the {ctx.world_size} processes; use e.g. "
                          f"{max(1, batch_size // ctx.world_size) * ctx.world_size}")
    return batch_size // ctx.world_size


def rank_device(device: torch.device, ctx: DistContext) -> torch.device:
    """GPU ``LOCAL_RANK`` for a CUDA device under a process group; other devices unchanged."""
    if device.type == "cuda" and ctx.is_distributed:
        return torch.device("cuda", ctx.local_rank)
    return device


def shard_indices(n: int, ctx: DistContext) -> np.ndarray:
    """This rank's dataset indices for evaluation: every ``world_size``-th, padded by wrapping.

    The same order :class:`~torch.utils.data.DistributedSampler` gives with ``shuffle=False``.
    """
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank,
                                 shuffle=False)
    return np.fromiter(iter(sampler), dtype=np.int64, count=len(sampler))


def gather_predictions(indices: np.ndarray, probs: np.ndarray, labels: np.ndarray | None, *,
                       n_total: int, ctx: DistContext | None = None,
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Every rank's ``(index, probabilities, label)`` rows, de-duplicated, in dataset order.

    Parameters
    ----------
    indices
        Dataset index of each local row (padded shards repeat some).
    probs
        Local ``rows x classes`` probabilities.
    labels
        Local label indices, or ``None`` for unlabelled data.
    n_total
        Length of the dataset; every index in ``range(n_total)`` must appear on some rank.

    Returns
    -------
    tuple
        ``(n_total x classes`` float64 probabilities, labels or ``None)`` on every rank.
    """
    ctx = ctx or current_context()
    indices = np.asarray(indices, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    lab = np.full(len(indices), -1.0) if labels is None else np.asarray(labels, dtype=np.float64)
    rows = np.column_stack([indices.astype(np.float64), lab, probs.reshape(len(indices), -1)])
    if ctx.is_distributed:
        import torch.distributed as dist

        dev = _collective_device(ctx)
        n_local = torch.tensor([len(rows)], dtype=torch.int64, device=dev)
        sizes = [torch.zeros_like(n_local) for _ in range(ctx.world_size)]
        dist.all_gather(sizes, n_local)
        longest = int(max(int(s) for s in sizes))
        width = rows.shape[1]
        mine = torch.full((longest, width), -1.0, dtype=torch.float64, device=dev)
        mine[:len(rows)] = torch.as_tensor(rows, dtype=torch.float64, device=dev)
        parts = [torch.empty_like(mine) for _ in range(ctx.world_size)]
        dist.all_gather(parts, mine)
        rows = np.concatenate([p[:int(s)].cpu().numpy() for p, s in zip(parts, sizes, strict=True)])
    idx = rows[:, 0].astype(np.int64)
    uniq, first = np.unique(idx, return_index=True)  # sorted: dataset order, padding dropped
    if len(uniq) != n_total or (n_total and (uniq[0] != 0 or uniq[-1] != n_total - 1)):
        raise DataError(f"gathered predictions cover {len(uniq)} of {n_total} samples; "
                        "every rank must predict its whole shard")
    out = rows[first]
    return out[:, 2:], (None if labels is None else out[:, 1].astype(np.int64))


def sync_buffers(module: nn.Module, ctx: DistContext | None = None) -> None:
    """Average floating-point buffers (batch-norm running statistics) over the ranks.

    Each rank updates its running statistics from its own share of every global batch (DDP runs
    with ``broadcast_buffers=False``). The running mean is linear in the batch means and the
    shares are of equal size, so the average over ranks is exactly the running mean one process
    would have; the running variance misses the spread between the shares' means, which is small.
    Integer buffers (``num_batches_tracked``) are equal on every rank already.
    """
    ctx = ctx or current_context()
    if not ctx.is_distributed:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for buf in module.buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(ctx.world_size)


def wrap_ddp(model: nn.Module, device: torch.device, ctx: DistContext) -> nn.Module:
    """``model`` wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` (or as is)."""
    if not ctx.is_distributed:
        return model
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # buffers are averaged once per epoch by sync_buffers instead of rank 0's being copied
    # before every forward pass (the option was renamed in torch 2.14)
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    no_forward_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in params
                       else {"broadcast_buffers": False})
    return DistributedDataParallel(model, device_ids=ids, output_device=device.index if ids else None,
                                   **no_forward_sync)
