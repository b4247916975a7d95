"""The race_redactor component in real blank spaCy pipelines."""

from __future__ import annotations

import importlib.metadata

import spacy

import racelens.text.integrations.spacy_component  # noqa: F401  (registers the factory from source, too)
from racelens.text.redact.redactor import LABEL, RaceRedactor

TEXT = "54 yo AA M. Race: White\nWBC 12, black stools. Dr. White saw the Hispanic pt (54yoAAM)."


def test_add_pipe_sets_spans_ents_and_redaction() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("race_redactor", config={"level": "explicit"})
    doc = nlp(TEXT)
    assert [(s.text, s.label_, s.kb_id_) for s in doc.spans["race"]] == [
        ("AA", LABEL, "demographic_slot"), ("White", LABEL, "demographic_line"),
        ("Hispanic", LABEL, "term"), ("54yoAAM", LABEL, "demographic_slot")]
    assert [e.text for e in doc.ents] == ["AA", "White", "Hispanic", "54yoAAM"]
    assert doc._.redacted == RaceRedactor().redact(TEXT).text
    assert [(s.start, s.end, s.category) for s in doc._.race_spans][:2] == [
        (6, 8, "black"), (18, 23, "white")]


def test_config_options_and_existing_entities_win() -> None:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "hispanic"}, {"LOWER": "pt"}]}])
    nlp.add_pipe("race_redactor", config={"level": "extended", "replacement": "<X>",
                                          "spans_key": "sc"})
    doc = nlp("Haitian woman, Hispanic pt")
    assert [s.text for s in doc.spans["sc"]] == ["Haitian", "Hispanic"]
    assert [(e.text, e.label_) for e in doc.ents] == [("Haitian", LABEL), ("Hispanic pt", "PERSON")]
    assert doc._.redacted == "<X> woman, <X> pt"


def test_replacement_empty_deletes_the_mentions() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("race_redactor", config={"replacement": ""})
    doc = nlp(TEXT)
    assert doc._.redacted == ("54 yo M. Race: \nWBC 12, black stools. Dr. White saw the pt "
                              "(54yo).")
    assert [s.text for s in doc.spans["race"]] == ["AA", "White", "Hispanic", "54yoAAM"]


def test_no_ents_when_disabled_and_pipe_config_roundtrip(tmp_path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("race_redactor", config={"set_ents": False})
    doc = nlp("Caucasian male")
    assert doc.ents == () and [s.text for s in doc.spans["race"]] == ["Caucasian"]
    nlp.to_disk(tmp_path / "pipe")
    again = spacy.load(tmp_path / "pipe")
    assert again(TEXT)._.redacted == RaceRedactor().redact(TEXT).text


def test_entry_point_declared() -> None:
    eps = importlib.metadata.entry_points(group="spacy_factories")
    assert {ep.name: ep.value for ep in eps}["race_redactor"] == (
        "racelens.text.integrations.spacy_component:make_race_redactor")
