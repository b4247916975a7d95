"""Take results out of run directories without per-sample data (``racelens export``).

A run directory holds aggregates (``result.json``, ``check.json``, the report, plots) beside
per-sample files (predictions, splits, manifests, caches, checkpoints, redacted notes, span
files). :func:`export_run` copies the aggregates only, keeping their relative layout, and checks
each one on the way:

- ``result.json`` must be ``racelens.audit/1`` and a document a modality registered
  (:func:`racelens.shared.report.registry.register_document`, e.g. the text layer's
  ``check.json``) must carry its registered schema (anything else is refused). They are
  rewritten: each ``data.skipped[].sample_id`` becomes
  ``(omitted)`` (the entries stay, so the counts still add up, with their reasons scrubbed of
  ids and paths), string values holding a ``/`` or ``\\`` become ``(path)`` (config paths),
  fields named like identifiers (``patient_ids``) become ``(omitted)``, lists of spans
  (``misses``, ``false_hits``: row numbers and offsets) are reduced to their counts, and a
  document type's own ``clean`` runs first.
- ``report.html``/``.json``/``.md`` are copied byte for byte after a check: they must be racelens
  reports, and neither the text nor the embedded figures may contain a skipped row's id or a path
  named by the results being exported. The report writer never puts them there; a report that
  holds one was edited or made by something else, and is refused (rebuild it from the export
  with ``racelens report``).
- ``*.png``/``*.svg`` are copied only when Matplotlib drew them (their metadata says so): a
  radiograph saved as PNG is an image, not a plot.

Everything else stays, counted by kind in the :class:`ExportSummary` (never named: a file name
may be a patient's). Symlinks are not followed. Nothing is written until every file passed,
and ``EXPORT.json`` in the destination records the counts.

Example
-------
>>> s = export_run("runs/demo", "share/demo")  # doctest: +SKIP
>>> s.copied                                    # doctest: +SKIP
{'result': 3, 'report': 3, 'plot': 2}
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from racelens.errors import ConfigError, DataError, SchemaError
from racelens.shared.report.build import REPORT_SCHEMA
from racelens.shared.report.format import is_id_key, is_pathlike, scrub
from racelens.shared.report.registry import document_type
from racelens.shared.results import SCHEMA_ID, AuditResult, Condition, SkippedRow
from racelens.shared.run_files import classify, exportable
from racelens.shared.tables import atomic_write_bytes, atomic_write_json

__all__ = ["ExportSummary", "export_run", "EXPORT_RECORD"]

EXPORT_RECORD = "EXPORT.json"
OMITTED = "(omitted)"
_MIN_SEARCHED = 4  # shorter ids ("7") match digits anywhere; the report writer never writes ids
_SPAN_LISTS = ("misses", "false_hits")
_DATA_URI = re.compile(rb"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# what was replaced in the exported results, as the summary names it
SKIPPED_IDS = "skipped-row ids"
PATHS = "paths"
ID_FIELDS = "identifier fields"
SPANS = "span offsets"
UNKNOWN = "unrecognised fields"


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_run` copied, what it left and what it replaced (counts only).

    Attributes
    ----------
    out
        The destination folder.
    copied
        Files copied per kind (``result``, ``report``, ``plot`` and the registered documents'
        kinds, e.g. ``redaction check``).
    left
        Files left behind per kind (``per-sample table``, ``image``, ``model weights``,
        ``cache``, ``metadata with sample ids``, ``symlink``, ...).
    scrubbed
        Values replaced in the copied results per kind (``skipped-row ids``, ``paths``,
        ``identifier fields``, ``span offsets``, ``unrecognised fields``).
    files
        The exported files, relative to ``out`` (``EXPORT.json`` included).
    """

    out: Path
    copied: Mapping[str, int]
    left: Mapping[str, int]
    scrubbed: Mapping[str, int]
    files: tuple[str, ...]

    @property
    def n_copied(self) -> int:
        return int(sum(self.copied.values()))

    @property
    def n_left(self) -> int:
        return int(sum(self.left.values()))

    def to_dict(self) -> dict[str, Any]:
        """Counts only (no paths): the content of ``EXPORT.json``."""
        return {"schema": "racelens.export/1", "copied": dict(self.copied),
                "left": dict(self.left), "scrubbed": dict(self.scrubbed),
                "n_copied": self.n_copied, "n_left": self.n_left}


