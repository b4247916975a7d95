"""``explain.json`` of the text layer as the report's "Which words carry race" section.

Registered by :mod:`racelens.text.plugin` for schema ``racelens.explain/1`` documents whose
``modality`` is ``text`` (the imaging layer draws its own). Only what ``explain.json`` holds is
shown: AUCs, terms seen for at least ``min_patients`` patients, section names; no note text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from racelens.shared.report.format import fmt_ci, fmt_num
from racelens.shared.report.registry import Card, Origin, SectionView, Table

__all__ = ["render_text_explain", "TOP_TERMS"]

TOP_TERMS = 10


def _macro(block: Any) -> Mapping[str, Any] | None:
    return block.get("macro") if isinstance(block, Mapping) else None


def _card(origin: Origin, d: Mapping[str, Any]) -> tuple[Card, dict[str, Any]]:
    terms = [t for t in d.get("terms", []) if isinstance(t, Mapping)]
    groups = sorted({str(t.get("group")) for t in terms})
    top = {g: [str(t["term"]) for t in terms if t.get("group") == g][:TOP_TERMS] for g in groups}
    cfg = d.get("config") or {}
    facts = [("original", fmt_ci(_macro(d.get("original")))),
             (f"redacted ({cfg.get('level', 'explicit')})", fmt_ci(_macro(d.get("redacted")))),
             ("attribution", str(d.get("method", ""))),
             ("completeness delta", fmt_num(d.get("completeness_delta"), 6)),
             ("terms shown if patients >=", fmt_num(cfg.get("min_patients")))]
    tables = [Table("Top terms by group (mean contribution to the group's score)",
                    ["group", "terms"], [[g, ", ".join(top[g])] for g in groups])]
    tables.append(Table("Deletion curve: AUC after deleting k terms from every note",
                        ["k", "top-k terms", "k random terms (same document frequency)"],
                        [[fmt_num(r.get("k")), fmt_ci(_macro(r.get("top"))),
                          fmt_ci(_macro(r.get("random")))] for r in d.get("deletion", [])]))
    tables.append(Table("Kinds of terms: AUC with every term of the kind removed",
                        ["kind", "terms in vocabulary", "AUC without them"],
                        [[str(c.get("name")), fmt_num(c.get("n_terms")),
                          fmt_ci(_macro(c.get("remove")))] for c in d.get("categories", [])]))
    tables.append(Table("Sections: AUC of each section alone", ["section", "notes", "AUC"],
                        [[str(s.get("name")), fmt_num(s.get("n_notes")), fmt_ci(_macro(s.get("auc")))]
                         for s in d.get("sections", []) if s.get("auc")]))
    pattern, full = d.get("placeholder") or {}, d.get("placeholder_model") or {}
    tables.append(Table("The placeholder's own leak",
                        ["replacement", "mention pattern only", "full model"],
                        [[str(m), fmt_ci(_macro(pattern.get(m))), fmt_ci(_macro(full.get(m)))]
                         for m in pattern]))
    rates = d.get("mention_rate") or {}
    notes = list(d.get("notes") or [])
    if rates:
        notes.append("notes with a placeholder, by group: " + ", ".join(
            f"{g} {float(v):.1%}" for g, v in rates.items()))
    row = {"result": origin.result, "dataset": origin.dataset, "label": origin.label,
           "original": _macro(d.get("original")), "redacted": _macro(d.get("redacted")),
           "top_terms": top}
    return Card(title=f"{origin.label} · which words carry race", facts=facts,
                chips_title="top terms", chips=[t for g in groups for t in top[g][:3]],
                tables=tables, notes=notes), row


def render_text_explain(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """One card per text ``explain.json``; the headline numbers and top terms in ``data``."""
    drawn = [_card(o, d) for o, d in docs]
    return SectionView(cards=[c for c, _ in drawn], data=[r for _, r in drawn])
