"""``racelens imaging manifest ...``: build a cohort manifest from MIMIC-CXR, CheXpert, a table or DICOMs.

Each command is a thin shell over a loader of :mod:`racelens.imaging.sources.cohort`: it writes
``manifest.parquet`` and the ``manifest.json`` sidecar (every input row accounted for: kept,
excluded by reason, skipped with the reason) and prints aggregates only.
Mounted by ``racelens.cli.imaging`` as ``app.add_typer(manifest_app, name="manifest")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from racelens.cli._util import CollapseOpt, say
from racelens.errors import ConfigError

__all__ = ["manifest_app", "format_summary"]

manifest_app = typer.Typer(
    help="Build a cohort manifest (parquet + JSON sidecar) from a data source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_CONSISTENCY = ("drop", "mode", "none")

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The manifest to write (.parquet); "
                                      "the sidecar .json goes beside it.")]
ConsistencyOpt = Annotated[str, typer.Option(
    help="Patients whose race differs across records: drop, mode or none.")]
NoCheckOpt = Annotated[bool, typer.Option(
    "--no-check-files", help="Do not check that each image file exists.")]


def _choice(value: str, valid: tuple[str, ...], option: str) -> str:
    if value not in valid:
        raise ConfigError(f"{option} {value!r} is not one of: {', '.join(valid)}")
    return value


def _race_sources() -> tuple[str, ...]:
    from racelens.shared.labels import SOURCES

    return ("auto", *SOURCES)


def format_summary(summary: dict[str, Any], out: Path) -> str:
    """The aggregate lines printed after a manifest is written (no identifiers)."""
    lines = [f"manifest: {out} ({summary['source']}, collapse {summary['collapse']})",
             f"  input rows: {summary['n_input_rows']}",
             f"  rows:       {summary['rows']}",
             f"  patients:   {summary['patients']}",
             "  groups:     " + ", ".join(f"{g} {n}" for g, n in summary["groups"].items())]
    excluded = summary["excluded"]
    lines.append(f"  excluded:   {sum(excluded.values())}")
    lines += [f"    {reason}: {n}" for reason, n in excluded.items()]
    lines.append(f"  skipped:    {summary['skipped']} (reasons in {out.with_suffix('.json').name})")
    return "\n".join(lines)


def _write(cohort: Any, out: Path) -> dict[str, Any]:
    from racelens.imaging.sources.cohort import write_manifest

    write_manifest(cohort, out)
    summary = cohort.summary()
    say(format_summary(summary, out))
    return summary


@manifest_app.command("mimic-cxr")
def mimic_cxr_cmd(
    images_root: Annotated[Path, typer.Option(help="MIMIC-CXR-JPG folder holding files/.")],
    metadata: Annotated[Path, typer.Option(help="mimic-cxr-2.0.0-metadata.csv.gz")],
    admissions: Annotated[Path, typer.Option(help="MIMIC-IV hosp/admissions.csv.gz")],
    out: OutOpt,
    patients: Annotated[Path | None, typer.Option(help="MIMIC-IV hosp/patients.csv.gz")] = None,
    chexpert_labels: Annotated[Path | None, typer.Option(
        help="mimic-cxr-2.0.0-chexpert.csv.gz (disease labels)")] = None,
    split_csv: Annotated[Path | None, typer.Option(
        help="mimic-cxr-2.0.0-split.csv.gz (official split)")] = None,
    views: Annotated[str, typer.Option(help="ViewPosition values kept, comma-separated, or 'all'.")
                     ] = "AP,PA",
    race_column: Annotated[str, typer.Option(
        help="admissions column: auto, race (MIMIC-IV v2+) or ethnicity (v1.0).")] = "auto",
    collapse: CollapseOpt = "abw",
    consistency: ConsistencyOpt = "drop",
    no_check_files: NoCheckOpt = False,
) -> dict[str, Any]:
    """MIMIC-CXR-JPG joined to MIMIC-IV admissions and patients (Gichoya's defaults)."""
    from racelens.imaging.sources import mimic_cxr

    kept = None if views.strip().lower() == "all" else tuple(
        v.strip() for v in views.split(",") if v.strip())
    cohort = mimic_cxr(images_root, metadata, admissions, patients, views=kept, collapse=collapse,
                       consistency=_choice(consistency, _CONSISTENCY, "--consistency"),
                       race_column=_choice(race_column, ("auto", "race", "ethnicity"),
                                           "--race-column"),
                       chexpert_labels_csv=chexpert_labels, split_csv=split_csv,
                       check_files=not no_check_files)
    return _write(cohort, out)


@manifest_app.command("chexpert")
def chexpert_cmd(
    root: Annotated[Path, typer.Option(help="Folder holding CheXpert-v1.0/ (or that folder).")],
    out: OutOpt,
    csv: Annotated[str, typer.Option(help="train.csv or valid.csv")] = "train.csv",
    demo: Annotated[str, typer.Option(help="CHEXPERT DEMO.xlsx or a CSV export of it.")
                    ] = "CHEXPERT DEMO.xlsx",
    all_views: Annotated[bool, typer.Option("--all-views", help="Keep lateral views too.")
                         ] = False,
    keep_hispanic: Annotated[bool, typer.Option(
        "--keep-hispanic", help="Keep Hispanic patients under their recorded race.")] = False,
    collapse: CollapseOpt = "abw",
    no_check_files: NoCheckOpt = False,
) -> dict[str, Any]:
    """CheXpert joined to CHEXPERT DEMO (frontal, non-Hispanic by default)."""
    from racelens.imaging.sources import chexpert

    cohort = chexpert(root, csv, demo, frontal_only=not all_views,
                      exclude_hispanic=not keep_hispanic, collapse=collapse,
                      check_files=not no_check_files)
    return _write(cohort, out)


@manifest_app.command("table")
def table_cmd(
    table: Annotated[Path, typer.Option(help="CSV/parquet/JSONL table, one row per image.")],
    out: OutOpt,
    path_col: Annotated[str, typer.Option(help="Image path column (relative to the table).")
                        ] = "path",
    race_col: Annotated[str, typer.Option(help="Raw race column.")] = "race",
    patient_col: Annotated[str, typer.Option(help="Patient identifier column.")] = "patient_id",
    race_source: Annotated[str, typer.Option(
        help="Race vocabulary: auto, mimic-iv, mimic-iii, mimic-iv-v1, chexpert, free-text, nlst.")
    ] = "auto",
    sample_col: Annotated[str | None, typer.Option(help="Unique sample id column.")] = None,
    split_col: Annotated[str | None, typer.Option(help="Existing train/val/test column.")] = None,
    ethnicity_col: Annotated[str | None, typer.Option(help="Separate ethnicity column.")] = None,
    collapse: CollapseOpt = "abw",
    consistency: ConsistencyOpt = "drop",
    no_check_files: NoCheckOpt = False,
) -> dict[str, Any]:
    """Any table with a path, a race and a patient column."""
    from racelens.imaging.sources.cohort import from_table

    cohort = from_table(table, path_col=path_col, race_col=race_col, patient_col=patient_col,
                        race_source=_choice(race_source, _race_sources(), "--race-source"),
                        collapse=collapse, sample_col=sample_col, split_col=split_col,
                        consistency=_choice(consistency, _CONSISTENCY, "--consistency"),
                        ethnicity_col=ethnicity_col, check_files=not no_check_files)
    return _write(cohort, out)


@manifest_app.command("embed")
def embed_cmd(
    root: Annotated[Path, typer.Option(help="Folder holding cohort_1/, cohort_2/.")],
    metadata: Annotated[Path, typer.Option(help="tables/EMBED_OpenData_metadata.csv")],
    clinical: Annotated[Path, typer.Option(help="tables/EMBED_OpenData_clinical.csv")],
    out: OutOpt,
    image_types: Annotated[str, typer.Option(
        help="FinalImageType values kept (2D, C-view), comma-separated, or 'all'.")] = "2D",
    views: Annotated[str, typer.Option(
        help="ViewPosition values kept, comma-separated, or 'all'.")] = "CC,MLO",
    keep_spot_mag: Annotated[bool, typer.Option(
        "--keep-spot-mag", help="Keep spot compression and magnification views.")] = False,
    collapse: CollapseOpt = "abw",
    consistency: ConsistencyOpt = "drop",
    no_check_files: NoCheckOpt = False,
) -> dict[str, Any]:
    """EMBED open data: metadata joined to clinical by exam (laterality, view, density)."""
    from racelens.imaging.sources.embed import embed

    cohort = embed(root, metadata, clinical, image_types=_values(image_types),
                   views=_values(views), full_field_only=not keep_spot_mag, collapse=collapse,
                   consistency=_choice(consistency, _CONSISTENCY, "--consistency"),
                   check_files=not no_check_files)
    return _write(cohort, out)


@manifest_app.command("dicom")
def dicom_cmd(
    root: Annotated[Path, typer.Option(help="Folder of DICOM files (searched recursively).")],
    out: OutOpt,
    labels_csv: Annotated[Path | None, typer.Option(
        help="Table of race by patient; without it the EthnicGroup tag is used.")] = None,
    race_col: Annotated[str, typer.Option(help="Race column of --labels-csv.")] = "race",
    patient_col: Annotated[str, typer.Option(
        help="Column of --labels-csv matched to the DICOM PatientID.")] = "PatientID",
    race_source: Annotated[str, typer.Option(help="Race vocabulary (see `manifest table`).")
                           ] = "auto",
    collapse: CollapseOpt = "abw",
    consistency: ConsistencyOpt = "drop",
    series: Annotated[str, typer.Option(
        help="One row per series (SeriesInstanceUID): auto (CT/MR/PT, multi-file and "
             "multi-frame series; single radiographs stay files), on or off.")] = "auto",
    views: Annotated[str, typer.Option(
        help="ViewPosition values kept (e.g. CC,MLO or PA,AP), comma-separated, or 'all'.")
    ] = "all",
    body_parts: Annotated[str, typer.Option(
        help="BodyPartExamined values kept (e.g. HAND,CSPINE), comma-separated, or 'all'.")
    ] = "all",
    keep_for_processing: Annotated[bool, typer.Option(
        "--keep-for-processing", help="Keep FOR PROCESSING images (skipped by default).")
    ] = False,
    ethnicity_col: Annotated[str | None, typer.Option(
        help="Ethnicity column of --labels-csv (sets the Hispanic flag; NLST: ethnic).")] = None,
) -> dict[str, Any]:
    """A DICOM folder; unreadable and non-image files are listed as skipped."""
    from racelens.imaging.sources import from_dicom_folder

    cohort = from_dicom_folder(root, labels_csv=labels_csv, race_col=race_col,
                               patient_col=patient_col,
                               race_source=_choice(race_source, _race_sources(), "--race-source"),
                               collapse=collapse,
                               consistency=_choice(consistency, _CONSISTENCY, "--consistency"),
                               series=_choice(series, ("auto", "on", "off"), "--series"),
                               views=_values(views), body_parts=_values(body_parts),
                               skip_for_processing=not keep_for_processing,
                               ethnicity_col=ethnicity_col)
    return _write(cohort, out)


def _values(text: str) -> tuple[str, ...] | None:
    """``"a,b"`` -> ``("a", "b")``; ``"all"`` -> None."""
    if text.strip().lower() == "all":
        return None
    return tuple(v.strip() for v in text.split(",") if v.strip())