class _Scrubber:
    """Replaces identifier-bearing values in a JSON tree; remembers what it saw."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seen: set[str] = set()  # the replaced paths and ids, to search reports for

    def text(self, s: str, ids: Sequence[str] = ()) -> str:
        out = scrub(s, ids)
        if out != s:
            self.seen.update(t for t in re.findall(r"\S*[/\\]\S*", s))
        return out

    def tree(self, obj: Any) -> Any:
        if isinstance(obj, Mapping):
            out: dict[str, Any] = {}
            for k, v in obj.items():  # keys are names (groups, terms, conditions): kept
                if k == "schema":
                    out[k] = v
                elif is_id_key(k) and v not in (None, "", [], {}):
                    out[k] = OMITTED
                    self.counts[ID_FIELDS] += 1
                    self.seen.update(str(x) for x in (v if isinstance(v, list) else [v]))
                elif k in _SPAN_LISTS and isinstance(v, list):
                    out[k] = len(v)  # the report reads a count where it finds no list
                    self.counts[SPANS] += len(v)
                else:
                    out[k] = self.tree(v)
            return out
        if isinstance(obj, list | tuple):
            return [self.tree(v) for v in obj]
        if is_pathlike(obj):
            self.counts[PATHS] += 1
            return self.text(obj)
        return obj


def _refuse(rel: Path, why: str) -> SchemaError:
    return SchemaError(f"{rel}: {why}; export refuses it (move the file out of the run "
                       "directory, or fix it, and export again)")


def _json(raw: bytes, rel: Path, schema: str) -> dict[str, Any]:
    """The JSON object in ``raw``, refused unless its ``schema`` is ``schema``."""
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(rel, f"not valid JSON ({type(exc).__name__})") from exc
    found = d.get("schema") if isinstance(d, dict) else None
    if found != schema:
        raise _refuse(rel, f"schema is {found!r}, expected {schema!r}")
    return d


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _clean_result(raw: bytes, rel: Path, sc: _Scrubber) -> bytes:
    d = _json(raw, rel, SCHEMA_ID)
    try:
        r = AuditResult.from_dict(d)
    except SchemaError as exc:
        raise _refuse(rel, str(exc)) from exc
    ids = [str(s.sample_id) for s in r.data.skipped]
    sc.seen.update(ids)
    sc.counts[SKIPPED_IDS] += len(ids)
    data = replace(r.data, skipped=tuple(SkippedRow(OMITTED, sc.text(s.reason, ids))
                                         for s in r.data.skipped),
                   dataset=sc.tree(r.data.dataset))
    conditions = tuple(replace(c, condition=Condition(c.name, sc.tree(dict(c.params))),
                               extras=sc.tree(dict(c.extras))) for c in r.conditions)
    clean = replace(r, data=data, conditions=conditions, config=sc.tree(dict(r.config)),
                    extras=sc.tree(dict(r.extras))).to_dict()
    sc.counts[UNKNOWN] += len(set(d) - set(clean))
    return _dump(clean)


def _clean_document(raw: bytes, rel: Path, sc: _Scrubber) -> bytes:
    """A registered document (by its file name), refused unless it has its registered schema."""
    kind = document_type(filename=rel.name)
    if kind is None:  # classify() named it a document kind: it is registered by name
        raise _refuse(rel, "no document type is registered for this file")
    d = _json(raw, rel, kind.schema)
    return _dump(sc.tree(kind.clean(d) if kind.clean is not None else d))


def _report_text(raw: bytes, rel: Path) -> bytes:
    """The text a report check searches: the file and, for HTML, its decoded figures."""
    if rel.suffix == ".json":
        _json(raw, rel, REPORT_SCHEMA)
        return raw
    if rel.suffix == ".html":
        if b'<meta name="generator" content="racelens' not in raw[:4096]:
            raise _refuse(rel, "not a report written by racelens report")
        figures = [base64.b64decode(m, validate=False) for m in _DATA_URI.findall(raw)]
        return b"\n".join([raw, *figures])
    if not raw.startswith(b"# racelens"):
        raise _refuse(rel, "not a report written by racelens report")
    return raw


def _check_report(raw: bytes, rel: Path, sensitive: Sequence[str]) -> bytes:
    text = _report_text(raw, rel).decode("utf-8", errors="replace")
    for s in sensitive:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", text):
            # never name the value: it is an identifier or a path
            raise _refuse(rel, "it holds an id of a skipped row or a path named by the "
                          "results being exported; rebuild the report from the export with "
                          "`racelens report`")
    return raw


def _png_software(raw: bytes) -> str:
    """The ``Software`` text chunk of a PNG (read up to the image data), or ``""``."""
    if not raw.startswith(_PNG_SIGNATURE):
        return ""
    i = len(_PNG_SIGNATURE)
    while i + 8 <= len(raw):
        n = int.from_bytes(raw[i:i + 4], "big")
        kind, body = raw[i + 4:i + 8], raw[i + 8:i + 8 + n]
        if kind == b"IDAT":
            break
        if kind in (b"tEXt", b"iTXt"):
            key, _, value = body.partition(b"\0")
            if key == b"Software":
                return value.lstrip(b"\0").decode("latin-1", errors="replace")
        i += 12 + n
    return ""


def _is_plot(raw: bytes, rel: Path) -> bool:
    if rel.suffix.lower() == ".png":
        return _png_software(raw).startswith("Matplotlib")
    return b"matplotlib" in raw[:4096].lower()


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """``(path relative to root, kind)`` of every file below ``root``; symlinks not followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames.sort()
        for name in [n for n in dirnames if (here / n).is_symlink()]:
            dirnames.remove(name)
            yield (here / name).relative_to(root), "symlink"
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root)
            yield rel, "symlink" if path.is_symlink() else classify(rel)


