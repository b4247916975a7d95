"""Readers of annotated gold corpora: generic JSONL, BRAT standoff and C-REACT.

Each reader returns a :class:`GoldCorpus`: samples (an id, the text, gold spans with a category)
and the count of every annotation it could not use, by reason (nothing is dropped silently).

- **JSONL**: one object per line, ``{"id": ..., "text": ..., "spans": [[start, end, category],
  ...]}``; a span may also be ``{"start", "end", "label" | "category"}``.
- **BRAT standoff**: ``NAME.txt`` with ``NAME.ann`` beside it (a folder of such pairs, or one
  ``.ann``/``.txt`` file). Text-bound annotations ``T1<TAB>Label 10 15;17 20<TAB>text`` give one
  span per fragment; relations, events, attributes and notes are counted, not scored.
- **C-REACT** (Contextualized Race and Ethnicity Annotations for Clinical Text, PhysioNet 2024):
  the collected indicator file ``indicators_assignments_df.jsonl`` (or the ``collected_data``
  folder holding it), one sentence per line with its text in ``text_assignments`` (``text`` in
  other exports), its id in ``sentence_id`` and its indicator spans in ``spans`` as
  ``{"label", "start", "end"}``; an indicator without offsets is counted as ``unlocated``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from racelens.errors import ConfigError, DataError

__all__ = ["GoldFormat", "GoldSpan", "GoldSample", "GoldCorpus", "read_gold", "FORMATS"]

GoldFormat = Literal["jsonl", "brat", "creact"]
FORMATS: tuple[GoldFormat, ...] = ("jsonl", "brat", "creact")
CREACT_FILE = "indicators_assignments_df.jsonl"


@dataclass(frozen=True)
class GoldSpan:
    """One gold annotation: ``text[start:end]`` is of ``category``."""

    start: int
    end: int
    category: str


@dataclass(frozen=True)
class GoldSample:
    """One annotated text (a note, a sentence) with its gold spans, sorted."""

    id: str
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True)
class GoldCorpus:
    """Samples read from one gold source, and what could not be used (by reason)."""

    format: str
    source: str
    samples: tuple[GoldSample, ...]
    unused: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_spans(self) -> int:
        return sum(len(s.spans) for s in self.samples)


def _span(sample_id: str, text: str, start: Any, end: Any, category: Any, where: str) -> GoldSpan:
    try:
        s, e = int(start), int(end)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: span offsets {start!r}, {end!r} are not integers") from exc
    if not 0 <= s < e <= len(text):
        raise DataError(f"{where}: span ({s}, {e}) of sample {sample_id!r} is outside its text "
                        f"of {len(text)} characters (0 <= start < end <= length)")
    return GoldSpan(s, e, str(category) if category not in (None, "") else "unspecified")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {n} is not JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{path}: line {n} is not a JSON object")
            yield n, obj


def _text_of(obj: Mapping[str, Any], keys: Sequence[str], where: str) -> str:
    for k in keys:
        if isinstance(obj.get(k), str):
            return obj[k]
    raise DataError(f"{where}: no text (expected a string under {' or '.join(map(repr, keys))})")


def read_jsonl(path: Path) -> GoldCorpus:
    """Generic JSONL gold: ``{"id", "text", "spans": [[start, end, category], ...]}`` per line."""
    samples = []
    unused: Counter[str] = Counter()
    for n, obj in _json_lines(path):
        where = f"{path}: line {n}"
        text = _text_of(obj, ("text",), where)
        sid = str(obj.get("id", n))
        spans = []
        raw = obj.get("spans") or []
        if not isinstance(raw, list):
            raise DataError(f"{where}: 'spans' must be a list of [start, end, category]")
        for sp in raw:
            if isinstance(sp, Mapping):
                spans.append(_span(sid, text, sp.get("start"), sp.get("end"),
                                   sp.get("category", sp.get("label")), where))
            elif isinstance(sp, list | tuple) and len(sp) in (2, 3):
                spans.append(_span(sid, text, sp[0], sp[1], sp[2] if len(sp) == 3 else None, where))
            else:
                raise DataError(f"{where}: span {sp!r} is not [start, end, category]")
        samples.append(GoldSample(sid, text, tuple(sorted(spans, key=lambda s: (s.start, s.end)))))
    return GoldCorpus("jsonl", str(path), tuple(samples), dict(unused))


def _brat_pairs(path: Path) -> list[tuple[Path, Path]]:
    if path.is_dir():
        anns = sorted(path.rglob("*.ann"))
        if not anns:
            raise DataError(f"{path}: no .ann files in this folder or below (BRAT standoff: "
                            "NAME.txt with NAME.ann beside it)")
    elif path.suffix in (".ann", ".txt"):
        anns = [path.with_suffix(".ann")]
    else:
        raise DataError(f"{path}: a BRAT gold is a folder, a .ann or a .txt file")
    pairs = []
    for ann in anns:
        txt = ann.with_suffix(".txt")
        if not ann.is_file() or not txt.is_file():
            raise DataError(f"{ann.with_suffix('')}: BRAT needs both .txt and .ann files")
        pairs.append((txt, ann))
    return pairs


def read_brat(path: Path) -> GoldCorpus:
    """BRAT standoff gold: one sample per ``.txt``/``.ann`` pair (the file name is the id)."""
    samples = []
    unused: Counter[str] = Counter()
    root = path if path.is_dir() else path.parent
    for txt, ann in _brat_pairs(path):
        # BRAT offsets count characters of the text as written: newline="" keeps "\r\n"
        with open(txt, encoding="utf-8", newline="") as fh:
            text = fh.read()
        sid = str(txt.relative_to(root).with_suffix(""))
        spans = []
        for n, line in enumerate(ann.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            if not line.startswith("T"):
                unused[f"brat {line[:1]} annotation (not a text span)"] += 1
                continue
            parts = line.split("\t")
            if len(parts) < 2 or " " not in parts[1]:
                raise DataError(f"{ann}: line {n} is not 'T<id><TAB><label> <start> <end>'")
            label, _, offsets = parts[1].partition(" ")
            for frag in offsets.split(";"):
                bounds = frag.split()
                if len(bounds) != 2:
                    raise DataError(f"{ann}: line {n} has fragment {frag!r}, not '<start> <end>'")
                spans.append(_span(sid, text, bounds[0], bounds[1], label, f"{ann}: line {n}"))
        samples.append(GoldSample(sid, text, tuple(sorted(spans, key=lambda s: (s.start, s.end)))))
    return GoldCorpus("brat", str(path), tuple(samples), dict(unused))


def read_creact(path: Path) -> GoldCorpus:
    """C-REACT's collected indicator file (or the folder holding it): one sentence per line."""
    if path.is_dir():
        found = sorted(path.rglob(CREACT_FILE))
        if not found:
            raise DataError(f"{path}: no {CREACT_FILE} in this folder or below (C-REACT's "
                            "collected_data folder holds it)")
        path = found[0]
    samples = []
    unused: Counter[str] = Counter()
    for n, obj in _json_lines(path):
        where = f"{path}: line {n}"
        text = _text_of(obj, ("text_assignments", "text"), where)
        sid = str(obj.get("sentence_id", obj.get("id", n)))
        spans = []
        for sp in obj.get("spans") or []:
            if not isinstance(sp, Mapping):
                raise DataError(f"{where}: a span is not an object with 'label', 'start', 'end'")
            if sp.get("start") is None or sp.get("end") is None:
                unused["indicator without offsets (unlocated)"] += 1
                continue
            spans.append(_span(sid, text, sp["start"], sp["end"], sp.get("label"), where))
        samples.append(GoldSample(sid, text, tuple(sorted(spans, key=lambda s: (s.start, s.end)))))
    return GoldCorpus("creact", str(path), tuple(samples), dict(unused))


_READERS = {"jsonl": read_jsonl, "brat": read_brat, "creact": read_creact}


def read_gold(path: str | Path, format: str) -> GoldCorpus:
    """Read a gold corpus of ``format`` (``jsonl``, ``brat`` or ``creact``) from ``path``.

    Raises
    ------
    ConfigError
        For an unknown format.
    DataError
        For a missing or malformed file (the message names the file, the line and the problem).
    """
    if format not in _READERS:
        raise ConfigError(f"unknown gold format {format!r}; use one of {list(FORMATS)}")
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    corpus = _READERS[format](p)
    if not corpus.samples:
        raise DataError(f"{p}: no annotated samples found")
    return corpus
