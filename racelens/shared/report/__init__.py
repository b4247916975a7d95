"""The combined report, and the registry through which the modalities add to it.

:mod:`~racelens.shared.report.build` reads results into the payload and renders HTML/Markdown;
:mod:`~racelens.shared.report.registry` is the API a modality's plugin registers its report
sections, attachments, strength axes and export documents with (re-exported here);
:mod:`~racelens.shared.report.strength`, :mod:`~racelens.shared.report.plots` and
:mod:`~racelens.shared.report.format` draw and format what is registered.
"""

from __future__ import annotations

from racelens.shared.report.registry import (
    AttachmentType,
    Card,
    DocumentType,
    Figure,
    Origin,
    ReportSection,
    SectionView,
    StrengthAxis,
    Table,
    register_attachment,
    register_document,
    register_section,
    register_strength,
)

__all__ = ["AttachmentType", "Card", "DocumentType", "Figure", "Origin", "ReportSection",
           "SectionView", "StrengthAxis", "Table", "register_attachment", "register_document",
           "register_section", "register_strength"]
