"""The race and ethnicity lexicon: data in ``racelens/text/data/lexicon.yaml``, plus user files.

The lexicon is data so that a user adds a term or a safe phrase without code: write a YAML file of
the same shape (only the keys you add) and pass it to :func:`load_lexicon`. This module loads and
validates the data and turns it into regular expressions; :mod:`racelens.text.redact.redactor` runs them.

Terms are compiled into one character trie rendered as a regular expression, so the hot loop
tries a couple of dozen first letters per word start, not hundreds of alternatives.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from racelens.errors import ConfigError

__all__ = [
    "Level",
    "Context",
    "Term",
    "SafePhrase",
    "Lexicon",
    "load_lexicon",
    "term_key",
    "literal_regex",
    "trie_regex",
    "LEVELS",
]

Level = Literal["explicit", "extended"]
Context = Literal["none", "person", "slot"]
LEVELS: tuple[Level, ...] = ("explicit", "extended")
_CONTEXTS = ("none", "person", "slot")


@dataclass(frozen=True)
class Term:
    """One lexicon entry: a literal ``term`` naming a ``category`` at a ``level``."""

    term: str
    category: str
    level: Level = "explicit"
    context: Context = "none"
    plural: bool = True

    def forms(self) -> tuple[str, ...]:
        """The literal forms matched: the term and, when allowed, its plural."""
        if self.plural and self.term[-1:].isalpha():
            return (self.term, self.term + "s")
        return (self.term,)


@dataclass(frozen=True)
class SafePhrase:
    """A protected phrase: a case-insensitive regular expression tried before any term."""

    name: str
    pattern: str


@dataclass(frozen=True)
class Lexicon:
    """Terms, safe phrases, demographic-line labels, context words and phrase-rule vocabularies."""

    terms: tuple[Term, ...]
    safe: tuple[SafePhrase, ...]
    lines: Mapping[str, tuple[str, ...]]
    context: Mapping[str, tuple[str, ...]]
    languages: tuple[str, ...] = ()
    language_cues_before: tuple[str, ...] = ()
    language_cues_after: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    country_cues: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())

    def terms_for(self, level: Level) -> tuple[Term, ...]:
        """Terms active at ``level`` (``extended`` includes ``explicit``)."""
        _check_level(level)
        allowed = LEVELS[: LEVELS.index(level) + 1]
        return tuple(t for t in self.terms if t.level in allowed)

    def lines_for(self, level: Level) -> tuple[str, ...]:
        """Demographic-line labels active at ``level``."""
        _check_level(level)
        out: list[str] = []
        for lv in LEVELS[: LEVELS.index(level) + 1]:
            out.extend(self.lines.get(lv, ()))
        return tuple(out)

    def with_additions(self, *, terms: Iterable[Term] = (), safe: Iterable[SafePhrase] = ()) -> Lexicon:
        """A copy with more terms and safe phrases (user additions come after the packaged ones)."""
        return replace(self, terms=self.terms + tuple(terms), safe=self.safe + tuple(safe))


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ConfigError(f"unknown redaction level {level!r}; use one of {list(LEVELS)}")


def _as_tuple(value: Any, what: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{source}: {what} must be a list of strings")
    return tuple(str(v) for v in value)


def _parse_term(raw: Any, source: str) -> Term:
    if isinstance(raw, str):
        raw = {"term": raw}
    if not isinstance(raw, Mapping) or not str(raw.get("term", "")).strip():
        raise ConfigError(f"{source}: each term needs a non-empty 'term' (got {raw!r})")
    level = raw.get("level", "explicit")
    context = raw.get("context", "none")
    if level not in LEVELS:
        raise ConfigError(f"{source}: term {raw['term']!r} has level {level!r}; use {list(LEVELS)}")
    if context not in _CONTEXTS:
        raise ConfigError(f"{source}: term {raw['term']!r} has context {context!r}; use {list(_CONTEXTS)}")
    return Term(term=str(raw["term"]).strip(), category=str(raw.get("category", "custom")),
                level=level, context=context, plural=bool(raw.get("plural", True)))


def _parse_safe(raw: Any, source: str, index: int) -> SafePhrase:
    if isinstance(raw, str):
        return SafePhrase(name=f"user_safe_{index}", pattern=literal_regex(raw))
    if not isinstance(raw, Mapping) or ("pattern" not in raw and "phrase" not in raw):
        raise ConfigError(f"{source}: each safe entry needs 'pattern' (regex) or 'phrase' (literal)")
    pattern = str(raw["pattern"]) if "pattern" in raw else literal_regex(str(raw["phrase"]))
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{source}: safe pattern {pattern!r} is not a valid regex ({exc})") from exc
    return SafePhrase(name=str(raw.get("name", f"safe_{index}")), pattern=pattern)


def _parse(data: Any, source: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a lexicon file must be a mapping with keys like 'terms' and 'safe'")
    unknown = set(data) - {"schema", "terms", "safe", "lines", "context", "languages",
                           "language_cues_before", "language_cues_after", "countries", "country_cues"}
    if unknown:
        raise ConfigError(f"{source}: unknown lexicon key(s) {sorted(unknown)}")
    out: dict[str, Any] = {
        "terms": tuple(_parse_term(t, source) for t in data.get("terms") or ()),
        "safe": tuple(_parse_safe(s, source, i) for i, s in enumerate(data.get("safe") or ())),
        "lines": {k: _as_tuple(v, f"lines.{k}", source) for k, v in (data.get("lines") or {}).items()},
        "context": {k: _as_tuple(v, f"context.{k}", source)
                    for k, v in (data.get("context") or {}).items()},
    }
    for key in ("languages", "language_cues_before", "language_cues_after", "countries", "country_cues"):
        out[key] = _as_tuple(data.get(key), key, source)
    return out


def _read_yaml(path: str | os.PathLike[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: lexicon file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc


def load_lexicon(*extra: str | os.PathLike[str] | Mapping[str, Any]) -> Lexicon:
    """Load the packaged lexicon and merge user additions into it.

    Parameters
    ----------
    *extra
        YAML files (or already-parsed mappings) of the same shape as the packaged
        ``lexicon.yaml``. Lists are appended to the packaged ones (terms, safe phrases, line
        labels, context words, languages, countries).

    Returns
    -------
    Lexicon

    Examples
    --------
    >>> lex = load_lexicon({"terms": [{"term": "Garifuna", "category": "national_origin",
    ...                                "level": "extended"}]})
    >>> lex.terms[-1].term
    'Garifuna'
    """
    packaged = resources.files("racelens.text").joinpath("data/lexicon.yaml")
    with resources.as_file(packaged) as p:
        merged = _parse(_read_yaml(p), "racelens/text/data/lexicon.yaml")
    sources = ["packaged"]
    for item in extra:
        if isinstance(item, Mapping):
            part, name = _parse(item, "<mapping>"), "<mapping>"
        else:
            part, name = _parse(_read_yaml(item), str(item)), Path(item).name
        sources.append(name)
        for key, value in part.items():
            if isinstance(value, dict):
                for sub, vals in value.items():
                    merged[key][sub] = tuple(merged[key].get(sub, ())) + vals
            else:
                merged[key] = tuple(merged.get(key, ())) + value
    return Lexicon(**merged, sources=tuple(sources))


# --- regex construction -----------------------------------------------------------------

_KEY_DROP = re.compile(r"[\s.\-]+")


def term_key(text: str) -> str:
    """Normalise matched text for lookup: case-folded, without whitespace, hyphens and dots."""
    return _KEY_DROP.sub("", text.casefold())


def _atoms(literal: str) -> list[str]:
    """Regex atoms of a literal: space or hyphen = optional whitespace/hyphen run, dot optional."""
    atoms: list[str] = []
    for ch in literal.strip():
        if ch.isspace() or ch == "-":
            # "African American", "African-American" and "AfricanAmerican" are one term
            if atoms and atoms[-1] == r"[\s\-]*":
                continue
            atoms.append(r"[\s\-]*")
        elif ch == ".":
            atoms.append(r"\.?")
        elif ch == "/":
            atoms.append(r"[ \t]*/[ \t]*")
        else:
            atoms.append(re.escape(ch.lower()))
    return atoms


def literal_regex(literal: str) -> str:
    """A regex for ``literal`` with the lexicon's spacing rules (see :func:`_atoms`)."""
    return "".join(_atoms(literal))


def trie_regex(literals: Iterable[str]) -> str:
    """One regex matching any of ``literals``, longest first, built as a character trie."""
    root: dict[str, Any] = {}
    for lit in literals:
        node = root
        for atom in _atoms(lit):
            node = node.setdefault(atom, {})
        node[""] = {}
    if not root:
        return r"(?!)"
    return _render(root)


def _render(node: dict[str, Any]) -> str:
    branches = [atom + _render(child) for atom, child in node.items() if atom != ""]
    if not branches:
        return ""
    # Separators and optional atoms sort last so that letters are tried first.
    branches.sort(key=lambda b: (b.startswith(("[", "\\.")), b))
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        if len(branches) == 1 and not body.startswith("(?:"):
            body = "(?:" + body + ")"
        return body + "?"
    return body
