"""The strength axis of each image perturbation: which parameter measures it, and which way.

A perturbation owns its axis (:meth:`racelens.imaging.perturb.base.Perturbation.place` reads it
here); this table imports no torch, so the report can place image conditions of a stored
``result.json`` (the imaging plugin registers these axes) without loading the perturbations.

A small low-pass radius is a strong change and a small high-pass radius a weak one, hence the
``sign``: ``+1`` when a larger value of ``parameter`` is a stronger change, ``-1`` when a
smaller one is, ``0`` when the perturbation has no single strength parameter (it is placed by
its numeric parameters in order).

Example
-------
>>> from racelens.shared.results import Condition
>>> place(Condition("lowpass", {"radius": 10}))
Strength(family='lowpass', parameter='radius', value=10, rank=(-10.0,), label='10', title='Low-pass filter (disc radius)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from racelens.shared.report.strength import fmt_value, number, place_by_params
from racelens.shared.results import Condition, Strength

__all__ = ["PerturbationAxis", "AXES", "place"]


@dataclass(frozen=True)
class PerturbationAxis:
    """One perturbation's axis: panel title, strength parameter and direction."""

    name: str
    title: str
    parameter: str | None = None
    sign: int = 0


#: In the order the report draws the panels.
AXES: dict[str, PerturbationAxis] = {a.name: a for a in (
    PerturbationAxis("lowpass", "Low-pass filter (disc radius)", "radius", -1),
    PerturbationAxis("highpass", "High-pass filter (disc radius)", "radius", +1),
    PerturbationAxis("bandpass", "Band-pass filter"),
    PerturbationAxis("resolution", "Down-sampling (size, px)", "size", -1),
    PerturbationAxis("notch", "Notch filter"),
    PerturbationAxis("gaussian_noise", "Gaussian noise (sigma)", "sigma", +1),
    PerturbationAxis("gaussian_blur", "Gaussian blur (sigma)", "sigma", +1),
    PerturbationAxis("patch", "Tile of a grid (index)", "index", +1),
    PerturbationAxis("mask_patch", "Masked tile"),
    PerturbationAxis("keep_patch", "Only one tile kept (in place)"),
    PerturbationAxis("random_crop", "Random crop (scale)", "scale", -1),
    PerturbationAxis("clip", "Bone-intensity clipping (threshold)", "threshold", -1),
    PerturbationAxis("window", "Intensity window (width)", "width", -1),
    PerturbationAxis("jpeg", "JPEG compression (quality)", "quality", -1),
    PerturbationAxis("equalize", "Histogram equalisation"),
)}


def place(condition: Condition) -> Strength | None:
    """Where an image condition sits on its perturbation's axis (``None`` for ``original``)."""
    if condition.name == "original":
        return None
    axis = AXES.get(condition.name)
    params = dict(condition.params)
    title = axis.title if axis else ""
    if axis is not None and axis.sign and axis.parameter in params:
        v = number(params[axis.parameter])
        rank = (axis.sign * v,) if v is not None else (math.inf,)
        return Strength(axis.name, axis.parameter, params[axis.parameter], rank,
                        fmt_value(params[axis.parameter]), title)
    return place_by_params(condition, title)
