"""``racelens synth``: write a synthetic cohort in the file layouts the real loaders read.

A thin shell over :func:`racelens.demo.synth.write_synthetic_cohort` (returns the written paths)
that prints one line of counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from racelens.cli._util import SeedOpt, say
from racelens.demo.synth import write_synthetic_cohort

__all__ = ["synth"]


def synth(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    n_patients: Annotated[int, typer.Option("--n-patients", min=1, help="Number of patients.")] = 200,
    seed: SeedOpt = 0,
    image_signal: Annotated[str, typer.Option(
        "--image-signal", help="Planted image signal: band=low|mid|high,strength=S,"
        "location=global|lungs|center (strength=0: none).")] = "band=high,strength=0.5",
    note_proxies: Annotated[str, typer.Option(
        "--note-proxies", help="Note proxies: strength=P[,mention_rate=R] (0: none).")] = "strength=0.8",
    image_size: Annotated[int, typer.Option("--image-size", min=32, help="Image side in pixels.")] = 128,
    image_format: Annotated[str, typer.Option("--image-format", help="dicom or png.")] = "dicom",
    source: Annotated[str, typer.Option(
        "--race-source", help="Style of raw race strings: mimic-iv, mimic-iii, chexpert, ...")] = "mimic-iv",
) -> None:
    """Write a synthetic cohort (DICOM/PNG images, notes, gold spans) with known answers."""
    paths = write_synthetic_cohort(out, n_patients, seed=seed, image_signal=image_signal,
                                   note_proxies=note_proxies, image_size=image_size,
                                   image_format=image_format, source=source)  # type: ignore[arg-type]
    say(f"wrote {len(paths.image_files)} images of {paths.n_patients} patients, "
               f"{paths.n_notes} notes and {paths.n_spans} gold spans to {paths.out}")
