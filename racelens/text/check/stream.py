"""Check the redaction of a note table of any size in bounded memory.

:func:`check_file` reads the table chunk by chunk
(:func:`racelens.shared.tables.iter_table_chunks`) and keeps only counters for the residual
scan, the mention rates and the span scores. The leakage probe needs the notes themselves, so it
is fitted on a bounded sample of *whole patients*: patients are ordered by a seeded hash of their
id and taken in that order while their notes fit in ``max_leakage_notes``. The sample depends on
the seed and the ids only (not on the row order or the chunk size), and the report records how
many notes and patients it holds (``leakage_sample``).

Peak memory is one chunk plus the leakage sample (and its TF-IDF matrix), not the table.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import heapq
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.text.check.mentions import MentionCounter
from racelens.text.check.report import MIN_PATIENTS, RedactionReport, _predicted_spans, run_leakage
from racelens.text.check.scan import ScanLevel
from racelens.text.check.spaneval import SpanScores, combine_span_scores, score_spans

__all__ = ["check_file", "PatientSample"]

log = logging.getLogger(__name__)

_STREAMED = (".csv", ".csv.gz", ".parquet", ".pq", ".jsonl", ".jsonl.gz", ".ndjson")


class PatientSample:
    """The notes of the patients with the smallest seeded hashes that fit in ``max_notes``.

    Single pass, bounded memory: when the kept notes exceed ``max_notes``, the kept patient with
    the largest hash is dropped, and no patient hashed at or above it is taken afterwards. The
    result is the longest prefix, in hash order, of all patients whose notes fit.
    """

    def __init__(self, max_notes: int, seed: int) -> None:
        if max_notes < 1:
            raise ConfigError(f"max_leakage_notes must be >= 1, got {max_notes}")
        self.max_notes, self.seed = max_notes, seed
        self.cutoff: int | None = None
        self.kept: dict[Any, list[tuple[int, str, str]]] = {}
        self.heap: list[tuple[int, str, Any]] = []
        self.n_kept = 0
        self.n_offered = 0

    def _hash(self, pid: Any) -> int:
        digest = hashlib.blake2b(f"{self.seed}\x00{pid}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def add(self, row: int, text: str, label: str, pid: Any) -> None:
        """Offer one labelled note (``row``: its position in the table)."""
        self.n_offered += 1
        notes = self.kept.get(pid)
        if notes is None:
            h = self._hash(pid)
            if self.cutoff is not None and h >= self.cutoff:
                return
            notes = self.kept[pid] = []
            heapq.heappush(self.heap, (-h, str(pid), pid))
        notes.append((row, text, label))
        self.n_kept += 1
        while self.n_kept > self.max_notes:
            neg_h, _, drop = heapq.heappop(self.heap)
            self.n_kept -= len(self.kept.pop(drop))
            self.cutoff = -neg_h

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Texts, labels and patient ids of the sample, in table order."""
        rows = sorted((r, t, g, pid) for pid, notes in self.kept.items() for r, t, g in notes)
        return ([r[1] for r in rows], np.asarray([r[2] for r in rows], dtype=object),
                np.asarray([r[3] for r in rows], dtype=object))


class _LabelMap:
    """Raw race values to canonical races and collapse groups (the one label policy's first
    steps), harmonised once per distinct value."""

    def __init__(self, collapse: str, source: str) -> None:
        self.collapse, self.source = collapse, source
        self.known: dict[Any, tuple[str, str | None]] = {}

    def _learn(self, values: list[str | None]) -> None:
        from racelens.shared.labels import apply_collapse, harmonize

        new = sorted({v for v in values if v is not None and v not in self.known})
        if new:
            h = harmonize(new, self.source)  # type: ignore[arg-type]
            groups, _ = apply_collapse(h, self.collapse)
            self.known.update((v, (str(r), None if pd.isna(g) else str(g)))
                              for v, r, g in zip(new, h["race"], groups, strict=True))

    def canonical(self, raw: Sequence[Any]) -> list[str | None]:
        """Canonical races (``None`` for a missing value)."""
        values = [None if pd.isna(v) else str(v) for v in raw]
        self._learn(values)
        return [None if v is None else self.known[v][0] for v in values]

    def __call__(self, raw: Sequence[Any]) -> list[str | None]:
        """Collapse groups (``None``: excluded or missing)."""
        values = [None if pd.isna(v) else str(v) for v in raw]
        self._learn(values)
        return [None if v is None else self.known[v][1] for v in values]


def _no_patient(pid: Any) -> bool:
    return pid is None or (not isinstance(pid, str) and pd.isna(pid)) or not str(pid).strip()


def _inconsistent(path: Path, label_col: str, patient_col: str, chunk_rows: int,
                  labels_of: _LabelMap) -> set[str]:
    """First pass over the label and patient columns only: the patients whose known race differs
    across rows, as the one label policy drops them (the audit's ``consistency="drop"``)."""
    from racelens.shared.labels import PatientRaces

    races = PatientRaces()
    for df in _chunks(path, [label_col, patient_col], chunk_rows):
        races.add(df[patient_col].tolist(), labels_of.canonical(df[label_col].tolist()))
    return races.inconsistent()


def _chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    from racelens.shared.tables import iter_table_chunks, read_table

    if not path.name.lower().endswith(_STREAMED):  # TSV, Excel, JSON: read whole
        yield read_table(path, columns=columns)
        return
    for table in iter_table_chunks(path, chunk_rows, columns=columns):
        yield table.to_pandas()


