"""One image backbone with a task head and a race head behind a gradient-reversal layer.

The race head reads the penultimate features through :func:`~racelens.shared.train.objectives.grad_reverse`
with coefficient ``scale`` (λ): λ > 0 pushes the backbone to hide race (DANN), λ < 0 to show it,
λ = 0 lets the race head read the features without shaping them (the backbone learns the task
alone). The task head is the backbone's own :class:`~racelens.imaging.models.ImagingClassifier`
head, so :func:`racelens.imaging.models.features` and the frozen-feature probe read ``model.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from torch import Tensor, nn

from racelens.imaging.models import ImagingClassifier, build_model
from racelens.shared.train.inference import seeded_rng
from racelens.shared.train.objectives import grad_reverse

__all__ = ["ShortcutHeads", "ShortcutClassifier", "build_shortcut_model"]


class ShortcutHeads(NamedTuple):
    """Both heads' logits; ``logits`` (the task) is what validation and inference score."""

    logits: Tensor
    attribute_logits: Tensor


class ShortcutClassifier(nn.Module):
    """``base`` (backbone + task head) and a linear race head behind gradient reversal."""

    def __init__(self, base: ImagingClassifier, n_groups: int, scale: float) -> None:
        super().__init__()
        self.base = base
        self.scale = float(scale)
        self.race_head = nn.Linear(base.head.in_features, n_groups)

    def forward(self, x: Tensor) -> ShortcutHeads:
        f = self.base.features(x)
        return ShortcutHeads(self.base.head(self.base.dropout(f)),
                             self.race_head(grad_reverse(f, self.scale)))


def build_shortcut_model(arch: str, n_groups: int, *, scale: float, seed: int = 0,
                         weights: Path | None = None) -> ShortcutClassifier:
    """A two-class task model of ``arch`` with a race head of ``n_groups`` outputs at λ = ``scale``."""
    base = build_model(arch, 2, weights=weights, seed=seed)
    with seeded_rng(seed + 1):
        return ShortcutClassifier(base, n_groups, scale)
