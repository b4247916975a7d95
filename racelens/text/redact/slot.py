"""The demographic slot as a small grammar: age token x sex token x race term x order x separators.

Clinical shorthand writes who the patient is in one slot at the head of a note, glued and ordered
in many ways: ``72F black``, ``44F Black w/ asthma``, ``3yoF AA``, ``45 y/o F, white``, ``M/72
black``, ``F 45 white``, ``black 72F``, ``AA 54M``. The grammar names the parts once:

- **age** ``AGE``: a number with a unit (``45 yo``, ``45y/o``, ``45-year-old``, ``45 years old``);
- **age-sex token** ``AGE_SEX``: an age (with a unit, or two or three bare digits) and a sex letter,
  glued or spaced (``72F``, ``54M``, ``3yoF``, ``45 y/o F``, ``72 F``); a lower-case letter only
  glued (``72f``, ``3yof``), since a spaced lower-case ``f`` is a word of its own;
- **sex-age token** ``SEX_AGE``: an upper-case sex letter, then a space or a slash, then two or
  three digits (``M/72``, ``F 45``, ``F/45``), never a decimal (``F 45.2``);
- after a term also an **age** alone, written as a person's age (``black 45yo``, ``white,
  45-year-old``), not as a time (``black 2 years ago``);
- **separators** ``SEP``: spaces (one line break at most), commas, slashes and hyphens; never a
  period or a semicolon, which end the slot (``72F. White count 12`` is a lab).

A race term is in the slot when a token stands right before it (token, separators, term) or right
after it (term, separators, token). Whether ``black``/``white`` and the short forms (``AA``, ``WM``)
count also depends on the safe phrases, which are tried first: ``45M black stools`` stays.

The grammar only reads text a redaction leaves unchanged (the tokens around a term, not the term),
so a second pass decides as the first did.
"""

from __future__ import annotations

import re

__all__ = ["WS", "GAP", "AGE", "AGE_DIGITS", "AGE_UNIT", "AGE_SEX", "SEX_AGE", "AGE_AFTER", "SEP", "SlotGrammar",
           "index_before", "unit_may_end"]

#: whitespace inside a demographic line or slot: any but a line break (NBSP, thin space, CR)
WS = r"[^\S\n]"
#: any whitespace with at most one line break ("Race:\nWhite" from a form exported one field per line)
GAP = rf"{WS}*(?:\n{WS}*)?"
_UNIT = rf"(?:y/o|y\.o\.?|yo|yrs?\.?|years?|y)(?:(?:{WS}|-)*old)?"
#: an age with a unit: "45 yo", "45y/o", "45-year-old", "45 years old"
#: an age's number, and what follows it in ``AGE`` (patterns that enter the number by another
#: route, a lookbehind or a glued form, join their own digits to ``AGE_UNIT``)
AGE_DIGITS = r"\d{1,3}"
AGE_UNIT = rf"{GAP}-?{GAP}{_UNIT}"
AGE = AGE_DIGITS + AGE_UNIT
_SEX_AFTER_AGE = rf"(?:{WS}*-?{WS}*(?-i:[MF])|[mf])(?!\w)"
_AGE_AFTER_SEX = rf"(?:{WS}+|{WS}*/{WS}*)\d{{2,3}}(?![\w/]|[.,]\d)"
#: age and sex letter: "72F", "45 y/o F", "3yoF", "72f" (lower case only glued)
AGE_SEX = rf"(?<![\w.])(?:{AGE}|\d{{2,3}}){_SEX_AFTER_AGE}"
#: sex letter and age: "M/72", "F 45", "F/45"
SEX_AGE = rf"(?<![\w/])(?-i:[MF]){_AGE_AFTER_SEX}"
# The same two, each starting with the class of its first character and the lookbehind after
# it (``(?<![\w.])\d`` written ``\d(?<![\w.]\d)``): a search for them skips to the digits (or
# the sex letters) in C instead of entering the pattern at each position of its window.
_AGE_SEX_SEARCHED = rf"\d(?<![\w.]\d)(?:\d{{0,2}}{AGE_UNIT}|\d{{1,2}}){_SEX_AFTER_AGE}"
_SEX_AGE_SEARCHED = rf"(?-i:[MF])(?<![\w/].){_AGE_AFTER_SEX}"
#: an age that names a person after a race term: "black 45yo", "white, 45-year-old" (not "black
#: 2 years ago", which is a time)
AGE_AFTER = rf"\d{{1,3}}{GAP}-?{GAP}(?:y/o|y\.o\.?|yo)(?!\w)|\d{{1,3}}(?:{WS}|-)*years?(?:{WS}|-)*old(?!\w)"
#: between a token and a race term
SEP = rf"(?:{WS}|[,/\-])*(?:\n(?:{WS}|[,/\-])*)?"
_FLAGS = re.IGNORECASE | re.MULTILINE
_TOKEN_ENDS = frozenset("mfMF0123456789")
# A unit's last character and the characters that can come before it in ``_UNIT`` (lower case;
# None: any): "y/o", "y.o", "yo" end in "o" after "/", "." or "y"; "y.o.", "yrs.", "yr." in "."
# after "o", "s" or "r"; "yrs", "years" in "s" after "r"; "yr", "year" in "r"; "y"; "old".
_UNIT_TAILS: dict[str, str | None] = {"o": "/.y", ".": "osr", "s": "r", "r": "ya", "y": None,
                                      "d": "l"}
