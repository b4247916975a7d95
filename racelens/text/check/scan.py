"""An independent residual scan for explicit race and ethnicity terms.

This scan is the second opinion on a redaction: it shares no code and no lexicon with
:class:`racelens.text.redact.redactor.RaceRedactor`, so a term the redactor misses is not missed here for
the same reason. It is deliberately small and conservative: only terms that are race or
ethnicity wherever they appear in a clinical note, plus "black"/"white" and the compact forms
(``AA``, ``WM``, ``B/F``, ``A/M``, ``W F``) only in the slots where notes put demographics ("54 yo AA M",
"Race: White", "black woman"). A hit is reported as its offsets, the matched term (lowercased,
never more context than the term) and a category.

Example
-------
>>> scan_residual("54 yo AA M, Hispanic, WBC 12")
[(6, 8, 'aa', 'race'), (12, 20, 'hispanic', 'ethnicity')]
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["ScanLevel", "Hit", "scan_residual", "residual_terms"]

ScanLevel = Literal["explicit", "extended"]
Hit = tuple[int, int, str, str]

# Terms that name a race or ethnicity wherever they occur in a note. Longer forms first so the
# alternation prefers them ("non-hispanic" over "hispanic", "african american" over nothing).
_ALWAYS: dict[str, tuple[str, ...]] = {
    "race": (
        r"african[\s-]+americans?", r"afro[\s-]+american", r"afr\.?\s+am\.?(?=\W|$)",
        r"caucasians?", r"asian[\s-]+americans?", r"asian[\s-]+indians?", r"asians?",
        r"native\s+americans?", r"american\s+indians?", r"alaskan?\s+natives?",
        r"native\s+hawaiians?", r"pacific\s+islanders?", r"middle\s+eastern",
        r"north\s+african", r"multi-?racial", r"bi-?racial", r"mixed[\s-]+race",
    ),
    "ethnicity": (
        r"non[\s-]*hispanic", r"hispanics?", r"latin[oa]s?", r"latinx",
    ),
}

_EXTENDED: dict[str, tuple[str, ...]] = {
    "national_origin": (
        r"haitians?", r"dominicans?", r"puerto\s+ricans?", r"mexicans?", r"chinese",
        r"vietnamese", r"somalis?", r"cambodians?", r"cape\s+verdeans?", r"jamaicans?",
        r"guatemalans?", r"salvadorans?", r"brazilians?", r"koreans?", r"filipin[oa]s?",
        r"nigerians?", r"ethiopians?", r"russians?", r"ukrainians?", r"japanese",
    ),
    "language": (
        r"cantonese", r"mandarin", r"spanish[\s-]+speaking", r"creole[\s-]+speaking",
        r"haitian\s+creole", r"portuguese[\s-]+speaking", r"(?<=speaks\s)spanish",
        r"(?<=speaks\s)portuguese", r"(?<=speaks\s)creole", r"(?<=speaks\s)russian",
    ),
}

# "black"/"white" and the compact forms, only in demographic slots.
_COLOUR = r"(?:black|white)"
_PERSON = (r"(?:m[ae]n|wom[ae]n|males?|females?|gentlem[ae]n|lady|ladies|patients?|pts?|"
           r"persons?|people|individuals?|boys?|girls?|adults?|child|children|americans?|"
           r"veterans?|smokers?)")
_AGE = r"\d{1,3}\s*(?:-?\s*(?:y/?o|yo|y\.o\.|yrs?|years?)(?:[\s-]*old)?)"
_SEX = r"(?:m|f|male|female|man|woman|gentleman|lady)"
_COMPACT = r"(?:aam|aaf|w/m|w/f|b/m|b/f|wm|wf|bf)"  # "bm" is bowel movement: never scanned

# "72F", "54M", "3yoF", "45 y/o F", "72 F": the age and the sex letter of a shorthand slot (its own
# rule here, not the redactor's)
_AGESEX = (r"(?:\d{2,3}|\d{1,3}\s*(?:-?\s*(?:y/?o|yo|y\.o\.|yrs?|years?)(?:[\s-]*old)?))"
           r"(?:[^\S\n]*(?-i:[MF])|[mf])(?!\w)")
_SLOTSEP = r"(?:[^\S\n]|[,/])*\n?(?:[^\S\n]|[,/])*"
_NOT_MEDICAL = (r"(?![\s-]*(?:stools?|tarry|outs?|box|eschars?|blood|cells?|counts?|matter|"
                r"meetings?|sponsors?|groups?)\b)")

_SP = r"[^\S\n]*\n?[^\S\n]*"

_SLOT_PATTERNS: tuple[tuple[str, str], ...] = (
    # "black woman", "white male patient"
    (rf"\b(?P<t>{_COLOUR})(?=[\s-]+{_PERSON}\b)", "race"),
    # "54 yo AA M", "54 y/o black female"
    (rf"\b{_AGE}\s+(?P<t>aa|african[\s-]+american|{_COLOUR})(?=\s+{_SEX}\b)", "race"),
    # "54 yo WM", "54 y/o B/F"
    # (the age starts a word: "A00AAM" is no age)
    # (one line break at most between the age and the form, as in the other slot patterns)
    (rf"(?<!\w)\d{{2,3}}{_SP}(?:y/?o|yo|-?\s*year[\s-]old)?{_SP}(?P<t>{_COMPACT})(?=\W|$)", "race"),
    # "61 yo A/M", "33 y/o H/F" (only with the slash and an age: bare "AF" is atrial fibrillation)
    (rf"\b{_AGE}\s*(?P<t>a\s*/\s*[mf])(?=\W|$)", "race"),
    (rf"\b{_AGE}\s*(?P<t>h\s*/\s*[mf])(?=\W|$)", "ethnicity"),
    # "61 yo W F", "61 y/o B M": a lone upper-case letter between an age and a sex letter
    (rf"\b{_AGE}\s+(?P<t>(?-i:[WBA]))(?=\s+(?-i:[MF])\b)", "race"),
    (rf"\b{_AGE}\s+(?P<t>(?-i:H))(?=\s+(?-i:[MF])\b)", "ethnicity"),
    # the age-sex token of clinical shorthand beside the word: "72F black", "44F Black w/ asthma",
    # "45 y/o F, white", "M/72 black", "black 72F", "AA 54M" (a spaced sex letter is upper case;
    # a period ends the slot: "72F. White count"; medical colour words are not people)
    (rf"(?<![\w.]){_AGESEX}{_SLOTSEP}(?P<t>{_COLOUR}|aa)\b{_NOT_MEDICAL}", "race"),
    (rf"(?<![\w/])(?-i:[MF])(?:[^\S\n]+|[^\S\n]*/[^\S\n]*)\d{{2,3}}(?![\w/]|[.,]\d){_SLOTSEP}"
     rf"(?P<t>{_COLOUR}|aa)\b{_NOT_MEDICAL}", "race"),
    (rf"\b(?P<t>{_COLOUR}|aa){_NOT_MEDICAL}{_SLOTSEP}(?<![\w.]){_AGESEX}", "race"),
    (rf"\b(?P<t>{_COLOUR}|aa){_NOT_MEDICAL}{_SLOTSEP}(?<![\w/])(?-i:[MF])"
     rf"(?:[^\S\n]+|[^\S\n]*/[^\S\n]*)\d{{2,3}}(?![\w/]|[.,]\d)", "race"),
    # demographic lines: "Race: White", "Ethnicity - Hispanic or Latino", the value on the same
    # line or the next ("Race:\n\nWhite count 12" is a lab after an empty field)
    (rf"\b(?:race|ethnicity)[^\S\n]*[:=-][^\S\n]*(?:\n[^\S\n]*)?"
     rf"(?P<t>{_COLOUR}|african|asian|other)\b", "race"),
)


def _compile(groups: dict[str, tuple[str, ...]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rf"(?<![\w-])(?P<t>{'|'.join(terms)})(?![\w-])", re.IGNORECASE), cat)
            for cat, terms in groups.items()]


_EXPLICIT_RES = _compile(_ALWAYS) + [(re.compile(p, re.IGNORECASE), c) for p, c in _SLOT_PATTERNS]
_EXTENDED_RES = _compile(_EXTENDED)


def _norm(term: str) -> str:
    return re.sub(r"[\s-]+", " ", term.lower()).strip()


def scan_residual(text: str, level: ScanLevel = "explicit") -> list[Hit]:
    """Find race and ethnicity terms in ``text`` with racelens's independent deny-list.

    Parameters
    ----------
    text
        One note (usually already redacted).
    level
        ``explicit`` (race and ethnicity categories) or ``extended`` (also national origin and
        language terms).

    Returns
    -------
    list of (start, end, term, category)
        Sorted, non-overlapping hits; ``term`` is the matched text lowercased with runs of
        spaces and hyphens collapsed to one space.
    """
    if level not in ("explicit", "extended"):
        from racelens.errors import ConfigError

        raise ConfigError(f"level must be 'explicit' or 'extended', got {level!r}")
    if not isinstance(text, str) or not text:
        return []
    patterns = _EXPLICIT_RES + (_EXTENDED_RES if level == "extended" else [])
    raw: list[Hit] = []
    for rx, cat in patterns:
        for m in rx.finditer(text):
            s, e = m.span("t")
            if e > s:
                raw.append((s, e, _norm(m.group("t")), cat))
    raw.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    hits: list[Hit] = []
    for h in raw:  # keep the longest hit at each position, drop anything overlapping it
        if hits and h[0] < hits[-1][1]:
            continue
        hits.append(h)
    return hits


def residual_terms(texts: list[str], level: ScanLevel = "explicit") -> dict[str, int]:
    """Count scanned terms over many notes (``term -> occurrences``), most frequent first."""
    counts: dict[str, int] = {}
    for t in texts:
        for _, _, term, _ in scan_residual(t, level):
            counts[term] = counts.get(term, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
