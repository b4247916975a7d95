"""Span-level scores of a redaction against gold annotations.

Matching follows presidio-research's span evaluator: a predicted span matches a gold span when
their character overlap (intersection over union) reaches ``overlap_threshold``; matches are
one-to-one, best overlap first. Precision is matched predictions over predictions, recall matched
gold spans over gold spans, and F2 weights recall four times as much as precision, as
de-identification work does (a missed term leaks; an extra redaction costs little). Misses and
false hits are listed by ``(note index, start, end)`` only, never by text.

Example
-------
>>> s = score_spans([[(0, 5), (10, 15)]], [[(0, 5)]])
>>> (s.precision, s.recall, s.misses)
(1.0, 0.5, ((0, 10, 15),))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from racelens.errors import ConfigError, DataError

__all__ = ["SpanScores", "score_spans", "combine_span_scores", "as_offsets", "f_beta"]

Offsets = tuple[int, int]


def as_offsets(spans: Iterable[Any] | None) -> list[Offsets]:
    """Normalise one note's spans: ``(start, end)`` pairs, dicts or objects with start/end."""
    out: list[Offsets] = []
    for sp in spans or ():
        if isinstance(sp, Mapping):
            s, e = sp["start"], sp["end"]
        elif hasattr(sp, "start") and hasattr(sp, "end") and not isinstance(sp, Sequence):
            s, e = sp.start, sp.end
        else:
            s, e = sp[0], sp[1]
        s, e = int(s), int(e)
        if e < s or s < 0:
            raise DataError(f"span ({s}, {e}) is not a valid character range; "
                            "expected 0 <= start <= end")
        out.append((s, e))
    return sorted(out)


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    """The F-beta score; 0 when precision and recall are both 0."""
    b2 = beta * beta
    denom = b2 * precision + recall
    return 0.0 if denom == 0 else (1 + b2) * precision * recall / denom


@dataclass(frozen=True)
class SpanScores:
    """Span precision, recall and F2 with the unmatched spans by offsets."""

    precision: float
    recall: float
    f2: float
    n_gold: int
    n_predicted: int
    n_matched: int
    overlap_threshold: float
    misses: tuple[tuple[int, int, int], ...]
    false_hits: tuple[tuple[int, int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f2": self.f2,
                "n_gold": self.n_gold, "n_predicted": self.n_predicted,
                "n_matched": self.n_matched, "overlap_threshold": self.overlap_threshold,
                "misses": [list(m) for m in self.misses],
                "false_hits": [list(f) for f in self.false_hits]}


def _iou(a: Offsets, b: Offsets) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union


def _match(gold: list[Offsets], pred: list[Offsets], threshold: float) -> tuple[set[int], set[int]]:
    pairs = sorted(((_iou(g, p), i, j) for i, g in enumerate(gold) for j, p in enumerate(pred)),
                   reverse=True)
    used_g: set[int] = set()
    used_p: set[int] = set()
    for iou, i, j in pairs:
        if iou <= 0 or iou < threshold:
            break
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
    return used_g, used_p


def score_spans(
    gold_spans: Sequence[Iterable[Any] | None],
    predicted_spans: Sequence[Iterable[Any] | None],
    *,
    overlap_threshold: float = 0.5,
    first_index: int = 0,
) -> SpanScores:
    """Score predicted spans against gold spans, note by note.

    Parameters
    ----------
    gold_spans, predicted_spans
        One list per note of ``(start, end)`` pairs, ``{"start", "end"}`` dicts or span objects,
        all in the original text's offsets.
    overlap_threshold
        Minimum intersection over union (characters) for a match, in ``(0, 1]``.
    first_index
        Index of the first note in misses and false hits (a batch of a larger table).

    Returns
    -------
    SpanScores
        Precision and recall are 1.0 when there is nothing to find or nothing predicted.
    """
    if not 0 < overlap_threshold <= 1:
        raise ConfigError(f"overlap_threshold must be in (0, 1], got {overlap_threshold}")
    if len(gold_spans) != len(predicted_spans):
        raise DataError(f"gold spans cover {len(gold_spans)} notes but predictions cover "
                        f"{len(predicted_spans)}; give one list of spans per note")
    n_gold = n_pred = n_match = 0
    misses: list[tuple[int, int, int]] = []
    false_hits: list[tuple[int, int, int]] = []
    for k, (g_raw, p_raw) in enumerate(zip(gold_spans, predicted_spans, strict=True),
                                       start=first_index):
        gold, pred = as_offsets(g_raw), as_offsets(p_raw)
        mg, mp = _match(gold, pred, overlap_threshold)
        n_gold += len(gold)
        n_pred += len(pred)
        n_match += len(mg)
        misses.extend((k, *g) for i, g in enumerate(gold) if i not in mg)
        false_hits.extend((k, *p) for j, p in enumerate(pred) if j not in mp)
    return _scores(n_gold, n_pred, n_match, overlap_threshold, misses, false_hits)


def _scores(n_gold: int, n_pred: int, n_match: int, overlap_threshold: float,
            misses: Sequence[tuple[int, int, int]],
            false_hits: Sequence[tuple[int, int, int]]) -> SpanScores:
    precision = n_match / n_pred if n_pred else 1.0
    recall = n_match / n_gold if n_gold else 1.0
    return SpanScores(precision, recall, f_beta(precision, recall), n_gold, n_pred, n_match,
                      float(overlap_threshold), tuple(misses), tuple(false_hits))


def combine_span_scores(parts: Sequence[SpanScores], overlap_threshold: float) -> SpanScores:
    """The scores of all notes from the scores of disjoint batches of them (scored with
    ``first_index`` set, so misses and false hits keep their table-wide note index)."""
    return _scores(sum(p.n_gold for p in parts), sum(p.n_predicted for p in parts),
                   sum(p.n_matched for p in parts), overlap_threshold,
                   [m for p in parts for m in p.misses], [f for p in parts for f in p.false_hits])
