"""The registry's alternation regrouped by first character, so a word start costs one branch.

Python's regex engine tries the alternatives of a branch in order at every word start. An
alternative that starts with a literal character (or a character class) is rejected by one
compare without entering it; one that starts with a group, a repeat or a lookaround is entered
every time. The recognizers' patterns (a term trie, safe phrases, demographic lines, ages) mostly
start with groups, so the plain alternation enters about ten of them at each word start.

:func:`dispatch_pattern` rewrites the same alternatives, in the same order of priority, as one
branch per first character: ``w(?:hite[\\s-]+blood...(?P<_m0>)|hite(?!\\w)(?P<_m7>)|...)``.
Leading non-capturing groups and optional atoms are distributed (``(?:a|b)c`` is ``ac|bc``,
``a?c`` is ``ac|c``, ``a*c`` is ``a+c|c``: the same order of trial), a leading ``x+`` or
``x{m,n}`` gives up one ``x``, and the rests are regrouped the same way, a few levels deep. An
empty marker group at the end of each alternative names its owner (``m.lastgroup``). Where a
pattern cannot be split so (a leading lookaround or anchor), the caller keeps the plain
alternation: the rewrite is an optimisation, never a change of what matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["dispatch_pattern", "SCANNED"]

_QUANT = re.compile(r"(?:\?|\*|\+|\{\d*,?\d*\})[?+]?")
_GROWTH = 2  # most a level's distributed alternatives may grow the pattern
_KEY_ESCAPE = re.compile(r"\\[^A-Za-z0-9]|\\[dsntrfv]")


def _atom_end(p: str, i: int) -> int:
    """End of the atom starting at ``p[i]`` (an escape, a class, a group or one character)."""
    c = p[i]
    if c == "\\":
        return i + 2
    if c == "[":
        j = i + 1
        if j < len(p) and p[j] == "^":
            j += 1
        if j < len(p) and p[j] == "]":
            j += 1
        while j < len(p) and p[j] != "]":
            j += 2 if p[j] == "\\" else 1
        return j + 1
    if c == "(":
        depth, j = 0, i
        while j < len(p):
            ch = p[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "[":
                j = _atom_end(p, j)
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise ValueError(f"unbalanced group in {p!r}")
    return i + 1


def _split_top(p: str) -> list[str]:
    """``p`` split at its top-level ``|``."""
    parts, start, i = [], 0, 0
    while i < len(p):
        if p[i] in "\\[(":
            i = _atom_end(p, i)
            continue
        if p[i] == "|":
            parts.append(p[start:i])
            start = i + 1
        i += 1
    parts.append(p[start:])
    return parts


def _quantifier(p: str, i: int) -> str:
    m = _QUANT.match(p, i)
    return m.group() if m else ""


def _distribute(p: str) -> list[str]:
    """``p`` as ordered alternatives that start neither with a group nor with an optional atom:
    ``(?:a|b)c`` is ``ac|bc``, ``a?c`` is ``ac|c``, ``a*c`` is ``a+c|c`` (greedy order kept)."""
    if not p:
        return [p]
    end = _atom_end(p, 0)
    atom, q = p[:end], _quantifier(p, end)
    rest = p[end + len(q):]
    if len(q) > 1 and q[-1] in "?+":
        return [p]  # a lazy or possessive repeat: left as it is
    if q in ("?", "*") and not atom.startswith("(?") or atom.startswith("(?:") and q == "?":
        once = atom + "+" if q == "*" else atom
        return _distribute(once + rest) + _distribute(rest)
    up_to = re.fullmatch(r"\{0,(\d+)\}", q)
    if up_to and not atom.startswith("(?"):  # x{0,n}c is x{1,n}c|c
        n = int(up_to.group(1))
        return (_distribute(f"{atom}{{1,{n}}}{rest}") if n else []) + _distribute(rest)
    if atom.startswith("(?:") and not q:
        return [d for inner in _split_top(atom[3:-1]) for d in _distribute(inner + rest)]
    return [p]


def _split_first(p: str) -> tuple[str, str] | None:
    """``(first atom, rest)`` when ``p`` must start with that one-character atom, else None."""
    if not p:
        return None
    end = _atom_end(p, 0)
    atom = p[:end]
    if atom.startswith("(") or atom in ("^", "$", "|", ")") or (
            atom.startswith("\\") and not _KEY_ESCAPE.fullmatch(atom)):
        return None  # a group, an anchor, \b ...: not one character
    q = _quantifier(p, end)
    rest = p[end + len(q):]
    if len(q) > 1 and q[-1] in "?+":
        return None
    if not q:
        return atom, rest
    if q == "+":
        return atom, atom + "*" + rest
    m = re.fullmatch(r"\{(\d+)(,?)(\d*)\}", q)
    if m and int(m.group(1)) >= 1:
        lo, comma, hi = int(m.group(1)), m.group(2), m.group(3)
        less = f"{{{lo - 1}{comma}{int(hi) - 1 if hi else ''}}}"
        return atom, atom + less + rest
    return None


#: the characters the dispatched scan may see: lower-cased ASCII and any whitespace
SCANNED = "".join(map(chr, range(128))) + "".join(c for c in map(chr, range(128, 0x3001)) if c.isspace())


def _chars(atom: str) -> frozenset[str]:
    """The characters of :data:`SCANNED` a key matches."""
    rx = re.compile(atom)
    return frozenset(c for c in SCANNED if rx.fullmatch(c))


def _group(pieces: list[str], depth: int) -> str | None:
    """``pieces`` (ordered alternatives) regrouped by first atom, ``depth`` levels deep; None
    when one of them does not start with a one-character atom.

    Branches follow the first appearance of their key. Where a key overlaps another (``[\\s-]``
    and ``\\n``), a new run of branches starts, so no alternative moves before one that could
    match the same character and came first.
    """
    flat = [d for p in pieces for d in _distribute(p)]
    if sum(map(len, flat)) > _GROWTH * sum(map(len, pieces)) + 100:
        return None  # distributing would copy long rests many times: keep this level flat
    splits = [_split_first(p) for p in flat]
    if depth == 0 or any(sp is None for sp in splits):
        return None
    runs: list[dict[str, list[str]]] = [{}]
    chars: dict[str, frozenset[str]] = {}
    for key, rest in splits:  # type: ignore[misc]
        run = runs[-1]
        if key not in run:
            mine = chars.setdefault(key, _chars(key))
            if any(mine & chars[k] for k in run):
                runs.append({})
                run = runs[-1]
            run[key] = []
        run[key].append(rest)
    out = []
    for run in runs:
        for key, rests in run.items():
            inner = _group(rests, depth - 1) if len(rests) > 1 else None
            out.append(f"{key}(?:{inner if inner is not None else '|'.join(rests)})")
    return "|".join(out)


def dispatch_pattern(patterns: Sequence[str], depth: int = 8, unmarked: int | None = None
                     ) -> tuple[str, dict[str, int]] | None:
    """The alternation of ``patterns`` (in priority order) regrouped by first characters.

    Named groups become plain groups (an owner that needs one of its parts matches its own
    pattern again at the match start); an empty marker group ends each alternative, except the
    alternatives of pattern ``unmarked``, whose matches have no group at all (``lastgroup`` is
    None). Every group costs each match (``re`` builds a match object with a slot per group),
    so the pattern with the most alternatives is best left unmarked.

    Returns
    -------
    (body, owners) or None
        ``body`` goes after the word-start check; ``owners`` maps each marker group's name to
        the index of its pattern. None when the patterns cannot be regrouped (see the module).
    """
    pieces = [re.sub(r"\(\?P<\w+>", "(?:", p) + ("" if i == unmarked else f"(?P<_m{i}>)")
              for i, p in enumerate(patterns)]
    body = _group(pieces, depth)
    if body is None:
        return None
    owners: dict[str, int] = {}
    counter = iter(range(10**9))

    def unique(m: re.Match[str]) -> str:
        name = f"_m{m.group(1)}_{next(counter)}"
        owners[name] = int(m.group(1))
        return f"(?P<{name}>)"

    return re.sub(r"\(\?P<_m(\d+)>\)", unique, body), owners
