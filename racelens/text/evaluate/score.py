"""Score the redactor against a gold corpus: span precision, recall and F2, per category, misses.

As presidio-research's evaluator does: predicted spans are matched one-to-one to gold spans by
character overlap (intersection over union >= ``overlap_threshold``,
:func:`racelens.text.check.spaneval.score_spans`); precision is matched predictions over
predictions, recall matched gold spans over gold spans, F2 weighs recall four times (a missed
mention leaks, an extra redaction costs little). Every gold span missed and every prediction
unmatched is listed with its sample id and category (and, in the per-sample file only, its text).

Categories: a gold category is the annotator's label, normalised (``"Black or African American"``
-> ``black_or_african_american``). Where it names a racelens category (``black``, ``white``,
``hispanic_latino`` ...), it is scored against the predictions of that category (precision,
recall and F2); any other label (``race``, C-REACT's indicator labels) gets the recall of its
spans against all predictions. At ``level="explicit"`` gold spans whose category names national
origin, language, birthplace or immigration are not scored (counted as excluded); ``extended``
scores them all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racelens.errors import ConfigError
from racelens.text.check.spaneval import f_beta, score_spans
from racelens.text.evaluate.gold import GoldCorpus
from racelens.text.redact.lexicon import LEVELS, Level
from racelens.text.redact.redactor import RaceRedactor

__all__ = ["EVALUATION_SCHEMA", "Evaluation", "Miss", "evaluate_redactor", "normalise_category"]

EVALUATION_SCHEMA = "racelens.evaluation/1"
# gold labels beyond explicit race and ethnicity (racelens's "extended" level)
_EXTENDED_HINTS = ("national", "country", "origin", "language", "speak", "interpreter", "birth",
                   "immigra", "refugee", "ancestry", "citizen")


def normalise_category(label: str) -> str:
    """An annotator's label as a category key: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_") or "unspecified"


def _is_extended(category: str, extended_categories: set[str]) -> bool:
    return category in extended_categories or any(h in category for h in _EXTENDED_HINTS)


@dataclass(frozen=True)
class Miss:
    """A gold span not found (``kind="miss"``) or a prediction matching no gold span
    (``kind="false_hit"``); ``text`` is the annotated text (per-sample file only)."""

    kind: str
    sample: str
    start: int
    end: int
    category: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sample": self.sample, "start": self.start, "end": self.end,
                "category": self.category, "text": self.text}


@dataclass(frozen=True)
class Evaluation:
    """The aggregate scores (:meth:`to_dict`, counts only) and the misses (per-sample data)."""

    summary: dict[str, Any]
    misses: tuple[Miss, ...]

    def to_dict(self) -> dict[str, Any]:
        return self.summary

    def lines(self) -> list[str]:
        """Aggregate lines for a terminal: overall, then per category."""
        s = self.summary
        o = s["overall"]
        out = [f"{s['n_samples']:,} samples, {o['n_gold']:,} gold spans, {o['n_predicted']:,} "
               f"predicted: precision {o['precision']:.3f}, recall {o['recall']:.3f}, "
               f"F2 {o['f2']:.3f}"]
        for cat, c in s["by_category"].items():
            p = "   -  " if c["precision"] is None else f"{c['precision']:.3f}"
            out.append(f"  {cat:<36} gold {c['n_gold']:>6,}  recall {c['recall']:.3f}  precision {p}")
        return out


def _scores(n_gold: int, n_pred: int | None, n_match: int) -> dict[str, Any]:
    recall = n_match / n_gold if n_gold else 1.0
    if n_pred is None:
        return {"n_gold": n_gold, "n_predicted": None, "n_matched": n_match, "precision": None,
                "recall": recall, "f2": None}
    precision = n_match / n_pred if n_pred else 1.0
    return {"n_gold": n_gold, "n_predicted": n_pred, "n_matched": n_match, "precision": precision,
            "recall": recall, "f2": f_beta(precision, recall)}


