"""One torch training loop for both modalities: image CNNs and text transformers.

:func:`train_classifier` fits a classifier with Adam/AdamW, lowers the learning rate when the
validation macro AUC plateaus, stops early on it and restores the best weights. On CUDA it uses
mixed precision (bf16 where supported, else fp16 with a gradient scaler) and optionally
channels-last; on CPU it is deterministic given ``config.seed``. A checkpoint is written
atomically after every epoch, and ``resume=True`` continues from it to the same final weights as an
uninterrupted run.

Randomness never comes from the global RNGs as the caller left them: the shuffle of each epoch is
a permutation seeded by ``config.seed + epoch`` (a :class:`~torch.utils.data.DistributedSampler`),
and each epoch runs inside :func:`seeded_rng` with a seed derived from ``(config.seed, epoch)``,
so dropout masks and random augmentations are reproducible and the caller's RNG state is restored
afterwards.

The same loop runs under ``torchrun`` (see :mod:`racelens.shared.train.distributed`): when a process
group is running, the model is wrapped in DistributedDataParallel, ``config.batch_size`` is the
global batch (each rank takes its share of the same global permutation), validation predictions
are gathered from all ranks, rank 0's epoch record decides early stopping for all, and only rank 0
writes the checkpoint. A checkpoint holds nothing that depends on the number of processes, so a
run resumes on another number.

Example
-------
>>> model = torch.nn.Linear(4, 2)
>>> data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.arange(16) % 2)
>>> res = train_classifier(model, data, data, ["a", "b"], TrainConfig(epochs=1, progress=False))
>>> len(res.history)
1
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from racelens.errors import ConfigError, DataError
from racelens.shared.train.checkpoint import LoopState, cpu_state, load_checkpoint, save_checkpoint
from racelens.shared.train.distributed import (
    DistContext,
    all_reduce_sum,
    broadcast_object,
    current_context,
    local_batch_size,
    rank_device,
    sync_buffers,
    wrap_ddp,
)
from racelens.shared.train.inference import (
    BatchRunner,
    Forward,
    Transform,
    infer_dataset,
    predict_proba,
    progress_bar,
    resolve_device,
    seeded_rng,
    split_batch,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train_classifier",
    "predict_proba",
    "resolve_device",
    "seeded_rng",
    "CHECKPOINT_NAME",
    "Forward",
    "Loss",
    "Transform",
]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
# loss(outputs, targets) -> the batch's mean loss; outputs as the model returns them (all heads)
Loss = Callable[[Any, Tensor], Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train_classifier`.

    Parameters
    ----------
    epochs
        Maximum number of epochs.
    batch_size, lr, weight_decay
        Mini-batch size (the global batch: under ``torchrun`` each of N processes takes
        ``batch_size / N``), initial learning rate and weight decay.
    optimizer
        ``adamw`` (decoupled weight decay) or ``adam``.
    patience
        Epochs without a better validation macro AUC before stopping; the learning rate is
        divided by 10 after ``max(1, patience // 2)`` such epochs.
    class_weights
        Weight the loss by inverse class frequency of the training labels.
    amp
        Mixed precision (bf16 where supported, else fp16); used only on CUDA.
    channels_last
        Channels-last memory format for 4-D inputs and the model (on any device).
    grad_accum
        Mini-batches whose gradients are summed before each optimiser step.
    seed
        Seeds shuffling and the per-epoch RNG (dropout, augmentation).
    device
        ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
    num_workers
        DataLoader worker processes.
    progress
        Show a rich progress bar; otherwise only per-epoch aggregates are logged.
    max_grad_norm
        Clip the gradient norm to this value when set.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Literal["adam", "adamw"] = "adamw"
    patience: int = 3
    class_weights: bool = False
    amp: bool = True
    channels_last: bool = False
    grad_accum: int = 1
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    max_grad_norm: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.grad_accum < 1:
            raise ConfigError(f"grad_accum must be >= 1, got {self.grad_accum}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in ("adam", "adamw"):
            raise ConfigError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_classifier` did; the model itself is trained in place.

    ``history`` holds one dict per epoch with ``train_loss``, ``val_loss``, ``val_macro_auc``
    and ``lr``; ``best_epoch`` is 1-based.
    """

    history: tuple[Mapping[str, float], ...]
    best_epoch: int
    best_val_auc: float
    stopped_early: bool
    resumed_from_epoch: int = 0


def _epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    # rank 0 keeps the one-process seed; other ranks draw their own dropout masks
    key = [int(seed), int(epoch)] + ([int(rank)] if rank else [])
    return int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0] >> 1)


def _first_column(labels: np.ndarray) -> np.ndarray:
    """The validated label of each item: the label itself, or column 0 of several heads' labels."""
    return labels[:, 0] if labels.ndim == 2 else labels


def _dataset_labels(data: Dataset) -> np.ndarray:
    for attr in ("labels", "targets"):
        if hasattr(data, attr):
            return _first_column(np.asarray(getattr(data, attr)).astype(np.int64))
    if isinstance(data, torch.utils.data.TensorDataset):
        return _first_column(data.tensors[1].cpu().numpy().astype(np.int64))
    return _first_column(np.asarray([np.asarray(data[i][1]) for i in range(len(data))],  # type: ignore[arg-type]
                                    dtype=np.int64))


