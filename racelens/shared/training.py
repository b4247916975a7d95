"""One torch training loop for both modalities: image CNNs and text transformers.

:func:`train_classifier` fits a classifier with Adam/AdamW, lowers the learning rate when the
validation macro AUC plateaus, stops early on it and restores the best weights. On CUDA it uses
mixed precision (bf16 where supported, else fp16 with a gradient scaler) and optionally
channels-last; on CPU it is deterministic given ``config.seed``. A checkpoint is written
atomically after every epoch, and ``resume=True`` continues from it to the same final weights as an
uninterrupted run.

Randomness never comes from the global RNGs as the caller left them: shuffling uses a local
:class:`torch.Generator` (saved in the checkpoint), and each epoch runs inside
:func:`seeded_rng` with a seed derived from ``(config.seed, epoch)``, so dropout masks and random
augmentations are reproducible and the caller's RNG state is restored afterwards.

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
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from racelens.errors import ConfigError, DataError

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train_classifier",
    "predict_proba",
    "resolve_device",
    "seeded_rng",
    "CHECKPOINT_NAME",
]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
Forward = Callable[[nn.Module, Any], Tensor]
Transform = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train_classifier`.

    Parameters
    ----------
    epochs
        Maximum number of epochs.
    batch_size, lr, weight_decay
        Mini-batch size, initial learning rate and weight decay.
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
        Channels-last memory format for 4-D inputs; used only on CUDA.
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


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names are passed to :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available; use --device cpu")
    return dev


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run a block with torch's RNGs seeded by ``seed``, restoring the caller's state afterwards.

    Used to build models (layer initialisation draws from the global RNG) and to make dropout
    reproducible without leaving the global RNG changed.
    """
    devices = [device.index or 0] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed) % (2**63))
        yield


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0] >> 1)


def _to_device(inputs: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(inputs, Tensor):
        x = inputs.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    if isinstance(inputs, Mapping):
        return {k: _to_device(v, device, channels_last) for k, v in inputs.items()}
    raise DataError(f"batch inputs must be a Tensor or a dict of Tensors, got {type(inputs).__name__}")


def _default_forward(model: nn.Module, inputs: Any) -> Tensor:
    out = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    return out.logits if hasattr(out, "logits") else out


def _split_batch(batch: Any) -> tuple[Any, Tensor | None]:
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], torch.as_tensor(batch[1])
    return batch, None


def _probabilities(logits: Tensor) -> Tensor:
    logits = logits.float()
    if logits.dim() == 2 and logits.shape[1] == 1:  # one logit: binary classifier
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


