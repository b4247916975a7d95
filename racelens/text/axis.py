"""The strength axis of the text conditions: redaction level, then proxies removed.

Every text condition falls in one family, ``redaction``: ``original`` (nothing removed), then
``redact`` by level (``explicit`` < ``extended``, the lexicon's order), then ``strip_proxies``
by how many proxy n-grams were removed. The text audit attaches :func:`place`'s
:class:`~racelens.shared.results.Strength` to each condition; the text plugin registers it so
the report places the conditions of older result files too.

Example
-------
>>> from racelens.shared.results import Condition
>>> place(Condition("strip_proxies", {"level": "explicit", "k": 5})).label
'−5 (explicit)'
"""

from __future__ import annotations

import math

from racelens.shared.report.strength import fmt_value, number
from racelens.shared.results import Condition, Strength
from racelens.text.redact.lexicon import LEVELS

__all__ = ["FAMILY", "TITLE", "place"]

FAMILY = "redaction"
TITLE = "Notes: redaction level, then proxies removed (−k)"
_RANK = {lv: i for i, lv in enumerate(("none", *LEVELS))}


def place(condition: Condition) -> Strength:
    """Where a text condition sits on the redaction axis, mild to strong."""
    name, params = condition.name, dict(condition.params)
    if name == "original":
        return Strength(FAMILY, "level", "none", (0, 0, 0.0), "none", TITLE)
    level = str(params.get("level", "explicit"))
    rank = _RANK.get(level, len(_RANK))
    if name == "strip_proxies":
        k = params.get("k", params.get("n", "all"))
        k_num = number(k)
        label = f"−{fmt_value(k)}" + ("" if level == "extended" else f" ({level})")
        return Strength(FAMILY, "k", k, (2, rank, k_num if k_num is not None else math.inf),
                        label, TITLE)
    if name == "redact":
        return Strength(FAMILY, "level", level, (1, rank, 0.0), level, TITLE)
    return Strength(FAMILY, None, None, (3, 0, 0.0), condition.label, TITLE)
