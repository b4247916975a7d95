"""Which files of a run directory are aggregates and which hold per-sample data.

One table serves two readers: :func:`write_files_note` writes it as ``FILES.md`` into every run
directory (called where ``result.json``, a modality's documents and the report are written), and
:func:`classify` sorts a run directory's files for ``racelens export``
(:mod:`racelens.shared.export`), which copies only the aggregate kinds. The documents a modality
writes (its summaries with a ``schema`` id) are registered by it
(:func:`racelens.shared.report.registry.register_document`): their names, kinds and notes come
from the registry.

Example
-------
>>> classify(Path("imaging/predictions.parquet"))
'per-sample table'
>>> classify(Path("imaging/result.json"))
'result'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from racelens.errors import SchemaError
from racelens.shared.tables import atomic_write_json, atomic_write_text

__all__ = ["FILES_NOTE", "EXPORTABLE", "classify", "exportable", "write_files_note",
           "read_run_document", "write_run_document"]

FILES_NOTE = "FILES.md"
_MARK = "<!-- racelens: run directory files -->"

#: Kinds of the shared layer ``racelens export`` copies (after checking each file), besides the
#: registered documents' kinds (:func:`exportable`); everything else stays.
EXPORTABLE = ("result", "report", "plot")

_BY_NAME = {"result.json": "result", "report.html": "report",
            "report.json": "report", "report.md": "report", FILES_NOTE: "run notes"}
_BY_SUFFIX = {
    **dict.fromkeys((".png", ".svg"), "plot"),
    **dict.fromkeys((".parquet", ".pq", ".csv", ".gz", ".tsv", ".jsonl", ".xlsx"),
                    "per-sample table"),
    **dict.fromkeys((".dcm", ".dicom", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"), "image"),
    **dict.fromkeys((".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".onnx"), "model weights"),
    **dict.fromkeys((".npy", ".npz"), "cache"),
    ".json": "metadata with sample ids",
}

_NOTE_TEMPLATE = f"""{_MARK}
# Files in this run directory

Written by racelens. The inputs of this run are protected health information; this note says
which files you may take out of the protected environment.

Aggregates (no note text, no images; identifiers only where noted):

- `result.json` - AUCs with intervals, counts per group, the configuration. Its
  `data.skipped[].sample_id` names the rows that could not be read, and configuration values
  may be paths of your input files.
{{documents}}- `report.html`, `report.json`, `report.md` - the combined report (counts by reason only).
- `*.png` - plots (ROC per group, AUC against perturbation strength).

Per-sample data (keep inside the protected environment):

- `predictions.parquet`, `splits.parquet` - one row per sample, with sample and patient ids.
- `manifest.parquet`, `manifest.json`, note tables, redacted notes, span audit files
  (`*.jsonl`) - rows, ids, paths of images, note text or offsets into it.
- `cache/` - the decoded images; `model.pt`, `train/*/checkpoint.pt` - model weights trained
  on the images.
- `cohort/` (the demo only) - the synthetic input: images, notes and tables.

To share results, run `racelens export RUN_DIR --out SHARE_DIR`: it copies the aggregates only,
replaces the skipped rows' ids, configuration paths and span offsets by placeholders or counts,
and refuses a file it cannot verify.
"""


def _documents() -> list[tuple[str, str, str]]:
    """``(file name, kind, FILES.md line)`` of the registered documents."""
    from racelens.shared.report.registry import document_types

    return [(d.filename, d.kind, d.files_note) for d in document_types() if d.filename]


def exportable() -> tuple[str, ...]:
    """Every kind ``racelens export`` copies: the shared ones and the registered documents'."""
    return (*EXPORTABLE, *dict.fromkeys(kind for _, kind, _ in _documents()))


def _note() -> str:
    lines = "".join(f"{line}\n" for _, _, line in _documents() if line)
    return _NOTE_TEMPLATE.replace("{documents}", lines)


def classify(rel: Path) -> str:
    """The kind of a file by its path inside a run directory (name and suffix only).

    Exportable kinds are listed by :func:`exportable`; others are ``per-sample table``,
    ``image``, ``model weights``, ``cache``, ``metadata with sample ids``, ``run notes``,
    ``hidden or temporary`` and ``other``.
    """
    if any(part.startswith(".") for part in rel.parts):
        return "hidden or temporary"
    if rel.name in _BY_NAME:
        return _BY_NAME[rel.name]
    for name, kind, _ in _documents():
        if rel.name == name:
            return kind
    if "cache" in rel.parts[:-1]:
        return "cache"
    return _BY_SUFFIX.get(rel.suffix.lower(), "other")


def write_files_note(directory: str | Path, *, extra: str = "") -> Path | None:
    """Write ``FILES.md`` into a run directory (atomically; unchanged when already current).

    ``extra`` is a Markdown section put before the standard note, for a folder whose files the
    standard note does not describe (the layer that wrote them says what they hold). A ``FILES.md``
    that racelens did not write is left alone; then ``None`` is returned.
    """
    note = _note()
    if extra:
        note = f"{_MARK}\n{extra.rstrip()}\n\n{note[len(_MARK) + 1:]}"
    path = Path(directory) / FILES_NOTE
    if path.exists():
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if not current.startswith(_MARK):
            return None
        if current == note:
            return path
    return atomic_write_text(path, note)


def write_run_document(path: str | Path, filename: str, obj: Any) -> Path:
    """Write a JSON document atomically into a run directory (``path`` may be the file itself,
    else ``path / filename``) and refresh the directory's ``FILES.md``; return the file."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / filename
    atomic_write_json(path, obj)
    write_files_note(path.parent)
    return path


def read_run_document(path: str | Path, filename: str, *, schema: str | None = None,
                      modality: str | None = None, hint: str = "") -> tuple[Path, dict[str, Any]]:
    """Read a JSON document of a run directory (``path`` may be the file itself, else
    ``path / filename``): the one reader behind ``result.json``, ``shortcut.json`` and
    ``explain.json``.

    Parameters
    ----------
    schema, modality
        When given, the document's ``schema`` (and ``modality``) must be these.
    hint
        Appended to the "no such file" message, e.g. which command writes the file.

    Returns
    -------
    (file, document)

    Raises
    ------
    SchemaError
        Naming the file: missing, not JSON, not an object, or another schema or modality.
    """
    path = Path(path)
    if path.is_dir():
        path = path / filename
    if not path.exists():
        raise SchemaError(f"{path}: no {filename} here" + (f"; {hint}" if hint else ""))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise SchemaError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    if schema is not None and doc.get("schema") != schema:
        raise SchemaError(f"{path}: schema is {doc.get('schema')!r}, expected {schema!r}")
    if modality is not None and doc.get("modality") != modality:
        raise SchemaError(f"{path}: modality is {doc.get('modality')!r}, expected {modality!r}")
    return path, doc