def _check_utf8(path: Path) -> None:
    """Refuse a CSV/JSON-lines file that is not valid UTF-8 (the chunk reader replaces bad
    bytes; a check must not count mentions in text it did not read faithfully)."""
    if path.name.lower().endswith((".parquet", ".pq")):
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    offset = 0
    with opener(path, "rb") as fh:
        while block := fh.read(1 << 24):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: not valid utf-8 (byte {offset + exc.start:,}); "
                                "re-encode the file as UTF-8") from exc
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid utf-8 (truncated at the end)") from exc


def _texts(values: Any) -> list[str]:
    return [v if isinstance(v, str) else "" for v in values]


def check_file(
    path: str | os.PathLike[str],
    *,
    text_col: str = "text",
    label_col: str | None = None,
    patient_col: str | None = None,
    original_col: str | None = None,
    gold_spans: Sequence[Any] | None = None,
    level: ScanLevel = "explicit",
    collapse: str = "abw",
    race_source: str = "auto",
    seed: int = 0,
    overlap_threshold: float = 0.5,
    n_boot: int = 1000,
    min_df: int | float | None = None,
    min_patients: int = MIN_PATIENTS,
    top_k: int = 10,
    leakage: bool = True,
    max_leakage_notes: int = 50_000,
    chunk_rows: int = 10_000,
    model_params: dict[str, Any] | None = None,
    consistency: Literal["drop", "none"] = "drop",
) -> RedactionReport:
    """Check the redaction of a note table file (CSV, parquet, JSON lines) in bounded memory.

    Parameters
    ----------
    path
        The redacted note table.
    text_col, label_col, patient_col, original_col
        Columns: redacted text; raw race values (harmonised with ``race_source`` and collapsed
        with ``collapse``); patient id (else each note is its own patient); original text.
    gold_spans
        One entry of ``(start, end)`` spans per row (original offsets); needs ``original_col``.
    max_leakage_notes
        Most notes the leakage probe is fitted on (whole patients, chosen by a seeded hash).
    chunk_rows
        Rows read at a time.
    consistency
        ``drop`` (default): notes of a patient whose race differs across rows, or without a
        patient id, are left unlabelled, as the one label policy (and so ``text audit``) leaves
        them out; it costs one more pass over the label and patient columns. ``none``: no rule.
    level, seed, overlap_threshold, n_boot, min_df, min_patients, top_k, leakage, model_params
        As in :func:`racelens.text.check.report.check_redaction`.

    Returns
    -------
    RedactionReport
        With ``leakage_sample``: the notes and patients the leakage probe used.
    """
    if level not in ("explicit", "extended"):
        raise ConfigError(f"level must be 'explicit' or 'extended', got {level!r}")
    if gold_spans is not None and original_col is None:
        raise ConfigError("gold spans need the original text: give original_col")
    path = Path(path)
    columns = list(dict.fromkeys(c for c in (text_col, label_col, patient_col, original_col)
                                 if c))
    if consistency not in ("drop", "none"):
        raise ConfigError(f"consistency must be 'drop' or 'none', got {consistency!r}")
    labels_of = _LabelMap(collapse, race_source) if label_col else None
    drop: set[str] | None = None
    if labels_of is not None and label_col and patient_col and consistency == "drop":
        drop = _inconsistent(path, label_col, patient_col, chunk_rows, labels_of)
    residual, original = MentionCounter(level), MentionCounter(level) if original_col else None
    sample = PatientSample(max_leakage_notes, seed) if leakage and label_col else None
    spans: list[SpanScores] = []
    n = n_unlabelled = 0
    checked_utf8 = False
    for df in _chunks(path, columns, chunk_rows):
        red = _texts(df[text_col])
        orig = _texts(df[original_col]) if original_col else []
        if not checked_utf8 and any("\ufffd" in t for t in (*red, *orig)):
            _check_utf8(path)
            checked_utf8 = True
        lab = labels_of(df[label_col].tolist()) if labels_of else None
        if lab is not None and drop is not None:
            lab = [None if _no_patient(p) or str(p) in drop else g
                   for g, p in zip(lab, df[patient_col].tolist(), strict=True)]
        residual.add(red, lab)
        if original is not None:
            original.add(orig, lab)
            if gold_spans is not None:
                spans.append(score_spans(gold_spans[n:n + len(df)], _predicted_spans(orig, level),
                                         overlap_threshold=overlap_threshold, first_index=n))
        if sample is not None and lab is not None:
            pids = df[patient_col].tolist() if patient_col else range(n, n + len(df))
            for k, (t, g, pid) in enumerate(zip(red, lab, pids, strict=True)):
                if g is None:
                    n_unlabelled += 1
                else:
                    sample.add(n + k, t, g, pid)
        n += len(df)
    if n == 0:
        raise DataError(f"{path}: no notes to check")
    if gold_spans is not None and len(gold_spans) != n:
        raise DataError(f"gold spans for {len(gold_spans)} notes; the table has {n}")
    notes: list[str] = []
    leak, proxies, used = None, [], None
    if sample is not None:
        if patient_col is None:
            notes.append("no patient ids: each note treated as its own patient")
        texts, y, pids = sample.arrays()
        if len(texts) < sample.n_offered:
            notes.append(f"leakage probe fitted on {len(texts):,} of {sample.n_offered:,} "
                         f"labelled notes (whole patients, max_leakage_notes={max_leakage_notes:,})")
        leak, proxies, used = run_leakage(
            texts, y, pids, notes, n_unlabelled=n_unlabelled, n_labelled=sample.n_offered,
            level=level, seed=seed, n_boot=n_boot, min_df=min_df, min_patients=min_patients,
            top_k=top_k, model_params=model_params)
    return RedactionReport(level, n, residual.stats(),
                           original.stats() if original is not None else None,
                           combine_span_scores(spans, overlap_threshold) if spans else None,
                           leak, tuple(proxies), tuple(notes), used)
