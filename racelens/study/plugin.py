"""What the study layer registers with the shared layer: the "paper beside measured" section.

Loaded through the ``racelens.plugins`` entry point. A study run writes ``study.json``
(``racelens.study/1``) at the top of its folder; ``racelens report`` finds it beside the steps'
``result.json`` files and draws one row per published number: the paper's value or range, the
measured estimate with its interval, and the difference (zero inside a reported range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from racelens.shared.report.registry import (
    DocumentType,
    ReportSection,
    SectionView,
    Table,
    register_document,
    register_section,
)
from racelens.study.run import STUDY_SCHEMA

__all__: list[str] = []


def _ci(e: Mapping[str, Any] | None) -> str:
    if not e or e.get("estimate") is None:
        return "-"
    if e.get("ci_low") is None or e.get("ci_high") is None:
        return f"{e['estimate']:.3f}"
    return f"{e['estimate']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"


def _signed(e: Mapping[str, Any] | None) -> str:
    if not e or e.get("estimate") is None:
        return "-"
    lo, hi = e.get("ci_low"), e.get("ci_high")
    inner = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None else ""
    return f"{e['estimate']:+.3f}{inner}"


def render(docs: Sequence[tuple[Any, Mapping[str, Any]]]) -> SectionView:
    tables = []
    for _origin, doc in docs:
        rows = []
        for r in doc.get("paper", []):
            within = r.get("within_interval")
            rows.append([r["step"], r["condition"], r["group"], r.get("metric", "auc"),
                         r["paper"]["reported"], _ci(r.get("measured")), _signed(r.get("difference")),
                         "-" if within is None else ("yes" if within else "no"),
                         r["source"] + (f" ({r['note']})" if r.get("note") else "")])
        title = doc.get("title") or doc.get("study", "study")
        tables.append(Table(f"{title}: the paper beside your data",
                            ["step", "condition", "group", "metric", "paper", "measured (95% CI)",
                             "difference", "interval meets paper", "source"], rows))
    return SectionView(tables=tables, notes=[
        "Difference = measured − paper (for a reported range, the distance to the nearest end; "
        "0 inside it), with the measured interval shifted the same way."],
        data=[{"study": d.get("study"), "paper": d.get("paper", [])} for _, d in docs])


register_section(ReportSection(
    key="study", title="Reproduction: the paper beside your data", schemas=(STUDY_SCHEMA,),
    render=render, order=5,
    lead="Each published number of the study's preset next to the same quantity measured on "
    "your copy of the data."))
register_document(DocumentType(
    schema=STUDY_SCHEMA, kind="study summary", filename="study.json",
    files_note="- `study.json` - the study's steps and the paper's numbers beside the measured "
    "ones (aggregates only)."))