def _targets(sources: Sequence[Path], out: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    """``(source, folder in out)`` per source, after the checks on sources and destination."""
    for s in sources:
        if not s.is_dir():
            raise DataError(f"{s}: no such run directory; name the folders an audit wrote")
    real = [s.resolve() for s in sources]
    dest = out.resolve()
    for s, r in zip(sources, real, strict=True):
        if dest.is_relative_to(r):
            raise ConfigError(f"--out {out} is inside the run directory {s}; choose a folder "
                              "outside it (the export must hold only what was exported)")
        if r.is_relative_to(dest):
            raise ConfigError(f"the run directory {s} is inside --out {out}; choose a folder "
                              "outside the run directories")
    for i, a in enumerate(real):
        for b in real[i + 1:]:
            if a.is_relative_to(b) or b.is_relative_to(a):
                raise ConfigError(f"{a.name} and {b.name}: one run directory is inside the "
                                  "other; name each once")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; name a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} is not empty; name a new folder or pass --overwrite "
                          "(files with the same names are replaced, others left as they are)")
    if len(sources) == 1:
        return [(real[0], out)]
    names = [r.name for r in real]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"several run directories are called {dup[0]!r}; each goes to "
                          "--out/NAME, so their names must differ")
    return [(r, out / r.name) for r in real]


def export_run(src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
               out: str | os.PathLike[str], *, overwrite: bool = False) -> ExportSummary:
    """Copy the aggregate results of run directories to ``out``, checked and scrubbed.

    Parameters
    ----------
    src
        One run directory or several. One goes to ``out`` itself; several each to
        ``out/NAME`` (their names must differ).
    out
        The destination folder; created when missing, refused when inside a run directory
        (or holding one), and when not empty unless ``overwrite``.
    overwrite
        Write into a non-empty ``out``: files with the same names are replaced, others are
        left as they are.

    Returns
    -------
    ExportSummary
        Counts of the files copied and left per kind and of the values replaced.

    Raises
    ------
    DataError
        When a source is not a directory or holds nothing to export.
    ConfigError
        For a destination inside a source (or the reverse) or a non-empty one.
    SchemaError
        When a ``result.json``, a registered document or a report is not what racelens writes, or a
        report holds an identifier; nothing is written then.
    """
    sources = [Path(src)] if isinstance(src, str | os.PathLike) else [Path(s) for s in src]
    if not sources:
        raise DataError("no run directory given; name at least one")
    out = Path(out)
    targets = _targets(sources, out, overwrite)
    kinds = exportable()
    sc = _Scrubber()
    copied: Counter[str] = Counter()
    left: Counter[str] = Counter()
    staged: list[tuple[Path, bytes]] = []
    reports: list[tuple[Path, Path, bytes]] = []
    for root, dest in targets:
        n_before = len(staged) + len(reports)
        for rel, kind in _walk(root):
            if kind not in kinds:
                left[kind] += 1
                continue
            raw = (root / rel).read_bytes()
            shown = Path(root.name) / rel  # racelens's own file names, inside the run directory
            if kind == "plot" and not _is_plot(raw, rel):
                left["image"] += 1
                continue
            if kind == "report":
                reports.append((dest / rel, shown, raw))
            elif kind == "result":
                staged.append((dest / rel, _clean_result(raw, shown, sc)))
            elif kind == "plot":
                staged.append((dest / rel, raw))
            else:
                staged.append((dest / rel, _clean_document(raw, shown, sc)))
            copied[kind] += 1
        if len(staged) + len(reports) == n_before:
            raise DataError(f"{root.name}: nothing to export (no result.json, registered "
                            "document, report or plot); name a run directory an audit wrote")
    sensitive = sorted(s for s in sc.seen if len(s) >= _MIN_SEARCHED)
    staged += [(path, _check_report(raw, shown, sensitive)) for path, shown, raw in reports]
    for path, raw in staged:
        atomic_write_bytes(path, raw)
    summary = ExportSummary(
        out=out, copied=dict(copied), left=dict(sorted(left.items())),
        scrubbed={k: v for k, v in sorted(sc.counts.items()) if v},
        files=tuple(sorted([str(p.relative_to(out)) for p, _ in staged] + [EXPORT_RECORD])))
    atomic_write_json(out / EXPORT_RECORD, summary.to_dict())
    return summary
