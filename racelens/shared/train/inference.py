"""Device, precision and batched inference for torch classifiers (both modalities).

:func:`predict_proba` and the training loop (:mod:`racelens.shared.train.loop`) share one
:class:`BatchRunner`: it moves a batch (a Tensor or a dict of Tensors) to the device, applies an
optional on-device ``transform`` (an image perturbation), runs the forward pass under autocast on
CUDA (bf16 where supported, else fp16) and uses ``.logits`` when the model returns an object.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from racelens.errors import ConfigError, DataError
from racelens.shared.train.distributed import (
    DistContext,
    current_context,
    gather_predictions,
    rank_device,
    shard_indices,
)

__all__ = ["BatchRunner", "Forward", "Transform", "infer_dataset", "predict_proba", "progress_bar",
           "resolve_device", "seeded_rng", "split_batch"]

Forward = Callable[[nn.Module, Any], Tensor]
Transform = Callable[[Tensor], Tensor]


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


def _to_device(inputs: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(inputs, Tensor):
        x = inputs.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    if isinstance(inputs, Mapping):
        return {k: _to_device(v, device, channels_last) for k, v in inputs.items()}
    raise DataError(f"batch inputs must be a Tensor or a dict of Tensors, got {type(inputs).__name__}")


def _raw_forward(model: nn.Module, inputs: Any) -> Any:
    return model(**inputs) if isinstance(inputs, Mapping) else model(inputs)


def _default_forward(model: nn.Module, inputs: Any) -> Tensor:
    out = _raw_forward(model, inputs)
    return out.logits if hasattr(out, "logits") else out


def split_batch(batch: Any) -> tuple[Any, Tensor | None]:
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], torch.as_tensor(batch[1])
    return batch, None


def _probabilities(logits: Tensor) -> Tensor:
    logits = logits.float()
    if logits.dim() == 2 and logits.shape[1] == 1:  # one logit: binary classifier
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


class BatchRunner:
    """Device, precision and forward settings shared by training and inference."""

    def __init__(self, model: nn.Module, device: torch.device, *, amp: bool, channels_last: bool,
                 forward: Forward | None, transform: Transform | None) -> None:
        self.device = device
        cuda = device.type == "cuda"
        self.channels_last = channels_last
        self.amp_dtype: torch.dtype | None = None
        if amp and cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.forward = forward or _default_forward
        self.transform = transform
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)

    def logits(self, model: nn.Module, inputs: Any) -> Tensor:
        return self._run(model, inputs, self.forward)

    def outputs(self, model: nn.Module, inputs: Any) -> Any:
        """What the model returns (every head), for a training loss hook."""
        return self._run(model, inputs, _raw_forward)

    def _run(self, model: nn.Module, inputs: Any, forward: Callable[[nn.Module, Any], Any]) -> Any:
        inputs = _to_device(inputs, self.device, self.channels_last)
        if self.transform is not None:
            with torch.no_grad():
                inputs = self.transform(inputs)
        ctx = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
               else contextlib.nullcontext())
        with ctx:
            return forward(model, inputs)

    @torch.no_grad()
    def infer(self, model: nn.Module, loader: DataLoader, progress: Any = None,
              task: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        model.eval()
        probs: list[Tensor] = []
        labels = []
        for batch in loader:
            inputs, y = split_batch(batch)
            # kept on the device until the end: no host sync per batch, so copies and kernels
            # of the next batches queue up behind this one's
            probs.append(_probabilities(self.logits(model, inputs)))
            if y is not None:
                labels.append(y.cpu().numpy())
            if progress is not None:
                progress.advance(task)
        n_cls = probs[0].shape[1] if probs else 0
        p = (torch.cat(probs).cpu().numpy().astype(np.float64) if probs
             else np.zeros((0, n_cls)))
        return p, (np.concatenate(labels) if labels else None)


class _TensorBatches:
    """The batches a :class:`~torch.utils.data.DataLoader` makes of a ``TensorDataset`` (same
    values, same order) as slices of its tensors: no per-item indexing and stacking.

    A pinned source tensor gives pinned slices, so host-to-device copies stay asynchronous.
    """

    def __init__(self, tensors: Sequence[Tensor], indices: np.ndarray | None, batch_size: int) -> None:
        self.tensors, self.indices, self.batch_size = tuple(tensors), indices, int(batch_size)
        self.n = len(tensors[0]) if indices is None else len(indices)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        for start in range(0, self.n, self.batch_size):
            if self.indices is None:
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                rows = torch.as_tensor(self.indices[start:start + self.batch_size])
                yield tuple(t[rows] for t in self.tensors)


def infer_dataset(runner: BatchRunner, model: nn.Module, data: Dataset, *, batch_size: int,
                  collate_fn: Callable[[list[Any]], Any] | None = None, num_workers: int = 0,
                  ctx: DistContext | None = None, progress: Any = None,
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities (and labels) of every item of ``data`` in order, sharded over the ranks.

    On one process this is ``runner.infer`` over the whole dataset. Under a process group each
    rank predicts its shard and every rank gets the gathered, de-duplicated, ordered arrays, so
    all ranks must call it together.
    """
    ctx = ctx or DistContext()
    pin = runner.device.type == "cuda"
    sliceable = isinstance(data, TensorDataset) and collate_fn is None and num_workers == 0
    if not ctx.is_distributed:
        loader: Any = (_TensorBatches(data.tensors, None, batch_size) if sliceable  # type: ignore[attr-defined]
                       else DataLoader(data, batch_size=batch_size, shuffle=False,
                                       collate_fn=collate_fn, num_workers=num_workers, pin_memory=pin))
        task = progress.add_task("predict", total=len(loader), loss="-", auc="-") if progress is not None else None
        return runner.infer(model, loader, progress, task)
    idx = shard_indices(len(data), ctx)  # type: ignore[arg-type]
    loader = (_TensorBatches(data.tensors, idx, batch_size) if sliceable  # type: ignore[attr-defined]
              else DataLoader(torch.utils.data.Subset(data, idx.tolist()), batch_size=batch_size,
                              shuffle=False, collate_fn=collate_fn, num_workers=num_workers,
                              pin_memory=pin))
    probs, labels = runner.infer(model, loader)
    return gather_predictions(idx, probs, labels, n_total=len(data), ctx=ctx)  # type: ignore[arg-type]


