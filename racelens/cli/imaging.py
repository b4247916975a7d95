"""``racelens imaging``: manifests, race audits under perturbation, covariate baselines, probes.

Each command is a thin shell over a library function that returns an
:class:`~racelens.shared.results.AuditResult`; torch and the imaging modules are imported inside
the commands so that ``racelens --help`` stays fast. Output is aggregates only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from racelens.cli._distributed import distributed_command
from racelens.cli._util import (
    DeviceOpt,
    NBootOpt,
    OptionalCollapseOpt,
    ProgressOpt,
    RunDirOpt,
    SeedOpt,
    say,
)
from racelens.cli._util import (
    console as cli_console,
)
from racelens.cli.imaging_manifest import manifest_app

if TYPE_CHECKING:
    from racelens.shared.results import AuditResult

__all__ = ["app", "audit", "baseline", "cache", "explain", "probe", "shortcut", "print_result"]

app = typer.Typer(help="Chest radiographs: manifests, audits, baselines, probes, explanations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

app.add_typer(manifest_app, name="manifest")

UnitOpt = Annotated[str, typer.Option(
    "--unit", help="What a test case is: sample (an image, or a whole series of a series "
                   "manifest), study, series or patient; scores are averaged per unit and n_test "
                   "counts units.")]
SlicesOpt = Annotated[str, typer.Option(
    "--slices", help="Evenly spaced slices per series (of a series manifest) to train on and "
                     "score, or 'all'.")]
VoiOpt = Annotated[str, typer.Option(
    "--voi", help="Intensity: auto (the file's window, else the HU range for CT and the 0.5-99.5 "
                  "percentiles otherwise), none, bits, percentile, minmax, lung, mediastinum, "
                  "bone or CENTER/WIDTH.")]


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_result(result: AuditResult, out: Path) -> None:
    """Print the data summary and one row of aggregates per condition (no identifiers)."""
    from rich.table import Column, Table

    d = result.data
    console = cli_console()
    console.print(f"{result.modality}: {d.n_samples} samples, {d.n_patients} patients, "
                  f"groups {dict(d.groups)}, excluded {sum(d.excluded.values())}, "
                  f"skipped {len(d.skipped)}")
    classes = list(result.conditions[0].auc.per_group) if result.conditions else []
    table = Table(Column("condition", no_wrap=True), "macro AUC", "95% CI", *classes,
                  "p vs chance", "n test")
    for c in result.conditions:
        m = c.auc.macro
        groups = [_fmt(c.auc.per_group[g].estimate) if g in c.auc.per_group else "-" for g in classes]
        p = "-" if c.p_value_vs_chance is None else f"{c.p_value_vs_chance:.2g}"
        table.add_row(c.condition.label, _fmt(m.estimate), f"{_fmt(m.ci_low)}–{_fmt(m.ci_high)}",
                      *groups, p, str(c.n_test))
    console.print(table)
    console.print(f"wrote {out / 'result.json'}")


@app.command()
@distributed_command  # joins torchrun's process group; the other commands run on rank 0 only
def audit(
    manifest: Annotated[Path, typer.Option(help="manifest.parquet from `racelens imaging manifest`.")],
    out: RunDirOpt,
    arch: Annotated[str, typer.Option(help="small_cnn, densenet121, resnet34, resnet50, "
                                           "efficientnet_b0 or hf:DIR.")] = "small_cnn",
    size: Annotated[int, typer.Option(help="Model image size (cached once).")] = 224,
    epochs: Annotated[int, typer.Option()] = 10,
    batch_size: Annotated[int, typer.Option(help="Global batch: under torchrun each of N "
                                                 "processes takes batch/N.")] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    seed: SeedOpt = 0,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", "-c", help="NAME:param=v1,v2 (repeatable), e.g. lowpass:radius=1,10,50.")] = None,
    mode: Annotated[str, typer.Option(help="test: perturb test images only; retrain: a model "
                                           "per condition.")] = "test",
    collapse: OptionalCollapseOpt = None,
    task: Annotated[str | None, typer.Option(help="Predict this 0/1 disease column instead of "
                                                  "race; adds subgroup error rates.")] = None,
    threshold: Annotated[str, typer.Option(
        help="With --task: operating point chosen on validation: youden, max_f1 or fpr=F "
             "(e.g. fpr=0.2, Glocker et al.'s global threshold).")] = "youden",
    strict: Annotated[bool, typer.Option(help="Stop at the first unreadable image.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue training from the run's checkpoints.")] = False,
    workers: Annotated[int, typer.Option(help="Processes decoding images into the cache.")] = 1,
    loader_workers: Annotated[int, typer.Option(help="DataLoader worker processes reading the "
                                                     "cache during training/evaluation.")] = 0,
    cache_dir: Annotated[Path | None, typer.Option(help="Image cache folder (default RUN/cache).")] = None,
    device: DeviceOpt = "auto",
    weights: Annotated[Path | None, typer.Option(help="Local backbone weights file.")] = None,
    n_boot: NBootOpt = 1000,
    patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 3,
    progress: ProgressOpt = True,
    voi: VoiOpt = "auto",
    unit: UnitOpt = "sample",
    slices: SlicesOpt = "16",
) -> None:
    """Train on the train split; score `original` and every condition on the test split.

    Runs unchanged under `torchrun --nproc_per_node=N -m racelens imaging audit ...` (DDP;
    --batch-size is then the global batch); only rank 0 writes and prints.
    """
    from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
    from racelens.shared.results import parse_conditions
    from racelens.shared.train.launch import launch_context

    conditions = [c for spec in condition or [] for c in parse_conditions(spec)]
    config = ImagingAuditConfig(
        manifest=manifest, out=out, arch=arch, size=size, epochs=epochs, batch_size=batch_size,
        lr=lr, seed=seed, conditions=tuple(conditions), mode=mode,  # type: ignore[arg-type]
        collapse=collapse, task=task, threshold=threshold, workers=workers, strict=strict, resume=resume,
        n_boot=n_boot, cache_dir=cache_dir, device=device, weights=weights, patience=patience,
        num_workers=loader_workers, progress=progress, voi=voi, unit=unit, slices=slices)
    result = run_imaging_audit(config)
    if launch_context().is_main:
        print_result(result, out)


@app.command()
def cache(
    manifest: Annotated[Path, typer.Option(help="manifest.parquet from `racelens imaging manifest`.")],
    cache_dir: Annotated[Path, typer.Option(help="Cache folder; pass the same --cache-dir to "
                                                 "`imaging audit` to reuse it.")],
    size: Annotated[int, typer.Option(help="Image size; must match the audit's --size.")] = 224,
    workers: Annotated[int, typer.Option(help="Processes decoding images.")] = 1,
    strict: Annotated[bool, typer.Option(help="Stop at the first unreadable image.")] = False,
    progress: ProgressOpt = True,
    voi: VoiOpt = "auto",
    slices: SlicesOpt = "16",
) -> None:
    """Decode and resize a manifest's images once into the cache an audit reads.

    Optional: `imaging audit` builds the cache itself. Building it first (resumable, with as many
    CPU workers as the machine has) keeps a multi-GPU job's GPUs from waiting on the decode.
    """
    from collections import Counter

    from racelens.imaging.audit.data import cache_manifest

    built = cache_manifest(manifest, size=size, cache_dir=cache_dir, workers=workers,
                           strict=strict, progress=progress, voi=voi, slices=slices)
    reasons = Counter(reason for _, reason in built.skipped)
    say(f"cache: {len(built) - len(built.skipped)} images at {built.size} px, "
          f"{len(built.skipped)} skipped" + (f" {dict(reasons)}" if reasons else ""))
    say(f"wrote {built.directory}")


@app.command()
def baseline(
    manifest: Annotated[Path, typer.Option(help="manifest.parquet with covariate columns.")],
    features: Annotated[str, typer.Option(help="Comma-separated covariates, e.g. age,sex,bmi.")],
    out: RunDirOpt,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    collapse: OptionalCollapseOpt = None,
) -> None:
    """Covariate (confounder) baseline: predict race from covariates alone."""
    from racelens.imaging.audit.baselines import CovariateBaselineConfig, run_covariate_baseline

    names = tuple(f.strip() for f in features.split(",") if f.strip())
    config = CovariateBaselineConfig(manifest=manifest, out=out, features=names, seed=seed,
                                     n_boot=n_boot, collapse=collapse)
    print_result(run_covariate_baseline(config), out)


@app.command()
def probe(
    run: Annotated[Path, typer.Option(help="Run directory of `racelens imaging audit`.")],
    manifest: Annotated[Path, typer.Option(help="The manifest the run used.")],
    out: RunDirOpt,
    batch_size: Annotated[int, typer.Option()] = 64,
    device: DeviceOpt = "auto",
    n_boot: NBootOpt = 1000,
) -> None:
    """Linear race probe on the frozen features of the run's trained model."""
    from racelens.imaging.audit.probe import FeatureProbeConfig, run_feature_probe

    config = FeatureProbeConfig(run=run, manifest=manifest, out=out, batch_size=batch_size,
                                device=device, n_boot=n_boot)
    print_result(run_feature_probe(config), out)


