"""Word starts found by the character before them, so the regex engine skips the rest in C.

The registry's alternation may only start at a word start. Written as ``(?<!\\w)(?:body)``, the
engine enters the pattern at every position of the text and evaluates the lookbehind there (it
cost as much as the whole trie alternation's scan). Written as ``[^a-z0-9_](?:body)``, the pattern
starts with a character set, and ``re`` searches for that set in a tight C loop, entering the
pattern only after a non-word character: about one position in six of a clinical note.

The two find the same matches. A match of ``body`` at ``p > 0`` follows a non-word character at
``p - 1``, which the second pattern matches too; it reads that character, so after a match ending
at ``e`` the search restarts at ``e - 1`` (the character may be the match's own last one, as in
``[RACE]black``). Position 0 has no character before it: ``body`` is matched there first. A body
that can match the empty string would change where a search may restart, so it keeps the
lookbehind form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _parser  # type: ignore[attr-defined]

__all__ = ["WordStarts"]


class WordStarts:
    """``body`` tried at each word start of a text, in order, as ``re.finditer`` would.

    Parameters
    ----------
    body
        The alternation (no leading word-start check).
    flags
        ``re`` flags.
    nonword
        A character set matching the non-word characters of the texts scanned: ``\\W`` in
        general, ``[^a-z0-9_]`` for lower-cased ASCII text (a bitmap test, cheaper than ``\\W``).

    Examples
    --------
    >>> ws = WordStarts("ab|b", 0, r"\\W")
    >>> [(m.group(), start) for m, start in ws.finditer("ab b cab")]
    [('ab', 0), (' b', 3)]
    """

    def __init__(self, body: str, flags: int = 0, nonword: str = r"\W") -> None:
        self.body = body
        self.plain = re.compile(rf"(?<!\w)(?:{body})", flags)
        self.skipping = _parser.parse(body, flags).getwidth()[0] > 0
        #: ``at_start(text)``: a match of ``body`` at position 0, or None
        self.at_start = re.compile(f"(?:{body})", flags).match
        #: ``after(text, pos)``: the next match of a non-word character then ``body``, from ``pos``
        self.after = re.compile(f"{nonword}(?:{body})", flags).search

    def finditer(self, text: str) -> Iterator[tuple[re.Match[str], int]]:
        """``(match, start)`` for each match, ``start`` where ``body`` begins (``match.start()``
        is the non-word character before it, except at position 0)."""
        if not self.skipping:
            for m in self.plain.finditer(text):
                yield m, m.start()
            return
        m, shift, after = self.at_start(text), 0, self.after
        if m is None:
            m, shift = after(text, 0), 1
        while m is not None:
            yield m, m.start() + shift
            m, shift = after(text, m.end() - 1), 1