def _class_weights(labels: np.ndarray, n_classes: int) -> Tensor:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(weights, dtype=torch.float32)


def _macro_auc(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> float:
    from racelens.shared.metrics import macro_auc

    names = np.asarray(list(classes), dtype=object)[labels]
    try:
        value = float(macro_auc(names, probs, list(classes)))
    except (ValueError, DataError) as exc:  # a class absent from the validation split
        log.warning("validation macro AUC undefined (%s); counting the epoch as no improvement", exc)
        return float("nan")
    return value


def train_classifier(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset,
    classes: Sequence[str],
    config: TrainConfig,
    *,
    run_dir: Path | None = None,
    resume: bool = False,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    forward: Forward | None = None,
    transform: Transform | None = None,
    loss: Loss | None = None,
) -> TrainResult:
    """Train ``model`` in place and restore the weights of its best validation epoch.

    Parameters
    ----------
    model
        A classifier whose output (or its ``.logits``) is ``batch x len(classes)``.
    train_data, val_data
        Datasets of ``(inputs, label_index)``; inputs a Tensor or a dict of Tensors (passed to the
        model as keyword arguments).
    classes
        Class names, in the order of the label indices and the model's outputs.
    config
        Hyper-parameters.
    run_dir
        Where ``checkpoint.pt`` is written after every epoch; ``None`` writes none.
    resume
        Continue from ``run_dir/checkpoint.pt`` when it exists.
    collate_fn
        DataLoader collate function (e.g. tokenizer padding).
    forward
        ``forward(model, inputs) -> logits`` when the default call does not fit.
    transform
        Applied to each input batch on the device before the forward pass (perturbations,
        augmentation), in training and validation alike. One with ``set_random_state`` (a
        racelens perturbation) is reseeded every epoch from ``(config.seed, epoch)``, so random
        perturbations resume exactly too.
    loss
        ``loss(outputs, targets) -> mean loss over the batch``, replacing the cross-entropy of
        the logits in training: a hook for models with several heads (a task head and an
        adversarial attribute head) or group-weighted objectives. ``outputs`` is what the model
        returns (its ``.logits`` are what validation scores), ``targets`` the batch's labels,
        ``B x k`` when items carry several heads' labels (column 0 is the validated label).
        The loss's own state (GroupDRO's group weights) is not checkpointed and, under
        ``torchrun``, is each rank's own.

    Returns
    -------
    TrainResult
        Per-epoch history, the best epoch and its validation macro AUC.

    Raises
    ------
    DataError
        When a dataset is empty.
    ConfigError
        When the checkpoint to resume was made for other classes, or the global batch size is
        not a multiple of the number of processes.
    """
    classes = [str(c) for c in classes]
    if len(train_data) == 0 or len(val_data) == 0:  # type: ignore[arg-type]
        raise DataError("training and validation data must not be empty; check the split")
    ctx = current_context()
    device = rank_device(resolve_device(config.device), ctx)
    per_rank_batch = local_batch_size(config.batch_size, ctx)
    runner = BatchRunner(model, device, amp=config.amp, channels_last=config.channels_last,
                         forward=forward, transform=transform)
    weight = _class_weights(_dataset_labels(train_data), len(classes)).to(device) if config.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.1, patience=max(1, config.patience // 2))
    scaler = torch.amp.GradScaler("cuda", enabled=runner.amp_dtype == torch.float16)
    # one process is the N = 1 case: the same seeded global permutation, in global batches
    sampler = DistributedSampler(train_data, num_replicas=ctx.world_size, rank=ctx.rank,
                                 shuffle=True, seed=int(config.seed))
    train_loader = DataLoader(train_data, batch_size=per_rank_batch, sampler=sampler,
                              num_workers=config.num_workers, collate_fn=collate_fn,
                              pin_memory=device.type == "cuda")

    st = LoopState(best_state=cpu_state(model))
    ckpt_path = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    if resume and ckpt_path is not None and ckpt_path.exists():
        st = load_checkpoint(ckpt_path, classes, parts)
        log.info("resuming from %s at epoch %d", ckpt_path, st.epoch)
    elif resume:
        log.info("no checkpoint to resume in %s; training from the start", run_dir)
    start = st.epoch
    ddp_model = wrap_ddp(model, device, ctx)  # after loading: DDP broadcasts rank 0's weights

    with progress_bar(config.progress and ctx.is_main) as progress:
        for epoch in range(start, config.epochs):
            if st.exhausted:
                break
            lr = float(optimizer.param_groups[0]["lr"])
            task = progress.add_task(f"epoch {epoch + 1}/{config.epochs}", total=len(train_loader),
                                     loss="-", auc="-")
            epoch_seed = _epoch_seed(config.seed, epoch, ctx.rank)
            if hasattr(transform, "set_random_state"):  # racelens perturbations: exact resume
                transform.set_random_state(epoch_seed)  # type: ignore[union-attr]
            sampler.set_epoch(epoch)
            with seeded_rng(epoch_seed, device):
                train_loss = _train_epoch(ddp_model, train_loader, loss or criterion, optimizer,
                                          scaler, runner, config, progress, task, ctx)
                sync_buffers(model, ctx)  # batch-norm statistics: averaged over the ranks
                probs, labels = infer_dataset(runner, model, val_data, batch_size=per_rank_batch,
                                              collate_fn=collate_fn, ctx=ctx,
                                              num_workers=config.num_workers)
            record = _epoch_record(epoch, train_loss, probs, labels, classes, weight, lr)
            # every rank holds the same gathered predictions; rank 0's record still decides, so
            # early stopping and the learning-rate schedule cannot diverge between ranks
            record = broadcast_object(record, ctx=ctx)
            auc = record["val_macro_auc"]
            progress.update(task, auc=f"{auc:.3f}")
            st.history.append(record)
            log.info("epoch %d/%d: train loss %.4f, val loss %.4f, val macro AUC %.4f, lr %.2e",
                     epoch + 1, config.epochs, record["train_loss"], record["val_loss"], auc, lr)
            monitored = auc if not math.isnan(auc) else -math.inf
            if monitored > st.best_auc or st.best_epoch == 0:
                st.best_auc, st.best_epoch, st.bad_epochs = monitored, epoch + 1, 0
                st.best_state = cpu_state(model)
            else:
                st.bad_epochs += 1
            scheduler.step(monitored)
            # independent of config.epochs, so a resumed run with more epochs stops where an
            # uninterrupted one would have
            st.exhausted = st.bad_epochs > config.patience
            st.epoch = epoch + 1
            if ckpt_path is not None and ctx.is_main:
                save_checkpoint(ckpt_path, st, classes, parts, config)
    model.load_state_dict(st.best_state)
    stopped_early = st.exhausted and len(st.history) < config.epochs
    if stopped_early:
        log.info("stopped early after epoch %d; best epoch %d", len(st.history), st.best_epoch)
    return TrainResult(tuple(st.history), int(st.best_epoch),
                       float(st.best_auc) if math.isfinite(st.best_auc) else float("nan"),
                       bool(stopped_early), resumed_from_epoch=int(start))


def _epoch_record(epoch: int, train_loss: float, probs: np.ndarray, labels: np.ndarray | None,
                  classes: list[str], weight: Tensor | None, lr: float) -> dict[str, float]:
    if labels is None:
        raise DataError("validation items must be (inputs, label_index) pairs")
    labels = _first_column(labels)
    val_logp = torch.log(torch.as_tensor(probs).clamp_min(1e-12)).float()
    val_loss = float(nn.functional.nll_loss(val_logp, torch.as_tensor(labels),
                                            weight=None if weight is None else weight.cpu()))
    return {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
            "val_macro_auc": _macro_auc(labels, probs, classes), "lr": lr}


def _train_epoch(model: nn.Module, loader: DataLoader, criterion: nn.CrossEntropyLoss | Loss,
                 optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, runner: BatchRunner,
                 config: TrainConfig, progress: Any, task: Any, ctx: DistContext) -> float:
    """One pass over this rank's share; returns the mean training loss over all ranks."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total, n = 0.0, 0
    n_batches = len(loader)
    for i, batch in enumerate(loader):
        inputs, y = split_batch(batch)
        if y is None:
            raise DataError("training items must be (inputs, label_index) pairs")
        y = y.to(runner.device, non_blocking=True).long()
        step = (i + 1) % config.grad_accum == 0 or i + 1 == n_batches
        # DDP: all-reduce gradients only on the micro-batch that steps
        sync = contextlib.nullcontext() if step or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            if isinstance(criterion, nn.CrossEntropyLoss):
                loss = _ddp_loss(criterion(runner.logits(model, inputs).float(), y), y, criterion, ctx)
            else:  # a loss hook reads every head the model returns
                loss = criterion(runner.outputs(model, inputs), y)
            scaler.scale(loss / config.grad_accum).backward()
        if step:
            if config.max_grad_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        total += float(loss.detach()) * len(y)
        n += len(y)
        progress.update(task, advance=1, loss=f"{total / n:.4f}")
    total, n = (float(v) for v in all_reduce_sum([total, n], ctx))
    return total / max(n, 1)


def _ddp_loss(loss: Tensor, y: Tensor, criterion: nn.CrossEntropyLoss, ctx: DistContext) -> Tensor:
    """The loss whose DDP-averaged gradient (and sum over ranks of ``loss * len(y)``) is that of
    the global batch's mean loss.

    Every rank's share has the same size (the sampler pads), so the mean of the per-rank means
    is already the global mean; a class-weighted mean divides by each share's weight sum, so it
    is rescaled to divide by the global weight sum instead.
    """
    if not ctx.is_distributed or criterion.weight is None:
        return loss
    local = criterion.weight[y].sum()
    total = all_reduce_sum(local.detach().reshape(1), ctx).to(loss.device, loss.dtype)[0]
    return loss * local * ctx.world_size / total.clamp_min(1e-12)