def progress_bar(enabled: bool) -> Any:
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
    channels_last: bool = False,
    num_workers: int = 0,
    shard: bool = False,
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
    amp
        Mixed precision on CUDA (bf16 where supported, else fp16); ignored on the CPU.
    channels_last
        Run 4-D inputs and the model in channels-last memory format, on any device (the model is
        converted in place). Much faster for convolutional models on the CPU (oneDNN's pooling and
        small-channel convolutions) and on GPUs' tensor cores; convolutions then sum in another
        order, so probabilities differ from the default format in the last float32 digits.
    shard
        Under a running process group (``torchrun``), split the work over the ranks and return
        the gathered result on every rank; every rank must then call this together. Ignored on
        one process.

    Returns
    -------
    numpy.ndarray
        ``len(data) x n_classes`` float64 probabilities (softmax; a one-logit model gives
        ``[1 - p, p]``).
    """
    ctx = current_context() if shard else DistContext()
    dev = rank_device(resolve_device(device), ctx)
    runner = BatchRunner(model, dev, amp=amp, channels_last=channels_last, forward=forward,
                         transform=transform)
    with progress_bar(progress and ctx.is_main) as bar:
        probs, _ = infer_dataset(runner, model, data, batch_size=batch_size, collate_fn=collate_fn,
                                 num_workers=num_workers, ctx=ctx, progress=bar)
    return probs
