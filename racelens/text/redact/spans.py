"""What the redactor returns: :class:`Span` (one mention, explaining itself) and :class:`Redaction`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LABEL", "Span", "Redaction"]

LABEL = "RACE_ETHNICITY"


@dataclass(frozen=True)
class Span:
    """One redacted mention, in the original text's character offsets.

    Attributes
    ----------
    start, end
        Offsets into the original text (``text[start:end]`` is the mention).
    label
        The entity label, always ``"RACE_ETHNICITY"``.
    category
        The group named (``black``, ``hispanic_latino``, ``national_origin`` ...).
    rule
        Why it was redacted: ``term``, ``demographic_slot``, ``person_context``,
        ``group_list``, ``age_context``, ``identity_context``, ``demographic_line``, ``language``,
        ``birthplace``; with deletion also ``joined``: the words around a deleted mention
        joined into another one ("African Caucasian American"), the span covers all of it.
    text
        The matched text (the term only, never more context).
    """

    start: int
    end: int
    label: str
    category: str
    rule: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The span as a plain dict."""
        return asdict(self)


_new = object.__new__
_set = object.__setattr__


def new_span(start: int, end: int, category: str, rule: str, text: str) -> Span:
    """``Span(start, end, LABEL, category, rule, text)``, built in one step: a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``, which doubled the redactor's
    cost of making its spans."""
    span = _new(Span)
    _set(span, "__dict__", {"start": start, "end": end, "label": LABEL, "category": category,
                            "rule": rule, "text": text})
    return span


@dataclass(frozen=True)
class Redaction:
    """The redacted text and the spans replaced (or deleted), sorted and non-overlapping."""

    text: str
    spans: list[Span] = field(default_factory=list)
