"""What the report, the export and the strength axis know about payloads that a modality owns.

``racelens.shared`` never names a modality's concepts (a redaction check, an explanation, a
shortcut test, a reader study). A modality *registers* them here from its plugin module
(``racelens/<modality>/plugin.py``, loaded by :func:`racelens.shared.plugins.load_plugins`
through the ``racelens.plugins`` entry point), and the shared layer renders what is registered.

Three kinds of registration:

- :func:`register_section` — a **report section** for JSON documents carrying a ``schema`` id.
  A document is found two ways: as a file ``*.json`` beside (or below) the ``result.json`` files
  given to ``racelens report`` whose top-level ``schema`` is one the section lists (e.g.
  ``explain.json`` with ``racelens.explain/1``), or as an **attachment** inside a result's
  ``extras`` (of the result or of one condition) under a key registered with
  :func:`register_attachment`. ``render`` receives every such document, in report order, as
  ``(origin, document)`` pairs and returns a :class:`SectionView`: tables of formatted cells,
  figures (SVG data URIs), cards and notes, plus an optional JSON-able ``data`` list stored in
  the report payload under the section's ``key``. The HTML and Markdown templates draw every
  section the same way; no template change is needed for a new one.
- :func:`register_attachment` — an **attachment type**: a key in ``extras`` (and older
  aliases), the schema its payload has, and optionally a ``collect`` function for stored shapes
  that are not one payload per key.
- :func:`register_strength` — a **strength axis** for a condition name: a function from a
  :class:`~racelens.shared.results.Condition` to its :class:`~racelens.shared.results.Strength`
  (family, parameter, value, rank, label). Results written since ``racelens.audit/1`` carry the
  strength of each condition; the registry places conditions of older files.
- :func:`register_document` — an **export type**: a document schema with the file name it is
  written as, the kind ``racelens export`` counts it under and a line for ``FILES.md``.

Example
-------
A section for ``explain.json`` files, registered by the imaging plugin:

>>> def render(docs):
...     rows = [[str(origin), d["method"]] for origin, d in docs]
...     return SectionView(tables=[Table("Methods", ["result", "method"], rows)])
>>> register_section(ReportSection(key="explain", title="Where the signal is",
...                                schemas=("racelens.explain/1",), render=render, order=40))
>>> section_for_schema("racelens.explain/1").title
'Where the signal is'

``render`` may also be written against plain dicts: a table is ``{"title", "columns",
"rows"}`` and a figure ``{"src", "caption"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racelens.errors import ConfigError

# The callables below take and return racelens.shared.results objects (AuditResult, Condition,
# Strength). They are typed Any here: results writes FILES.md through run_files, which reads this
# registry, so even a type-only import of results would close an import cycle.
AuditResult = Condition = Strength = Any

__all__ = [
    "Origin", "Table", "Figure", "Card", "SectionView", "ReportSection", "AttachmentType",
    "DocumentType", "StrengthAxis", "register_section", "register_attachment",
    "register_strength", "register_document", "unregister_section", "sections", "section_for_schema",
    "attachment_types", "strength_axis", "document_types", "document_type",
]


@dataclass(frozen=True)
class Origin:
    """Where a document came from, for titles and for the payload rows that name a result.

    ``str(origin)`` is a short label: ``"text · notes · redact(level=explicit)"``.
    """

    result: str | None  # the report's result id ("R3"); None for a document not in one
    label: str  # the result's series label, or the document's folder name
    dataset: str = ""
    condition: str = ""  # condition label when the payload belongs to one condition
    path: Path | None = None  # the file, for documents found beside results (never rendered)

    def __str__(self) -> str:
        return " · ".join(x for x in (self.label, self.condition) if x)


@dataclass(frozen=True)
class Table:
    """A titled table of already formatted cells (a cell ``"0.81 [0.78, 0.84]"`` shows its CI)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": [str(c) for c in self.columns],
                "rows": [[str(c) for c in r] for r in self.rows]}


@dataclass(frozen=True)
class Figure:
    """An embedded figure: ``src`` is a ``data:image/svg+xml;base64,...`` URI."""

    src: str
    caption: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "caption": self.caption}


