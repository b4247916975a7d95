"""Training objectives beyond plain cross-entropy, for :func:`~racelens.shared.train.loop.train_classifier`'s
``loss`` hook: an adversarial attribute head behind a gradient-reversal layer, and GroupDRO.

Both read items labelled ``(task, group)`` (``targets`` is ``B x 2``): column 0 is the task label
the loop validates on, column 1 a group code (the protected attribute, or attribute x label).

- :func:`grad_reverse` (Ganin & Lempitsky 2015) is the identity forward and multiplies the
  gradient by ``-scale`` backward. Behind it, an attribute head learns to read the attribute
  while the features it reads are pushed to hide it (``scale > 0``), left alone (``0``) or pushed
  to show it (``scale < 0``): the sweep of Brown et al. 2023.
- :class:`MultiHeadLoss`: ``CE(task) + attribute_weight * CE(attribute)``.
- :class:`GroupDROLoss` (Sagawa et al. 2020, online): group weights ``q`` updated by
  exponentiated gradient ascent on the groups' losses, the loss ``sum_g q_g * loss_g``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from racelens.errors import ConfigError

__all__ = ["GroupDROLoss", "MultiHeadLoss", "grad_reverse"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:  # noqa: D102
        ctx.scale = float(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        return -ctx.scale * grad, None


def grad_reverse(x: Tensor, scale: float) -> Tensor:
    """Identity forward; the gradient times ``-scale`` backward."""
    return _GradReverse.apply(x, float(scale))


def _two_columns(targets: Tensor) -> tuple[Tensor, Tensor]:
    if targets.dim() != 2 or targets.shape[1] < 2:
        raise ConfigError(f"this loss needs (task, group) labels per item, got targets of shape "
                          f"{tuple(targets.shape)}")
    return targets[:, 0].long(), targets[:, 1].long()


class MultiHeadLoss:
    """``CE(outputs.logits, task) + attribute_weight * CE(outputs.attribute_logits, group)``.

    The model returns both heads (e.g. a named tuple with ``logits`` and ``attribute_logits``);
    how the attribute head's gradient reaches the features is the model's :func:`grad_reverse`.
    """

    def __init__(self, attribute_weight: float = 1.0) -> None:
        if attribute_weight < 0:
            raise ConfigError(f"attribute_weight must be >= 0, got {attribute_weight}")
        self.attribute_weight = float(attribute_weight)

    def __call__(self, outputs: Any, targets: Tensor) -> Tensor:
        task, group = _two_columns(targets)
        loss = nn.functional.cross_entropy(outputs.logits.float(), task)
        if self.attribute_weight:
            loss = loss + self.attribute_weight * nn.functional.cross_entropy(
                outputs.attribute_logits.float(), group)
        return loss


class GroupDROLoss:
    """Online GroupDRO: the worst groups' losses weigh more, by ``q_g ∝ q_g * exp(step * loss_g)``.

    Parameters
    ----------
    n_groups
        Number of group codes (column 1 of the targets, ``0 .. n_groups - 1``).
    step_size
        Step of the exponentiated-gradient update of ``q`` (Sagawa et al. used 0.01).
    """

    def __init__(self, n_groups: int, step_size: float = 0.01) -> None:
        if n_groups < 1 or step_size <= 0:
            raise ConfigError(f"n_groups must be >= 1 and step_size > 0, got {n_groups}, {step_size}")
        self.n_groups = int(n_groups)
        self.step_size = float(step_size)
        self.q = torch.full((self.n_groups,), 1.0 / self.n_groups)

    def __call__(self, outputs: Any, targets: Tensor) -> Tensor:
        task, group = _two_columns(targets)
        logits = outputs.logits if hasattr(outputs, "logits") else outputs
        per = nn.functional.cross_entropy(logits.float(), task, reduction="none")
        onehot = nn.functional.one_hot(group, self.n_groups).to(per.dtype)
        counts = onehot.sum(0)
        group_loss = (onehot * per[:, None]).sum(0) / counts.clamp_min(1)
        q = self.q.to(per.device)
        with torch.no_grad():  # groups absent from the batch keep their weight
            q = q * torch.exp(self.step_size * group_loss.detach() * (counts > 0))
            q = q / q.sum()
        self.q = q.detach().cpu()
        return (q * group_loss).sum()
