"""``explain.json`` (schema ``racelens.explain/1``, modality ``imaging``) and its figures.

The document, with every ``AUC`` exactly a ``result.json`` ``auc`` block::

    {"schema": "racelens.explain/1", "modality": "imaging", "run": "...", "config": {},
     "original": AUC,
     "bands": [{"inner": 0, "outer": 1, "keep": AUC, "remove": AUC}],
     "tiles": {"grid": 4, "cells": [{"row": 0, "col": 0, "keep": AUC, "remove": AUC}]},
     "attribution": [{"method": "integrated_gradients", "mass": [[...]], "per_group": {...},
                      "sanity": {"randomized_rank_correlation": 0.1, "passed": true}}],
     "deletion": [{"fraction": 0.1, "top": AUC, "random": AUC}],
     "intensity": AUC, "acquisition": AUC or null,
     "extras": {"summary": {"sufficient_band", "necessary_band", "top_tile"}, ...}}

Radii are frequency pixels of the model-size image (``inner <= r < outer``); ``mass`` is
``grid x grid`` with row 0 at the top and sums to 1. Only aggregates: no image and no identifier
is written (the mean-image overlay, when asked for, averages at least 100 test images).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from racelens.errors import SchemaError

__all__ = ["EXPLAIN_SCHEMA", "ExplainResult", "summary", "read_explain"]

EXPLAIN_SCHEMA = "racelens.explain/1"
FIGURES = ("spectrum.png", "tiles.png", "attribution.png", "deletion.png")


def _macro(block: Mapping[str, Any] | None) -> float:
    est = None if block is None else block["macro"]["estimate"]
    return float("nan") if est is None else float(est)


def summary(bands: Sequence[Mapping[str, Any]], cells: Sequence[Mapping[str, Any]],
            original: Mapping[str, Any]) -> dict[str, Any]:
    """The sufficient ring (highest keep AUC), the necessary ring (largest drop when removed) and
    the tile whose masking drops the AUC most (indices into ``bands`` / ``cells``)."""
    keep = [_macro(b["keep"]) for b in bands]
    drop = [_macro(original) - _macro(b["remove"]) for b in bands]
    tile_drop = [_macro(original) - _macro(c["remove"]) for c in cells]
    top = int(np.nanargmax(tile_drop)) if cells else None
    return {"sufficient_band": int(np.nanargmax(keep)), "necessary_band": int(np.nanargmax(drop)),
            "top_tile": None if top is None else {"row": cells[top]["row"], "col": cells[top]["col"]}}


@dataclass(frozen=True)
class ExplainResult:
    """What ``imaging explain`` found; :meth:`to_dict` is ``explain.json``.

    ``maps`` (mean attribution maps per method, overall and per group) and ``mean_image`` feed
    the figures only; they are not written to the JSON.
    """

    run: str
    config: Mapping[str, Any]
    original: Mapping[str, Any]
    bands: Sequence[Mapping[str, Any]]
    tiles: Mapping[str, Any]
    attribution: Sequence[Mapping[str, Any]]
    deletion: Sequence[Mapping[str, Any]]
    intensity: Mapping[str, Any] | None
    acquisition: Mapping[str, Any] | None
    extras: Mapping[str, Any] = field(default_factory=dict)
    maps: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    mean_image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": EXPLAIN_SCHEMA, "modality": "imaging", "run": self.run,
                "config": dict(self.config), "original": self.original, "bands": list(self.bands),
                "tiles": dict(self.tiles), "attribution": list(self.attribution),
                "deletion": list(self.deletion), "intensity": self.intensity,
                "acquisition": self.acquisition,
                "extras": {"summary": summary(self.bands, self.tiles["cells"], self.original),
                           **self.extras}}

    def write(self, out: Path) -> list[Path]:
        """Write ``out/explain.json`` (atomically) and the figures; return the paths."""
        from racelens.imaging.explain.figures import write_figures
        from racelens.shared.run_files import write_run_document

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        return [write_run_document(out, "explain.json", self.to_dict()),  # and FILES.md
                *write_figures(self, out)]


def read_explain(path: str | Path) -> dict[str, Any]:
    """Read an imaging ``explain.json`` (or a directory holding one).

    Raises
    ------
    SchemaError
        When the file is missing or not an imaging ``racelens.explain/1`` document.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "explain.json"
    if not path.exists():
        raise SchemaError(f"{path}: no explain.json here; run `racelens imaging explain`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != EXPLAIN_SCHEMA or doc.get("modality") != "imaging":
        raise SchemaError(f"{path}: not an imaging {EXPLAIN_SCHEMA} document")
    return doc
