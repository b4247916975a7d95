"""Counting race-term mentions in notes, overall, per term, per category and per group.

The scan is :func:`racelens.text.check.scan.scan_residual` (independent of the redactor).
:class:`MentionCounter` adds notes batch by batch, so a table of any size is counted in bounded
memory; :func:`mention_stats` counts one in-memory list. Both give the same
:class:`MentionStats` for the same notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from racelens.text.check.scan import ScanLevel, scan_residual

__all__ = ["MentionStats", "MentionCounter", "mention_stats"]


@dataclass(frozen=True)
class MentionStats:
    """Scanned race-term mentions over a set of notes, overall and per group."""

    n_notes: int
    n_mentions: int
    n_notes_with_mentions: int
    per_1000_notes: float
    terms: Mapping[str, int]
    categories: Mapping[str, int]
    per_group: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_notes": self.n_notes, "n_mentions": self.n_mentions,
                "n_notes_with_mentions": self.n_notes_with_mentions,
                "per_1000_notes": self.per_1000_notes, "terms": dict(self.terms),
                "categories": dict(self.categories),
                "per_group": {g: dict(v) for g, v in self.per_group.items()}}


class MentionCounter:
    """Accumulates :class:`MentionStats` over batches of notes (streaming checks).

    Adding notes batch by batch gives exactly what :func:`mention_stats` gives on all of them.
    """

    def __init__(self, level: ScanLevel = "explicit") -> None:
        self.level = level
        self.n_notes = 0
        self.n_mentions = 0
        self.n_with = 0
        self.terms: dict[str, int] = {}
        self.cats: dict[str, int] = {}
        self.groups: dict[str, list[int]] = {}  # group -> [notes, mentions, notes with mentions]
        self.labelled = False

    def add(self, texts: Sequence[str], labels: Sequence[Any] | None = None) -> None:
        """Scan ``texts`` (with their group labels, or ``None``) and add them to the counts."""
        if labels is not None:
            self.labelled = True
        for i, t in enumerate(texts):
            hits = scan_residual(t, self.level)
            self.n_notes += 1
            self.n_mentions += len(hits)
            self.n_with += bool(hits)
            for _, _, term, cat in hits:
                self.terms[term] = self.terms.get(term, 0) + 1
                self.cats[cat] = self.cats.get(cat, 0) + 1
            g = None if labels is None else labels[i]
            if g is not None:
                acc = self.groups.setdefault(g, [0, 0, 0])
                acc[0] += 1
                acc[1] += len(hits)
                acc[2] += bool(hits)

    def stats(self) -> MentionStats:
        """The counts so far as :class:`MentionStats`."""
        per_group = {g: {"n_notes": k, "n_mentions": m, "n_notes_with_mentions": w,
                         "per_1000_notes": 1000.0 * m / k, "share_notes_with_mentions": w / k}
                     for g, (k, m, w) in sorted(self.groups.items())}
        n = self.n_notes
        return MentionStats(n, self.n_mentions, self.n_with,
                            1000.0 * self.n_mentions / n if n else 0.0,
                            dict(sorted(self.terms.items(), key=lambda kv: (-kv[1], kv[0]))),
                            dict(sorted(self.cats.items())), per_group)


def mention_stats(texts: Sequence[str], labels: np.ndarray | None = None,
                  level: ScanLevel = "explicit") -> MentionStats:
    """Scan every note and count mentions overall, per term, per category and per group."""
    counter = MentionCounter(level)
    counter.add(texts, labels)
    return counter.stats()
