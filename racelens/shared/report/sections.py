"""The registered report sections of one report: find their documents, render them.

A section's documents are attachments inside the results' ``extras`` (by the keys of
:func:`~racelens.shared.report.registry.register_attachment`) and ``*.json`` files with a
registered schema found beside or below the results (:func:`find_documents`). The section types
themselves live in :mod:`racelens.shared.report.registry`; the shared layer registers only its
own (fairness, here); each modality registers the rest from its plugin module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from racelens.errors import DataError
from racelens.shared.report.format import fairness_tables
from racelens.shared.report.registry import (
    AttachmentType,
    Origin,
    ReportSection,
    SectionView,
    attachment_types,
    register_attachment,
    register_section,
    section_for_schema,
    sections,
)
from racelens.shared.results import AuditResult

__all__ = ["FAIRNESS_SCHEMA", "find_documents", "attachments_of", "render_sections"]

log = logging.getLogger(__name__)

FAIRNESS_SCHEMA = "racelens.fairness/1"
_MAX_DOC_BYTES = 32 * 1024 * 1024  # a larger *.json is a per-sample table, not a summary
_NOT_DOCUMENTS = {"result.json", "report.json", "EXPORT.json"}


def _schema_of(path: Path) -> str | None:
    try:
        if path.stat().st_size > _MAX_DOC_BYTES:
            return None
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    s = d.get("schema") if isinstance(d, dict) else None
    return s if isinstance(s, str) else None


def find_documents(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """``(file, schema)`` of every ``*.json`` whose schema a registered section renders.

    Folders are searched recursively; a file given stands for itself and its folder's other
    files (``explain.json`` beside ``result.json``). Unreadable or unregistered JSON is passed
    over (run directories hold per-sample JSON too), counted in the log.
    """
    seen: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.rglob("*.json"))
        elif p.is_file():
            found = [p, *sorted(x for x in p.parent.glob("*.json") if x != p)]
        else:
            raise DataError(f"{p}: no such file or directory; give result.json files or run folders")
        for f in found:
            seen.setdefault(f.resolve(), None)
    out: list[tuple[Path, str]] = []
    passed = 0
    for f in seen:
        if f.name in _NOT_DOCUMENTS:
            continue
        schema = _schema_of(f)
        if schema is not None and section_for_schema(schema) is not None:
            out.append((f, schema))
        else:
            passed += 1
    if passed:
        log.info("report: %d JSON file(s) without a registered schema passed over", passed)
    return out


def _default_collect(kind: AttachmentType, r: AuditResult) -> list[tuple[str, Mapping[str, Any]]]:
    found = [("", r.extras[k]) for k in kind.keys if isinstance(r.extras.get(k), Mapping)]
    for c in r.conditions:
        found.extend((c.condition.label, c.extras[k]) for k in kind.keys
                     if isinstance(c.extras.get(k), Mapping))
    return found


def attachments_of(r: AuditResult) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(schema, condition label or "", payload)`` of every registered attachment in ``r``."""
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for kind in attachment_types():
        got = kind.collect(r) if kind.collect is not None else _default_collect(kind, r)
        out.extend((kind.schema, label, payload) for label, payload in got)
    return out


def render_sections(docs: Sequence[tuple[str, Origin, Mapping[str, Any]]]
                    ) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """Render every registered section over ``(schema, origin, document)`` in report order.

    Returns the drawn sections (``key``, ``title``, ``lead`` and the view's tables, figures,
    cards, notes) and each section's ``data`` by key (an empty list for a section without
    documents, so readers of ``report.json`` find the key).
    """
    drawn: list[dict[str, Any]] = []
    data: dict[str, list[Any]] = {}
    for section in sections():
        mine = [(o, d) for s, o, d in docs if section.accepts(s, d)]
        data[section.key] = []
        if not mine:
            continue
        try:
            view = section.render(mine)
        except (ValueError, TypeError, KeyError) as exc:  # a malformed document must not sink it
            log.warning("report section %r could not be drawn: %s", section.key, exc)
            view = SectionView(notes=[f"this section could not be drawn ({type(exc).__name__})"])
        data[section.key] = list(view.data)
        if not view.empty:
            drawn.append({"key": section.key, "title": section.title, "lead": section.lead,
                          **view.to_dict()})
    return drawn, data


def _render_fairness(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    from racelens.shared.report.registry import Card

    rows = [{"result": o.result, "dataset": o.dataset, "condition": o.condition,
             "tables": fairness_tables(d.get("value", d) if d.get("schema") == FAIRNESS_SCHEMA
                                       else d)} for o, d in docs]
    cards = [Card(title=" · ".join(x for x in (o.label, o.condition) if x), tables=row["tables"])
             for (o, _), row in zip(docs, rows, strict=True)]
    return SectionView(cards=cards, data=rows)


register_attachment(AttachmentType(key="fairness", schema=FAIRNESS_SCHEMA))
register_section(ReportSection(
    key="fairness", title="Fairness", schemas=(FAIRNESS_SCHEMA,), render=_render_fairness,
    order=80, lead="Subgroup error rates at a global operating point (e.g. underdiagnosis = "
    "false-positive rate of \"No Finding\") and gaps between groups, with intervals where given."))
