"""The "Where is the signal" section of the combined report, from imaging ``explain.json`` files.

Registered by :mod:`racelens.imaging.plugin` for the ``racelens.explain/1`` schema; documents of
another modality with the same schema (the text explain) go to the section registered before
this one, if any. Aggregates only: AUCs with intervals, ring radii, tile positions and mass
shares; the figures are drawn from the JSON (no image).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from racelens.shared.report.format import fmt_ci, fmt_num
from racelens.shared.report.registry import Card, Figure, Origin, SectionView, Table

__all__ = ["TITLE", "LEAD", "render_explain", "explain_card"]

TITLE = "Where is the signal"
LEAD = ("Which frequency rings and image regions carry the race signal of an audited imaging "
        "model: the AUC with only one ring or tile kept and with it removed, where three captum "
        "attribution methods put their mass (each with a randomised-weights sanity check), and "
        "the AUC after deleting the most-attributed pixels versus random ones. Intensity "
        "histogram and acquisition tags alone are the baselines. All AUCs carry patient-level "
        "95 % bootstrap intervals.")
Docs = list[tuple[Origin, Mapping[str, Any]]]


def _macro(block: Mapping[str, Any] | None) -> str:
    return fmt_ci((block or {}).get("macro"))


def _ring(b: Mapping[str, Any]) -> str:
    return f"{fmt_num(float(b['inner']), 2)}–{fmt_num(float(b['outer']), 2)}"


def _svg(draw: Callable[[Any], Any], figsize: tuple[float, float]) -> str:
    from matplotlib.figure import Figure as MplFigure

    from racelens.shared.report.build import svg_uri

    fig = MplFigure(figsize=figsize)
    draw(fig)
    fig.tight_layout()
    return svg_uri(fig)


def explain_card(origin: Origin, doc: Mapping[str, Any]) -> Card:
    """One imaging explanation as a card: facts, tables and figures."""
    from racelens.imaging.explain.figures import (
        plot_deletion,
        plot_mass_map,
        plot_spectrum,
        plot_tile_map,
    )

    summary = doc.get("extras", {}).get("summary", {})
    bands: Sequence[Mapping[str, Any]] = doc.get("bands", [])
    cells = doc.get("tiles", {}).get("cells", [])
    grid = int(doc.get("tiles", {}).get("grid", 1))
    facts = [("original AUC", _macro(doc.get("original"))),
             ("intensity histogram AUC", _macro(doc.get("intensity"))),
             ("acquisition tags AUC", _macro(doc.get("acquisition")))]
    if bands and "sufficient_band" in summary:
        facts.append(("sufficient ring (kept alone)", _ring(bands[summary["sufficient_band"]])))
        facts.append(("necessary ring (removed)", _ring(bands[summary["necessary_band"]])))
    if summary.get("top_tile"):
        facts.append(("tile whose masking drops the AUC most",
                      f"row {summary['top_tile']['row']}, col {summary['top_tile']['col']}"))
    for a in doc.get("attribution", []):
        s = a.get("sanity", {})
        facts.append((f"{a['method']} sanity (rank corr. with random weights)",
                      f"{fmt_num(s.get('randomized_rank_correlation'))} "
                      f"{'passed' if s.get('passed') else 'FAILED: maps barely change'}"))
    tables = [Table("Frequency rings (radius in frequency pixels)", ["ring", "only ring kept",
                                                                     "ring removed"],
                    [[_ring(b), _macro(b["keep"]), _macro(b["remove"])] for b in bands]),
              Table("Deletion curve", ["pixels masked", "top attributed", "random"],
                    [[f"{100 * float(d['fraction']):g} %", _macro(d["top"]), _macro(d["random"])]
                     for d in doc.get("deletion", [])])]
    figures = [Figure(_svg(lambda f: plot_spectrum(bands, f.add_subplot(),
                                                   original=doc.get("original")),
                           (max(5.0, 0.7 * len(bands) + 1), 3.6)), "AUC per frequency ring"),
               Figure(_svg(lambda f: (plot_tile_map(cells, grid, f.add_subplot(1, 2, 1), key="keep"),
                                      plot_tile_map(cells, grid, f.add_subplot(1, 2, 2))),
                           (7.0, 3.2)), "AUC per tile")]
    for a in doc.get("attribution", []):
        panels = [("all", a["mass"]), *a.get("per_group", {}).items()]

        def draw(f: Any, panels: list = panels, method: str = a["method"]) -> None:
            for j, (name, mass) in enumerate(panels):
                plot_mass_map(mass, f.add_subplot(1, len(panels), j + 1), title=f"{method}: {name}")

        figures.append(Figure(_svg(draw, (2.3 * len(panels), 2.5)),
                              f"{a['method']}: share of attribution mass per tile"))
    if doc.get("deletion"):
        figures.append(Figure(_svg(lambda f: plot_deletion(
            doc["deletion"], f.add_subplot(), original=doc.get("extras", {}).get("deletion_original")),
            (4.4, 3.4)), "deletion curve"))
    return Card(title=str(origin), facts=facts, tables=tables, figures=figures)


def render_explain(docs: Docs, *, other: Callable[[Docs], SectionView] | None = None) -> SectionView:
    """The section: one card per imaging document; other modalities' documents to ``other``."""
    mine = [(o, d) for o, d in docs if d.get("modality") == "imaging"]
    rest = [(o, d) for o, d in docs if d.get("modality") != "imaging"]
    theirs = other(rest) if other is not None and rest else SectionView()
    cards = [explain_card(o, d) for o, d in mine]
    data = [{"result": o.result, "label": o.label, "summary": d.get("extras", {}).get("summary")}
            for o, d in mine]
    return SectionView(tables=theirs.tables, figures=theirs.figures,
                       cards=[*cards, *theirs.cards], notes=theirs.notes,
                       data=[*data, *theirs.data])