_UNIT_TAILS_ANY_CASE = {c: None if t is None else t + t.upper()
                        for k, t in _UNIT_TAILS.items() for c in {k, k.upper()}}


def index_before(text: str, start: int) -> int:
    """Where the last character before ``start`` is once whitespace and ``,-/`` are passed over
    (-1 if none): the separators of the slot, the character every check of what ends right
    before a term reads first."""
    i = start - 1
    while i >= 0 and (text[i].isspace() or text[i] in ",-/"):
        i -= 1
    return i


def unit_may_end(text: str, k: int) -> bool:
    """Whether an age's unit may end with ``text[k]``: a cheap necessary condition read from its
    last two characters, True where they cannot tell (a character other than ASCII, which
    case-insensitive matching may fold to a unit's letter)."""
    if k < 1:
        return False  # the age's digits come before its unit
    ch = text[k]
    tail = _UNIT_TAILS_ANY_CASE.get(ch, "")
    if tail is None:
        return True
    if not tail:
        return not ch.isascii()
    before = text[k - 1]
    return before in tail or not before.isascii()


class SlotGrammar:
    """Compiled checks of the slot grammar around a candidate term at ``text[start:end]``.

    Examples
    --------
    >>> g = SlotGrammar()
    >>> text = "72F black w/ GERD"
    >>> g.token_before(text, 4), g.token_after(text, 9)
    (True, False)
    >>> g.token_after("AA 54M", 2)
    True
    """

    #: how far back a token before a term may start (a long "45 years old F, " fits)
    WINDOW = 40

    def __init__(self) -> None:
        # a token before a term: one search per kind (see _AGE_SEX_SEARCHED)
        self._before = tuple(re.compile(rf"{t}{SEP}\Z", _FLAGS).search
                             for t in (_AGE_SEX_SEARCHED, _SEX_AGE_SEARCHED))
        self._after = re.compile(rf"{SEP}(?:{AGE_SEX}|{SEX_AGE}|{AGE_AFTER})", _FLAGS)

    def token_before(self, text: str, start: int, last: int | None = None) -> bool:
        """An age-sex or sex-age token ends right before ``start`` (separators between).

        ``last``: :func:`index_before` of ``start``, when the caller has found it already.
        """
        i = index_before(text, start) if last is None else last
        # cheap: an age-sex token ends in a sex letter after a digit, a space, "-" or a unit; a
        # sex-age token in a digit
        if i < 0:
            return False
        c = text[i]
        if c in "mfMF":
            p = text[i - 1] if i else ""
            if not (p.isdecimal() or p.isspace() or p == "-" or unit_may_end(text, i - 1)):
                return False
            return self._before[0](text, max(0, start - self.WINDOW), start) is not None
        if c in _TOKEN_ENDS:
            return self._before[1](text, max(0, start - self.WINDOW), start) is not None
        return False

    def token_after(self, text: str, end: int) -> bool:
        """An age-sex, sex-age or age token starts right after ``end`` (separators between)."""
        return self._after.match(text, end) is not None