def evaluate_redactor(corpus: GoldCorpus, *, level: Level = "explicit",
                      redactor: RaceRedactor | None = None,
                      overlap_threshold: float = 0.5) -> Evaluation:
    """Run ``redactor`` (default: ``RaceRedactor(level=level)``) on every gold sample and score it.

    Parameters
    ----------
    corpus
        From :func:`racelens.text.evaluate.gold.read_gold`.
    level
        ``explicit`` scores race and ethnicity spans only; ``extended`` scores every gold span.
    redactor
        The redactor to score (its own level decides what it finds).
    overlap_threshold
        Minimum intersection over union of a match, in ``(0, 1]``.

    Examples
    --------
    >>> from racelens.text.evaluate.gold import GoldCorpus, GoldSample, GoldSpan
    >>> gold = GoldCorpus("jsonl", "-", (GoldSample("1", "72F black w/ GERD",
    ...                                              (GoldSpan(4, 9, "black"),)),))
    >>> evaluate_redactor(gold).summary["overall"]["recall"]
    1.0
    """
    if level not in LEVELS:
        raise ConfigError(f"unknown level {level!r}; use one of {list(LEVELS)}")
    r = redactor if redactor is not None else RaceRedactor(level=level)
    ours = {t.category for t in r.terms} | ({"language", "birthplace"} if r.level == "extended" else set())
    extended = {t.category for t in r.terms if t.level == "extended"} | {"language", "birthplace"}
    gold: list[list[tuple[int, int, str]]] = []
    pred: list[list[tuple[int, int, str]]] = []
    excluded: Counter[str] = Counter()
    for sample in corpus.samples:
        keep = []
        for g in sample.spans:
            cat = normalise_category(g.category)
            if level == "explicit" and _is_extended(cat, extended):
                excluded[cat] += 1
            else:
                keep.append((g.start, g.end, cat))
        gold.append(keep)
        pred.append([(s.start, s.end, s.category) for s in r.analyze(sample.text)])

    def offsets(rows: Sequence[list[tuple[int, int, str]]], cat: str | None = None) -> list[list[tuple[int, int]]]:
        return [[(a, b) for a, b, c in row if cat is None or c == cat] for row in rows]

    overall = score_spans(offsets(gold), offsets(pred), overlap_threshold=overlap_threshold)
    by_category: dict[str, dict[str, Any]] = {}
    for cat in sorted({c for row in gold for _, _, c in row}):
        if cat in ours:
            sc = score_spans(offsets(gold, cat), offsets(pred, cat), overlap_threshold=overlap_threshold)
            by_category[cat] = _scores(sc.n_gold, sc.n_predicted, sc.n_matched)
        else:  # a label racelens has no category for: the recall of its spans, any prediction
            sc = score_spans(offsets(gold, cat), offsets(pred), overlap_threshold=overlap_threshold)
            by_category[cat] = _scores(sc.n_gold, None, sc.n_matched)
    false_keys = set(overall.false_hits)
    by_predicted: dict[str, dict[str, int]] = {}
    for k, row in enumerate(pred):
        for a, b, c in row:
            d = by_predicted.setdefault(c, {"n_predicted": 0, "n_false_hits": 0})
            d["n_predicted"] += 1
            d["n_false_hits"] += (k, a, b) in false_keys
    category_of = {(k, a, b): c for k, row in enumerate(gold) for a, b, c in row}
    pred_category = {(k, a, b): c for k, row in enumerate(pred) for a, b, c in row}
    samples = corpus.samples
    misses = tuple(
        [Miss("miss", samples[k].id, a, b, category_of[k, a, b], samples[k].text[a:b])
         for k, a, b in overall.misses]
        + [Miss("false_hit", samples[k].id, a, b, pred_category[k, a, b], samples[k].text[a:b])
           for k, a, b in overall.false_hits])
    summary = {
        "schema": EVALUATION_SCHEMA, "format": corpus.format, "level": level,
        "redactor": {"level": r.level, "lexicon": r.lexicon if isinstance(r.lexicon, str | None)
                     else repr(r.lexicon)},
        "overlap_threshold": float(overlap_threshold), "n_samples": len(samples),
        "overall": _scores(overall.n_gold, overall.n_predicted, overall.n_matched),
        "by_category": by_category,
        "by_predicted_category": dict(sorted(by_predicted.items())),
        "excluded_by_level": dict(sorted(excluded.items())),
        "unused_annotations": dict(sorted(corpus.unused.items())),
        "n_misses": len(overall.misses), "n_false_hits": len(overall.false_hits),
    }
    return Evaluation(summary, misses)
