"""The placeholder's own leak: how much race a model reads from the redaction marks alone.

Explicit mentions are not equally frequent across groups, so a ``[RACE]`` token tells a model
that a mention was there. :func:`mention_features` keeps only the mention pattern of a redacted
note - how many placeholders, where the first and the last one sit (relative position), and how
many of each kind - and the shared linear probe reads race from those few numbers alone.

Three replacement modes are compared (:func:`redact_mode`):

- ``token`` - every mention becomes ``[RACE]`` (the redactor's default);
- ``category`` - every mention becomes ``[RACE_<CATEGORY>]`` (``[RACE_BLACK]``): a *negative
  example*, it names the group and must show as leaking;
- ``delete`` - every mention is deleted: no mark is left to count (the pattern model sees
  nothing and scores chance by construction; what the words around a deletion still say is
  the full model's business, measured beside it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np

__all__ = ["MODES", "redact_mode", "redact_modes", "iter_redact_modes", "token_and_category",
           "mention_features", "mention_patterns", "mention_matrix", "PLACEHOLDER"]

Mode = Literal["token", "category", "delete"]
MODES: tuple[Mode, ...] = ("token", "category", "delete")
PLACEHOLDER = re.compile(r"\[RACE(?:_[A-Z_]+)?\]")


def _category_text(text: str, spans: Sequence[object]) -> str:
    parts, at = [], 0
    for s in spans:
        start, end, category = s.start, s.end, s.category  # type: ignore[attr-defined]
        parts.append(text[at:start])
        parts.append(f"[RACE_{re.sub(r'[^A-Za-z]+', '_', str(category)).strip('_').upper()}]")
        at = end
    parts.append(text[at:])
    return "".join(parts)


def redact_modes(texts: Sequence[str], *, level: str = "explicit"
                 ) -> dict[Mode, list[str]]:
    """The ``token``, ``category`` and ``delete`` redactions of ``texts`` from one analysis.

    Each note is analysed once (:meth:`RaceRedactor.analyze`); the three texts are built from
    the same spans (:meth:`RaceRedactor.apply`: the deletion still widens its spans where the
    words around a deleted mention join into a new one, as :meth:`RaceRedactor.redact` does).
    The texts equal :func:`redact_mode`'s for each mode.
    """
    return next(iter_redact_modes([texts], level=level))


def iter_redact_modes(parts: Iterable[Sequence[str]], *, level: str = "explicit"
                      ) -> Iterator[dict[Mode, list[str]]]:
    """:func:`redact_modes` of each part of the notes in turn (the redactors built once): a
    caller can write each part's texts away before the next is redacted."""
    from racelens.text.redact.redactor import RaceRedactor

    token = RaceRedactor(level=level)  # type: ignore[arg-type]
    delete = RaceRedactor(level=level, replacement="")  # type: ignore[arg-type]
    for texts in parts:
        out: dict[Mode, list[str]] = {"token": [], "category": [], "delete": []}
        for t in texts:
            spans = token.analyze(t)
            out["token"].append(token.apply(t, spans).text)
            out["category"].append(_category_text(t, spans))
            # the token redactor reads its own "[RACE]" already in a note as a mention (context
            # for its neighbours); the deleting one does not: such a rare note is analysed again
            out["delete"].append(delete.redact(t).text if token.replacement in t
                                 else delete.apply(t, spans).text)
        yield out


def token_and_category(texts: Sequence[str], *, level: str = "explicit"
                       ) -> tuple[list[str], list[str]]:
    """The ``token`` and ``category`` redactions of ``texts`` from one redaction pass."""
    from racelens.text.redact.redactor import RaceRedactor

    reds = list(RaceRedactor(level=level).redact_batch(list(texts)))  # type: ignore[arg-type]
    return ([r.text for r in reds],
            [_category_text(t, r.spans) for t, r in zip(texts, reds, strict=True)])


def redact_mode(texts: Sequence[str], mode: Mode, *, level: str = "explicit") -> list[str]:
    """``texts`` redacted at ``level`` in one of :data:`MODES`."""
    from racelens.errors import ConfigError
    from racelens.text.redact.redactor import RaceRedactor

    if mode not in MODES:
        raise ConfigError(f"placeholder mode {mode!r}: use one of {MODES}")
    if mode == "delete":
        return [r.text for r in RaceRedactor(level=level, replacement="")  # type: ignore[arg-type]
                .redact_batch(list(texts))]
    token, category = token_and_category(texts, level=level)
    return token if mode == "token" else category


def mention_features(texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Per note: placeholder count, first and last relative position, and count per kind.

    Returns the ``n x d`` matrix and the feature names (the kinds found, sorted). A note
    without a placeholder has count 0 and positions -1.
    """
    return mention_matrix(mention_patterns(texts))


def mention_patterns(texts: Sequence[str]) -> list[tuple[int, list[tuple[str, int]]]]:
    """Per note, its length and its placeholders (kind, offset): what :func:`mention_matrix`
    needs, small enough to keep for every note while the texts themselves are let go."""
    out = []
    for t in texts:
        found = [(m.group(0), m.start()) for m in PLACEHOLDER.finditer(t or "")]
        out.append((len(t) if found else 0, found))
    return out


def mention_matrix(patterns: Sequence[tuple[int, list[tuple[str, int]]]]
                   ) -> tuple[np.ndarray, list[str]]:
    """:func:`mention_features` from :func:`mention_patterns` (of all the notes)."""
    kinds = sorted({k for _, f in patterns for k, _ in f})
    names = ["n_placeholders", "first_position", "last_position", *(f"n_{k}" for k in kinds)]
    col = {k: 3 + i for i, k in enumerate(kinds)}
    x = np.zeros((len(patterns), len(names)))
    for i, (length, f) in enumerate(patterns):
        x[i, 0] = len(f)
        if f:
            n = max(length, 1)
            x[i, 1], x[i, 2] = f[0][1] / n, f[-1][1] / n
            for k, _ in f:
                x[i, col[k]] += 1
        else:
            x[i, 1] = x[i, 2] = -1.0
    return x, names
