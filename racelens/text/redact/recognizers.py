"""Recognizers: small objects with one job each, composed by :class:`RecognizerRegistry`.

As in presidio's ``PatternRecognizer`` and ``RecognizerRegistry``, each recognizer owns a pattern
and turns a match into a candidate :class:`~racelens.text.redact.context.Hit` that names its rule.
The registry joins the patterns, in order, into one alternation that scans the text once (Philter's
ordered filters: the replacement token, then the safe phrases, the glued demographic slot, the
demographic lines, the phrase rules and last the term trie) and hands each match to the recognizer
whose group matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from racelens.text.redact.context import ContextRules, Hit
from racelens.text.redact.dispatch import dispatch_pattern
from racelens.text.redact.lexicon import Lexicon, Term, literal_regex, term_key, trie_regex
from racelens.text.redact.slot import AGE_DIGITS, AGE_UNIT, GAP, WS
from racelens.text.redact.wordstart import WordStarts

__all__ = ["TermIndex", "Recognizer", "RecognizerRegistry", "build_registry"]

_FLAGS = re.IGNORECASE | re.MULTILINE
# the safe phrase of a title before a surname ("Dr. White"), as the lexicon names it
_TITLED_SURNAME = "titled_surname"
# the non-word characters of lower-cased ASCII and whitespace, as a bitmap class (cheaper than \W)
_NONWORD_LOWER = "[^a-z0-9_]"
_MISSING = object()
# how many distinct matched strings a recognizer's cache keeps (a bound on its memory)
_CACHE_MAX = 100_000
# the letters that end a titled-surname phrase: the surname
_SURNAME = re.compile(r"[^\W\d_]+\Z").search
# a character other than ASCII and whitespace (NBSP, thin space ...): lower-casing such a text
# may change its length, and re's case-insensitive matching differs from lower() on some of them
# (the Kelvin sign, the long s); texts without one take the lower-cased, regrouped scan
_OTHER_THAN_SPACE = re.compile(r"[^\x00-\x7f\s]").search


class TermIndex:
    """The terms of one level, looked up by the normalised matched text (:func:`term_key`)."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)
        self._by_key: dict[str, Term] = {}
        self._cache: dict[str, Term | None] = {}
        for t in terms:
            for form in t.forms():
                self._by_key.setdefault(term_key(form), t)
        self._res = [(re.compile(literal_regex(f) + r"\Z", _FLAGS), t) for t in terms for f in t.forms()]
        self.regex = trie_regex(f for t in terms for f in t.forms())
        self.search_re = re.compile(r"(?<!\w)(?:" + self.regex + r")(?!\w)", _FLAGS)

    def lookup(self, matched: str) -> Term | None:
        """The term ``matched`` is a form of (None if none)."""
        term = self._cache.get(matched, _MISSING)
        if term is not _MISSING:
            return term  # type: ignore[return-value]
        term = self._lookup(matched)
        if len(self._cache) < _CACHE_MAX:
            self._cache[matched] = term
        return term

    def _lookup(self, matched: str) -> Term | None:
        term = self._by_key.get(term_key(matched))
        if term is None:  # case folding that casefold() and re disagree on: slow, rare path
            term = next((t for rx, t in self._res if rx.match(matched)), None)
        return term

    def forms(self, context: str) -> list[str]:
        return [f for t in self.terms if t.context == context for f in t.forms()]


class Recognizer:
    """One job: a pattern (a group of the registry's alternation) and what its match means."""

    name: str = ""
    #: a match only protects what it covers (a safe phrase): no hit to make
    protects_only: bool = False
    #: ``hit`` reads its pattern's named groups: the regrouped scan (which has none) matches the
    #: recognizer's own pattern again at the match start for it
    reads_groups: bool = True

    def pattern(self, lowered: bool) -> str:
        """The regex of this recognizer's group; ``lowered``: for the lower-cased scan (ASCII and whitespace)."""
        raise NotImplementedError

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        """The candidate for match ``m`` of this recognizer's alternative in ``text``, or None.

        The alternative starts at ``start`` and ends at ``m.end()``; ``m.start()`` may be the
        non-word character before it (the registry's skipping scan matches that character too).
        """
        raise NotImplementedError