@dataclass(frozen=True)
class Card:
    """One boxed item of a section: key-value facts, chips (terms), tables, figures, notes."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    chips_title: str = ""
    chips: Sequence[str] = ()
    tables: Sequence[Table | Mapping[str, Any]] = ()
    figures: Sequence[Figure | Mapping[str, str] | str] = ()
    notes: Sequence[str] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "facts": [[str(k), str(v)] for k, v in self.facts],
                "chips_title": self.chips_title, "chips": [str(c) for c in self.chips],
                "tables": [_table(t) for t in self.tables],
                "figures": [_figure(f) for f in self.figures],
                "notes": [str(n) for n in self.notes]}


def _table(t: Table | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(t, Table):
        return t.to_dict()
    return Table(str(t.get("title", "")), list(t["columns"]), list(t["rows"])).to_dict()


def _figure(f: Figure | Mapping[str, str] | str) -> dict[str, str]:
    if isinstance(f, str):
        return {"src": f, "caption": ""}
    if isinstance(f, Figure):
        return f.to_dict()
    return {"src": str(f["src"]), "caption": str(f.get("caption", ""))}


@dataclass(frozen=True)
class SectionView:
    """What a section's ``render`` returns: drawn generically by the HTML and Markdown report.

    ``data`` (JSON-able) is stored in the report payload under the section's key, for readers of
    ``report.json``; figures are left out of ``report.json`` like the report's own.
    """

    tables: Sequence[Table | Mapping[str, Any]] = ()
    figures: Sequence[Figure | Mapping[str, str] | str] = ()
    cards: Sequence[Card] = ()
    notes: Sequence[str] = ()
    data: Sequence[Any] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"tables": [_table(t) for t in self.tables],
                "figures": [_figure(f) for f in self.figures],
                "cards": [c.to_dict() for c in self.cards], "notes": [str(n) for n in self.notes]}

    @property
    def empty(self) -> bool:
        return not (self.tables or self.figures or self.cards or self.notes or self.data)


Render = Callable[[list[tuple[Origin, Mapping[str, Any]]]], SectionView]


@dataclass(frozen=True)
class ReportSection:
    """A report section for documents of the given schemas.

    Parameters
    ----------
    key
        The section's id: the HTML anchor and the key of its ``data`` in the report payload.
    title, lead
        Heading and the one-paragraph explanation under it.
    schemas
        The document schemas it renders (``"racelens.explain/1"``).
    render
        ``render(docs: list[tuple[Origin, Mapping]]) -> SectionView``; called once per report
        with every document found (not called when there is none).
    order
        Sections are drawn by ``order`` after the headline, strength figure, ROC curves and
        cohorts (the shared sections), before provenance.
    modality
        Render only documents whose top-level ``modality`` is this (``None``: all). Two
        modalities may then render one schema each their own way (``racelens.explain/1`` is
        written by the imaging and the text layer).
    """

    key: str
    title: str
    schemas: Sequence[str]
    render: Render
    order: int = 100
    lead: str = ""
    modality: str | None = None

    def accepts(self, schema: str, document: Mapping[str, Any]) -> bool:
        """Whether this section renders ``document`` (of ``schema``)."""
        return schema in self.schemas and (
            self.modality is None or document.get("modality") == self.modality)


@dataclass(frozen=True)
class AttachmentType:
    """A payload stored in ``extras`` under ``key`` (or an older ``aliases`` key).

    ``collect(result) -> [(condition label or "", payload)]`` overrides the default, which takes
    ``extras[key]`` of each condition and of the result. ``schema`` is the payload's schema id
    (written into the payload or implied for older files without one).
    """

    key: str
    schema: str
    aliases: Sequence[str] = ()
    collect: Callable[[AuditResult], list[tuple[str, Mapping[str, Any]]]] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)


@dataclass(frozen=True)
class DocumentType:
    """A JSON document a modality writes into run directories (e.g. ``check.json``).

    ``racelens export`` copies a file called ``filename`` (or any ``*.json`` with this
    ``schema``) after checking its schema, counted as ``kind``; ``clean(doc)`` may reduce
    what it holds before the generic scrubber runs; ``files_note`` is its line in ``FILES.md``.
    """

    schema: str
    kind: str
    filename: str | None = None
    files_note: str = ""
    clean: Callable[[dict[str, Any]], dict[str, Any]] | None = None


@dataclass(frozen=True)
class StrengthAxis:
    """How conditions called ``condition`` are placed on a strength axis.

    ``place(condition) -> Strength | None`` (``None``: not on an axis, like the original images).
    ``modality`` restricts it to results of one modality (``original`` of text is the first
    redaction level, ``original`` of images no point at all); ``None`` applies to any.
    ``condition="*"`` (with a ``modality``) places every other condition of that modality.
    ``family_titles`` are the panel titles of the families it places conditions in; ``order``
    sorts the panels.
    """

    condition: str
    place: Callable[[Condition], Strength | None]
    modality: str | None = None
    family_titles: Mapping[str, str] = field(default_factory=dict)
    order: int = 100


_SECTIONS: dict[str, ReportSection] = {}
_ATTACHMENTS: dict[str, AttachmentType] = {}
_DOCUMENTS: dict[str, DocumentType] = {}
_STRENGTH: dict[tuple[str | None, str], StrengthAxis] = {}


def register_section(section: ReportSection) -> ReportSection:
    """Register (or replace, by ``key``) a report section; returns it.

    Raises
    ------
    ConfigError
        When another section already renders one of its schemas (for the same modality).
    """
    for other in _SECTIONS.values():
        clash = set(other.schemas) & set(section.schemas)
        apart = None not in (other.modality, section.modality) and other.modality != section.modality
        if other.key != section.key and clash and not apart:
            raise ConfigError(f"report section {section.key!r}: schema {sorted(clash)[0]!r} is "
                              f"already rendered by section {other.key!r}")
    _SECTIONS[section.key] = section
    return section


def unregister_section(key: str) -> ReportSection | None:
    """Remove a section (tests, a plugin replacing another's); returns what was removed."""
    return _SECTIONS.pop(key, None)


def register_attachment(kind: AttachmentType) -> AttachmentType:
    """Register (or replace, by ``key``) an attachment type; returns it."""
    _ATTACHMENTS[kind.key] = kind
    return kind


def register_document(kind: DocumentType) -> DocumentType:
    """Register (or replace, by ``schema``) an exportable document type; returns it."""
    _DOCUMENTS[kind.schema] = kind
    return kind


def register_strength(axis: StrengthAxis) -> StrengthAxis:
    """Register (or replace) the strength axis of a condition name (per modality or any)."""
    _STRENGTH[(axis.modality, axis.condition)] = axis
    return axis


def _loaded() -> None:
    from racelens.shared.plugins import load_plugins

    load_plugins()


def sections() -> list[ReportSection]:
    """Registered sections in drawing order (plugins loaded first)."""
    _loaded()
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def section_for_schema(schema: str) -> ReportSection | None:
    """The section that renders documents of ``schema``, if one is registered."""
    return next((s for s in sections() if schema in s.schemas), None)


def attachment_types() -> list[AttachmentType]:
    """Registered attachment types (plugins loaded first)."""
    _loaded()
    return list(_ATTACHMENTS.values())


def document_types() -> list[DocumentType]:
    """Registered exportable document types (plugins loaded first)."""
    _loaded()
    return list(_DOCUMENTS.values())


def document_type(schema: Any = None, filename: str | None = None) -> DocumentType | None:
    """The document type with this ``schema`` or, failing that, this file name."""
    kinds = document_types()
    return (next((k for k in kinds if schema is not None and k.schema == schema), None)
            or next((k for k in kinds if filename is not None and k.filename == filename), None))


def strength_axis(condition: str, modality: str | None = None) -> StrengthAxis | None:
    """The axis registered for ``condition`` in ``modality``, else for any condition of
    ``modality`` (registered as ``"*"``), else for ``condition`` in any modality."""
    _loaded()
    return (_STRENGTH.get((modality, condition)) or _STRENGTH.get((modality, "*"))
            or _STRENGTH.get((None, condition)))


def strength_axes() -> Iterable[StrengthAxis]:
    """Every registered axis, by ``order``."""
    _loaded()
    return sorted(_STRENGTH.values(), key=lambda a: a.order)
