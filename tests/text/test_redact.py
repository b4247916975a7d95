"""Table-driven tests of RaceRedactor: positives and hard negatives with exact spans.

One table per recognizer job, as in presidio's ``tests/test_*_recognizer.py``: each row is a text
and the exact ``(start, end, category, rule)`` of every span expected.
"""

from __future__ import annotations

import pytest

from racelens.errors import ConfigError
from racelens.text.redact.lexicon import Term, load_lexicon
from racelens.text.redact.redactor import LABEL, RaceRedactor, Redaction, Span


@pytest.fixture(scope="module")
def explicit() -> RaceRedactor:
    return RaceRedactor(level="explicit")


@pytest.fixture(scope="module")
def extended() -> RaceRedactor:
    return RaceRedactor(level="extended")


def _spans(redactor: RaceRedactor, text: str) -> list[tuple[str, str, str]]:
    return [(s.text, s.category, s.rule) for s in redactor.redact(text).spans]


def _check_offsets(text: str, red: Redaction) -> None:
    for s in red.spans:
        assert text[s.start:s.end] == s.text
        assert s.label == LABEL


# Explicit terms that need no context.
TERMS = [
    ("Pt is African American.", [("African American", "black", "term")]),
    ("an African-American man", [("African-American", "black", "term")]),
    ("Afr. Am. female", [("Afr. Am.", "black", "term")]),
    ("Afr Am pt", [("Afr Am", "black", "term")]),
    ("Caucasian male", [("Caucasian", "white", "term")]),
    ("CAUCASIANS and Asians", [("CAUCASIANS", "white", "term"), ("Asians", "asian", "term")]),
    ("Asian-Indian gentleman", [("Asian-Indian", "asian", "term")]),
    ("Asian American woman", [("Asian American", "asian", "term")]),
    ("Hispanic female", [("Hispanic", "hispanic_latino", "term")]),
    ("Latina, Latino, Latinx", [("Latina", "hispanic_latino", "term"),
                                ("Latino", "hispanic_latino", "term"),
                                ("Latinx", "hispanic_latino", "term")]),
    ("non-Hispanic", [("non-Hispanic", "hispanic_latino", "term")]),
    ("Native American and American Indian", [
        ("Native American", "american_indian_alaska_native", "term"),
        ("American Indian", "american_indian_alaska_native", "term")]),
    ("Alaskan Native elder", [("Alaskan Native", "american_indian_alaska_native", "term")]),
    ("Native Hawaiian or Pacific Islander", [
        ("Native Hawaiian", "native_hawaiian_pacific_islander", "term"),
        ("Pacific Islander", "native_hawaiian_pacific_islander", "term")]),
    ("Middle Eastern and North African", [
        ("Middle Eastern", "middle_eastern_north_african", "term"),
        ("North African", "middle_eastern_north_african", "term")]),
    ("biracial; multiracial; mixed race", [("biracial", "multiracial", "term"),
                                          ("multiracial", "multiracial", "term"),
                                          ("mixed race", "multiracial", "term")]),
    ("non-Hispanic white woman", [("non-Hispanic white", "white", "term")]),
]

# Short forms: only in the demographic slot.
SLOT = [
    ("54 yo AA M presents", [("AA", "black", "demographic_slot")]),
    ("54 y/o AAF with CP", [("AAF", "black", "demographic_slot")]),
    ("a 54-year-old AAM", [("AAM", "black", "demographic_slot")]),
    ("Pt is AA male", [("AA", "black", "demographic_slot")]),
    ("45yo WM presents", [("WM", "white", "demographic_slot")]),
    ("45 yo W/M presents", [("W/M", "white", "demographic_slot")]),
    ("60 yo BF; 71 yo WF", [("BF", "black", "demographic_slot"), ("WF", "white", "demographic_slot")]),
    ("33 y.o. B/F", [("B/F", "black", "demographic_slot")]),
]

