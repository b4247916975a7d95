"""Check a redaction: what survived, how well spans match, and how predictable race still is.

:func:`check_redaction` answers four questions about a set of redacted notes, in the spirit of
presidio-research's evaluator and scrubadub's ``comparison.py``:

1. **Residual mentions** - explicit race terms that an independent scan
   (:func:`racelens.text.check.scan.scan_residual`, which shares nothing with the redactor) still finds,
   per note, per 1,000 notes and per group, with the matched terms (never more than the term).
2. **Spans** - with gold annotations: span precision, recall and F2, and the misses and false
   hits by offsets.
3. **Uneven exposure** - with the original notes: how often each group's notes mention race at
   all (explicit mentions are not spread evenly across groups).
4. **Leakage and proxies** - with labels: race predictability from the redacted text by the one
   leakage model of :mod:`racelens.text.check.leakage` (the text audit's model, split and ``C``
   search, so a level's number here equals the audit's: patient-level split, per-group and macro
   AUC with patient-bootstrap intervals, p-value against chance), and the n-grams most
   predictive of each group with their document frequency per group.

Proxies are a k-anonymity-style floor: an n-gram is reported (and, in the text audit, stripped)
only when it occurs in the notes of at least ``min_patients`` distinct *training patients*
(default 10). ``min_df`` counts notes, and a patient's name or MRN written in every one of their
dozens of notes passes any note count; counting patients keeps identifiers out of reports.

Everything in the report is an aggregate, an offset or a short n-gram; no note text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, LabelError, SplitError
from racelens.text.check.leakage import (
    MIN_PATIENTS,
    Leakage,
    Proxy,
    leakage_probe,
    patient_doc_freq,
    reportable_coef,
)
from racelens.text.check.mentions import MentionCounter, MentionStats, mention_stats
from racelens.text.check.scan import ScanLevel
from racelens.text.check.spaneval import SpanScores, score_spans
from racelens.text.models.tfidf import validate_texts

__all__ = ["RedactionReport", "MentionStats", "MentionCounter", "Leakage", "Proxy",
           "check_redaction", "mention_stats", "leakage_probe", "patient_doc_freq", "reportable_coef",
           "run_leakage",
           "MIN_PATIENTS"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedactionReport:
    """Everything :func:`check_redaction` measured; aggregates, offsets and n-grams only."""

    level: str
    n_notes: int
    residual: MentionStats
    original: MentionStats | None = None
    spans: SpanScores | None = None
    leakage: Leakage | None = None
    proxies: Sequence[Proxy] = ()
    notes: Sequence[str] = ()
    leakage_sample: Mapping[str, Any] | None = None  # notes/patients the leakage part used

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "racelens.redaction_check/1", "level": self.level,
                "n_notes": self.n_notes, "residual": self.residual.to_dict(),
                "original": self.original.to_dict() if self.original else None,
                "spans": self.spans.to_dict() if self.spans else None,
                "leakage": self.leakage.to_dict() if self.leakage else None,
                "proxies": [p.to_dict() for p in self.proxies], "notes": list(self.notes),
                "leakage_sample": dict(self.leakage_sample) if self.leakage_sample else None}

    def to_json(self) -> str:
        from racelens.shared.tables import json_default

        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=json_default)

    def summary(self, max_terms: int = 8, max_proxies: int = 5) -> str:
        """A one-screen text summary."""
        r = self.residual
        lines = [f"Redaction check (level {self.level}): {self.n_notes:,} notes",
                 f"Residual mentions: {r.n_mentions:,} in {r.n_notes_with_mentions:,} notes "
                 f"({r.per_1000_notes:.1f} per 1,000 notes)"]
        if r.per_group:
            lines.append("  by group: " + ", ".join(
                f"{g} {int(v['n_mentions'])} ({v['per_1000_notes']:.1f}/1k)"
                for g, v in r.per_group.items()))
        if r.terms:
            lines.append("  terms: " + ", ".join(
                f"{t} {n}" for t, n in list(r.terms.items())[:max_terms]))
        if self.original is not None:
            o = self.original
            lines.append(f"Original notes mentioning race: {o.n_notes_with_mentions:,} of "
                         f"{o.n_notes:,} ({o.per_1000_notes:.1f} mentions per 1,000 notes)")
            if o.per_group:
                lines.append("  notes with a mention, by group: " + ", ".join(
                    f"{g} {v['share_notes_with_mentions']:.1%}" for g, v in o.per_group.items()))
        if self.spans is not None:
            s = self.spans
            lines.append(f"Spans vs gold: precision {s.precision:.3f}, recall {s.recall:.3f}, "
                         f"F2 {s.f2:.3f} ({len(s.misses)} misses, {len(s.false_hits)} false "
                         f"hits of {s.n_gold} gold / {s.n_predicted} predicted)")
        if self.leakage is not None:
            res = self.leakage.result
            m = res.auc.macro
            lines.append(f"Leakage (TF-IDF + LR, {res.n_test:,} test notes): macro AUC "
                         f"{m.estimate:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}], "
                         f"p vs chance {res.p_value_vs_chance:.2g}")
            lines.append("  per group: " + ", ".join(
                f"{g} {e.estimate:.3f}" for g, e in res.auc.per_group.items()
                if e.estimate is not None))
            if self.leakage_sample:
                ls = self.leakage_sample
                lines.append(f"  fitted on {ls['n_notes']:,} notes of {ls['n_patients']:,} "
                             f"patients (of {ls['n_notes_labelled']:,} labelled notes)")
        if self.proxies:
            by_group: dict[str, list[str]] = {}
            for p in self.proxies:
                by_group.setdefault(p.group, []).append(p.ngram)
            for g, grams in by_group.items():
                lines.append(f"  top proxies {g}: " + ", ".join(grams[:max_proxies]))
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)


def _as_labels(labels: Sequence[Any] | None, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    arr = np.asarray([None if pd.isna(v) else str(v) for v in labels], dtype=object)
    if len(arr) != n:
        raise DataError(f"{len(arr)} labels for {n} notes; give one label per note")
    return arr


def _predicted_spans(original_texts: Sequence[str], level: str) -> list[list[tuple[int, int]]]:
    from racelens.text.redact.redactor import RaceRedactor

    redactor = RaceRedactor(level=level)
    return [[(s.start, s.end) for s in r.spans] for r in redactor.redact_batch(original_texts)]


def check_redaction(
    redacted_texts: Sequence[str],
    *,
    original_texts: Sequence[str] | None = None,
    labels: Sequence[Any] | None = None,
    patient_ids: Sequence[Any] | None = None,
    gold_spans: Sequence[Iterable[Any] | None] | None = None,
    predicted_spans: Sequence[Iterable[Any] | None] | None = None,
    level: ScanLevel = "explicit",
    seed: int = 0,
    overlap_threshold: float = 0.5,
    n_boot: int = 1000,
    min_df: int | float | None = None,
    min_patients: int = MIN_PATIENTS,
    top_k: int = 10,
    leakage: bool = True,
    model_params: Mapping[str, Any] | None = None,
) -> RedactionReport:
    """Check a redaction of clinical notes.

    Parameters
    ----------
    redacted_texts
        The notes after redaction.
    original_texts
        The same notes before redaction: per-group mention rates, and (with ``gold_spans`` and
        no ``predicted_spans``) the redactor is run on them to obtain predicted spans.
    labels
        Self-reported race group per note; enables per-group rates and the leakage probe.
    patient_ids
        Patient per note, for the patient-level split and bootstrap (each note is its own
        patient when omitted, which overstates leakage if patients have several notes).
    gold_spans, predicted_spans
        Per note, ``(start, end)`` pairs or dicts in the original text's offsets.
    level
        Which terms the residual scan looks for: ``explicit`` or ``extended``.
    seed
        Seed of the split and the bootstrap.
    overlap_threshold
        Character intersection-over-union for a span match.
    n_boot, min_df, top_k
        Bootstrap resamples, minimum note count of an n-gram (default: the leakage model's, as
        in the text audit), proxies per group.
    min_patients
        A proxy must occur in the notes of at least this many distinct training patients
        (a k-anonymity-style floor: identifiers repeated in one patient's notes never show).
    leakage
        Set False to skip the probe (it needs at least two groups with enough patients).
    model_params
        Constructor arguments of the leakage model (as ``TextAuditConfig.model_params``).

    Returns
    -------
    RedactionReport
    """
    if level not in ("explicit", "extended"):
        raise ConfigError(f"level must be 'explicit' or 'extended', got {level!r}")
    red = validate_texts(redacted_texts, "redacted_texts")
    n = len(red)
    if n == 0:
        raise DataError("no notes to check")
    lab = _as_labels(labels, n)
    orig = None
    if original_texts is not None:
        orig = validate_texts(original_texts, "original_texts")
        if len(orig) != n:
            raise DataError(f"{len(orig)} original notes for {n} redacted notes")
    notes: list[str] = []
    residual = mention_stats(red, lab, level)
    original = mention_stats(orig, lab, level) if orig is not None else None
    spans = None
    if gold_spans is not None:
        if len(gold_spans) != n:
            raise DataError(f"gold spans for {len(gold_spans)} notes; expected {n}")
        if predicted_spans is None:
            if orig is None:
                raise ConfigError("gold_spans need the redactor's predictions: give "
                                  "predicted_spans or original_texts")
            predicted_spans = _predicted_spans(orig, level)
        spans = score_spans(gold_spans, predicted_spans, overlap_threshold=overlap_threshold)
    leak, proxies, sample = None, [], None
    if leakage and lab is not None:
        if patient_ids is None:
            notes.append("no patient ids: each note treated as its own patient")
            pids = np.arange(n)
        else:
            if len(patient_ids) != n:
                raise DataError(f"{len(patient_ids)} patient ids for {n} notes")
            pids = np.asarray(patient_ids, dtype=object)
        keep = np.flatnonzero([v is not None for v in lab])
        leak, proxies, sample = run_leakage(
            [red[i] for i in keep], lab[keep], pids[keep], notes, n_unlabelled=n - len(keep),
            level=level, seed=seed, n_boot=n_boot, min_df=min_df, min_patients=min_patients,
            top_k=top_k, model_params=model_params)
    return RedactionReport(level, n, residual, original, spans, leak, tuple(proxies),
                           tuple(notes), sample)


def run_leakage(texts: Sequence[str], labels: np.ndarray, patient_ids: np.ndarray,
                notes: list[str], *, n_unlabelled: int, n_labelled: int | None = None,
                **probe: Any) -> tuple[Leakage | None, list[Proxy], dict[str, Any]]:
    """The leakage part of a check on labelled notes: probe, proxies, and what it used.

    A probe that cannot run (one group, too few patients) adds a line to ``notes`` instead of
    failing the check. ``n_labelled`` is the number of labelled notes in the whole input when
    ``texts`` is a sample of them.
    """
    if n_unlabelled:
        notes.append(f"{n_unlabelled} notes without a label left out of the leakage probe")
    sample = {"n_notes": len(texts), "n_patients": int(pd.unique(patient_ids).size),
              "n_notes_labelled": len(texts) if n_labelled is None else n_labelled}
    try:
        leak, proxies = leakage_probe(texts, labels, patient_ids, **probe)
    except (SplitError, LabelError) as exc:
        log.warning("leakage probe skipped: %s", exc)
        notes.append(f"leakage probe skipped: {exc}")
        return None, [], sample
    return leak, proxies, sample
