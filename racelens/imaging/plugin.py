"""What the imaging layer registers with the shared layer (report sections, attachments, strength axes).

Loaded by :func:`racelens.shared.plugins.load_plugins` through the ``racelens.plugins`` entry point,
so ``racelens.shared`` never imports this package nor names its concepts:

- the strength axis of every image perturbation (:mod:`racelens.imaging.perturb.axes`, which
  imports no torch), so the report places image conditions of older result files too;
- the shortcut test (``racelens.shortcut/1``, :mod:`racelens.imaging.shortcut.view`): a report
  section and the ``shortcut.json`` document ``racelens export`` copies;
- the "Where is the signal" section for ``explain.json`` (:mod:`racelens.imaging.explain.view`,
  no torch either).
"""

from __future__ import annotations

from racelens.imaging.explain.view import LEAD, TITLE, render_explain
from racelens.imaging.explain.write import EXPLAIN_SCHEMA
from racelens.imaging.perturb import axes
from racelens.imaging.shortcut.view import SHORTCUT_FILE, render_shortcuts
from racelens.shared.report.registry import (
    DocumentType,
    ReportSection,
    StrengthAxis,
    register_document,
    register_section,
    register_strength,
)
from racelens.shared.shortcut import SHORTCUT_SCHEMA

__all__: list[str] = []

for _order, _axis in enumerate(axes.AXES.values()):
    register_strength(StrengthAxis(condition=_axis.name, place=axes.place,
                                   family_titles={_axis.name: _axis.title}, order=_order))

# the shortcut test (racelens imaging shortcut): its report section and exportable document
register_section(ReportSection(
    key="shortcut", title="Shortcut test", schemas=(SHORTCUT_SCHEMA,), render=render_shortcuts,
    order=30,
    lead="Does race encoding make the disease model unfair? A sweep of models whose race encoding "
    "is varied by a gradient-reversal head: Spearman's ρ between encoding (linear probe on frozen "
    "features) and the fairness gap at a threshold chosen on validation, and the mitigations "
    "(ERM, resampling, GroupDRO, DANN, SPLIT, selection by least encoding or least validation gap)."))
register_document(DocumentType(
    schema=SHORTCUT_SCHEMA, kind="shortcut test", filename=SHORTCUT_FILE,
    files_note="- `shortcut.json` - the shortcut test: per-model task AUC, race encoding and "
    "fairness gap with intervals,\n  the encoding-gap test, mitigations (aggregates only); "
    "`models/` holds the same per model."))

# "Where is the signal": imaging explain.json documents. The text explain shares the schema and
# registers its own section for modality "text" ("Which words carry race"); this one is bound
# to modality "imaging", so neither replaces the other, whatever the loading order.
register_section(ReportSection(
    key="explain", title=TITLE, lead=LEAD, schemas=(EXPLAIN_SCHEMA,), order=40,
    render=render_explain, modality="imaging"))