def _floats(spec: str, option: str) -> tuple[float, ...]:
    from racelens.errors import ConfigError

    try:
        return tuple(float(v) for v in spec.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated numbers, got {spec!r}") from None


@app.command()
@distributed_command  # every rank trains its share of the sweep; rank 0 writes the result
def shortcut(
    manifest: Annotated[Path, typer.Option(help="manifest.parquet from `racelens imaging manifest`.")],
    task: Annotated[str, typer.Option(help="The 0/1 disease column the models predict.")],
    out: Annotated[Path, typer.Option(help="Run directory to write (shortcut.json).")],
    arch: Annotated[str, typer.Option(help="small_cnn, densenet121, resnet34, resnet50, "
                                           "efficientnet_b0 or hf:DIR.")] = "small_cnn",
    size: Annotated[int, typer.Option(help="Model image size (cached once).")] = 224,
    epochs: Annotated[int, typer.Option()] = 10,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    scales: Annotated[str, typer.Option(help="Gradient-reversal coefficients λ of the sweep "
                                             "(λ > 0 removes race information, < 0 rewards it).")]
    = "-1,-0.5,-0.2,0,0.2,0.5,1",
    seeds: Annotated[int, typer.Option(help="Models per scale.")] = 5,
    seed: Annotated[int, typer.Option()] = 0,
    race_weight: Annotated[float, typer.Option(help="Weight of the race head's loss.")] = 0.75,
    gap: Annotated[str, typer.Option(help="fpr, tpr, underdiagnosis or auc.")] = "fpr",
    threshold: Annotated[str, typer.Option(help="max_f1, youden or fpr=X (chosen on validation).")]
    = "max_f1",
    min_task_auc: Annotated[float, typer.Option(help="Models below this task AUC are left out "
                                                     "of the test.")] = 0.7,
    resample_test: Annotated[str, typer.Option(help="none, or balanced: race-balanced test set "
                                                    "with equal prevalence and age bins.")] = "none",
    mitigations: Annotated[str, typer.Option(help="Any of erm,resample,groupdro,dann,split.")]
    = "erm,resample,groupdro,dann,split",
    collapse: Annotated[str | None, typer.Option(help="Re-collapse race groups (e.g. abw).")] = None,
    weights: Annotated[Path | None, typer.Option(help="Local backbone weights file.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Image cache folder (default RUN/cache).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
    workers: Annotated[int, typer.Option(help="Processes decoding images into the cache.")] = 1,
    loader_workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 3,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    sweep_only: Annotated[bool, typer.Option(help="Only train and save the sweep's models "
                                                  "(one GPU's share of --scales).")] = False,
) -> None:
    """Shortcut test and mitigations: does race encoding make the disease model unfair?

    Sweeps a race head behind gradient reversal (--scales x --seeds models), correlates race
    encoding (linear probe on frozen features) with the fairness gap (Spearman, bootstrap CI,
    permutation p), and compares ERM, resampling, GroupDRO, DANN and SPLIT on the same split.
    Writes OUT/shortcut.json and OUT/shortcut.png; finished models are kept in OUT/models and
    reused, so a rerun resumes. Under `torchrun --nproc_per_node=N` the sweep's models are spread
    over the N GPUs and rank 0 writes the result. GPU recipe (DenseNet121, 15 scales
    x 5 seeds), see docs/shortcut.md: `racelens imaging cache ... --size 224 --workers 16`, then
    one process per GPU (`CUDA_VISIBLE_DEVICES=i`) with `--sweep-only` and a disjoint --scales
    subset into the same --out, then one run with all the scales (it reuses every model).
    """
    from racelens.imaging.shortcut import ShortcutConfig, run_shortcut
    from racelens.shared.train.launch import launch_context

    config = ShortcutConfig(
        manifest=manifest, out=out, task=task, arch=arch, weights=weights, size=size, epochs=epochs,
        batch_size=batch_size, lr=lr, patience=patience, scales=_floats(scales, "--scales"),
        seeds=seeds, seed=seed, race_weight=race_weight, gap=gap,  # type: ignore[arg-type]
        threshold=threshold, min_task_auc=min_task_auc,
        resample_test=resample_test,  # type: ignore[arg-type]
        mitigations=tuple(m.strip() for m in mitigations.split(",") if m.strip()),
        n_boot=n_boot, collapse=collapse, cache_dir=cache_dir, device=device, workers=workers,
        num_workers=loader_workers, progress=progress, sweep_only=sweep_only)
    result = run_shortcut(config)
    if result is not None:
        print_shortcut(result, out)
    elif sweep_only and launch_context().is_main:
        print(f"sweep only: models saved in {out / 'models'}")


def print_shortcut(result: Any, out: Path) -> None:
    """The test's verdict and one row per mitigation (aggregates only)."""
    from rich.console import Console
    from rich.table import Table

    def est(d: Any) -> str:
        e = d.get("macro", d) if isinstance(d, dict) else {}
        return f"{_fmt(e.get('estimate'))} ({_fmt(e.get('ci_low'))}–{_fmt(e.get('ci_high'))})"

    console = Console() if Console().is_terminal else Console(width=160)
    t = result.test
    console.print(f"shortcut test over {t.n_models} models: Spearman {_fmt(_nan_none(t.spearman))} "
                  f"({_fmt(_nan_none(t.ci_low))}–{_fmt(_nan_none(t.ci_high))}), "
                  f"p {_fmt(_nan_none(t.p_value))}: {t.verdict}")
    table = Table("mitigation", "task AUC", f"{result.gap_metric} gap", "race encoding")
    for m in result.mitigations:
        table.add_row(str(m["name"]), est(m["task_auc"]), est(m["gap"]), est(m["encoding_auc"]))
    console.print(table)
    console.print(f"wrote {out / 'shortcut.json'}")


def _nan_none(x: float) -> float | None:
    return None if x != x else x



@app.command()
def explain(
    run: Annotated[Path, typer.Option(help="Run directory of `racelens imaging audit` (a race model).")],
    manifest: Annotated[Path, typer.Option(help="The manifest the run used.")],
    out: RunDirOpt,
    grid: Annotated[int, typer.Option(help="Tiles per side of the region grid.")] = 4,
    bands: Annotated[int, typer.Option(help="Log-spaced frequency rings from radius 0 to the "
                                            "corner.")] = 8,
    band_edges: Annotated[str | None, typer.Option(help="Explicit ring edges instead, e.g. "
                                                        "0,1,8,22,46 (from 0 past the corner).")] = None,
    methods: Annotated[str, typer.Option(help="Attribution methods (captum): "
                                              "integrated_gradients,gradcam,occlusion; the first "
                                              "makes the deletion curve.")]
    = "integrated_gradients,gradcam,occlusion",
    mode: Annotated[str, typer.Option(help="test: the audited model on filtered images; "
                                           "retrain: a model per ring, as Gichoya et al.")] = "test",
    attribution_samples: Annotated[int, typer.Option(help="Test images the maps and deletion "
                                                          "curve use (0: all).")] = 256,
    overlay_mean_image: Annotated[bool, typer.Option(help="Draw maps over the mean of >= 100 test "
                                                          "images instead of a neutral frame.")] = False,
    batch_size: Annotated[int | None, typer.Option(help="Inputs per forward pass (default: 64 on "
                                                         "the CPU, 128 on a GPU).")] = None,
    device: DeviceOpt = "auto",
    n_boot: NBootOpt = 1000,
    progress: ProgressOpt = True,
) -> None:
    """Where is the race signal? Spectrum rings, tiles, attribution with a sanity check,
    deletion curve, intensity histogram and acquisition tags; writes OUT/explain.json + figures."""
    from racelens.imaging.explain import ExplainConfig, run_explain

    config = ExplainConfig(
        run=run, manifest=manifest, out=out, grid=grid, bands=bands,
        band_edges=None if band_edges is None else _floats(band_edges, "--band-edges"),
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        mode=mode,  # type: ignore[arg-type]
        attribution_samples=attribution_samples or None, overlay_mean_image=overlay_mean_image,
        batch_size=batch_size, device=device, n_boot=n_boot, progress=progress)
    doc = run_explain(config).to_dict()
    macro = lambda block: _fmt(block["macro"]["estimate"]) if block else "-"  # noqa: E731
    s = doc["extras"]["summary"]
    ring = lambda i: f"{doc['bands'][i]['inner']:g}-{doc['bands'][i]['outer']:g}"  # noqa: E731
    say(f"original macro AUC {macro(doc['original'])} on {doc['extras']['n_test']} test images")
    say(f"spectrum: sufficient ring {ring(s['sufficient_band'])} (kept alone "
        f"{macro(doc['bands'][s['sufficient_band']]['keep'])}), necessary ring "
        f"{ring(s['necessary_band'])} (removed {macro(doc['bands'][s['necessary_band']]['remove'])})")
    say(f"regions: masking tile row {s['top_tile']['row']}, col {s['top_tile']['col']} drops the "
        "AUC most")
    for a in doc["attribution"]:
        sanity = a["sanity"]
        say(f"{a['method']}: randomised-weights rank correlation "
            f"{_fmt(sanity['randomized_rank_correlation'])} "
            f"({'passed' if sanity['passed'] else 'FAILED: maps barely change with random weights'})")
    for d in doc["deletion"]:
        say(f"deletion {d['fraction']:.0%}: top {macro(d['top'])}, random {macro(d['random'])}")
    say(f"intensity histogram {macro(doc['intensity'])}, acquisition tags "
        f"{macro(doc['acquisition'])}")
    say(f"wrote {Path(out) / 'explain.json'}")
