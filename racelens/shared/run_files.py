"""Which files of a run directory are aggregates and which hold per-sample data.

One table serves two readers: :func:`write_files_note` writes it as ``FILES.md`` into every run
directory (called where ``result.json``, ``check.json`` and the report are written), and
:func:`classify` sorts a run directory's files for ``racelens export``
(:mod:`racelens.shared.export`), which copies only the aggregate kinds.

Example
-------
>>> classify(Path("imaging/predictions.parquet"))
'per-sample table'
>>> classify(Path("imaging/result.json"))
'result'
"""

from __future__ import annotations

from pathlib import Path

from racelens.shared.tables import atomic_write_text

__all__ = ["FILES_NOTE", "EXPORTABLE", "classify", "write_files_note"]

FILES_NOTE = "FILES.md"
_MARK = "<!-- racelens: run directory files -->"

#: Kinds ``racelens export`` copies (after checking each file); everything else stays.
EXPORTABLE = ("result", "redaction check", "report", "plot")

_BY_NAME = {"result.json": "result", "check.json": "redaction check", "report.html": "report",
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

_NOTE = f"""{_MARK}
# Files in this run directory

Written by racelens. The inputs of this run are protected health information; this note says
which files you may take out of the protected environment.

Aggregates (no note text, no images; identifiers only where noted):

- `result.json` - AUCs with intervals, counts per group, the configuration. Its
  `data.skipped[].sample_id` names the rows that could not be read, and configuration values
  may be paths of your input files.
- `check.json` - the redaction check: counts, rates, lexicon terms, proxy n-grams; span misses
  and false hits are listed by row number and offsets.
- `report.html`, `report.json`, `report.md` - the combined report (counts by reason only).
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


def classify(rel: Path) -> str:
    """The kind of a file by its path inside a run directory (name and suffix only).

    Exportable kinds are listed in :data:`EXPORTABLE`; others are ``per-sample table``,
    ``image``, ``model weights``, ``cache``, ``metadata with sample ids``, ``run notes``,
    ``hidden or temporary`` and ``other``.
    """
    if any(part.startswith(".") for part in rel.parts):
        return "hidden or temporary"
    if rel.name in _BY_NAME:
        return _BY_NAME[rel.name]
    if "cache" in rel.parts[:-1]:
        return "cache"
    return _BY_SUFFIX.get(rel.suffix.lower(), "other")


def write_files_note(directory: str | Path) -> Path | None:
    """Write ``FILES.md`` into a run directory (atomically; unchanged when already current).

    A ``FILES.md`` that racelens did not write is left alone; then ``None`` is returned.
    """
    path = Path(directory) / FILES_NOTE
    if path.exists():
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if not current.startswith(_MARK):
            return None
        if current == _NOTE:
            return path
    return atomic_write_text(path, _NOTE)
