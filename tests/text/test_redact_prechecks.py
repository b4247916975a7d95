"""The context checks' cheap pre-checks never reject what their patterns accept.

Each check of what ends right before a term (an age, an identity phrase, an age-sex token) first
reads a character or two before the term and only then searches its window. These tests hold
the pre-checked checks equal to the plain window searches on seeded random texts built from the
pieces the patterns read (digits, units in any case, sex letters, separators, identity phrases,
characters that case-insensitive matching folds: the long s, the Kelvin sign, dotted I).
"""

from __future__ import annotations

import random
import re

import pytest

from racelens.text.redact import RaceRedactor
from racelens.text.redact.slot import AGE, AGE_SEX, SEP, SEX_AGE, SlotGrammar, unit_may_end

_PIECES = ["54", "7", "123", " ", "  ", "\n", "-", ",", "/", ".", ":", "y/o", "Y/O", "y.o.", "y.o",
           "yo", "YO", "yrs", "yrs.", "yr", "yr.", "years", "year", "y", "old", " old", "-old",
           "M", "F", "m", "f", "was", "of", "sputum", "race", "Race", "ethnicity", "is", "was",
           "identifies as", "self-identified", "as", "describes herself", "a", "x", "\u017f",
           "\u212a", "\u0130", "\u00a0", "\u2009", "_", "R", "s", "o", "d", "l"]


_DIGITS = ["54", "7", "123", "1234", "4.5", "\u0665\u0664"]
_UNITS = ["y/o", "Y/O", "y.o.", "y.o", "yo", "YO", "yrs", "yrs.", "yr", "yr.", "years", "year", "y",
          "years old", "yo-old", "yr\u017f", "yo", ""]
_SEPS = ["", " ", "  ", "-", " - ", "\n", ", ", "/", "\u00a0"]
_ENDS = ["M", "F", "m", "f", "", "45", "M/72", "F 45", "Race:", "ethnicity is", "identifies as",
         "race was", "was", "of", "sputum"]


def _texts(n: int, seed: int) -> list[str]:
    """Half random runs of pieces, half an age, a unit, a sex letter or a phrase in random order
    and spelling, between random pieces."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        if k % 2:
            out.append("".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 9))))
        else:
            parts = [rng.choice(_PIECES) for _ in range(rng.randint(0, 2))]
            parts += [rng.choice(_DIGITS), rng.choice(_SEPS), rng.choice(_UNITS), rng.choice(_SEPS),
                      rng.choice(_ENDS), rng.choice(_SEPS)]
            if rng.random() < 0.3:
                parts.insert(0, rng.choice(_ENDS))
            out.append("".join(parts))
    return out


@pytest.fixture(scope="module")
def rules():
    return RaceRedactor(level="explicit")._rules


def test_unit_may_end_accepts_every_written_unit() -> None:
    age_end = re.compile(AGE + r"\Z", re.IGNORECASE)
    for unit in ("y/o", "y.o.", "y.o", "yo", "yrs", "yrs.", "yr", "yr.", "years", "year", "y",
                 "years old", "yo-old", "Y/O", "YRS.", "Years Old", "yr\u017f"):
        text = f"pt 54 {unit}"
        if age_end.search(text):
            assert unit_may_end(text, len(text) - 1), unit
    for text in ("was", "of", "sputum", "the stool", "a black"):
        assert not unit_may_end(text, len(text) - 1), text


def test_unit_may_end_is_implied_by_the_age_pattern() -> None:
    age_end = re.compile(AGE + r"\Z", re.IGNORECASE)
    hits = 0
    for text in _texts(5_000, seed=1):
        for k in range(len(text)):  # an age ending at each position
            if age_end.search(text, 0, k + 1):
                hits += 1
                assert unit_may_end(text, k), repr(text[:k + 1])
    assert hits > 1000  # the generator does write ages


def test_age_and_identity_checks_equal_their_plain_searches(rules) -> None:
    identity_plain = rules._identity_before.search
    age_plain = rules._age_before.search
    ages = identities = 0
    for text in _texts(20_000, seed=2):
        start = len(text)
        age = age_plain(text, max(0, start - 40), start) is not None
        # the age check keeps its ASCII unit-end filter (a unit folded from other characters
        # is not read as one), which the plain search does not have
        i = start - 1
        while i >= 0 and (text[i].isspace() or text[i] in ",-/"):
            i -= 1
        age = age and i >= 0 and text[i] in "oysdrOYSDR."
        assert rules.age_before(text, start) == age, repr(text)
        identity = identity_plain(text, max(0, start - 60), start) is not None
        assert rules.identity_before(text, start) == identity, repr(text)
        ages += age
        identities += identity
    assert ages > 200 and identities > 200


def test_token_before_equals_the_plain_search() -> None:
    grammar = SlotGrammar()
    plain = re.compile(rf"(?:{AGE_SEX}|{SEX_AGE}){SEP}\Z", re.IGNORECASE | re.MULTILINE).search
    found = 0
    for text in _texts(20_000, seed=3):
        start = len(text)
        i = start - 1
        while i >= 0 and (text[i].isspace() or text[i] in ",/-"):
            i -= 1
        expected = (i >= 0 and text[i] in "mfMF0123456789"
                    and plain(text, max(0, start - SlotGrammar.WINDOW), start) is not None)
        assert grammar.token_before(text, start) == expected, repr(text)
        assert grammar.token_before(text, start, i) == expected, repr(text)
        found += expected
    assert found > 200


def test_demographic_line_value_read_run_by_run_equals_the_lazy_loop() -> None:
    # the line's value is read run by run (possessive runs of word characters and of the
    # rest); written character by character it is "[^\W_](?:[^\n;|.,\[\]]*?[\w)])?": the two
    # must end every value at the same place
    from racelens.text.redact.recognizers import DemographicLine

    line = next(r for r in RaceRedactor(level="explicit")._registry.recognizers
                if isinstance(r, DemographicLine))
    word, other = r"[\w)]++", r"[^\n;|.,\[\]\w)]++"
    runs = rf"[^\W_](?:{word}(?:{other}{word})*?|(?:{other}{word})+?)?"
    assert runs in line._regex
    flags = re.IGNORECASE | re.MULTILINE
    fast = re.compile(line._regex, flags)
    plain = re.compile(line._regex.replace(runs, r"[^\W_](?:[^\n;|.,\[\]]*?[\w)])?"), flags)
    pieces = ["Race:", "Ethnicity -", "race =", "White", "Not Hispanic", "or", "Latino", " ",
              "  ", "\n", ":", "Sex: F", "(", ")", "pt)", ".", ",", ";", "[RACE]", "y", "\u017f",
              "\u3000", "12", "-", "/", "Declined: see", "_", "x"]
    rng = random.Random(4)
    matched = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(2, 10)))
        a, b = fast.search(text), plain.search(text)
        assert (a and (a.span(), a.span("line_v"))) == (b and (b.span(), b.span("line_v"))), repr(text)
        matched += a is not None
    assert matched > 2000
