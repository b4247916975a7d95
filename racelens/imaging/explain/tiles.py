"""The tile grid of ``imaging explain``: keep-only / masked tiles and attribution mass per tile.

A ``grid x grid`` partition of the model-size image with the bounds of
:class:`~racelens.imaging.perturb.transforms.Patch` (``floor(i * size / grid)``), row 0 at the
top, tiles numbered row-major. Per tile the explain asks the model with only that tile kept in
place (:class:`~racelens.imaging.perturb.transforms.KeepPatch`, the paper's ``patch`` without the
resize a test-time question needs) and with it blacked out
(:class:`~racelens.imaging.perturb.transforms.MaskPatch`, the paper's ``invpatch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racelens.errors import ConfigError
from racelens.imaging.perturb.transforms import KeepPatch, MaskPatch, Patch

__all__ = ["Tile", "grid_tiles", "tile_mass", "area_share"]


@dataclass(frozen=True)
class Tile:
    """One tile of the grid."""

    grid: int
    row: int
    col: int

    @property
    def index(self) -> int:
        return self.row * self.grid + self.col

    def keep(self, *, seed: int = 0) -> KeepPatch:
        return KeepPatch(self.grid, self.index, seed=seed)

    def remove(self, *, seed: int = 0) -> MaskPatch:
        return MaskPatch(self.grid, self.index, seed=seed)

    def bounds(self, h: int, w: int) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` in pixels of an ``h x w`` image."""
        return Patch(self.grid, self.index).tile(h, w)


def grid_tiles(grid: int) -> list[Tile]:
    """The ``grid x grid`` tiles, row-major."""
    if int(grid) != grid or grid < 1:
        raise ConfigError(f"--grid must be an integer >= 1, got {grid}")
    return [Tile(int(grid), r, c) for r in range(int(grid)) for c in range(int(grid))]


def tile_mass(maps: np.ndarray, grid: int) -> np.ndarray:
    """Sum of ``maps`` (``(..., H, W)``) over each tile: ``(..., grid, grid)``."""
    h, w = maps.shape[-2:]
    out = np.zeros((*maps.shape[:-2], grid, grid), dtype=np.float64)
    for t in grid_tiles(grid):
        top, bottom, left, right = t.bounds(h, w)
        out[..., t.row, t.col] = maps[..., top:bottom, left:right].sum(axis=(-2, -1))
    return out


def area_share(size: int, grid: int) -> np.ndarray:
    """Each tile's share of the image area (``grid x grid``, sums to 1)."""
    return tile_mass(np.ones((size, size)), grid) / float(size * size)
