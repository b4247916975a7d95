"""What the text layer registers with the shared layer (report sections, attachments, strength axes).

Loaded by :func:`racelens.shared.plugins.load_plugins` through the ``racelens.plugins`` entry point,
so ``racelens.shared`` never imports this package nor names its concepts:

- the redaction check (``racelens.redaction_check/1``): a report section, the attachment in a
  text result's ``extras`` (``check`` / ``redaction_check``, one per level or per condition)
  and the ``check.json`` document ``racelens export`` copies;
- the proxy strip (``extras["strip_proxies"]``): a report section;
- the ``redaction`` strength axis of every text condition;
- the redactor's evaluation on annotated gold (``racelens.evaluation/1``): a report section and
  the ``evaluation.json`` document;
- ``text explain`` (``racelens.explain/1`` with ``modality: "text"``): the "Which words carry
  race" section (the imaging layer renders its own explanations of the same schema) and the
  ``explain.json`` document.
"""

from __future__ import annotations

from racelens.shared.report.registry import (
    AttachmentType,
    DocumentType,
    ReportSection,
    StrengthAxis,
    register_attachment,
    register_document,
    register_section,
    register_strength,
)
from racelens.text import axis
from racelens.text.check.view import (
    CHECK_SCHEMA,
    PROXY_STRIP_SCHEMA,
    collect_checks,
    collect_proxies_removed,
    render_checks,
    render_proxies_removed,
)
from racelens.text.evaluate.score import EVALUATION_SCHEMA
from racelens.text.evaluate.view import EVALUATION_FILE, MISSES_FILE, render_evaluations
from racelens.text.explain.run import EXPLAIN_FILE, EXPLAIN_SCHEMA
from racelens.text.explain.view import render_text_explain

__all__: list[str] = []

register_attachment(AttachmentType(key="redaction_check", schema=CHECK_SCHEMA, aliases=("check",),
                                   collect=collect_checks))
register_attachment(AttachmentType(key="strip_proxies", schema=PROXY_STRIP_SCHEMA,
                                   collect=collect_proxies_removed))
register_section(ReportSection(
    key="redaction_checks", title="Redaction check", schemas=(CHECK_SCHEMA,),
    render=render_checks, order=20,
    lead="What an independent scan still finds after redaction, how unevenly the original notes "
    "mention race, how well race is predicted from the redacted text, and the n-grams that "
    "carry it (proxies). Only single lexicon terms and short n-grams are shown, never note text."))
register_section(ReportSection(
    key="proxies_removed", title="Proxies stripped", schemas=(PROXY_STRIP_SCHEMA,),
    render=render_proxies_removed, order=21,
    lead="The proxy n-grams removed from the redacted notes, in the order removed, before the "
    "strip_proxies conditions were measured."))
register_document(DocumentType(
    schema=CHECK_SCHEMA, kind="redaction check", filename="check.json",
    files_note="- `check.json` - the redaction check: counts, rates, lexicon terms, proxy "
    "n-grams; span misses\n  and false hits are listed by row number and offsets."))
for _name in ("original", "redact", "strip_proxies", "*"):
    register_strength(StrengthAxis(condition=_name, place=axis.place, modality="text",
                                   family_titles={axis.FAMILY: axis.TITLE}, order=1000))
for _name in ("redact", "strip_proxies"):  # a text condition in a result of another modality
    register_strength(StrengthAxis(condition=_name, place=axis.place,
                                   family_titles={axis.FAMILY: axis.TITLE}, order=1000))

# the redactor scored on an annotated corpus (racelens text evaluate): its section and document
register_section(ReportSection(
    key="redaction_evaluation", title="Redactor on annotated gold", schemas=(EVALUATION_SCHEMA,),
    render=render_evaluations, order=22,
    lead="Span precision, recall and F2 of the redactor against annotated gold spans, overall and "
    "by gold category (counts only; the misses stay in the run folder's per-sample file)."))
register_document(DocumentType(
    schema=EVALUATION_SCHEMA, kind="redaction evaluation", filename=EVALUATION_FILE,
    files_note="- `evaluation.json` - the redactor scored on annotated gold: span precision, "
    "recall, F2 by category\n  (counts only). Its misses and false hits, with the annotated "
    f"text, are in `{MISSES_FILE}` (per-sample data)."))

# which words carry race after redaction (racelens text explain)
register_section(ReportSection(
    key="text_explain", title="Which words carry race", schemas=(EXPLAIN_SCHEMA,),
    render=render_text_explain, order=30, modality="text",
    lead="After redaction: the terms that contribute most to each group's score (shown only if "
    "enough patients have them), the AUC after deleting the top terms against as many random "
    "terms of the same frequency, the AUC without each kind of term, of each note section alone, "
    "and of a model that sees only where the placeholders are."))
register_document(DocumentType(
    schema=EXPLAIN_SCHEMA, kind="explanation", filename=EXPLAIN_FILE,
    files_note="- `explain.json` - where race is read from: AUCs, terms seen for at least "
    "--min-patients patients,\n  kinds of terms, section names, placeholder modes; no note text."))