class _Runner:
    """Device, precision and forward settings shared by training and inference."""

    def __init__(self, model: nn.Module, device: torch.device, *, amp: bool, channels_last: bool,
                 forward: Forward | None, transform: Transform | None) -> None:
        self.device = device
        cuda = device.type == "cuda"
        self.channels_last = channels_last and cuda
        self.amp_dtype: torch.dtype | None = None
        if amp and cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.forward = forward or _default_forward
        self.transform = transform
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)

    def logits(self, model: nn.Module, inputs: Any) -> Tensor:
        inputs = _to_device(inputs, self.device, self.channels_last)
        if self.transform is not None:
            with torch.no_grad():
                inputs = self.transform(inputs)
        ctx = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
               else contextlib.nullcontext())
        with ctx:
            return self.forward(model, inputs)

    @torch.no_grad()
    def infer(self, model: nn.Module, loader: DataLoader, progress: Any = None,
              task: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        model.eval()
        probs, labels = [], []
        for batch in loader:
            inputs, y = _split_batch(batch)
            probs.append(_probabilities(self.logits(model, inputs)).cpu().numpy())
            if y is not None:
                labels.append(y.cpu().numpy())
            if progress is not None:
                progress.advance(task)
        n_cls = probs[0].shape[1] if probs else 0
        p = np.concatenate(probs).astype(np.float64) if probs else np.zeros((0, n_cls))
        return p, (np.concatenate(labels) if labels else None)


def _dataset_labels(data: Dataset) -> np.ndarray:
    for attr in ("labels", "targets"):
        if hasattr(data, attr):
            return np.asarray(getattr(data, attr)).astype(np.int64)
    if isinstance(data, torch.utils.data.TensorDataset):
        return data.tensors[1].cpu().numpy().astype(np.int64)
    return np.asarray([int(data[i][1]) for i in range(len(data))], dtype=np.int64)  # type: ignore[arg-type]


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


def _progress(enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]}"), TextColumn("val AUC {task.fields[auc]}"),
                    TimeRemainingColumn(), disable=not enabled, transient=True)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


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
        augmentation), in training and validation alike.

    Returns
    -------
    TrainResult
        Per-epoch history, the best epoch and its validation macro AUC.

    Raises
    ------
    DataError
        When a dataset is empty.
    ConfigError
        When the checkpoint to resume was made for other classes.
    """
    classes = [str(c) for c in classes]
    if len(train_data) == 0 or len(val_data) == 0:  # type: ignore[arg-type]
        raise DataError("training and validation data must not be empty; check the split")
    device = resolve_device(config.device)
    runner = _Runner(model, device, amp=config.amp, channels_last=config.channels_last,
                     forward=forward, transform=transform)
    weight = _class_weights(_dataset_labels(train_data), len(classes)).to(device) if config.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.1, patience=max(1, config.patience // 2))
    scaler = torch.amp.GradScaler("cuda", enabled=runner.amp_dtype == torch.float16)
    generator = torch.Generator().manual_seed(int(config.seed))
    pin = device.type == "cuda"
    train_loader = DataLoader(train_data, batch_size=config.batch_size, shuffle=True, generator=generator,
                              num_workers=config.num_workers, collate_fn=collate_fn, pin_memory=pin)
    val_loader = DataLoader(val_data, batch_size=config.batch_size, shuffle=False,
                            num_workers=config.num_workers, collate_fn=collate_fn, pin_memory=pin)

    history: list[dict[str, float]] = []
    best_auc, best_epoch, bad_epochs, start = -math.inf, 0, 0, 0
    best_state = _cpu_state(model)
    stopped_early = False
    ckpt_path = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if list(ck["classes"]) != classes:
            raise ConfigError(f"{ckpt_path} was trained for classes {ck['classes']}, not {classes}; "
                              "use another run directory or drop --resume")
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck["scaler"])
        generator.set_state(ck["generator"])
        history = [dict(h) for h in ck["history"]]
        best_auc, best_epoch, bad_epochs = ck["best_auc"], ck["best_epoch"], ck["bad_epochs"]
        best_state, stopped_early, start = ck["best_state"], ck["stopped_early"], ck["epoch"]
        log.info("resuming from %s at epoch %d", ckpt_path, start)
    elif resume:
        log.info("no checkpoint to resume in %s; training from the start", run_dir)

    with _progress(config.progress) as progress:
        for epoch in range(start, config.epochs):
            if stopped_early:
                break
            lr = float(optimizer.param_groups[0]["lr"])
            task = progress.add_task(f"epoch {epoch + 1}/{config.epochs}", total=len(train_loader),
                                     loss="-", auc="-")
            with seeded_rng(_epoch_seed(config.seed, epoch), device):
                train_loss = _train_epoch(model, train_loader, criterion, optimizer, scaler, runner,
                                          config, progress, task)
                probs, labels = runner.infer(model, val_loader)
            val_logp = torch.log(torch.as_tensor(probs).clamp_min(1e-12)).float()
            val_loss = float(nn.functional.nll_loss(val_logp, torch.as_tensor(labels),
                                                    weight=None if weight is None else weight.cpu()))
            auc = _macro_auc(labels, probs, classes)
            progress.update(task, auc=f"{auc:.3f}")
            history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                            "val_macro_auc": auc, "lr": lr})
            log.info("epoch %d/%d: train loss %.4f, val loss %.4f, val macro AUC %.4f, lr %.2e",
                     epoch + 1, config.epochs, train_loss, val_loss, auc, lr)
            monitored = auc if not math.isnan(auc) else -math.inf
            if monitored > best_auc or best_epoch == 0:
                best_auc, best_epoch, bad_epochs = monitored, epoch + 1, 0
                best_state = _cpu_state(model)
            else:
                bad_epochs += 1
            scheduler.step(monitored)
            stopped_early = bad_epochs > config.patience and epoch + 1 < config.epochs
            if ckpt_path is not None:
                _atomic_torch_save({
                    "classes": classes, "epoch": epoch + 1, "model": _cpu_state(model),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(), "generator": generator.get_state(),
                    "history": history, "best_auc": best_auc, "best_epoch": best_epoch,
                    "bad_epochs": bad_epochs, "best_state": best_state, "stopped_early": stopped_early,
                    "config": asdict(config),
                }, ckpt_path)
    model.load_state_dict(best_state)
    if stopped_early:
        log.info("stopped early after epoch %d; best epoch %d", len(history), best_epoch)
    return TrainResult(tuple(history), int(best_epoch),
                       float(best_auc) if math.isfinite(best_auc) else float("nan"),
                       bool(stopped_early), resumed_from_epoch=int(start))


def _train_epoch(model: nn.Module, loader: DataLoader, criterion: nn.Module,
                 optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, runner: _Runner,
                 config: TrainConfig, progress: Any, task: Any) -> float:
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total, n = 0.0, 0
    n_batches = len(loader)
    for i, batch in enumerate(loader):
        inputs, y = _split_batch(batch)
        if y is None:
            raise DataError("training items must be (inputs, label_index) pairs")
        y = y.to(runner.device, non_blocking=True).long()
        logits = runner.logits(model, inputs)
        loss = criterion(logits.float(), y)
        scaler.scale(loss / config.grad_accum).backward()
        if (i + 1) % config.grad_accum == 0 or i + 1 == n_batches:
            if config.max_grad_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        total += float(loss.detach()) * len(y)
        n += len(y)
        progress.update(task, advance=1, loss=f"{total / n:.4f}")
    return total / max(n, 1)


def predict_proba(
    model: nn.Module,
    data: Dataset,
    *,
    batch_size: int = 64,
    device: str = "auto",
    collate_fn: Callable[[list[Any]], Any] | None = None,
    forward: Forward | None = None,
    transform: Transform | None = None,
    progress: bool = False,
    amp: bool = True,
) -> np.ndarray:
    """Class probabilities of ``model`` for every item of ``data``, in order.

    Parameters
    ----------
    model
        A classifier (see :func:`train_classifier`).
    data
        Items ``(inputs, label_index)`` or bare inputs.
    transform
        Applied to each input batch on the device (a test-time perturbation).

    Returns
    -------
    numpy.ndarray
        ``len(data) x n_classes`` float64 probabilities (softmax; a one-logit model gives
        ``[1 - p, p]``).
    """
    dev = resolve_device(device)
    runner = _Runner(model, dev, amp=amp, channels_last=False, forward=forward, transform=transform)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_fn,
                        pin_memory=dev.type == "cuda")
    with _progress(progress) as bar:
        task = bar.add_task("predict", total=len(loader), loss="-", auc="-")
        probs, _ = runner.infer(model, loader, bar, task)
    return probs