class Replacement(Recognizer):
    """The replacement token itself: a redacted text is never redacted again."""

    name = "repl"

    def __init__(self, token: str) -> None:
        self.token = token

    def pattern(self, lowered: bool) -> str:
        return re.escape(self.token.lower() if lowered else self.token)

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        return Hit(start, m.end(), "repl", rule="replacement")

    def add_glued(self, text: str, hits: list[Hit]) -> None:
        """The token glued to a word ("American[RACE] black") is a token too: a redaction glues
        it so, and a second pass must read the text as the first did. Found apart from the
        alternation, whose leading word-start check keeps it fast."""
        rep, added = self.token, False
        at = text.find(rep)
        while at >= 0:
            end = at + len(rep)
            if at and (text[at - 1].isalnum() or text[at - 1] == "_") and not any(
                    h.start < end and at < h.end for h in hits):
                hits.append(Hit(at, end, "repl", rule="replacement"))
                added = True
            at = text.find(rep, end)
        if added:
            hits.sort(key=lambda h: h.start)


class Safe(Recognizer):
    """Protected phrases (``white blood cell``, ``black stools``): matched so that no term inside
    them is, and no mention themselves."""

    protects_only = True

    def __init__(self, name: str, patterns: Sequence[str]) -> None:
        self.name, self.patterns = name, tuple(patterns)

    def pattern(self, lowered: bool) -> str:
        return "(?:" + "|".join(f"(?:{p})" for p in self.patterns) + ")"

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        return None


class TitledSurname(Safe):
    """A title before a surname ("Dr. White", "Mrs. Black"): protected, unless the word is in
    lower case ("Per Mr. white woman"), which is a title before a race mention: that word is
    judged like any person-context term (race only next to a person noun), not protected."""

    protects_only = False

    def __init__(self, name: str, pattern: str, index: TermIndex) -> None:
        super().__init__(name, (pattern,))
        self._index = index

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        end = m.end()
        word = _SURNAME(text[start:end])  # the surname ends the phrase
        if word is None or not word.group()[0].islower():
            return None
        term = self._index.lookup(word.group())
        if term is None or term.context != "person":
            return None
        return Hit(start + word.start(), end, "term", term.category, "term", pending=True)


def _safe_recognizers(lexicon: Lexicon, index: TermIndex) -> list[Recognizer]:
    """The safe phrases in lexicon order: runs of plain ones, and the titled surname alone."""
    out: list[Recognizer] = []
    run: list[str] = []
    for sp in lexicon.safe:
        if sp.name == _TITLED_SURNAME:
            if run:
                out.append(Safe(f"safe{len(out)}", run))
                run = []
            out.append(TitledSurname(f"titled{len(out)}", sp.pattern, index))
        else:
            run.append(sp.pattern)
    if run:
        out.append(Safe(f"safe{len(out)}", run))
    return out


class _Value(Recognizer):
    """A recognizer whose mention is one named part (``<name>_v``) of its match, or all of it."""

    def __init__(self, name: str, regex: str, kind: str, category: str, rule: str,
                 whole: bool = False) -> None:
        self.name, self._regex, self.kind, self.category, self.rule = name, regex, kind, category, rule
        self.value = None if whole else f"{name}_v"

    def pattern(self, lowered: bool) -> str:
        return self._regex

    def span(self, m: re.Match[str], start: int) -> tuple[int, int]:
        return (start, m.end()) if self.value is None else m.span(self.value)

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        start, end = self.span(m, start)
        return Hit(start, end, self.kind, self.category, self.rule)


