"""Typed estimates: a point with its interval, and the AUC block of one condition.

The metrics return these (:func:`racelens.shared.metrics.auc_with_ci` gives an
:class:`AUCBlock`), and ``result.json`` stores them as they are (``to_dict``/``from_dict``),
so nothing is parsed back from dicts and a note (a group absent from the test set) survives
into the file.

Example
-------
>>> Estimate(0.8, 0.7, 0.9).contains(0.75)
True
>>> Estimate(None, note="group absent from the test set: no AUC").to_dict()["note"]
'group absent from the test set: no AUC'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from racelens.errors import SchemaError

__all__ = ["Estimate", "AUCBlock", "finite_or_none"]


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, ``None`` for ``None`` or NaN (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval (``None`` where undefined).

    ``note`` says why a value is missing or what it averages (``None``: nothing to say).
    """

    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"estimate": finite_or_none(self.estimate), "ci_low": finite_or_none(self.ci_low),
                             "ci_high": finite_or_none(self.ci_high)}
        if self.note:
            d["note"] = self.note
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        try:
            return cls(d["estimate"], d.get("ci_low"), d.get("ci_high"), d.get("note"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise SchemaError(f"an estimate needs 'estimate', 'ci_low', 'ci_high'; got {d!r}") from exc

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (closed)."""
        return (self.ci_low is not None and self.ci_high is not None
                and self.ci_low <= value <= self.ci_high)


@dataclass(frozen=True)
class AUCBlock:
    """Macro AUC and one-vs-rest AUC per group, each with an interval."""

    macro: Estimate
    per_group: Mapping[str, Estimate]

    def to_dict(self) -> dict[str, Any]:
        return {"macro": self.macro.to_dict(),
                "per_group": {g: e.to_dict() for g, e in self.per_group.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AUCBlock:
        if "macro" not in d or "per_group" not in d:
            raise SchemaError("an 'auc' block needs 'macro' and 'per_group'")
        return cls(Estimate.from_dict(d["macro"]),
                   {g: Estimate.from_dict(e) for g, e in d["per_group"].items()})
