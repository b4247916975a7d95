"""Redact explicit (and extended) race and ethnicity mentions from clinical notes.

The engine follows Philter's ordered filters and presidio's explaining recognizers:

1. recognizers (:mod:`~racelens.text.redact.recognizers`), each with one job, are joined by a
   registry into one compiled alternation that scans the text once; at every word start it
   tries, in order, the replacement token (so redacted text is never redacted again), the
   *safe* phrases (``white blood cell``, ``black stools``, ``Dr. White`` ...), short forms glued
   to an age, demographic lines (``Race: ...``), extended phrase rules (``speaks Cantonese``,
   ``born in Haiti``) and the term trie;
2. context rules (:mod:`~racelens.text.redact.context`) decide the hits that need context:
   short forms in the demographic slot (``54 yo AA M``, ``61 yo W F``, ``54 y/o A/M``, ``72F AA``)
   and ``black``/``white`` in a person context (a person noun or sex after, an age or
   "identifies as" before, an age-sex token of the slot grammar (:mod:`~racelens.text.redact.slot`:
   ``72F black``, ``black M/72``), or a list with another race mention); parts of a slot or a
   demographic line may be separated by any whitespace (NBSP, thin space) and by one line
   break at most;
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
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from racelens.errors import ConfigError
from racelens.text.redact.context import ContextRules
from racelens.text.redact.deletion import kept_pieces, to_original, widen
from racelens.text.redact.lexicon import (
    Level,
    Lexicon,
    SafePhrase,
    Term,
    literal_regex,
    load_lexicon,
)
from racelens.text.redact.recognizers import build_registry
from racelens.text.redact.spans import LABEL, Redaction, Span, new_span

__all__ = ["Span", "Redaction", "RaceRedactor", "LABEL"]


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
        self._lex = lex = lex.with_additions(terms=extra, safe=safe)
        self._rules = ContextRules(lex.context)
        self._registry, index = build_registry(lex, self.level, rep, self._rules)
        self._terms = index.terms

    def __getstate__(self) -> dict[str, Any]:
        # Compiled state is rebuilt in the worker; only the parameters travel.
        return {k: getattr(self, k) for k in ("level", "replacement", "extra_terms",
                                              "safe_terms", "lexicon")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compile()

    @property
    def terms(self) -> tuple[Term, ...]:
        """The lexicon terms active at this redactor's level (user terms included)."""
        return self._terms

    def __repr__(self) -> str:
        return f"RaceRedactor(level={self.level!r}, replacement={self.replacement!r})"

    # -- matching ----------------------------------------------------------------------
    def analyze(self, text: str) -> list[Span]:
        """The mentions in ``text`` as sorted, non-overlapping spans, without replacing them."""
        if not isinstance(text, str):
            raise ConfigError(f"expected a str, got {type(text).__name__}")
        hits = self._rules.resolve(text, self._registry.candidates(text))
        return [new_span(h.start, h.end, h.category, h.rule, text[h.start:h.end]) for h in hits]

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
        return self.apply(text, self.analyze(text))

    def apply(self, text: str, spans: list[Span]) -> Redaction:
        """:meth:`redact` with the mentions already found (``spans`` from :meth:`analyze` of
        ``text``, by a redactor of the same level): one analysis serves several replacements."""
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
            pieces = kept_pieces(text, spans)
            out = "".join(text[a:b] for a, b in pieces)
            found = self.analyze(out)
            if not found:
                return Redaction(out, spans)
            spans = widen(text, spans, to_original(pieces, found))

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


_WORKER: RaceRedactor | None = None


def _init_worker(redactor: RaceRedactor) -> None:
    global _WORKER
    _WORKER = redactor


def _redact_chunk(chunk: list[str]) -> list[Redaction]:
    assert _WORKER is not None
    return [_WORKER.redact(t) for t in chunk]
