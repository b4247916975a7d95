"""The reader study in the combined report: readers, agreement and the paired test.

The pooled human AUC is a result row like any other (modality ``human``); this section adds
what only a reader study has, from the result's ``extras`` (aggregates only: AUCs, rates,
kappa, counts; reader names as the organiser typed them, no item or patient id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from racelens.shared.report.format import fmt_ci, fmt_num, fmt_p
from racelens.shared.report.registry import Card, Origin, SectionView, Table
from racelens.shared.results import AuditResult

__all__ = ["READERS_SCHEMA", "collect_readers", "render_readers"]

READERS_SCHEMA = "racelens.reader_study/1"
_KEYS = ("readers", "agreement", "cant_tell_rate", "confidence_rate", "n_items", "n_readers",
         "n_unanswered", "paired")


def collect_readers(r: AuditResult) -> list[tuple[str, Mapping[str, Any]]]:
    """The reader-study payload of a human result (empty for any other)."""
    if r.modality != "human" or not isinstance(r.extras.get("readers"), Mapping):
        return []
    label = r.conditions[0].condition.label if r.conditions else ""
    doc = {"schema": READERS_SCHEMA, **{k: r.extras[k] for k in _KEYS if k in r.extras}}
    if r.conditions:
        doc["pooled"] = r.conditions[0].auc.macro.to_dict()
    return [(label, doc)]


def _rate(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.0f}%"


def render_readers(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """One card per study: its facts and a row per reader."""
    cards = []
    data = []
    for origin, d in docs:
        agr = d.get("agreement") or {}
        facts = [("items", fmt_num(d.get("n_items"))), ("readers", fmt_num(d.get("n_readers"))),
                 ("pooled macro AUC", fmt_ci(d.get("pooled"))),
                 ("can't tell", _rate(d.get("cant_tell_rate"))),
                 ("answers with a confidence", _rate(d.get("confidence_rate"))),
                 ("unanswered (reader × item)", fmt_num(d.get("n_unanswered")))]
        if agr.get("kappa") is not None:
            name = "Cohen's" if agr.get("method") == "cohen" else "Fleiss'"
            facts.append((f"agreement ({name} kappa)",
                          f"{fmt_num(agr['kappa'])} on {fmt_num(agr.get('n_items'))} items"))
        paired = d.get("paired")
        if isinstance(paired, Mapping):
            facts.append(("human vs model, same items",
                          f"{fmt_num(paired.get('human_macro'))} vs "
                          f"{fmt_num(paired.get('model_macro'))} (paired DeLong p = "
                          f"{fmt_p(paired.get('p_value'))}, {fmt_num(paired.get('n_items'))} "
                          "items)"))
        rows = [[name, fmt_num(r.get("n_answered")), fmt_ci(r.get("auc")),
                 fmt_num(r.get("accuracy")), _rate(r.get("cant_tell_rate")),
                 fmt_num(r.get("median_seconds"), 1)]
                for name, r in sorted((d.get("readers") or {}).items())]
        cards.append(Card(title=f"{origin} · reader study", facts=facts, tables=[Table(
            "Readers", ["reader", "answered", "macro AUC [95% CI]", "accuracy", "can't tell",
                        "median seconds"], rows)]))
        data.append({"result": origin.result, "dataset": origin.dataset,
                     **{k: d[k] for k in d if k != "schema"}})
    return SectionView(cards=cards, data=data)
