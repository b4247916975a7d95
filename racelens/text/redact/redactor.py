"""Redact explicit (and extended) race and ethnicity mentions from clinical notes.

The engine follows Philter's ordered filters and presidio's explaining recognizers:

1. one compiled alternation scans the text once; at every word start it tries, in order, the
   replacement token (so redacted text is never redacted again), the *safe* phrases
   (``white blood cell``, ``black stools``, ``Dr. White`` ...), demographic lines
   (``Race: ...``), extended phrase rules (``speaks Cantonese``, ``born in Haiti``) and the
   term trie;
2. cheap context checks decide the hits that need context: short forms in the demographic
   slot (``54 yo AA M``, ``61 yo W F``, ``54 y/o A/M``) and ``black``/``white`` in a person
   context (a person noun or sex after, an age or "identifies as" before, or a list with
   another race mention); parts of a slot or a demographic line may be separated by any
   whitespace (NBSP, thin space) and by one line break at most;
3. every kept hit is a :class:`Span` naming its category and the rule that kept it.

Decisions depend only on text that a redaction leaves unchanged or turns into the replacement
token, which counts as a race mention, so ``redact(redact(x).text).text == redact(x).text``.

Deletion (``replacement=""``) removes each mention instead, and one space with it where the
mention stood after a space, a line break or the start of the text and before a space
(``"54 yo AA M"`` becomes ``"54 yo M"``, ``"Race: White"`` becomes ``"Race: "``). A deletion can
join the words around a mention into a new one (``"African Caucasian American"``), so the
redactor scans its own output again and widens the spans until nothing is found: idempotence
holds for deletion too, and a widened span has the rule ``joined``.
"""

from __future__ import annotations

import multiprocessing
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from racelens.errors import ConfigError
from racelens.text.redact.lexicon import (
    Level,
    Lexicon,
    SafePhrase,
    Term,
    literal_regex,
    load_lexicon,
    term_key,
    trie_regex,
)

__all__ = ["Span", "Redaction", "RaceRedactor", "LABEL"]

LABEL = "RACE_ETHNICITY"
_FLAGS = re.IGNORECASE | re.MULTILINE
# Whitespace inside a demographic line or slot: any but a line break (NBSP, thin space, CR), or
# at most one line break ("Race:\nWhite" from a form exported one field per line), never two.
_WS = r"[^\S\n]"
_GAP = rf"{_WS}*(?:\n{_WS}*)?"
_AGE = rf"\d{{1,3}}{_GAP}-?{_GAP}(?:y/o|y\.o\.?|yo|yrs?\.?|years?|y)(?:(?:{_WS}|-)*old)?"
# the safe phrase of a title before a surname ("Dr. White"), as the lexicon names it
_TITLED_SURNAME = "titled_surname"


@dataclass(frozen=True)
class Span:
    """One redacted mention, in the original text's character offsets.

    Attributes
    ----------
    start, end
        Offsets into the original text (``text[start:end]`` is the mention).
    label
        The entity label, always ``"RACE_ETHNICITY"``.
    category
        The group named (``black``, ``hispanic_latino``, ``national_origin`` ...).
    rule
        Why it was redacted: ``term``, ``demographic_slot``, ``person_context``,
        ``group_list``, ``age_context``, ``identity_context``, ``demographic_line``, ``language``,
        ``birthplace``; with deletion also ``joined``: the words around a deleted mention
        joined into another one ("African Caucasian American"), the span covers all of it.
    text
        The matched text (the term only, never more context).
    """

    start: int
    end: int
    label: str
    category: str
    rule: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The span as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class Redaction:
    """The redacted text and the spans replaced (or deleted), sorted and non-overlapping."""

    text: str
    spans: list[Span] = field(default_factory=list)


@dataclass
class _Hit:
    start: int
    end: int
    kind: str  # "repl", "term", "line", "language", "birthplace"
    term: Term | None = None
    category: str = ""
    rule: str = ""
    pending: bool = False


