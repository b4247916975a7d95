"""The demographic slot grammar: age token x sex token x race term x order x separators.

One table of every combination (presidio style: text and the exact spans expected), with the hard
negatives beside it; the independent scan (text/check/scan.py) must count the same forms.
"""

from __future__ import annotations

from itertools import product

import pytest

from racelens.text.check.scan import scan_residual
from racelens.text.redact import RaceRedactor
from racelens.text.redact.slot import SlotGrammar


@pytest.fixture(scope="module")
def explicit() -> RaceRedactor:
    return RaceRedactor(level="explicit")


# tokens that stand before or after the race term
AGE_SEX = ["72F", "54M", "3yoF", "45 y/o F", "45yo M", "45-year-old F", "72 F", "72f", "3yof"]
SEX_AGE = ["M/72", "F 45", "F/45"]
AGE_ONLY = ["45yo", "45 y/o", "45-year-old"]
SEPARATORS = [" ", ", ", "/", " / ", ",", "\n", " - "]
# (written term, category): words that need context and a short form of the slot
RACE = [("black", "black"), ("Black", "black"), ("WHITE", "white"), ("white", "white"),
        ("AA", "black")]
TAIL = " w/ GERD"


def _table() -> list[tuple[str, tuple[str, str]]]:
    rows = []
    for token, sep, (term, category) in product(AGE_SEX + SEX_AGE, SEPARATORS, RACE):
        if token in SEX_AGE and sep == "/":
            continue  # "M/72/black": a slash glued to the number reads as a date ("F 12/03")
        rows.append((f"{token}{sep}{term}{TAIL}", (term, category)))  # token first
        rows.append((f"{term}{sep}{token}{TAIL}", (term, category)))  # race word first
    for token, sep, (term, category) in product(AGE_ONLY, [" ", ", ", "\n"], RACE):
        rows.append((f"{term}{sep}{token}{TAIL}", (term, category)))  # an age after the word
    return rows


@pytest.mark.parametrize("text,expected", _table())
def test_every_written_form_of_the_slot(explicit: RaceRedactor, text: str,
                                        expected: tuple[str, str]) -> None:
    term, category = expected
    spans = explicit.analyze(text)
    assert [(s.text, s.category) for s in spans] == [(term, category)]
    # short forms are slot terms; a colour word next to an age-sex token says why, too
    assert spans[0].rule in ("demographic_slot", "age_context", "person_context")
    assert term not in explicit.redact(text).text.replace(TAIL, "")
    # the independent scan counts the glued forms it knows (conservative: no hyphen between,
    # no bare age after the word)
    if " - " not in text and not any(text.startswith(f"{term}{sep}{a}")
                                     for a in AGE_ONLY for sep in SEPARATORS):
        assert [h[2] for h in scan_residual(text)] == [term.lower()]


# the issue's cases, with the rule that keeps each
ISSUE = [
    ("72F black w/ GERD", [("black", "demographic_slot")]),
    ("44F Black w/ asthma", [("Black", "demographic_slot")]),
    ("54 yo AA M", [("AA", "demographic_slot")]),
    ("3yoF AA with fever", [("AA", "demographic_slot")]),
    ("45 y/o F, white, with CP", [("white", "demographic_slot")]),
    ("M/72 black presenting with SOB", [("black", "demographic_slot")]),
    ("black M/72", [("black", "person_context")]),  # a sex letter after: the person rule
    ("45-year-old white", [("white", "age_context")]),
    ("AA 54M", [("AA", "demographic_slot")]),
]


@pytest.mark.parametrize("text,expected", ISSUE)
def test_issue_forms_and_rules(explicit: RaceRedactor, text: str, expected: list) -> None:
    assert [(s.text, s.rule) for s in explicit.analyze(text)] == expected


# hard negatives beside them: a period ends the slot, safe phrases come first, a token must be a
# whole token (not a temperature, a decimal or part of a longer number), a spaced lower-case
# letter is a word
NEGATIVES = [
    "72F. White count 12",
    "F/U with Dr. White",
    "45M black stools",
    "72F. Black stools overnight",
    "54M white blood cells 12",
    "72F AA meetings weekly",
    "M/72. White matter changes",
    "F/U white count",
    "T 98.6F, white plaque",
    "1072F black",
    "a72F black",
    "72 f black",
    "F 45.5 white",
    "stool was black 2 years ago",
    "72F; white",
    "M/72.\n\nwhite",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_hard_negatives_beside_the_grammar(explicit: RaceRedactor, text: str) -> None:
    assert explicit.analyze(text) == []
    assert explicit.redact(text).text == text
    assert scan_residual(text) == []


def test_grammar_reads_only_the_tokens_around_the_term() -> None:
    g = SlotGrammar()
    assert g.token_before("72F black", 4) and not g.token_before("72F. black", 5)
    assert g.token_after("black, M/72", 5) and not g.token_after("black 2 years ago", 5)
    # one line break between a token and the word, never two
    assert g.token_before("72F\nblack", 4) and not g.token_before("72F\n\nblack", 5)


@pytest.mark.parametrize("replacement", ["[RACE]", ""])
@pytest.mark.parametrize("text", ["72F black w/ GERD", "black 72F, AA 54M", "M/72 white; F 45 black"])
def test_slot_redaction_is_idempotent(replacement: str, text: str) -> None:
    r = RaceRedactor(replacement=replacement)
    once = r.redact(text)
    assert r.redact(once.text).text == once.text and r.analyze(once.text) == []