class AgeSlot(Recognizer):
    """Short forms glued to an age: after an age with a unit ("54yoAAM", "54 yo AA"), after a
    bare age of two or three digits ("54WM"), or the letter of a compact "W/F" form spaced
    between an age and a sex letter ("61 yo W F"). One pattern, so a number costs one branch:
    after the digits a unit (or a space) and a letter cannot both come, so the three never
    compete for one position."""

    name = "age_slot"

    def __init__(self, index: TermIndex) -> None:
        self._index = index
        slot = trie_regex(index.forms("slot"))
        # bare "54AA" and "54BM" are no slot ("AA" needs the unit, "BM" is a bowel movement)
        bare = trie_regex(f for f in index.forms("slot") if term_key(f) not in ("aa", "bm"))
        self.letters = {f[0].lower(): index.lookup(f) for f in index.forms("slot")
                        if re.fullmatch(r"[A-Za-z]/[MF]", f)}
        letters = "[" + "".join(sorted(self.letters)) + "]" if self.letters else "(?!)"
        # the whole number or nothing: a shorter run leaves a digit next, which no branch takes
        # the unit's branch only where one can follow: separators then "y" (a cheap lookahead
        # rejects "12 mg", "12.4", "12%" before the unit's alternatives are tried)
        self._regex = (AGE_DIGITS + r"(?!\d)(?:(?=[\s\-]*y)" + AGE_UNIT
                       + rf"(?:(?P<glued_v>{slot})(?!\w)|{GAP}(?P<spaced_v>{letters})(?=\s){GAP}(?=[mf](?!\w)))"
                       + rf"|(?P<bare_v>{bare})(?!\w))")

    def pattern(self, lowered: bool) -> str:
        return self._regex

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        at = start
        start, end = m.span("glued_v")
        if start >= 0:
            term = self._index.lookup(text[start:end])
            return None if term is None else Hit(start, end, "term", term.category, "demographic_slot")
        start, end = m.span("bare_v")
        if start >= 0:
            term = self._index.lookup(text[start:end])
            if term is None or start - at < 2:  # a bare age has two or three digits
                return None
            return Hit(start, end, "term", term.category, "demographic_slot")
        start, end = m.span("spaced_v")
        if not (text[start].isupper() and text[m.end()].isupper()):  # "W F", not "a f/u"
            return None
        term = self.letters[text[start].lower()]
        assert term is not None
        return Hit(start, end, "term", term.category, "demographic_slot")


class DemographicLine(_Value):
    """A labelled field: "Race: White", "Ethnicity - Hispanic", the value on the next line."""

    reads_groups = False

    def __init__(self, labels: Iterable[str], index: TermIndex) -> None:
        term_re = index.regex
        label = trie_regex(labels) + rf"(?:{GAP}[:=]|{WS}+-)"
        # the value may sit on the next line ("Race:\n White"), if that line is a short value
        # without a label of its own (not "Race:\nHPI: 54 yo ...") that names a term: a
        # deletion leaves "Race: \nWBC 12", which must not make "WBC 12" a race value
        lead = (label + rf"(?:{WS}*\n(?=[^\n;|.,:]{{1,60}}(?:$|[\n;|.,]))"
                rf"(?=[^\n;|.,:]{{0,60}}?(?<!\w)(?:{term_re})(?!\w)))?{WS}*")
        # The value: a word character, then the shortest run of characters other than
        # [\n;|.,[]] that ends in a word character or ")" where the lookahead below holds, or
        # else nothing more. The lookahead needs a character other than those after the end,
        # so an end is always the last of a run of them: the value is read run by run
        # (possessive: giving a character back cannot make an end), the lookahead tried once a
        # run instead of once a character. (Written character by character:
        # ``[^\W_](?:[^\n;|.,\[\]]*?[\w)])?``.)
        word, other = r"[\w)]++", r"[^\n;|.,\[\]\w)]++"
        regex = (lead + rf"(?P<line_v>[^\W_](?:{word}(?:{other}{word})*?|(?:{other}{word})+?)?)"
                 # the value ends before the next one-word label on the same line ("Race: White
                 # Sex: F" keeps "Sex: F"), else it is the longest run that ends in a word
                 # character before the end of the line, a separator, a colon or a bracket.
                 # Whatever follows it ("Race: Other [RACE]", "Race: White \x1b") cannot decide
                 # whether it is a value, so a redaction, which changes what follows a term,
                 # cannot make a line match on a second pass.
                 rf"(?={WS}+[^\W\d_][\w/-]{{0,30}}{WS}*:|[^\n;|.,:\[\]\w)]*(?:$|[\n;|.,:\[\]]))")
        super().__init__("line", regex, "line", "unspecified", "demographic_line")
        self._index = index
        self._categories: dict[str, str] = {}
        # Where the value starts: the pattern up to the value's first character. Once that
        # character is a word character the rest always matches (the value can end at the last
        # word character or ")" before the next stop), so the first path of this prefix is the
        # whole pattern's, and the value ends where the whole match does: the scan's match
        # gives the end, and this cheap match the start, without running the value's lazy
        # loop and its lookahead a second time.
        self._value_start = re.compile(lead + r"(?=[^\W_])", _FLAGS).match

    def span(self, m: re.Match[str], start: int) -> tuple[int, int]:
        lead = self._value_start(m.string, start)
        assert lead is not None, "a demographic line's match without its value"
        return lead.end(), m.end()

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        start, end = self.span(m, start)
        # the category of the first term in the value; values repeat ("White", "Not Hispanic or
        # Latino"), so it is kept by value (the character before a value ends its label, never
        # a word character, so the search reads the value alone)
        value = text[start:end]
        category = self._categories.get(value)
        if category is None:
            inner = self._index.search_re.search(text, start, end)
            found = None if inner is None else self._index.lookup(inner.group())
            category = "unspecified" if found is None else found.category
            if len(self._categories) < _CACHE_MAX:
                self._categories[value] = category
        return Hit(start, end, "line", category, "demographic_line")


