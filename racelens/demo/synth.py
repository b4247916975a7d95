"""Write a synthetic cohort in the file layouts the real loaders read (the demo's and ``racelens synth``'s).

Layout under ``OUT``::

    dicom/<patient_id>/<study_id>/1.dcm   (or png/<patient_id>/<study_id>/1.png)
    images.csv       path (relative to OUT), patient_id, race (raw source string), sample_id,
                     study_id, age, sex, bmi, disease columns, view
    notes.csv        note_id, subject_id, sample_id, text, race (raw source string)
    gold_spans.jsonl one explicit race mention per line: note_id, start, end, category
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from racelens.errors import ConfigError

__all__ = ["SynthPaths", "parse_note_proxies", "write_synthetic_cohort"]


@dataclass(frozen=True)
class SynthPaths:
    """What :func:`write_synthetic_cohort` wrote, with counts for a summary."""

    out: Path
    images_csv: Path
    notes_csv: Path
    gold_spans: Path
    image_files: tuple[Path, ...]
    n_patients: int
    n_notes: int
    n_spans: int


def parse_note_proxies(spec: str) -> dict[str, float]:
    """Parse ``"strength=0.8[,mention_rate=0.6]"`` into keyword arguments of ``synthetic_notes``."""
    out: dict[str, float] = {}
    names = {"strength": "proxies", "mention_rate": "mention_rate"}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in names:
            raise ConfigError(f"bad note proxies {part!r}; use strength=P[,mention_rate=R]")
        try:
            out[names[key.strip()]] = float(value)
        except ValueError:
            raise ConfigError(f"{key.strip()} must be a number, got {value!r}") from None
    return out


def write_synthetic_cohort(
    out: str | Path,
    n_patients: int = 200,
    *,
    seed: int = 0,
    image_signal: str = "band=high,strength=0.5",
    note_proxies: str = "strength=0.8",
    image_size: int = 128,
    image_format: Literal["dicom", "png"] = "dicom",
    source: str = "mimic-iv",
) -> SynthPaths:
    """Generate patients, images and notes and write them under ``out``.

    Parameters
    ----------
    out
        Output folder (created).
    n_patients
        Number of patients (1–4 samples each).
    seed
        Seed of everything; the same arguments write the same files.
    image_signal
        :meth:`racelens.imaging.synthetic.ImageSignal.parse` spec.
    note_proxies
        :func:`parse_note_proxies` spec.
    image_size
        Image side in pixels.
    image_format
        ``dicom`` (real DICOM files with varied encodings) or ``png`` (16-bit).
    source
        Style of the raw race strings (``mimic-iv``, ``mimic-iii``, ``chexpert``, ...).

    Returns
    -------
    SynthPaths
    """
    from racelens.imaging.synthetic import ImageSignal, assign_views, synthetic_images
    from racelens.shared.seeds import derive_seed
    from racelens.shared.synthetic import synthetic_patients
    from racelens.shared.tables import atomic_write_text
    from racelens.text.synthetic import synthetic_notes

    if image_format not in ("dicom", "png"):
        raise ConfigError(f"image format must be dicom or png, got {image_format!r}")
    signal = ImageSignal.parse(image_signal)
    note_kwargs = parse_note_proxies(note_proxies)
    out = Path(out)
    patients = synthetic_patients(n_patients, seed=seed, source=source)
    views = assign_views(patients, seed=derive_seed(seed, "views"))
    images = synthetic_images(patients, size=image_size, signal=signal, views=views,
                                seed=derive_seed(seed, "images"))
    files = _write_images(out, patients, views, images, image_format,
                          derive_seed(seed, "image files"))

    table = patients.drop(columns=["race", "hispanic"]).rename(columns={"race_raw": "race"})
    table.insert(0, "path", [f.relative_to(out).as_posix() for f in files])
    table["view"] = views.to_numpy()
    images_csv = atomic_write_text(out / "images.csv", table.to_csv(index=False))

    notes = synthetic_notes(patients, seed=derive_seed(seed, "notes"), **note_kwargs)  # type: ignore[arg-type]
    note_table = notes.notes[["note_id", "subject_id", "sample_id", "text", "race_raw"]]
    notes_csv = atomic_write_text(out / "notes.csv",
                                  note_table.rename(columns={"race_raw": "race"}).to_csv(index=False))
    lines = [json.dumps({"note_id": r.note_id, "start": int(r.start), "end": int(r.end),
                         "category": r.category}) for r in notes.spans.itertuples(index=False)]
    gold = atomic_write_text(out / "gold_spans.jsonl", "".join(line + "\n" for line in lines))
    return SynthPaths(out=out, images_csv=images_csv, notes_csv=notes_csv, gold_spans=gold,
                      image_files=tuple(files), n_patients=int(patients["patient_id"].nunique()),
                      n_notes=len(note_table), n_spans=len(lines))


def _write_images(out: Path, patients, views, images: np.ndarray, fmt: str, seed: int) -> list[Path]:
    from pydicom.uid import generate_uid

    from racelens.imaging.synthetic import write_dicom, write_png

    rng = np.random.default_rng(seed)
    rescales = ((1.0, -1024.0), (2.0, 0.0), (0.5, 10.0))
    files: list[Path] = []
    for i, row in enumerate(patients[["patient_id", "study_id", "sex", "age"]].itertuples(index=False)):
        folder = out / fmt / str(row.patient_id) / str(row.study_id)
        if fmt == "png":
            files.append(write_png(folder / "1.png", images[i]))
            continue
        uid = [f"racelens-synth-{seed}", str(row.patient_id), str(row.study_id)]
        mono1, use_rescale, window, dx = rng.random(4) < (0.2, 0.3, 0.5, 0.4)
        files.append(write_dicom(
            folder / "1.dcm", images[i], patient_id=str(row.patient_id),
            study_uid=generate_uid(entropy_srcs=[*uid, "study"]),
            series_uid=generate_uid(entropy_srcs=[*uid, "series"]),
            sop_uid=generate_uid(entropy_srcs=[*uid, "sop"]),
            view=views.iloc[i], modality="DX" if dx else "CR", monochrome1=bool(mono1),
            rescale=rescales[int(rng.integers(3))] if use_rescale else None, window=bool(window),
            sex=str(row.sex), age=int(row.age)))
    return files