# "black"/"white" only in a person context.
PERSON = [
    ("a black female", [("black", "black", "person_context")]),
    ("White man, 60", [("White", "white", "person_context")]),
    ("black elderly woman", [("black", "black", "person_context")]),
    ("white M with CP", [("white", "white", "person_context")]),
    ("67 year old white female", [("white", "white", "age_context")]),
    ("she identifies as black.", [("black", "black", "identity_context")]),
    ("race is white.", [("white", "white", "identity_context")]),
    ("black and white patients", [("black", "black", "person_context"),
                                  ("white", "white", "person_context")]),
    ("Hispanic white", [("Hispanic", "hispanic_latino", "term"), ("white", "white", "group_list")]),
    ("Black, Asian or Hispanic", [("Black", "black", "group_list"), ("Asian", "asian", "term"),
                                  ("Hispanic", "hispanic_latino", "term")]),
    ("Whites and Blacks", []),
]

LINES = [
    ("Race: Black or African American\nEthnicity: Not Hispanic or Latino", [
        ("Black or African American", "black", "demographic_line"),
        ("Not Hispanic or Latino", "hispanic_latino", "demographic_line")]),
    ("Race: white, Ethnicity: Hispanic.", [("white", "white", "demographic_line"),
                                          ("Hispanic", "hispanic_latino", "demographic_line")]),
    ("RACE/ETHNICITY: Unknown", [("Unknown", "unspecified", "demographic_line")]),
    ("race = Asian", [("Asian", "asian", "demographic_line")]),
]

# Hard negatives: protected phrases and non-person uses.
NEGATIVES = [
    "white blood cells 12.3; WBC elevated; white count stable",
    "white blood cell count and white matter hyperintensities",
    "white line of Toldt incised; white load stapler fired",
    "white coat hypertension; white plaque on tongue; white patch; white scar tissue",
    "preserved gray-white differentiation; gray-white junction",
    "black stools x2, black tarry stools, black eschar on heel",
    "patient had a blackout; black box warning reviewed",
    "Mr. White and Dr. Black saw Mrs. White; Ms. Black agrees",
    "attends AA meetings; AA sponsor; hx of AA repair; AA levels low",
    "last BM yesterday; 2 BMs today; BM x3",
    "white-out of the left hemithorax; whiteout",
    "black and white photo; white discharge; the stool is black",
    "WM lesions noted; BF ratio; CF clinic",
    "Race: [RACE]",
    "Whitehead, Blackburn, blacken, whitening",
]

EXTENDED = [
    ("Haitian woman", [("Haitian", "national_origin", "term")]),
    ("Puerto Rican pt", [("Puerto Rican", "national_origin", "term")]),
    ("speaks Spanish", [("Spanish", "language", "language")]),
    ("Cantonese interpreter used", [("Cantonese", "language", "language")]),
    ("Haitian Creole-speaking", [("Haitian Creole", "language", "language")]),
    ("Interpreter: Mandarin", [("Mandarin", "language", "language")]),
    ("born in the Dominican Republic", [("Dominican Republic", "birthplace", "birthplace")]),
    ("immigrated from Somalia", [("Somalia", "birthplace", "birthplace")]),
    ("Country of origin: Cape Verde", [("Cape Verde", "birthplace", "demographic_line")]),
]


@pytest.mark.parametrize(("text", "expected"), TERMS + SLOT + PERSON + LINES)
def test_explicit_positives(explicit: RaceRedactor, text: str, expected: list) -> None:
    red = explicit.redact(text)
    assert [(s.text, s.category, s.rule) for s in red.spans] == expected
    _check_offsets(text, red)


@pytest.mark.parametrize("text", NEGATIVES)
def test_hard_negatives_untouched(explicit: RaceRedactor, extended: RaceRedactor, text: str) -> None:
    assert explicit.redact(text) == Redaction(text, [])
    assert extended.redact(text).spans == []


@pytest.mark.parametrize(("text", "expected"), EXTENDED)
def test_extended_positives(extended: RaceRedactor, explicit: RaceRedactor, text: str,
                            expected: list) -> None:
    exp = expected
    if expected[0][2] == "demographic_line":
        exp = [(t, "unspecified", r) for t, _, r in expected]
    assert _spans(extended, text) == exp
    assert _spans(explicit, text) == []


def test_exact_offsets_and_text() -> None:
    text = "54 yo AA M. Race: White\nHx: WBC 12, black stools."
    red = RaceRedactor().redact(text)
    assert red.spans == [
        Span(6, 8, LABEL, "black", "demographic_slot", "AA"),
        Span(18, 23, LABEL, "white", "demographic_line", "White"),
    ]
    assert red.text == "54 yo [RACE] M. Race: [RACE]\nHx: WBC 12, black stools."


