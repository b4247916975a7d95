"""Frequency rings of the model-size image: the spectrum question of ``imaging explain``.

Rings are contiguous annuli of the centred FFT (``inner <= r < outer``, radii in frequency pixels
of the model-size image, zero frequency at pixel ``(H//2, W//2)`` as in
:mod:`racelens.imaging.perturb.transforms`) covering radius 0 to the corner of the spectrum. For
each ring the explain keeps only that ring (:class:`~racelens.imaging.perturb.transforms.Bandpass`)
or removes it (:class:`~racelens.imaging.perturb.transforms.Notch`); the ring with the highest keep
AUC is *sufficient*, the one whose removal drops the AUC most is *necessary*.

Example
-------
>>> [round(r.outer, 2) for r in ring_edges(64, bands=4)]
[1.0, 3.56, 12.7, 45.26]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from racelens.errors import ConfigError
from racelens.imaging.perturb.transforms import Bandpass, Notch

__all__ = ["Ring", "corner_radius", "ring_edges"]


@dataclass(frozen=True)
class Ring:
    """One annulus ``inner <= r < outer`` of the centred spectrum."""

    inner: float
    outer: float

    def keep(self, *, seed: int = 0) -> Bandpass:
        """The perturbation that keeps only this ring."""
        return Bandpass(self.inner, self.outer, seed=seed)

    def remove(self, *, seed: int = 0) -> Notch:
        """The perturbation that removes this ring and keeps the rest."""
        return Notch(self.inner, self.outer, seed=seed)


def corner_radius(size: int) -> float:
    """Distance of the farthest frequency pixel from the zero frequency of a ``size`` image."""
    return math.hypot(size // 2, size // 2)


def _past_corner(size: int) -> float:
    # the last ring must hold the corner pixel itself (outer is exclusive)
    return math.floor(corner_radius(size) * 100 + 1) / 100


def ring_edges(size: int, *, bands: int = 8, edges: Sequence[float] | None = None) -> list[Ring]:
    """Contiguous rings from radius 0 to past the corner of a ``size x size`` spectrum.

    Parameters
    ----------
    size
        Side of the model-size image.
    bands
        Number of rings: the first is ``[0, 1)`` (the mean), the others log-spaced from 1 to
        the corner (the spectrum of radiographs falls off as a power of the radius).
    edges
        Explicit increasing ring edges instead (``--band-edges``); they must start at 0 and
        reach the corner.

    Raises
    ------
    ConfigError
        For fewer than two rings, or edges that do not start at 0, increase or reach the corner.
    """
    last = _past_corner(size)
    if edges is None:
        if int(bands) != bands or bands < 2:
            raise ConfigError(f"--bands must be an integer >= 2, got {bands}")
        radii = [0.0, *np.round(np.geomspace(1.0, last, int(bands)), 2).tolist()]
    else:
        radii = [float(e) for e in edges]
        if len(radii) < 3 or radii[0] != 0:
            raise ConfigError(f"--band-edges must start at 0 and give at least two rings, got {radii}")
        if any(b <= a for a, b in zip(radii, radii[1:], strict=False)):
            raise ConfigError(f"--band-edges must increase strictly, got {radii}")
        if radii[-1] <= corner_radius(size):
            raise ConfigError(f"--band-edges must reach past the corner radius "
                              f"{corner_radius(size):.2f} of a {size} px image (e.g. end at {last})")
    return [Ring(a, b) for a, b in zip(radii, radii[1:], strict=False)]
