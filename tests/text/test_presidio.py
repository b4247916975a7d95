"""RaceRecognizer inside real presidio AnalyzerEngines on a blank spaCy pipeline."""

from __future__ import annotations

import pytest
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry

from racelens.text.integrations.presidio import (
    LABEL,
    BlankSpacyNlpEngine,
    RaceRecognizer,
    blank_nlp_engine,
    build_analyzer,
)
from racelens.text.redact.redactor import RaceRedactor

NOTES = [
    "54 yo AA M with CP. WBC 12, white blood cells up. Race: White",
    "Pt is a pleasant Caucasian woman; Mr. Black (son) at bedside; black stools.",
    "Black and white patients, Hispanic/Latino; attends AA meetings.",
    "Haitian Creole-speaking woman born in Haiti; Cantonese interpreter used.",
    "no mention at all",
]


@pytest.fixture(scope="module", params=["explicit", "extended"])
def analyzer_and_level(request):
    return build_analyzer(level=request.param), request.param


@pytest.mark.parametrize("text", NOTES)
def test_analyzer_results_equal_redactor_spans(analyzer_and_level, text: str) -> None:
    analyzer, level = analyzer_and_level
    results = analyzer.analyze(text, language="en", return_decision_process=True)
    got = sorted((r.start, r.end, r.entity_type, r.recognition_metadata["rule"],
                  r.recognition_metadata["category"]) for r in results)
    want = [(s.start, s.end, s.label, s.rule, s.category) for s in RaceRedactor(level=level).analyze(text)]
    assert got == want
    for r in results:
        assert r.analysis_explanation.recognizer == "RaceRecognizer"
        assert r.analysis_explanation.textual_explanation.startswith(
            f"rule={r.recognition_metadata['rule']}; category=")


def test_recognizer_in_a_users_engine_beside_pattern_recognizers() -> None:
    mrn = PatternRecognizer(supported_entity="MRN", patterns=[Pattern("mrn", r"\bMRN\d{6}\b", 0.9)])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(mrn)
    registry.add_recognizer(RaceRecognizer())
    engine = AnalyzerEngine(registry=registry, nlp_engine=blank_nlp_engine(), supported_languages=["en"])
    text = "MRN123456: 67 yo Hispanic female"
    got = sorted((r.entity_type, text[r.start:r.end]) for r in engine.analyze(text, language="en"))
    assert got == [("MRN", "MRN123456"), (LABEL, "Hispanic")]
    only_race = engine.analyze(text, language="en", entities=[LABEL])
    assert [(r.start, r.end) for r in only_race] == [(17, 25)]
    assert engine.analyze(text, language="en", entities=["MRN"])[0].entity_type == "MRN"


def test_blank_engine_downloads_nothing() -> None:
    engine = BlankSpacyNlpEngine()
    assert not engine.is_loaded()
    engine.load()
    assert engine.is_loaded()
    assert engine.nlp["en"].pipe_names == []
    arts = engine.process_text("Caucasian man", "en")
    assert [t.text for t in arts.tokens] == ["Caucasian", "man"]


def test_recognizer_metadata() -> None:
    rec = RaceRecognizer(level="extended", score=0.7)
    assert rec.supported_entities == [LABEL]
    assert rec.supported_language == "en"
    res = rec.analyze("speaks Spanish", entities=[LABEL])
    assert [(r.start, r.end, r.score, r.recognition_metadata["category"]) for r in res] == [
        (7, 14, 0.7, "language")]
    assert rec.analyze("speaks Spanish", entities=["PERSON"]) == []