class TermRecognizer(Recognizer):
    """A lexicon term; short forms and person words only where the context rules say so."""

    name = "term"

    def __init__(self, index: TermIndex, rules: ContextRules) -> None:
        self._index, self._rules = index, rules

    def pattern(self, lowered: bool) -> str:
        return self._index.regex + r"(?!\w)"

    def hit(self, m: re.Match[str], text: str, start: int) -> Hit | None:
        end = m.end()
        term = self._index.lookup(text[start:end])
        if term is None:
            return None
        context = term.context
        if context == "slot":
            rule = self._rules.slot_rule(text, start, end)
            return None if rule is None else Hit(start, end, "term", term.category, rule)
        return Hit(start, end, "term", term.category, "term", context == "person")


class RecognizerRegistry:
    """Recognizers in order, joined into one alternation; each match dispatched to its owner.

    The alternation is compiled case-insensitively for any text and, when no safe pattern holds
    an upper-case letter, case-sensitively for lower-cased text of ASCII and whitespace only
    (same offsets), there
    regrouped by first character (:mod:`~racelens.text.redact.dispatch`) so that a word start
    costs one branch instead of one per recognizer.
    """

    def __init__(self, recognizers: Sequence[Recognizer], *, lowerable: bool) -> None:
        self.recognizers = tuple(recognizers)
        self._by_name = {r.name: r for r in recognizers}
        self.replacement = next((r for r in recognizers if isinstance(r, Replacement)), None)

        def joined(lowered: bool) -> str:
            return "|".join(f"(?P<{r.name}>{r.pattern(lowered)})" for r in recognizers)

        # each scan: the alternation at word starts, found by the character before them
        self._scan = WordStarts(joined(False), _FLAGS, r"\W")
        self._scan_cs: WordStarts | None = None
        # marker group -> (recognizer, its own pattern to read its parts again, or None)
        markers: dict[str | None, tuple[Recognizer, re.Pattern[str] | None]] = {}
        if lowerable:
            patterns = [r.pattern(True) for r in recognizers]
            # the term trie (last, most alternatives) has no marker: its matches have none
            unmarked = len(recognizers) - 1 if isinstance(recognizers[-1], TermRecognizer) else None
            fast = dispatch_pattern(patterns, unmarked=unmarked)
            if fast is None:  # a pattern that cannot be regrouped: the plain alternation
                self._scan_cs = WordStarts(joined(True), re.MULTILINE, _NONWORD_LOWER)
                markers = {r.name: (r, None) for r in recognizers}
            else:
                body, owners = fast
                self._scan_cs = WordStarts(body, re.MULTILINE, _NONWORD_LOWER)
                own = [re.compile(p, re.MULTILINE) if "(?P<" in p and r.reads_groups else None
                       for r, p in zip(recognizers, patterns, strict=True)]
                markers = {k: (recognizers[i], own[i]) for k, i in owners.items()}
                if unmarked is not None:
                    markers[None] = (recognizers[unmarked], None)
        # a safe phrase's match makes no hit: known by its marker, no call; the others: the
        # owner's bound ``hit`` and its own pattern's ``match`` (or None)
        self._markers: dict[str | None, tuple[Callable[..., Hit | None], Callable[..., Any] | None]] = {
            k: (r.hit, None if own is None else own.match)
            for k, (r, own) in markers.items() if not r.protects_only}

    def candidates(self, text: str, *, dispatched: bool = True) -> list[Hit]:
        """Every candidate hit in ``text``, in order (person-context ones still pending).

        ``dispatched=False`` runs the plain alternation instead of the regrouped one (the same
        hits, slower; for tests that hold the two equal).
        """
        hits: list[Hit] = []
        scan = self._scan_cs
        if scan is not None and dispatched and (text.isascii() or _OTHER_THAN_SPACE(text) is None):
            markers, lowered = self._markers, text.lower()
            if scan.skipping:  # WordStarts.finditer, inlined: this loop is the hot one
                m, shift, after = scan.at_start(lowered), 0, scan.after
                if m is None:
                    m, shift = after(lowered, 0), 1
                while m is not None:
                    found = markers.get(m.lastgroup)
                    if found is not None:
                        start = m.start() + shift
                        hit, own = found
                        # the owner's parts: its own pattern, at the same start
                        if (h := hit(m if own is None else own(lowered, start), text, start)) is not None:
                            hits.append(h)
                    m, shift = after(lowered, m.end() - 1), 1
            else:
                for m, start in scan.finditer(lowered):
                    found = markers.get(m.lastgroup)
                    if found is not None:
                        hit, own = found
                        if (h := hit(m if own is None else own(lowered, start), text, start)) is not None:
                            hits.append(h)
        else:
            by_name = self._by_name
            for m, start in self._scan.finditer(text):
                if (h := by_name[m.lastgroup or ""].hit(m, text, start)) is not None:
                    hits.append(h)
        if self.replacement is not None and self.replacement.token in text:
            self.replacement.add_glued(text, hits)
        return hits