class RaceRedactor:
    """Find and replace race and ethnicity mentions.

    Parameters
    ----------
    level
        ``"explicit"``: race/ethnicity categories as notes write them; ``"extended"`` adds
        national origin, ancestry, languages spoken, interpreters and birthplaces.
    replacement
        What each mention becomes. It must start and end with a non-word character and hold no
        whitespace or ``; | . ,`` so that it cannot join or split neighbouring text. ``""``
        deletes the mentions instead (see :meth:`redact`): the token's presence is itself a
        race signal when groups' mention rates differ, deletion leaves no such token.
    extra_terms
        More terms: strings (category ``custom``, no context needed) or :class:`Term` objects.
    safe_terms
        More protected phrases (literal strings), tried before any term.
    lexicon
        A :class:`Lexicon` (default: the packaged one, see :func:`load_lexicon`) or a path to a
        YAML file of additions.

    Examples
    --------
    >>> r = RaceRedactor()
    >>> r.redact("54 yo AA M with WBC 12. White blood cells elevated.").text
    '54 yo [RACE] M with WBC 12. White blood cells elevated.'
    """

    def __init__(self, level: Level = "explicit", replacement: str = "[RACE]",
                 extra_terms: Iterable[str | Term] = (), safe_terms: Iterable[str] = (),
                 lexicon: Lexicon | str | None = None) -> None:
        self.level = level
        self.replacement = replacement
        self.extra_terms = tuple(extra_terms)
        self.safe_terms = tuple(safe_terms)
        self.lexicon = lexicon
        self._compile()

    # -- construction ------------------------------------------------------------------
    def _compile(self) -> None:
        rep = self.replacement
        if not isinstance(rep, str) or (rep and (
                re.match(r"\w", rep) or re.search(r"\w\Z", rep) or re.search(r"[\s;|.,]", rep))):
            raise ConfigError(
                f"replacement {rep!r} must start and end with a non-word character and hold no "
                "whitespace or ';|.,' (for example '[RACE]'), or be '' to delete the mentions")
        lex = self.lexicon
        if lex is None or isinstance(lex, str):
            lex = load_lexicon(*(() if lex is None else (lex,)))
        elif not isinstance(lex, Lexicon):
            lex = load_lexicon(lex)
        extra = tuple(t if isinstance(t, Term) else Term(term=str(t), category="custom",
                                                         level=self.level)
                      for t in self.extra_terms)
        safe = tuple(SafePhrase(name=f"user_safe_{i}", pattern=literal_regex(s))
                     for i, s in enumerate(self.safe_terms))
        lex = lex.with_additions(terms=extra, safe=safe)
        terms = lex.terms_for(self.level)
        self._lex = lex
        self._terms_by_key: dict[str, Term] = {}
        for t in terms:
            for form in t.forms():
                self._terms_by_key.setdefault(term_key(form), t)
        self._terms = terms
        self._term_res = [(re.compile(literal_regex(f) + r"\Z", _FLAGS), t)
                          for t in terms for f in t.forms()]
        term_re = trie_regex(f for t in terms for f in t.forms())
        self._term_re = re.compile(r"(?<!\w)(?:" + term_re + r")(?!\w)", _FLAGS)

        # Few top-level groups whose alternatives start with a literal: in the case-sensitive
        # pattern (run on lower-cased ASCII text) the regex engine skips those in one compare.
        groups: list[tuple[str, str]] = [("safe", "|".join(f"(?:{s.pattern})" for s in lex.safe))]
        titled = next((sp.pattern for sp in lex.safe if sp.name == _TITLED_SURNAME), None)
        self._titled = re.compile(titled, _FLAGS) if titled is not None else None
        labels = trie_regex(lex.lines_for(self.level))
        # the value may sit on the next line ("Race:\n White"), if that line is a short value
        # without a label of its own (not "Race:\nHPI: 54 yo ...") that names a term: a
        # deletion leaves "Race: \nWBC 12", which must not make "WBC 12" a race value
        groups.append(("line", labels + rf"(?:{_GAP}[:=]|{_WS}+-)"
                       rf"(?:{_WS}*\n(?=[^\n;|.,:]{{1,60}}(?:$|[\n;|.,]))"
                       rf"(?=[^\n;|.,:]{{0,60}}?(?<!\w)(?:{term_re})(?!\w)))?{_WS}*"
                       r"(?P<line_v>[^\W_](?:[^\n;|.,\[\]]*?[\w)])?)"
                       # the value ends before the next one-word label on the same line ("Race:
                       # White Sex: F" keeps "Sex: F"), else it is the longest run that ends in a
                       # word character before the end of the line, a separator, a colon or a
                       # bracket. Whatever follows it ("Race: Other [RACE]", "Race: White \x1b")
                       # cannot decide whether it is a value, so a redaction, which changes what
                       # follows a term, cannot make a line match on a second pass.
                       rf"(?={_WS}+[^\W\d_][\w/-]{{0,30}}{_WS}*:|[^\n;|.,:\[\]\w)]*(?:$|[\n;|.,:\[\]]))"))
        if self.level == "extended":
            langs = trie_regex(lex.languages)
            before = trie_regex(lex.language_cues_before)
            after = trie_regex(lex.language_cues_after)
            # "speaks Spanish", "speaking: Spanish"; not "speakingSomali" (no word boundary), which
            # redacted to "speaking[RACE]" would turn the word before it into a match and break
            # idempotence (found by the hypothesis property test)
            groups.append(("lang_b", before + rf"(?:{_WS}*:{_WS}*|{_WS}+)(?P<lang_b_v>" + langs
                           + r")(?!\w)"))
            groups.append(("lang_a", r"(?P<lang_a_v>" + langs + rf")(?=(?:{_WS}|-)*" + after + r"(?!\w))"))
            groups.append(("birth", trie_regex(lex.country_cues) + rf"{_WS}+(?:the{_WS}+)?(?P<birth_v>"
                           + trie_regex(lex.countries) + r")(?!\w)"))
        slot_terms = trie_regex(f for t in terms if t.context == "slot" for f in t.forms())
        # "54yoAAM": a short form glued to the age is still in the demographic slot
        bare_ok = trie_regex(f for t in terms if t.context == "slot" for f in t.forms()
                             if term_key(f) not in ("aa", "bm"))
        # "61 yo W F": the letter of a compact "W/F" form, spaced, between an age and a sex
        # letter (both upper case in the text, checked in _candidates)
        self._slot_letters = {f[0].lower(): self._terms_by_key[term_key(f)]
                              for t in terms if t.context == "slot" for f in t.forms()
                              if re.fullmatch(r"[A-Za-z]/[MF]", f)}
        letters_re = "[" + "".join(sorted(self._slot_letters)) + "]" if self._slot_letters else "(?!)"
        groups[1:1] = [("glued", _AGE + r"(?P<glued_v>" + slot_terms + r")(?!\w)"),
                       ("bare", r"\d{2,3}(?P<bare_v>" + bare_ok + r")(?!\w)"),
                       ("spaced", _AGE + _GAP + rf"(?P<spaced_v>{letters_re})(?=\s){_GAP}(?=[mf](?!\w))")]
        groups.append(("term", term_re + r"(?!\w)"))
        body = "|".join(f"(?P<{name}>{pat})" for name, pat in groups)
        # with deletion there is no token to recognise (an empty one would match everywhere)
        def repl(token: str) -> str:
            return f"(?P<repl>{re.escape(token)})|" if token else ""

        self._master = re.compile(f"(?<!\\w)(?:{repl(rep)}{body})", _FLAGS)
        # A pattern with no upper-case letter outside escapes runs case-sensitively on
        # lower-cased ASCII text (same offsets), which is several times faster.
        lowerable = all(re.search(r"(?<!\\)[A-Z]", sp.pattern) is None for sp in lex.safe)
        self._master_cs = (re.compile(f"(?<!\\w)(?:{repl(rep.lower())}{body})", re.MULTILINE)
                           if lowerable else None)
        self._value_group = {"line": "line_v", "lang_b": "lang_b_v", "lang_a": "lang_a_v",
                             "birth": "birth_v",
                             "glued": "glued_v", "bare": "bare_v", "spaced": "spaced_v"}

        ctx = lex.context
        nouns = trie_regex(w for w in ctx.get("person_nouns", ()) if len(w) > 1)
        letters = "".join(re.escape(c) for c in ctx.get("sex_letters", ("M", "F")))
        adjectives = trie_regex(ctx.get("person_adjectives", ()))
        self._after_re = re.compile(
            rf"[\s,\-]*(?:(?:{adjectives}|{_AGE})[\s,\-]+)?(?:{nouns}|(?-i:[{letters}]))(?!\w)", _FLAGS)
        connectors = trie_regex(ctx.get("connectors", ("and", "or")))
        self._gap_re = re.compile(rf"[\s,/&()+\-]*(?:(?:{connectors})\.?(?!\w)[\s,/&()+\-]*)?", _FLAGS)
        identity = trie_regex(ctx.get("identity_phrases", ()))
        self._before_re = re.compile(
            rf"(?:(?<!\w){identity}|(?<!\w)(?:race|ethnicity)(?:{_WS}+(?:is|was))?{_WS}*:?)"
            rf"(?:{_WS}|[,\-])*\Z", _FLAGS)
        self._slot_before_re = re.compile(rf"(?<!\d){_AGE}(?:{_WS}|[,\-])*(?:\n(?:{_WS}|[,\-])*)?\Z", _FLAGS)
        self._bare_age_re = re.compile(rf"(?<![\d.])\d{{2,3}}{_WS}*\Z")
        self._sex_after_re = re.compile(
            rf"{_WS}+(?:(?-i:[{letters}])|male|female|man|woman|gentleman|lady|pt|patient)(?!\w)", _FLAGS)
        self._sex_after_keys = {term_key(t) for t in ctx.get("sex_after_terms", ())}

    def __getstate__(self) -> dict[str, Any]:
        # Compiled state is rebuilt in the worker; only the parameters travel.
        return {k: getattr(self, k) for k in ("level", "replacement", "extra_terms",
                                              "safe_terms", "lexicon")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compile()

    def __repr__(self) -> str:
        return f"RaceRedactor(level={self.level!r}, replacement={self.replacement!r})"

    # -- matching ----------------------------------------------------------------------
    def _lookup(self, matched: str) -> Term | None:
        term = self._terms_by_key.get(term_key(matched))
        if term is None:  # case folding that casefold() and re disagree on: slow, rare path
            term = next((t for rx, t in self._term_res if rx.match(matched)), None)
        return term

    def _lowercase_after_title(self, text: str, start: int, end: int) -> _Hit | None:
        """A surname is written with a capital ("Dr. White"); "Per Mr. white woman" is a
        title before a race mention. The lower-case word is judged like any person-context
        term (race only next to a person noun), not protected."""
        if self._titled is None or self._titled.fullmatch(text, start, end) is None:
            return None
        word = re.search(r"[^\W\d_]+\Z", text[start:end])  # the surname ends the phrase
        if word is None or not word.group()[0].islower():
            return None
        term = self._lookup(word.group())
        if term is None or term.context != "person":
            return None
        return _Hit(start + word.start(), end, "term", term, term.category, "term", pending=True)

    def _candidates(self, text: str) -> list[_Hit]:
        hits: list[_Hit] = []
        if self._master_cs is not None and text.isascii():
            matches = self._master_cs.finditer(text.lower())
        else:
            matches = self._master.finditer(text)
        for m in matches:
            kind = m.lastgroup or ""
            if kind == "safe":  # a safe phrase: protected, and not a race mention ...
                hit = self._lowercase_after_title(text, m.start(), m.end())
                if hit is not None:  # ... unless a title precedes a lower-case colour word
                    hits.append(hit)
                continue
            if kind == "repl":
                hits.append(_Hit(m.start(), m.end(), "repl", rule="replacement"))
                continue
            if kind == "term":
                term = self._lookup(m.group())
                if term is None:
                    continue
                hit = _Hit(m.start(), m.end(), "term", term, term.category, "term")
                if term.context == "slot":
                    key = term_key(m.group())
                    if self._slot_before_re.search(text, max(0, hit.start - 40), hit.start):
                        hit.rule = "demographic_slot"
                    elif (key not in self._sex_after_keys and key != "bm"
                          and self._bare_age_re.search(text, max(0, hit.start - 8), hit.start)):
                        hit.rule = "demographic_slot"  # "54 WM": a compact form after a bare age
                    elif (key in self._sex_after_keys
                          and self._sex_after_re.match(text, hit.end)):
                        hit.rule = "demographic_slot"
                    else:
                        continue
                elif term.context == "person":
                    hit.pending = True
                hits.append(hit)
                continue
            vg = self._value_group[kind]
            start, end = m.span(vg)
            if kind == "spaced":
                if text[start].isupper() and text[m.end()].isupper():  # "W F", not "a f/u"
                    term = self._slot_letters[text[start].lower()]
                    hits.append(_Hit(start, end, "term", term, term.category, "demographic_slot"))
            elif kind in ("glued", "bare"):
                term = self._lookup(m.group(vg))
                if term is not None:
                    hits.append(_Hit(start, end, "term", term, term.category, "demographic_slot"))
            elif kind == "line":
                inner = self._term_re.search(text, start, end)
                category = "unspecified"
                if inner is not None:
                    found = self._lookup(inner.group())
                    category = found.category if found is not None else category
                hits.append(_Hit(start, end, kind, None, category, "demographic_line"))
            elif kind == "birth":
                hits.append(_Hit(start, end, kind, None, "birthplace", "birthplace"))
            else:
                hits.append(_Hit(start, end, kind, None, "language", "language"))
        if self.replacement and self.replacement in text:
            self._add_glued_tokens(text, hits)
        return hits

    def _add_glued_tokens(self, text: str, hits: list[_Hit]) -> None:
        """The token glued to a word ("American[RACE] black") is a token too: a redaction glues
        it so, and a second pass must read the text as the first did. Found apart from the
        master pattern, whose leading word-start check keeps it fast."""
        rep, added = self.replacement, False
        at = text.find(rep)
        while at >= 0:
            end = at + len(rep)
            if at and (text[at - 1].isalnum() or text[at - 1] == "_") and not any(
                    h.start < end and at < h.end for h in hits):
                hits.append(_Hit(at, end, "repl", rule="replacement"))
                added = True
            at = text.find(rep, end)
        if added:
            hits.sort(key=lambda h: h.start)

    def _resolve(self, text: str, hits: list[_Hit]) -> list[_Hit]:
        """Decide person-context hits chain by chain ("black and white patients")."""
        if not any(h.pending for h in hits):
            return [h for h in hits if h.kind != "repl"]
        kept: list[_Hit] = []
        i = 0
        while i < len(hits):
            j = i + 1
            while j < len(hits) and self._gap_re.fullmatch(text, hits[j - 1].end, hits[j].start):
                j += 1
            chain = hits[i:j]
            if any(h.pending for h in chain):
                rule = None
                if any(not h.pending for h in chain):
                    rule = "group_list"
                elif self._slot_before_re.search(text, max(0, chain[0].start - 40), chain[0].start):
                    rule = "age_context"
                elif self._before_re.search(text, max(0, chain[0].start - 60), chain[0].start):
                    rule = "identity_context"
                elif self._after_re.match(text, chain[-1].end):
                    rule = "person_context"
                for h in chain:
                    if h.pending:
                        if rule is None:
                            continue
                        h.rule, h.pending = rule, False
                    if h.kind != "repl":
                        kept.append(h)
            else:
                kept.extend(h for h in chain if h.kind != "repl")
            i = j
        return kept

    def analyze(self, text: str) -> list[Span]:
        """The mentions in ``text`` as sorted, non-overlapping spans, without replacing them."""
        if not isinstance(text, str):
            raise ConfigError(f"expected a str, got {type(text).__name__}")
        hits = self._resolve(text, self._candidates(text))
        return [Span(h.start, h.end, LABEL, h.category, h.rule, text[h.start:h.end]) for h in hits]

    def redact(self, text: str) -> Redaction:
        """Replace (or, with ``replacement=""``, delete) every mention in ``text``.

        Deletion removes ``text[start:end]`` of each span and, where the character before the
        span is a space, a line break or the start of the text and the character after it is a
        space, that space too (so ``"a AA M"`` gives ``"a M"`` and ``"AA M"`` gives ``"M"``);
        nothing else changes. If the result holds a mention (the words around a deleted one
        joined), its spans are widened to cover it and the text is rebuilt, until none is left.

        Returns
        -------
        Redaction
            ``.text`` (redacted) and ``.spans`` (original offsets, sorted, non-overlapping).
        """
        spans = self.analyze(text)
        if not spans:
            return Redaction(text, [])
        if not self.replacement:
            return self._delete(text, spans)
        parts: list[str] = []
        last = 0
        for s in spans:
            parts.append(text[last:s.start])
            parts.append(self.replacement)
            last = s.end
        parts.append(text[last:])
        return Redaction("".join(parts), spans)

    def _delete(self, text: str, spans: list[Span]) -> Redaction:
        while True:  # each round deletes at least one more character, so it ends
            pieces = _kept_pieces(text, spans)
            out = "".join(text[a:b] for a, b in pieces)
            found = self.analyze(out)
            if not found:
                return Redaction(out, spans)
            spans = _widen(text, spans, _to_original(pieces, found))

    def redact_batch(self, texts: Iterable[str], n_process: int = 1,
                     chunk_size: int = 1000) -> Iterator[Redaction]:
        """Redact many texts lazily, in order.

        Parameters
        ----------
        texts
            Any iterable of strings; it is consumed in chunks, so it may be a generator.
        n_process
            Worker processes; ``1`` runs in this process.
        chunk_size
            Texts sent to a worker at a time.
        """
        if n_process < 1 or chunk_size < 1:
            raise ConfigError("n_process and chunk_size must be >= 1")
        if n_process == 1:
            for t in texts:
                yield self.redact(t)
            return
        it = iter(texts)
        chunks = iter(lambda: list(islice(it, chunk_size)), [])
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(n_process, initializer=_init_worker, initargs=(self,)) as pool:
            for chunk in pool.imap(_redact_chunk, chunks):
                yield from chunk


def _kept_pieces(text: str, spans: list[Span]) -> list[tuple[int, int]]:
    """The ``(start, end)`` pieces of ``text`` a deletion keeps (see :meth:`RaceRedactor.redact`)."""
    pieces: list[tuple[int, int]] = []
    last = 0
    for i, s in enumerate(spans):
        if last < s.start:
            pieces.append((last, s.start))
        last = s.end
        nxt = spans[i + 1].start if i + 1 < len(spans) else len(text)
        if (last < nxt and text[last] == " "
                and (s.start == 0 or text[s.start - 1] in " \n")):
            last += 1  # the space a deletion left doubled
    if last < len(text):
        pieces.append((last, len(text)))
    return pieces


def _to_original(pieces: list[tuple[int, int]], spans: list[Span]) -> list[Span]:
    """Spans of the deleted text mapped back onto the original text's offsets."""
    offsets, pos = [], 0
    for a, b in pieces:
        offsets.append(pos)
        pos += b - a

    def orig(i: int) -> int:
        k = bisect_right(offsets, i) - 1
        return pieces[k][0] + i - offsets[k]

    return [Span(orig(s.start), orig(s.end - 1) + 1, s.label, s.category, s.rule, "")
            for s in spans]


def _widen(text: str, spans: list[Span], found: list[Span]) -> list[Span]:
    """``spans`` and the mentions ``found`` in the deleted text (mapped back); overlapping ones
    become one span with the found mention's category and the rule ``joined``."""
    groups: list[list[tuple[Span, bool]]] = []
    end = -1
    for s, is_new in sorted([(s, False) for s in spans] + [(s, True) for s in found],
                            key=lambda x: (x[0].start, x[0].end)):
        if groups and s.start < end:  # overlaps the group so far
            groups[-1].append((s, is_new))
            end = max(end, s.end)
        else:
            groups.append([(s, is_new)])
            end = s.end
    out = []
    for g in groups:
        start, stop = g[0][0].start, max(s.end for s, _ in g)
        src = next((s for s, is_new in g if is_new), g[0][0])
        out.append(Span(start, stop, LABEL, src.category, "joined" if len(g) > 1 else src.rule,
                        text[start:stop]))
    return out


_WORKER: RaceRedactor | None = None


def _init_worker(redactor: RaceRedactor) -> None:
    global _WORKER
    _WORKER = redactor


def _redact_chunk(chunk: list[str]) -> list[Redaction]:
    assert _WORKER is not None
    return [_WORKER.redact(t) for t in chunk]
