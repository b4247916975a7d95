"""Context rules: when a term that needs context (``black``/``white``, ``AA``, ``WM``) is a mention.

Two kinds of terms need context (see the lexicon's ``context`` field):

- ``slot`` short forms (``AA``, ``WM``, ``B/F``) count only in the demographic slot: after an age
  (``54 yo AA M``), after a bare age (``54 WM``), before a sex (``AA M``, ``AA female``), or next to
  an age-sex token of the slot grammar (``72F AA``, ``AA 54M``; :mod:`~racelens.text.redact.slot`);
- ``person`` words (``black``, ``white``) count in a person context, decided chain by chain
  (``black and white patients``): in a list with another mention (``group_list``), after an age
  (``age_context``), after "identifies as" or "race:" (``identity_context``), next to an age-sex
  token (``demographic_slot``), or before a person noun or sex (``person_context``).

Every decision names its rule, so each kept span says why it was kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from racelens.text.redact.lexicon import term_key, trie_regex
from racelens.text.redact.slot import AGE, AGE_UNIT, WS, SlotGrammar, index_before, unit_may_end

__all__ = ["Hit", "ContextRules"]

_FLAGS = re.IGNORECASE | re.MULTILINE
_UNIT_ENDS = frozenset("oysdrOYSDR.")  # y/o, yo, y.o., yrs, years, y, old


@dataclass(slots=True)
class Hit:
    """A candidate mention while a text is analysed: offsets, what found it, and why it counts.

    ``kind`` is the recognizer's job (``repl``, ``term``, ``line``, ``language``, ``birthplace``);
    ``rule`` the reason it is kept; ``pending`` marks a person-context term not yet decided.
    """

    start: int
    end: int
    kind: str
    category: str = ""
    rule: str = ""
    pending: bool = False


class ContextRules:
    """The context checks compiled from a lexicon's ``context`` words.

    Parameters
    ----------
    context
        The lexicon's ``context`` mapping (person nouns, sex letters, connectors, adjectives,
        identity phrases, short forms read before a sex).
    """

    def __init__(self, context: Mapping[str, Sequence[str]]) -> None:
        nouns = trie_regex(w for w in context.get("person_nouns", ()) if len(w) > 1)
        letters = "".join(re.escape(c) for c in context.get("sex_letters", ("M", "F")))
        adjectives = trie_regex(context.get("person_adjectives", ()))
        self._after = re.compile(
            rf"[\s,\-]*(?:(?:{adjectives}|{AGE})[\s,\-]+)?(?:{nouns}|(?-i:[{letters}]))(?!\w)", _FLAGS)
        connectors = trie_regex(context.get("connectors", ("and", "or")))
        self._gap = re.compile(rf"[\s,/&()+\-]*(?:(?:{connectors})\.?(?!\w)[\s,/&()+\-]*)?", _FLAGS)
        identity = trie_regex(context.get("identity_phrases", ()))
        self._identity_before = re.compile(
            rf"(?:(?<!\w){identity}|(?<!\w)(?:race|ethnicity)(?:{WS}+(?:is|was))?{WS}*:?)"
            rf"(?:{WS}|[,\-])*\Z", _FLAGS)
        # What ends such a match before its last separators: the last two letters of a phrase,
        # of "race", "ethnicity", "is" or "was", or the colon. Checked first (the window search
        # enters its pattern at each of 60 positions); only where every phrase ends in two
        # letters or digits, whose regex atoms are those characters and nothing optional.
        phrases = [p.strip() for p in context.get("identity_phrases", ())]
        self._identity_end = None
        if all(len(p) > 1 and p[-2:].isalnum() for p in phrases):
            ends = sorted({p[-2:].lower() for p in phrases} | {"ce", "ty", "is", "as"})
            self._identity_end = re.compile(
                "(?:(?<=" + "|".join(map(re.escape, ends)) + ")|(?<=:))", _FLAGS).match
        # Then the text before the term read backwards: the window reversed, matched from its
        # start (one anchored match, no search) by the pattern reversed (each phrase's
        # characters reversed, the lookbehind a lookahead). Where it fails, no match of the
        # forward pattern ends at the term, and the window search is skipped.
        self._identity_rev = re.compile(
            rf"(?:{WS}|[,\-])*(?:{trie_regex(p[::-1] for p in phrases)}"
            rf"|:?{WS}*(?:(?:si|saw){WS}+)?(?:ecar|yticinhte))(?!\w)", _FLAGS).match
        # The window searches below start with a digit class, not with the lookbehind that
        # says "the number's first digit" (``(?<!\d)\d{1,3}`` written ``\d(?<!\d\d)\d{0,2}``):
        # re then skips to the digits in C instead of entering the pattern at every position.
        self._age_before = re.compile(rf"\d(?<!\d\d)\d{{0,2}}{AGE_UNIT}"
                                      rf"(?:{WS}|[,\-])*(?:\n(?:{WS}|[,\-])*)?\Z", _FLAGS)
        # "54 WM", "54\nWM": one line break at most, as everywhere in the slot
        self._bare_age_before = re.compile(rf"\d(?<![\d.]\d)\d{{1,2}}{WS}*(?:\n{WS}*)?\Z")
        self._sex_after = re.compile(
            rf"{WS}+(?:(?-i:[{letters}])|male|female|man|woman|gentleman|lady|pt|patient)(?!\w)", _FLAGS)
        self._sex_after_keys = {term_key(t) for t in context.get("sex_after_terms", ())}
        self._key = functools.lru_cache(maxsize=4096)(term_key)  # short forms repeat
        self.grammar = SlotGrammar()

    # The checks of what ends right before a term share one cheap pre-check: the last character
    # before it once whitespace and ",-/" are passed over (``slot.index_before``). Each pattern
    # allows only some of those separators between its match and the term, so where it matches
    # that character is the last one of its match: a unit's last letter, an identity phrase's
    # or a colon, a sex letter or a digit. Where the character cannot end a match, the window
    # search is skipped.
    def age_before(self, text: str, start: int) -> bool:
        """An age with a unit ends right before ``start`` ("54 yo AA", "54-year-old\\nwhite")."""
        return self._age_at(text, start, index_before(text, start))

    def _age_at(self, text: str, start: int, i: int) -> bool:
        if i < 0 or text[i] not in _UNIT_ENDS or not unit_may_end(text, i):
            return False  # cheap: a unit ends in one of these, the separators skipped
        return self._age_before.search(text, max(0, start - 40), start) is not None

    def identity_before(self, text: str, start: int) -> bool:
        """"identifies as", "Race:" or "ethnicity is" ends right before ``start``."""
        return self._identity_at(text, start, index_before(text, start))

    def _identity_at(self, text: str, start: int, i: int) -> bool:
        if self._identity_end is not None and (i < 0 or self._identity_end(text, i + 1) is None):
            return False
        if self._identity_rev(text[max(0, start - 61):start][::-1]) is None:
            return False
        return self._identity_before.search(text, max(0, start - 60), start) is not None

    def slot_rule(self, text: str, start: int, end: int) -> str | None:
        """``"demographic_slot"`` when the short form ``text[start:end]`` is in the slot, else None."""
        i = index_before(text, start)
        if self._age_at(text, start, i):
            return "demographic_slot"
        key = self._key(text[start:end])
        if (i >= 0 and text[i].isdecimal() and key not in self._sex_after_keys and key != "bm"
                and self._bare_age_before.search(text, max(0, start - 8), start)):
            return "demographic_slot"  # "54 WM": a compact form after a bare age
        if key in self._sex_after_keys and self._sex_after.match(text, end):
            return "demographic_slot"
        if self.grammar.token_before(text, start, i) or self.grammar.token_after(text, end):
            return "demographic_slot"  # "72F AA", "AA 54M"
        return None

    def _chain_rule(self, text: str, chain: Sequence[Hit]) -> str | None:
        for h in chain:
            if not h.pending:
                return "group_list"
        start, end = chain[0].start, chain[-1].end
        i = index_before(text, start)
        if self._age_at(text, start, i):
            return "age_context"
        if self._identity_at(text, start, i):
            return "identity_context"
        if self._after.match(text, end):
            return "person_context"
        if self.grammar.token_before(text, start, i) or self.grammar.token_after(text, end):
            return "demographic_slot"  # "72F black", "M/72, white", "black 72F", "white, 3yoF"
        return None

    def resolve(self, text: str, hits: list[Hit]) -> list[Hit]:
        """Decide person-context hits chain by chain; drop the replacement tokens.

        A chain is a run of hits separated only by connectors and punctuation ("Black and
        white patients", "white/Hispanic"); its pending hits are kept with one rule or dropped.
        Only the chains around pending hits are built.
        """
        pending = [i for i, h in enumerate(hits) if h.pending]
        if pending:
            gap, n, done = self._gap.fullmatch, len(hits), -1
            for i in pending:
                if i <= done:
                    continue
                lo = hi = i
                while lo > done + 1 and gap(text, hits[lo - 1].end, hits[lo].start):
                    lo -= 1
                while hi + 1 < n and gap(text, hits[hi].end, hits[hi + 1].start):
                    hi += 1
                chain = hits[lo:hi + 1]
                rule = self._chain_rule(text, chain)
                if rule is not None:
                    for h in chain:
                        if h.pending:
                            h.rule, h.pending = rule, False
                done = hi
        return [h for h in hits if h.kind != "repl" and not h.pending]
