"""Where a condition sits on its family's strength axis, mild to strong: the report only draws it.

The axis belongs to whoever built the condition: an image perturbation knows that a small
low-pass radius is a strong change and a small high-pass radius a weak one; a redaction level
knows its rank. Each condition of a result carries its
:class:`~racelens.shared.results.Strength` (``family`` = the panel, ``rank`` = the sort key,
``label`` = the tick). For files written before conditions carried one, the modality's
registered axis places the condition (:func:`racelens.shared.report.registry.register_strength`);
a condition no one registered is placed by its numeric parameters.

Example
-------
>>> from racelens.shared.results import AUCBlock, Condition, ConditionResult, Estimate, Strength
>>> s = Strength("lowpass", "radius", 10, (-10.0,), "10")
>>> c = ConditionResult(Condition("lowpass", {"radius": 10}), AUCBlock(Estimate(0.8), {}), None, 1,
...                     strength=s)
>>> strength_point(c).tick
'10'
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from racelens.shared.report.registry import strength_axes, strength_axis
from racelens.shared.results import AuditResult, Condition, ConditionResult, Strength

__all__ = ["FAMILY_TITLES", "StrengthPoint", "strength_point", "place_by_params", "families",
           "family_ticks", "family_title", "series_label", "sort_key", "task_of", "fmt_value",
           "number"]

#: The older name of a condition's place on its axis.
StrengthPoint = Strength


class _FamilyTitles(Mapping[str, str]):
    """Panel titles of the registered families (read from the registry on each access)."""

    def _titles(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for axis in strength_axes():
            for fam, title in axis.family_titles.items():
                out.setdefault(fam, title)
        return out

    def __getitem__(self, family: str) -> str:
        return self._titles()[family]

    def __iter__(self) -> Iterator[str]:
        return iter(self._titles())

    def __len__(self) -> int:
        return len(self._titles())


FAMILY_TITLES: Mapping[str, str] = _FamilyTitles()


def fmt_value(v: Any) -> str:
    """A parameter value as a tick: ``10.0`` as ``10``."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def number(v: Any) -> float | None:
    """``v`` as a finite float, else ``None``."""
    try:
        out = float(v)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def place_by_params(condition: Condition, title: str = "") -> Strength:
    """The fallback placement: the family is the condition's name, ranked by its numeric
    parameters in order (``grid=3, index=4``), else by their text."""
    params = dict(condition.params)
    numeric = [(k, number(v)) for k, v in params.items() if number(v) is not None]
    if numeric:
        label = ", ".join(f"{k}={fmt_value(params[k])}" for k, _ in numeric)
        return Strength(condition.name, numeric[0][0] if len(numeric) == 1 else None,
                        params[numeric[0][0]] if len(numeric) == 1 else None,
                        tuple(v for _, v in numeric), label, title)
    label = ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items()) or condition.name
    return Strength(condition.name, None, None, (label,), label, title)


def strength_point(cond: ConditionResult, modality: str = "imaging") -> Strength | None:
    """The condition's place on its axis: the one it carries, else the registered axis's.

    ``None`` for a condition on no axis (the original images, a covariate baseline).
    """
    if cond.strength is not None:
        return cond.strength
    axis = strength_axis(cond.name, modality)
    if axis is not None:
        return axis.place(cond.condition)
    if cond.name == "original":
        return None
    return place_by_params(cond.condition)


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


def _family_order() -> dict[str, int]:
    order: dict[str, int] = {}
    for axis in strength_axes():
        for fam in axis.family_titles:
            order.setdefault(fam, axis.order)
    return order


def families(results: Sequence[AuditResult]) -> list[str]:
    """The families present in ``results``, in the order their axes were registered with."""
    seen: list[str] = []
    for r in results:
        for c in r.conditions:
            sp = strength_point(c, r.modality)
            if sp is not None and sp.family not in seen:
                seen.append(sp.family)
    order = _family_order()
    last = max(order.values(), default=0)
    return sorted(seen, key=lambda f: (order.get(f, last), f not in order, f))


def family_title(results: Sequence[AuditResult], family: str) -> str:
    """A family's panel title: registered, else carried by a condition, else the family name."""
    if family in FAMILY_TITLES:
        return FAMILY_TITLES[family]
    for r in results:
        for c in r.conditions:
            if c.strength is not None and c.strength.family == family and c.strength.title:
                return c.strength.title
    return family


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
