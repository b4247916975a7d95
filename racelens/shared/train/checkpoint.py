"""The training loop's checkpoint: what :func:`racelens.shared.train.loop.train_classifier` resumes from.

A checkpoint holds the unwrapped model's weights, the optimiser, scheduler and gradient-scaler
states and the loop's own state (history, best weights, patience), written atomically by one
process. It holds no sampler state (each epoch's shuffle derives from the seed and the epoch) and
nothing per rank, so a run resumes on any number of processes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from racelens.errors import ConfigError
from racelens.shared.tables import atomic_path

__all__ = ["LoopState", "cpu_state", "load_checkpoint", "save_checkpoint"]


def _atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def cpu_state(model: nn.Module) -> dict[str, Tensor]:
    """A CPU copy of ``model``'s state dict (a snapshot that later training does not change)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class LoopState:
    """What a checkpoint restores besides the model, optimiser and scheduler."""

    best_state: dict[str, Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    best_auc: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    exhausted: bool = False  # patience used up
    epoch: int = 0  # epochs finished


def save_checkpoint(path: Path, st: LoopState, classes: list[str], parts: dict[str, Any],
                    config: Any) -> None:
    """Write ``parts`` (``model`` unwrapped, optimiser, ...), ``st`` and ``config`` atomically."""
    # the unwrapped model's weights and no sampler state (the shuffle derives from seed + epoch):
    # nothing in it depends on the number of processes
    state = {k: (cpu_state(v) if k == "model" else v.state_dict()) for k, v in parts.items()}
    _atomic_torch_save({**state, **asdict(st), "classes": classes, "config": asdict(config)}, path)


def load_checkpoint(path: Path, classes: list[str], parts: dict[str, Any]) -> LoopState:
    """Load ``path`` into ``parts`` and return the loop state; ConfigError for other classes."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if list(ck["classes"]) != classes:
        raise ConfigError(f"{path} was trained for classes {ck['classes']}, not {classes}; "
                          "use another run directory or drop --resume")
    for key, obj in parts.items():
        obj.load_state_dict(ck[key])
    return LoopState(best_state=ck["best_state"], history=[dict(h) for h in ck["history"]],
                     best_auc=ck["best_auc"], best_epoch=ck["best_epoch"],
                     bad_epochs=ck["bad_epochs"], exhausted=ck["exhausted"], epoch=ck["epoch"])
