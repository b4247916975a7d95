"""What kind of information a term is: the lexicon's categories, conditions, names, places, social history.

Every n-gram of the leakage model's vocabulary gets one category, the first that matches in
:data:`CATEGORY_ORDER`:

- ``names`` - a title and what follows it (``dr white``, ``mr lee``: a person's name);
- ``explicit race`` - an explicit lexicon term the redaction left (``level: explicit``);
- ``national origin`` - the lexicon's extended ``national_origin`` terms (``haitian``, ``irish``);
- ``language`` - the lexicon's languages (``cantonese``, ``spanish``, ``haitian creole``);
- ``interpreter`` - interpreter and translation cues (the lexicon's language cues);
- ``birthplace`` - the lexicon's birthplace cues (``born in``, ``originally from``);
- ``places`` - the lexicon's countries and regions (``haiti``, ``cape verde``, ``china``);
- ``conditions`` - conditions whose prevalence differs by ancestry (:data:`CONDITIONS`);
- ``social history`` - household, work, habits, religion, insurance (:data:`SOCIAL_HISTORY`);
- ``other`` - everything else.

A term matches a category when one of the category's phrases occurs in it as whole tokens, or
when it is itself a whole-token part of a longer phrase (one word of four letters or more, or
several words: ``verde`` of ``cape verde``). The lexicon comes from :func:`racelens.text.redact.lexicon.load_lexicon`
(``data/lexicon.yaml``), so a user's lexicon additions categorise terms too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["CATEGORY_ORDER", "CONDITIONS", "SOCIAL_HISTORY", "NAME_TITLES", "categorize"]

CATEGORY_ORDER: tuple[str, ...] = (
    "names", "explicit race", "national origin", "language", "interpreter", "birthplace",
    "places", "conditions", "social history", "other")

#: Conditions with ancestry-dependent prevalence that notes name (a proxy, not a race term).
CONDITIONS: tuple[str, ...] = (
    "sickle cell", "sickle", "thalassemia", "hemochromatosis", "cystic fibrosis", "sarcoidosis",
    "keloid", "keloids", "hepatitis b", "hepatitis", "g6pd", "tay-sachs", "lupus",
    "familial mediterranean fever", "lactose intolerance", "nasopharyngeal carcinoma",
    "hemoglobin c", "hemoglobin e", "focal segmental glomerulosclerosis", "apol1")

#: Social-history vocabulary: household, work, habits, religion, insurance, housing.
SOCIAL_HISTORY: tuple[str, ...] = (
    "lives", "spouse", "wife", "husband", "daughter", "son", "family", "alone", "apartment",
    "house", "home", "married", "divorced", "widowed", "single", "children", "retired",
    "works", "worked", "employed", "unemployed", "construction", "teacher", "job", "smoker",
    "smoking", "tobacco", "pack-years", "alcohol", "beers", "beer", "drinks", "wine", "drug",
    "illicit", "cocaine", "heroin", "marijuana", "church", "religion", "religious", "jehovah",
    "witness", "insurance", "medicaid", "medicare", "uninsured", "homeless", "shelter",
    "housing", "incarcerated", "prison", "immigrant", "refugee", "translates", "translated")

NAME_TITLES: tuple[str, ...] = ("dr", "mr", "mrs", "ms", "miss")


def _lexicon_phrases(lexicon: Any) -> dict[str, set[str]]:
    explicit = {f for t in lexicon.terms if t.level == "explicit" for f in t.forms()}
    origin = {f for t in lexicon.terms
              if t.level != "explicit" and t.category == "national_origin" for f in t.forms()}
    interpreter = {c for c in (*lexicon.language_cues_before, *lexicon.language_cues_after)
                   if "interpret" in c or "translat" in c} | {"interpreter", "interpreters",
                                                                "translator"}
    return {"explicit race": explicit, "national origin": origin,
            "language": set(lexicon.languages), "interpreter": interpreter,
            "birthplace": set(lexicon.country_cues), "places": set(lexicon.countries),
            "conditions": set(CONDITIONS), "social history": set(SOCIAL_HISTORY)}


def _subgrams(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}


def _index(phrases: Iterable[str]) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """The phrases as token tuples, and their proper parts (a word of 4+ letters, or 2+ words)."""
    whole = {tuple(p.lower().split()) for p in phrases if p.strip()}
    parts = {sub for p in whole if len(p) > 1 for sub in _subgrams(p)
             if sub != p and (len(sub) > 1 or len(sub[0]) >= 4)}
    return whole, parts


def categorize(terms: Sequence[str], lexicon: Any | None = None) -> list[str]:
    """The category of each term (lower-case n-grams as the TF-IDF vocabulary holds them).

    >>> categorize(["cantonese interpreter", "sickle", "dr white", "lives alone", "cough"])
    ['language', 'conditions', 'names', 'social history', 'other']
    """
    from racelens.text.redact.lexicon import load_lexicon

    lex = lexicon if lexicon is not None else load_lexicon()
    indexed = {name: _index(phrases) for name, phrases in _lexicon_phrases(lex).items()}
    out: list[str] = []
    for term in terms:
        tokens = term.lower().split()
        found = "other"
        if any(t in NAME_TITLES for t in tokens[:-1]):
            found = "names"  # a title and the word after it: a person, whatever the word is
        else:
            subs = _subgrams(tokens)
            whole_term = tuple(tokens)
            for name in CATEGORY_ORDER:
                if name in indexed:
                    whole, parts = indexed[name]
                    if subs & whole or whole_term in parts:
                        found = name
                        break
        out.append(found)
    return out
