"""presidio integration: a recognizer for ``RACE_ETHNICITY`` and an engine that downloads nothing.

:class:`RaceRecognizer` wraps :class:`~racelens.text.redact.redactor.RaceRedactor` as a presidio
``EntityRecognizer``, so it drops into any ``AnalyzerEngine`` next to the user's other
recognizers. Each result explains itself: the rule that fired and the category found.

:func:`build_analyzer` builds an ``AnalyzerEngine`` on ``spacy.blank("en")`` (tokeniser only),
so presidio never tries to download ``en_core_web_lg``.

Example
-------
>>> analyzer = build_analyzer()
>>> [(r.start, r.end, r.entity_type) for r in analyzer.analyze("54 yo AA M", language="en")]
[(6, 8, 'RACE_ETHNICITY')]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from racelens.errors import MissingExtraError
from racelens.text.redact.lexicon import Level
from racelens.text.redact.redactor import LABEL, RaceRedactor

try:
    import spacy
    from presidio_analyzer import (
        AnalysisExplanation,
        AnalyzerEngine,
        EntityRecognizer,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
except ImportError as exc:  # pragma: no cover - presidio is a core dependency
    raise MissingExtraError("presidio-analyzer", "text") from exc

__all__ = ["RaceRecognizer", "BlankSpacyNlpEngine", "blank_nlp_engine", "build_analyzer", "LABEL"]


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine on blank pipelines (tokeniser only): nothing is downloaded.

    Parameters
    ----------
    languages
        Language codes to create a ``spacy.blank`` pipeline for.
    """

    def __init__(self, languages: Iterable[str] = ("en",)) -> None:
        langs = list(languages)
        super().__init__(models=[{"lang_code": lang, "model_name": f"blank:{lang}"} for lang in langs])
        self._languages = langs

    def load(self) -> None:
        """Create the blank pipelines (presidio's own ``load`` would try a download)."""
        self.nlp = {lang: spacy.blank(lang) for lang in self._languages}


def blank_nlp_engine(languages: Iterable[str] = ("en",)) -> BlankSpacyNlpEngine:
    """A loaded :class:`BlankSpacyNlpEngine`."""
    engine = BlankSpacyNlpEngine(languages)
    engine.load()
    return engine


class RaceRecognizer(EntityRecognizer):
    """presidio recognizer for race and ethnicity mentions (entity ``RACE_ETHNICITY``).

    Parameters
    ----------
    level
        ``"explicit"`` or ``"extended"`` (see :class:`~racelens.text.redact.redactor.RaceRedactor`).
    supported_language
        The presidio language code this recognizer answers for.
    score
        The score given to every hit (the rules are deterministic).
    redactor
        A configured :class:`RaceRedactor` to use instead of building one from ``level``.
    """

    ENTITIES = [LABEL]

    def __init__(self, level: Level = "explicit", supported_language: str = "en",
                 score: float = 0.85, redactor: RaceRedactor | None = None) -> None:
        self.redactor = redactor if redactor is not None else RaceRedactor(level=level)
        self.score = score
        super().__init__(supported_entities=list(self.ENTITIES), name="RaceRecognizer",
                         supported_language=supported_language, version="1.0")

    def load(self) -> None:
        """Nothing to load: the lexicon is compiled when the redactor is built."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """Return one ``RecognizerResult`` per mention, with its rule and category explained."""
        if entities and LABEL not in entities:
            return []
        results = []
        for span in self.redactor.analyze(text):
            explanation = AnalysisExplanation(
                recognizer=self.name, original_score=self.score, pattern_name=span.rule,
                textual_explanation=f"rule={span.rule}; category={span.category}")
            metadata: dict[str, Any] = {
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                "rule": span.rule,
                "category": span.category,
            }
            results.append(RecognizerResult(LABEL, span.start, span.end, self.score,
                                            analysis_explanation=explanation,
                                            recognition_metadata=metadata))
        return results


def build_analyzer(level: Level = "explicit", *,
                   extra_recognizers: Iterable[EntityRecognizer] = ()) -> AnalyzerEngine:
    """An ``AnalyzerEngine`` on ``spacy.blank("en")`` with :class:`RaceRecognizer` registered.

    Parameters
    ----------
    level
        Redaction level of the recognizer.
    extra_recognizers
        More recognizers to register beside it (for example presidio pattern recognizers).

    Returns
    -------
    presidio_analyzer.AnalyzerEngine
    """
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(RaceRecognizer(level=level))
    for rec in extra_recognizers:
        registry.add_recognizer(rec)
    return AnalyzerEngine(registry=registry, nlp_engine=blank_nlp_engine(), supported_languages=["en"])
