"""A real run directory with planted identifiers, for the ``racelens export`` tests.

Built through ``racelens.cli.main.main`` as a user would: a PNG cohort (images inside the run
folder, like the demo's ``cohort/``), ``imaging audit`` (32 px, one epoch), ``text audit``,
``text check`` and ``report`` over all of it. Patient ids, sample ids, image file names and note
text carry the marker :data:`TAG`; one empty image and one empty note are skipped rows, so
``result.json`` names them (``data.skipped``) before the export.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from racelens.cli.main import main
from racelens.imaging.sources.cohort import from_table, write_manifest
from racelens.imaging.synthetic import synthetic_images, write_png
from racelens.shared.synthetic import synthetic_patients
from racelens.text.synthetic import synthetic_notes

TAG = "zqx"  # no vocabulary, lexicon or tokenizer knows it


def _marker(kind: str, k: int) -> str:
    return f"{TAG}{kind}{k:05x}"


def make_run(root: Path, *, imaging: bool = True) -> Path:
    """Write the run folder ``root`` (returned); ``imaging=False`` leaves out the CNN audit."""
    cohort = root / "cohort"
    cohort.mkdir(parents=True)
    patients = synthetic_patients(60, seed=4)
    pid = {p: _marker("pid", i) for i, p in enumerate(patients["patient_id"].unique())}
    if imaging:
        images = synthetic_images(patients, size=32, seed=4)
        paths = [f"img/{_marker('sid', i)}.png" for i in range(len(images))]
        for p, img in zip(paths, images, strict=True):
            write_png(cohort / p, img)
        (cohort / paths[0]).write_bytes(b"")  # skipped: its id and path are in result.json
        table = patients.assign(path=paths, sample_id=[_marker("sid", i) for i in range(len(paths))],
                                patient_id=patients["patient_id"].map(pid))
        table.to_csv(cohort / "table.csv", index=False)
        manifest = write_manifest(from_table(cohort / "table.csv", path_col="path",
                                             race_col="race_raw", patient_col="patient_id",
                                             sample_col="sample_id"),
                                  cohort / "manifest.parquet")[0]
        main(["imaging", "audit", "--manifest", str(manifest), "--out", str(root / "imaging"),
              "--size", "32", "--epochs", "1", "--condition", "lowpass:radius=4", "--n-boot", "50",
              "--device", "cpu", "--no-progress"])
    notes = synthetic_notes(patients, seed=4).notes
    notes["subject_id"] = notes["subject_id"].map(pid)
    notes["note_id"] = [_marker("nid", i) for i in range(len(notes))]
    notes["text"] = [f"MRN {_marker('mrn', i)}. {t}" for i, t in enumerate(notes["text"])]
    notes.loc[0, "text"] = ""  # skipped: its note id is in result.json
    notes.to_csv(cohort / "notes.csv", index=False)
    main(["text", "audit", "--input", str(cohort / "notes.csv"), "--text-col", "text",
          "--label-col", "race", "--patient-col", "subject_id", "--sample-col", "note_id",
          "--levels", "none,explicit", "--out", str(root / "text"), "--n-boot", "50"])
    main(["text", "check", "--input", str(cohort / "notes.csv"), "--text-col", "text",
          "--label-col", "race", "--patient-col", "subject_id", "--out", str(root / "check"),
          "--n-boot", "50", "--min-patients", "5"])
    main(["report", str(root), "--out", str(root / "report.html")])
    return root


def marker_hits(folder: Path) -> list[str]:
    """Files below ``folder`` whose bytes, or the figures embedded in them, hold a marker."""
    hits = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = f.read_bytes()
        figures = [base64.b64decode(m) for m in
                   re.findall(rb"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", raw)]
        if any(TAG.encode() in b for b in [raw, *figures]):
            hits.append(str(f.relative_to(folder)))
    return hits


def files(folder: Path) -> list[Path]:
    """Every file below ``folder``, relative to it."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def skipped(result_json: Path) -> list[dict]:
    """``data.skipped`` of a ``result.json``."""
    return json.loads(result_json.read_text())["data"]["skipped"]


__all__ = ["TAG", "make_run", "marker_hits", "files", "skipped"]