def build_registry(lexicon: Lexicon, level: str, replacement: str,
                   rules: ContextRules) -> tuple[RecognizerRegistry, TermIndex]:
    """The recognizers of ``level`` over ``lexicon``, in the order they are tried."""
    index = TermIndex(lexicon.terms_for(level))  # type: ignore[arg-type]
    recognizers: list[Recognizer] = [Replacement(replacement)] if replacement else []
    recognizers += _safe_recognizers(lexicon, index)
    recognizers += [
        AgeSlot(index),
        DemographicLine(lexicon.lines_for(level), index),  # type: ignore[arg-type]
    ]
    if level == "extended":
        langs = trie_regex(lexicon.languages)
        before = trie_regex(lexicon.language_cues_before)
        after = trie_regex(lexicon.language_cues_after)
        # "speaks Spanish", "speaking: Spanish"; not "speakingSomali" (no word boundary), which
        # redacted to "speaking[RACE]" would turn the word before it into a match and break
        # idempotence (found by the hypothesis property test)
        recognizers += [
            _Value("lang_b", before + rf"(?:{WS}*:{WS}*|{WS}+)(?P<lang_b_v>{langs})(?!\w)",
                   "language", "language", "language"),
            _Value("lang_a", rf"{langs}(?=(?:{WS}|-)*{after}(?!\w))",
                   "language", "language", "language", whole=True),
            _Value("birth", trie_regex(lexicon.country_cues) + rf"{WS}+(?:the{WS}+)?(?P<birth_v>"
                   + trie_regex(lexicon.countries) + r")(?!\w)", "birthplace", "birthplace",
                   "birthplace"),
        ]
    recognizers.append(TermRecognizer(index, rules))
    lowerable = all(re.search(r"(?<!\\)[A-Z]", sp.pattern) is None for sp in lexicon.safe)
    return RecognizerRegistry(recognizers, lowerable=lowerable), index