def test_replacement_extra_and_safe_terms() -> None:
    r = RaceRedactor(replacement="<R>", extra_terms=("Garifuna", Term("Kriol", "language")),
                     safe_terms=("Caucasian Club",))
    red = r.redact("Garifuna woman; Kriol; Caucasian Club member; Caucasian man")
    assert red.text == "<R> woman; <R>; Caucasian Club member; <R> man"
    assert [s.category for s in red.spans] == ["custom", "language", "white"]


@pytest.mark.parametrize(("level", "text", "deleted", "spans"), [
    # a term: the space it leaves doubled goes with it
    ("explicit", "Pt is a Caucasian man with cp.", "Pt is a man with cp.",
     [("Caucasian", "term")]),
    # the demographic slot, also at the start of the text and of a line
    ("explicit", "54 yo AA M with cp", "54 yo M with cp", [("AA", "demographic_slot")]),
    ("explicit", "AA M with cp", "M with cp", [("AA", "demographic_slot")]),
    ("explicit", "HPI:\nWhite male, 54", "HPI:\nmale, 54", [("White", "person_context")]),
    ("explicit", "61 yo W F", "61 yo F", [("W", "demographic_slot")]),
    # a demographic line keeps its label and separator: "Race: " (the value goes, not the form)
    ("explicit", "Race: White\nSex: F", "Race: \nSex: F", [("White", "demographic_line")]),
    ("explicit", "Race: Black or African American. Sex: F", "Race: . Sex: F",
     [("Black or African American", "demographic_line")]),
    # only a space between a space and the mention collapses; punctuation stays
    ("explicit", "black, white and Asian patients", ", and patients",
     [("black", "group_list"), ("white", "group_list"), ("Asian", "term")]),
    # extended language
    ("extended", "speaks Spanish at home; Cantonese interpreter; born in Haiti.",
     "speaks at home; interpreter; born in .",
     [("Spanish", "language"), ("Cantonese", "language"), ("Haiti", "birthplace")]),
    # deletion joins the words around a mention into a new one: the span widens to cover it
    ("explicit", "An African Caucasian American male", "An male",
     [("African Caucasian American", "joined")]),
    ("explicit", "Afr-Black-Am, WBC 12", "Afr-Black-Am, WBC 12", []),
])
def test_deletion(level: str, text: str, deleted: str, spans: list) -> None:
    r = RaceRedactor(level=level, replacement="")  # type: ignore[arg-type]
    red = r.redact(text)
    assert red.text == deleted
    assert [(s.text, s.rule) for s in red.spans] == spans
    # the spans are the original text's, exactly those of the token redaction where no words joined
    if all(s.rule != "joined" for s in red.spans):
        assert red.spans == RaceRedactor(level=level).redact(text).spans  # type: ignore[arg-type]
    for s in red.spans:
        assert text[s.start:s.end] == s.text
    assert r.redact(red.text) == Redaction(red.text, [])


def test_deletion_on_synthetic_notes_finds_what_the_token_redaction_finds() -> None:
    """On realistic notes deletion removes exactly the token redaction's spans (no joins) and
    leaves nothing the redactor would find again."""
    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_patients(150, seed=4), seed=4).notes["text"]
    r = RaceRedactor(replacement="")
    token = RaceRedactor()
    n = 0
    for text in notes:
        red = r.redact(text)
        assert red.spans == token.redact(text).spans
        assert "[RACE]" not in red.text and r.analyze(red.text) == []
        n += len(red.spans)
    assert n > 20


def test_user_lexicon_file(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("terms:\n  - {term: Garifuna, category: national_origin, level: extended}\n"
                    "safe:\n  - {name: asian_flu, phrase: asian flu}\n", encoding="utf-8")
    r = RaceRedactor(level="extended", lexicon=str(path))
    assert _spans(r, "Garifuna man with Asian flu") == [("Garifuna", "national_origin", "term")]
    assert RaceRedactor(level="explicit", lexicon=str(path)).redact("Garifuna").spans == []
    assert load_lexicon(path).sources == ("packaged", "mine.yaml")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"level": "maximal"}, "unknown redaction level 'maximal'"),
    ({"replacement": None}, "or be '' to delete"),
    ({"replacement": "RACE"}, "non-word character"),
    ({"replacement": "[A B]"}, "no whitespace"),
])
def test_invalid_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RaceRedactor(**kwargs)


