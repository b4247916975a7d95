"""The deletion curve: mask the most-attributed pixels of each image, or as many random ones.

If the attribution points at the signal, blacking out the top ``x`` % of each image's attributed
pixels takes the AUC toward chance while the same number of random pixels leaves it standing.
Pixels are deleted in square blocks (region perturbation, Samek et al. 2017; default a 16th of
the image side): single random pixels scattered over a fine texture would destroy it everywhere
at once, so a pixel-wise random baseline says nothing about where the signal is. Masked pixels
are set to 0, as :class:`~racelens.imaging.perturb.transforms.MaskPatch` does. Masks are made
for a whole batch at once (``topk`` over the block sums; random blocks from a seeded generator),
never with a loop over images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from racelens.errors import ConfigError

__all__ = ["FRACTIONS", "default_block", "deletion_masks", "apply_mask"]

FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)


def default_block(size: int) -> int:
    """The deletion block side for a ``size`` image: a 16th of it, at least 1 pixel."""
    return max(1, size // 16)


def deletion_masks(maps: np.ndarray | torch.Tensor, fraction: float, *, block: int = 1,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks ``(N, 1, H, W)`` of the top-``fraction`` blocks of each map, and random ones.

    Blocks are ``block x block`` squares (the last row/column may be smaller) ranked by their
    summed attribution; ``round(fraction * n_blocks)`` blocks are masked.

    Raises
    ------
    ConfigError
        For a fraction outside ``(0, 1)`` or a block below 1.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"deletion fractions must be in (0, 1), got {fraction}")
    if int(block) != block or block < 1:
        raise ConfigError(f"deletion block must be an integer >= 1, got {block}")
    m = torch.as_tensor(np.asarray(maps), dtype=torch.float32)
    n, h, w = m.shape
    sums = F.avg_pool2d(m[:, None], block, stride=block, ceil_mode=True)[:, 0]
    bh, bw = sums.shape[-2:]
    k = max(1, round(fraction * bh * bw))
    flat = sums.reshape(n, bh * bw)
    top = torch.zeros_like(flat, dtype=torch.bool)
    top.scatter_(1, torch.topk(flat, k, dim=1).indices, True)
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.rand(n, bh * bw, generator=gen).argsort(dim=1)
    rand = torch.zeros_like(flat, dtype=torch.bool)
    rand.scatter_(1, order[:, :k], True)

    def to_pixels(blocks: torch.Tensor) -> torch.Tensor:
        up = blocks.reshape(n, bh, bw).repeat_interleave(block, 1).repeat_interleave(block, 2)
        return up[:, None, :h, :w]

    return to_pixels(top), to_pixels(rand)


def apply_mask(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``images`` with the masked pixels set to 0 (every channel)."""
    return images.masked_fill(mask.to(images.device), 0.0)
