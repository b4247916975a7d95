"""Resize radiographs to the cache's square side with Pillow's antialiased bilinear filter.

It exists apart from :mod:`racelens.imaging.io.load` because resizing is its own concept (a filter,
its weights and the uint16 levels the cache stores), shared by the loader's fast path
(:func:`racelens.imaging.io.load.load_resized`) and by callers that resize an image already in memory.
The weights are Pillow's, applied as two sparse float32 matrix products, so the result is within
1 level of ``Image.resize(..., BILINEAR)`` without a round trip through Pillow.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["resize_image", "resize_float", "to_levels", "from_levels", "LEVELS"]

#: The cache stores intensity in [0, 1] as ``round(x * LEVELS)`` uint16.
LEVELS = 65535


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a float [0, 1] image to ``size x size`` (antialiased bilinear) as uint16 levels.

    The filter is Pillow's (``Image.resize(..., BILINEAR)``: a triangle widened by the scale
    factor when shrinking), applied as two sparse matrix products in float32; the result is
    within 1 level of Pillow's (which sums in float64). Pillow's ``reducing_gap`` shortcut
    (box-reduce first) is not used: on pydicom-data's RG1_UNCR it is off by up to 1200 levels.
    """
    return to_levels(resize_float(image, size))


def resize_float(image: np.ndarray, size: int) -> np.ndarray:
    """:func:`resize_image` before the levels: float32 ``(size, size)``, not clipped."""
    img = np.asarray(image, dtype=np.float32)
    rows = _resize_weights(img.shape[0], size) @ img  # vertical pass: axpy over whole rows
    return np.ascontiguousarray((_resize_weights(img.shape[1], size) @ rows.T).T)


@functools.lru_cache(maxsize=64)
def _resize_weights(n_in: int, n_out: int) -> Any:
    """Pillow's antialiased bilinear weights (``precompute_coeffs`` in its Resample.c) as a sparse
    float32 ``(n_out, n_in)`` matrix: output ``i`` samples at ``(i + 0.5) * n_in / n_out``."""
    from scipy import sparse

    scale = n_in / n_out
    widen = max(scale, 1.0)  # the filter's support grows with the reduction
    centers = (np.arange(n_out) + 0.5) * scale
    first = np.maximum(np.trunc(centers - widen + 0.5).astype(np.int64), 0)
    stop = np.minimum(np.trunc(centers + widen + 0.5).astype(np.int64), n_in)
    taps = first[:, None] + np.arange(int((stop - first).max()))[None, :]
    weights = np.clip(1.0 - np.abs((taps - centers[:, None] + 0.5) / widen), 0.0, None)
    weights[taps >= stop[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    cols = np.minimum(taps, n_in - 1).ravel()
    rows = np.repeat(np.arange(n_out), taps.shape[1])
    return sparse.csr_matrix((weights.ravel().astype(np.float32), (rows, cols)),
                             shape=(n_out, n_in))


def to_levels(image: np.ndarray, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """``scale * image + offset`` clipped to [0, 1], as ``round(x * 65535)`` uint16 (float32)."""
    out = np.multiply(image, np.float32(LEVELS * scale), dtype=np.float32)
    if offset:
        out += np.float32(LEVELS * offset)
    np.clip(out, 0.0, float(LEVELS), out=out)
    return np.rint(out, out=out).astype(np.uint16)


def from_levels(levels: np.ndarray) -> np.ndarray:
    """uint16 cache levels back to float32 intensity in [0, 1] (the inverse of
    :func:`to_levels`, to within half a level)."""
    return np.asarray(levels).astype(np.float32) * np.float32(1.0 / LEVELS)
