"""Writing an evaluation into a run folder, and its report section.

``evaluation.json`` holds counts and scores only; the misses and false hits, which quote the
user's annotated text, go to ``evaluation_misses.jsonl`` beside it (per-sample data, named so in
``FILES.md``). ``racelens report`` draws any ``evaluation.json`` found beside the results it reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from racelens.shared.report.registry import Card, Origin, SectionView, Table
from racelens.shared.run_files import write_files_note
from racelens.shared.tables import atomic_path, atomic_write_text
from racelens.text.evaluate.score import Evaluation

__all__ = ["EVALUATION_FILE", "MISSES_FILE", "write_evaluation", "render_evaluations"]

EVALUATION_FILE = "evaluation.json"
MISSES_FILE = "evaluation_misses.jsonl"


def write_evaluation(evaluation: Evaluation, out: str | Path) -> tuple[Path, Path]:
    """Write ``evaluation.json`` (aggregates), ``evaluation_misses.jsonl`` (per sample) and
    ``FILES.md`` into ``out``; returns the two paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    misses = out / MISSES_FILE
    with atomic_path(misses) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for m in evaluation.misses:
            fh.write(json.dumps(m.to_dict(), ensure_ascii=False) + "\n")
    summary = {**evaluation.to_dict(), "misses_file": MISSES_FILE}
    path = atomic_write_text(out / EVALUATION_FILE, json.dumps(summary, indent=1) + "\n")
    write_files_note(out)
    return Path(path), misses


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else f"{x:,}"


def render_evaluations(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """One card per evaluation: the overall scores and a table by gold category."""
    cards, rows = [], []
    for origin, d in docs:
        o = d.get("overall", {})
        facts = [("gold format", str(d.get("format", ""))), ("level", str(d.get("level", ""))),
                 ("samples", _fmt(d.get("n_samples", 0))), ("gold spans", _fmt(o.get("n_gold", 0))),
                 ("precision", _fmt(o.get("precision"))), ("recall", _fmt(o.get("recall"))),
                 ("F2", _fmt(o.get("f2"))), ("misses", _fmt(d.get("n_misses", 0))),
                 ("false hits", _fmt(d.get("n_false_hits", 0)))]
        table = Table("By gold category", ["category", "gold", "matched", "recall", "precision", "F2"],
                      [[cat, _fmt(c.get("n_gold")), _fmt(c.get("n_matched")), _fmt(c.get("recall")),
                        _fmt(c.get("precision")), _fmt(c.get("f2"))]
                       for cat, c in d.get("by_category", {}).items()])
        excluded = d.get("excluded_by_level") or {}
        notes = ([f"Not scored at this level: {', '.join(f'{k} ({v})' for k, v in excluded.items())}."]
                 if excluded else [])
        unused = d.get("unused_annotations") or {}
        notes += [f"Annotations not used: {', '.join(f'{k} ({v})' for k, v in unused.items())}."] if unused else []
        cards.append(Card(title=f"{origin.label} · redactor on annotated gold", facts=facts,
                          tables=[table], notes=notes))
        rows.append({"label": origin.label, "format": d.get("format"), "level": d.get("level"),
                     "overall": o, "by_category": d.get("by_category", {})})
    return SectionView(cards=cards, data=rows)
