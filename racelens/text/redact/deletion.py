"""Deletion offsets: what a deletion keeps, and mapping spans found in its output back.

Deletion (``replacement=""``) removes each mention and one space with it where the mention stood
after a space, a line break or the start of the text and before a space. A deletion can join the
words around a mention into a new one ("African Caucasian American"), so the redactor scans its
own output again; :func:`to_original` maps what it finds back onto the original offsets and
:func:`widen` merges overlapping spans into one with the rule ``joined``.
"""

from __future__ import annotations

from bisect import bisect_right

from racelens.text.redact.spans import LABEL, Span

__all__ = ["kept_pieces", "to_original", "widen"]


def kept_pieces(text: str, spans: list[Span]) -> list[tuple[int, int]]:
    """The ``(start, end)`` pieces of ``text`` a deletion keeps (see ``RaceRedactor.redact``)."""
    pieces: list[tuple[int, int]] = []
    last = 0
    for i, s in enumerate(spans):
        if last < s.start:
            pieces.append((last, s.start))
        last = s.end
        nxt = spans[i + 1].start if i + 1 < len(spans) else len(text)
        if (last < nxt and text[last] == " "
                and (s.start == 0 or text[s.start - 1] in " \n")):
            last += 1  # the space a deletion left doubled
    if last < len(text):
        pieces.append((last, len(text)))
    return pieces


def to_original(pieces: list[tuple[int, int]], spans: list[Span]) -> list[Span]:
    """Spans of the deleted text mapped back onto the original text's offsets."""
    offsets, pos = [], 0
    for a, b in pieces:
        offsets.append(pos)
        pos += b - a

    def orig(i: int) -> int:
        k = bisect_right(offsets, i) - 1
        return pieces[k][0] + i - offsets[k]

    return [Span(orig(s.start), orig(s.end - 1) + 1, s.label, s.category, s.rule, "")
            for s in spans]


def widen(text: str, spans: list[Span], found: list[Span]) -> list[Span]:
    """``spans`` and the mentions ``found`` in the deleted text (mapped back); overlapping ones
    become one span with the found mention's category and the rule ``joined``."""
    groups: list[list[tuple[Span, bool]]] = []
    end = -1
    for s, is_new in sorted([(s, False) for s in spans] + [(s, True) for s in found],
                            key=lambda x: (x[0].start, x[0].end)):
        if groups and s.start < end:  # overlaps the group so far
            groups[-1].append((s, is_new))
            end = max(end, s.end)
        else:
            groups.append([(s, is_new)])
            end = s.end
    out = []
    for g in groups:
        start, stop = g[0][0].start, max(s.end for s, _ in g)
        src = next((s for s, is_new in g if is_new), g[0][0])
        out.append(Span(start, stop, LABEL, src.category, "joined" if len(g) > 1 else src.rule,
                        text[start:stop]))
    return out
