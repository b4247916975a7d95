"""What the reader layer registers with the shared layer (report sections, attachments, strength axes).

Loaded by :func:`racelens.shared.plugins.load_plugins` through the ``racelens.plugins`` entry point,
so ``racelens.shared`` never imports this package nor names its concepts:

- the reader study of a ``human`` result (``extras.readers``, ``agreement``, ``paired``): an
  attachment and a report section with a row per reader, the kappa and the paired test.

The pooled human AUC needs nothing registered: it is a result row like a model's, and its
condition (``original`` or ``redact(level=L)``) is placed on the axes the modalities register.
"""

from __future__ import annotations

from racelens.reader.view import READERS_SCHEMA, collect_readers, render_readers
from racelens.shared.report.registry import (
    AttachmentType,
    ReportSection,
    register_attachment,
    register_section,
)

__all__: list[str] = []

register_attachment(AttachmentType(key="readers", schema=READERS_SCHEMA, collect=collect_readers))
register_section(ReportSection(
    key="reader_studies", title="Reader studies", schemas=(READERS_SCHEMA,),
    render=render_readers, order=30,
    lead="Human experts asked the same question as the models, on items sampled one per patient "
    "and shown blinded: each reader's macro AUC (confidences as scores where given, otherwise "
    "the one-hot guess; can't tell scores 1/k), how often they could not tell, how much they "
    "agreed, and, where the study was made from an audit run, a paired DeLong test of the "
    "readers' mean score against the model on the same items."))