def test_bad_lexicon_entries() -> None:
    with pytest.raises(ConfigError, match="has level 'loud'"):
        load_lexicon({"terms": [{"term": "x", "level": "loud"}]})
    with pytest.raises(ConfigError, match="unknown lexicon key"):
        load_lexicon({"words": []})
    with pytest.raises(ConfigError, match="not a valid regex"):
        load_lexicon({"safe": [{"pattern": "(("}]})


def test_redact_batch_keeps_order(explicit: RaceRedactor) -> None:
    texts = [f"note {i}: {'Caucasian' if i % 3 == 0 else 'no mention'}" for i in range(50)]
    single = [r.text for r in explicit.redact_batch(iter(texts))]
    multi = [r.text for r in explicit.redact_batch(iter(texts), n_process=2, chunk_size=7)]
    assert single == multi == [explicit.redact(t).text for t in texts]
    assert sum("[RACE]" in t for t in single) == 17


def test_idempotent_on_table(explicit: RaceRedactor, extended: RaceRedactor) -> None:
    for text, _ in TERMS + SLOT + PERSON + LINES + EXTENDED:
        for r in (explicit, extended):
            once = r.redact(text).text
            assert r.redact(once).text == once
            assert r.redact(once).spans == []


@pytest.mark.parametrize(("text", "expected"), [
    ("54 WM with CP", [("WM", "white", "demographic_slot")]),
    ("Race - Other", [("Other", "unspecified", "demographic_line")]),
    ("white smokers", [("white", "white", "person_context")]),
    ("race-based dosing; 10 AA; 12 BM", []),
    # a slot letter spaced from the sex letter, and the slashed Asian/Hispanic compact forms
    ("61 yo W F with CP", [("W", "white", "demographic_slot")]),
    ("61 y/o B M", [("B", "black", "demographic_slot")]),
    ("54 yo A/M; 33 y/o H/F", [("A/M", "asian", "demographic_slot"),
                              ("H/F", "hispanic_latino", "demographic_slot")]),
    ("AF on apixaban, AM dose; HF with reduced EF; 45 yo a f/u; 61 yo w f; A/M shift", []),
    # whitespace other than space/tab inside the slot or line; one line break at most
    ("54\u00a0yo\u00a0AA\u00a0M", [("AA", "black", "demographic_slot")]),
    ("Race:\u2009White", [("White", "white", "demographic_line")]),
    ("Race:\nWhite\nHPI: 54 yo M", [("White", "white", "demographic_line")]),
    ("Race:\r\nBlack", [("Black", "black", "demographic_line")]),
    ("Race:\nHPI: 54 yo M", []),
    # a value on the next line must name a term ("Race: White" deleted leaves "Race: \nWBC 12")
    ("Race: \nWBC 12, black stools", []),
    ("Race:\n\nWhite count 12", []),
    # the value ends at a colon or at the next one-word label on the same line (EHR headers
    # flattened into one line); before, "Sex: F Age: 54" was redacted with it
    ("Race: White Sex: F Age: 54", [("White", "white", "demographic_line")]),
    ("Race: Black or African American Ethnicity: Not Hispanic",
     [("Black or African American", "black", "demographic_line"),
      ("Not Hispanic", "hispanic_latino", "demographic_line")]),
    ("Race: Declined: see chart", [("Declined", "unspecified", "demographic_line")]),
])
def test_slot_and_line_variants(explicit: RaceRedactor, text: str, expected: list) -> None:
    assert _spans(explicit, text) == expected


def test_short_form_glued_to_age(explicit: RaceRedactor) -> None:
    assert _spans(explicit, "54yoAAM, 61 y/oWF") == [("AAM", "black", "demographic_slot"),
                                                   ("WF", "white", "demographic_slot")]
    assert explicit.redact("54yoAAM").text == "54yo[RACE]"
