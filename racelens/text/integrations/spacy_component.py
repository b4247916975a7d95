"""spaCy component ``race_redactor``: race and ethnicity mentions as spans, entities and a redaction.

Registered twice on purpose: by the package's ``spacy_factories`` entry point (so
``nlp.add_pipe("race_redactor")`` works in a fresh process once racelens is installed) and by
``@Language.factory`` when this module is imported (so it works from a source checkout).

Example
-------
>>> import spacy
>>> nlp = spacy.blank("en")
>>> _ = nlp.add_pipe("race_redactor", config={"level": "explicit"})
>>> doc = nlp("54 yo AA M, WBC 12")
>>> [(s.text, s.label_) for s in doc.spans["race"]], doc._.redacted
([('AA', 'RACE_ETHNICITY')], '54 yo [RACE] M, WBC 12')
"""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import filter_spans

from racelens.text.redact.lexicon import Level
from racelens.text.redact.redactor import LABEL, RaceRedactor

__all__ = ["RaceRedactorComponent", "make_race_redactor", "FACTORY"]

FACTORY = "race_redactor"
_DEFAULT_CONFIG: dict[str, Any] = {"level": "explicit", "replacement": "[RACE]",
                                   "spans_key": "race", "set_ents": True}

for _ext in ("redacted", "race_spans"):
    if not Doc.has_extension(_ext):
        Doc.set_extension(_ext, default=None)


class RaceRedactorComponent:
    """Pipeline component that runs :class:`RaceRedactor` on ``doc.text``.

    It sets ``doc.spans[spans_key]`` (label ``RACE_ETHNICITY``, ``kb_id_`` = rule), adds the
    mentions to ``doc.ents`` when ``set_ents`` (existing entities win where they overlap),
    ``doc._.redacted`` (the redacted text) and ``doc._.race_spans`` (racelens spans with
    category and rule, in character offsets).
    """

    def __init__(self, nlp: Language, name: str = FACTORY, *, level: Level = "explicit",
                 replacement: str = "[RACE]", spans_key: str = "race", set_ents: bool = True) -> None:
        self.name = name
        self.redactor = RaceRedactor(level=level, replacement=replacement)
        self.spans_key = spans_key
        self.set_ents = set_ents

    def __call__(self, doc: Doc) -> Doc:
        redaction = self.redactor.redact(doc.text)
        spans = []
        for s in redaction.spans:
            # A mention glued to other characters ("54yoAAM") may sit inside one token.
            span = doc.char_span(s.start, s.end, label=LABEL, kb_id=s.rule,
                                 alignment_mode="expand")
            if span is not None:
                spans.append(span)
        doc.spans[self.spans_key] = spans
        if self.set_ents and spans:
            kept = [sp for sp in filter_spans(spans)
                    if not any(sp.start < e.end and e.start < sp.end for e in doc.ents)]
            doc.ents = sorted(list(doc.ents) + kept, key=lambda sp: sp.start)
        doc._.redacted = redaction.text
        doc._.race_spans = redaction.spans
        return doc


def make_race_redactor(nlp: Language, name: str, level: Level, replacement: str,
                       spans_key: str, set_ents: bool) -> RaceRedactorComponent:
    """Factory of the ``race_redactor`` component (the entry point names this function)."""
    return RaceRedactorComponent(nlp, name, level=level, replacement=replacement,
                                 spans_key=spans_key, set_ents=set_ents)


if not Language.has_factory(FACTORY):
    Language.factory(FACTORY, default_config=_DEFAULT_CONFIG)(make_race_redactor)
