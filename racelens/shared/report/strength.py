"""Where a condition sits on its family's strength axis, mild to strong.

Every condition is placed in a *family* (``lowpass``, ``highpass``, ``resolution``, ... for
images; ``redaction`` for notes, covering ``original``, ``redact`` and ``strip_proxies``) and given
a sort key and a tick label, so figures and tables order conditions from the mildest to the
strongest change with ``original`` first. A small radius is a strong low-pass filter but a weak
high-pass one, hence the sign per family.

Example
-------
>>> from racelens.shared.results import AUCBlock, Condition, ConditionResult, Estimate
>>> c = ConditionResult(Condition("lowpass", {"radius": 10}), AUCBlock(Estimate(0.8), {}), None, 1)
>>> strength_point(c)
StrengthPoint(family='lowpass', key=(-10.0,), tick='10')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racelens.shared.results import AuditResult, ConditionResult

__all__ = ["FAMILY_TITLES", "StrengthPoint", "strength_point", "families", "family_ticks",
           "series_label", "sort_key", "task_of"]

FAMILY_TITLES: dict[str, str] = {
    "lowpass": "Low-pass filter (disc radius)",
    "highpass": "High-pass filter (disc radius)",
    "bandpass": "Band-pass filter",
    "resolution": "Down-sampling (size, px)",
    "notch": "Notch filter",
    "gaussian_noise": "Gaussian noise (sigma)",
    "gaussian_blur": "Gaussian blur (sigma)",
    "patch": "Tile of a grid (index)",
    "mask_patch": "Masked tile",
    "random_crop": "Random crop (scale)",
    "clip": "Bone-intensity clipping (threshold)",
    "window": "Intensity window (width)",
    "jpeg": "JPEG compression (quality)",
    "equalize": "Histogram equalisation",
    "redaction": "Notes: redaction level, then proxies removed (−k)",
}

# family -> (parameter that measures strength, +1 if a larger value is a stronger change)
_STRENGTH: dict[str, tuple[str, int]] = {
    "lowpass": ("radius", -1), "highpass": ("radius", +1), "resolution": ("size", -1),
    "gaussian_noise": ("sigma", +1), "noise": ("sigma", +1), "gaussian_blur": ("sigma", +1),
    "patch": ("index", +1), "random_crop": ("scale", -1), "clip": ("threshold", -1),
    "window": ("width", -1), "jpeg": ("quality", -1),
}
_REDACT_LEVELS = {"none": 0, "explicit": 1, "extended": 2}
_TEXT_FAMILIES = ("redact", "strip_proxies")


@dataclass(frozen=True)
class StrengthPoint:
    """Where one condition sits on its family's strength axis.

    ``key`` sorts conditions from mild to strong; ``tick`` is the axis label.
    """

    family: str
    key: tuple[Any, ...]
    tick: str


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _number(v: Any) -> float | None:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def strength_point(cond: ConditionResult, modality: str = "imaging") -> StrengthPoint | None:
    """Place a condition on its family's axis; ``None`` for ``original`` of an image result.

    Text conditions (``original``, ``redact``, ``strip_proxies``) all fall in the ``redaction``
    family, ordered none < explicit < extended < proxies stripped (by how many).
    """
    name, params = cond.name, dict(cond.params)
    if modality == "text" or name in _TEXT_FAMILIES:
        if name == "original":
            return StrengthPoint("redaction", (0, 0, 0.0), "none")
        level = str(params.get("level", "explicit"))
        rank = _REDACT_LEVELS.get(level, len(_REDACT_LEVELS))
        if name == "strip_proxies":
            k = params.get("k", params.get("n", "all"))
            k_num = _number(k)
            tick = f"−{_fmt(k)}" + ("" if level == "extended" else f" ({level})")
            return StrengthPoint("redaction", (2, rank, k_num if k_num is not None else math.inf),
                                 tick)
        if name == "redact":
            return StrengthPoint("redaction", (1, rank, 0.0), level)
        return StrengthPoint("redaction", (3, 0, 0.0), cond.condition.label)
    if name == "original":
        return None
    if name in _STRENGTH and _STRENGTH[name][0] in params:
        param, sign = _STRENGTH[name]
        v = _number(params[param])
        key = (sign * v,) if v is not None else (math.inf,)
        return StrengthPoint(name, key, _fmt(params[param]))
    numeric = [(k, _number(v)) for k, v in params.items() if _number(v) is not None]
    if numeric:
        return StrengthPoint(name, tuple(v for _, v in numeric),
                             ", ".join(f"{k}={_fmt(params[k])}" for k, _ in numeric))
    tick = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) or name
    return StrengthPoint(name, (tick,), tick)


def family_ticks(results: Sequence[AuditResult], family: str) -> list[str]:
    """The tick labels of ``family`` across ``results``, mild to strong (``original`` not included
    for image families)."""
    keys: dict[str, tuple[Any, ...]] = {}
    for r in results:
        for c in r.conditions:
            sp = strength_point(c, r.modality)
            if sp is not None and sp.family == family:
                keys.setdefault(sp.tick, sp.key)
    return sorted(keys, key=lambda t: sort_key(keys[t]))


def families(results: Sequence[AuditResult]) -> list[str]:
    """The families present in ``results``, image families first in a fixed order."""
    seen: list[str] = []
    for r in results:
        for c in r.conditions:
            sp = strength_point(c, r.modality)
            if sp is not None and sp.family not in seen:
                seen.append(sp.family)
    order = list(FAMILY_TITLES)
    return sorted(seen, key=lambda f: (order.index(f) if f in order else len(order) - 1, f))


def task_of(result: AuditResult) -> str | None:
    """The predicted task of a result: ``None`` for race (the default), else e.g. a disease."""
    task = result.extras.get("task")
    return None if task in (None, "", "race") else str(task)


def series_label(result: AuditResult, fallback: str | None = None) -> str:
    """``"imaging · dataset"``: how one result is named in legends and tables."""
    name = result.data.dataset or fallback
    return f"{result.modality} · {name}" if name else result.modality


def sort_key(key: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """A key that sorts mixed numeric/text strength keys without comparing across types."""
    return tuple((0, k) if isinstance(k, int | float) else (1, str(k)) for k in key)
