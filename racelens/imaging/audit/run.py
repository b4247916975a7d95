"""The imaging audit: can a model still tell race from radiographs under each perturbation?

:func:`run_imaging_audit` loads a manifest, splits it by patient (keeping an existing split),
builds or reuses the preprocessing cache, trains a classifier on the train split (early stopping
on val), and scores ``original`` plus every condition on the test split:

- mode ``test``: one model trained on clean images; each condition perturbs the test batches on
  the model's device, so k conditions cost about k inference passes over the cache;
- mode ``retrain``: as Gichoya et al. did, one model per condition, trained, validated and tested
  on perturbed images.

With ``task`` set the model predicts a binary disease column instead of race and the subgroup
error rates of the shared fairness layer go into each condition's extras.

The run directory gets ``result.json``, ``predictions.parquet`` (run-local per-sample
probabilities), ``splits.parquet``, ``model.pt`` (the ``original`` model, for the feature probe),
``train/<condition>/checkpoint.pt`` and the plots ``roc.png`` and ``auc_vs_strength.png``.

Under ``torchrun --nproc_per_node=N -m racelens imaging audit ...`` every process runs this
function: rank 0 builds the image cache while the others wait, then opens it; training is DDP
(``batch_size`` is the global batch); test and validation predictions are sharded and gathered;
rank 0 alone computes the metrics and writes the run directory, and every rank returns its result.
See ``docs/distributed.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError
from racelens.imaging.audit.data import DEFAULT_SLICES, PreparedData, prepare_data
from racelens.shared.predictions import prediction_frame
from racelens.shared.results import AuditResult, Condition, ConditionResult, evaluate_condition
from racelens.shared.tables import atomic_write_parquet
from racelens.shared.train.distributed import (
    DistContext,
    broadcast_object,
    distributed_session,
    main_first,
)
from racelens.shared.units import UnitScores

__all__ = ["ImagingAuditConfig", "run_imaging_audit", "roc_points", "train_condition", "write_plots"]

log = logging.getLogger(__name__)
ORIGINAL = Condition("original")


@dataclass(frozen=True)
class ImagingAuditConfig:
    """Everything ``racelens imaging audit`` needs.

    Parameters
    ----------
    manifest, out
        The manifest (``racelens imaging manifest``) and the run directory.
    arch, weights
        Backbone (see :func:`racelens.imaging.models.build_model`) and optional local weights.
    size
        Side of the cached, model-size images.
    epochs, batch_size, lr, patience
        Training settings (see :class:`racelens.shared.train.loop.TrainConfig`); ``batch_size``
        is the global batch under ``torchrun``.
    seed
        Seeds the split, model initialisation, shuffling, perturbations and bootstrap.
    conditions
        Perturbations to evaluate besides ``original``.
    mode
        ``test`` (perturb test images only) or ``retrain`` (a model per condition).
    collapse
        Re-collapse the manifest's race groups (e.g. ``abw``); ``None`` keeps them.
    task
        A binary disease column to predict instead of race (a disease model).
    threshold
        With ``task``: the operating point of the subgroup error rates, chosen on validation
        (``youden``, ``max_f1`` or ``fpr=F``, e.g. ``fpr=0.2`` for Glocker et al.'s global
        threshold); see :func:`racelens.shared.metrics.fairness.parse_threshold_rule`.
    workers
        Processes decoding images into the cache.
    strict
        Stop at the first unreadable image instead of recording it as skipped.
    resume
        Continue training from the checkpoints in ``out/train``.
    n_boot
        Bootstrap resamples for the intervals.
    cache_dir
        Where the image cache lives; default ``out/cache``.
    device
        ``auto``, ``cpu`` or ``cuda[:N]``.
    voi
        Intensity mode of the cached images (:mod:`racelens.imaging.io.intensity`: ``auto``,
        ``none``, ``bits``, ``percentile``, ``minmax``, ``lung``, ``mediastinum``, ``bone``,
        ``C/W``); recorded in ``result.json`` so a clipping threshold can be read back.
    unit
        What a test case is (:mod:`racelens.shared.units`): ``sample`` (a manifest row: an image,
        or a whole series of a series manifest), ``study``, ``series`` or ``patient``; item
        scores are averaged per unit before the AUC and ``n_test`` counts units.
    slices
        Evenly spaced slices per series of a series manifest, trained on and scored (``None``:
        all).
    """

    manifest: Path
    out: Path
    arch: str = "small_cnn"
    size: int = 224
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    conditions: Sequence[Condition] = ()
    mode: Literal["test", "retrain"] = "test"
    collapse: str | None = None
    task: str | None = None
    threshold: str = "youden"
    workers: int = 1
    strict: bool = False
    resume: bool = False
    n_boot: int = 1000
    cache_dir: Path | None = None
    device: str = "auto"
    weights: Path | None = None
    patience: int = 3
    num_workers: int = 0
    progress: bool = True
    voi: str = "auto"
    unit: str = "sample"
    slices: int | str | None = DEFAULT_SLICES
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from racelens.imaging.audit.slices import check_slices
        from racelens.imaging.io.load import check_voi
        from racelens.shared.units import check_unit

        object.__setattr__(self, "voi", check_voi(self.voi))
        object.__setattr__(self, "unit", check_unit(self.unit))
        object.__setattr__(self, "slices", check_slices(self.slices))
        if self.mode not in ("test", "retrain"):
            raise ConfigError(f"mode must be 'test' or 'retrain', got {self.mode!r}")
        if self.size < 16:
            raise ConfigError(f"size must be >= 16 pixels, got {self.size}")
        if self.n_boot < 0:
            raise ConfigError(f"n_boot must be >= 0, got {self.n_boot}")
        from racelens.shared.metrics.fairness import parse_threshold_rule

        parse_threshold_rule(self.threshold)  # a bad rule fails before training, not after

    def to_dict(self) -> dict[str, Any]:
        """The ``config`` block of ``result.json`` (paths as strings, conditions as labels)."""
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if k == "conditions":
                v = [c.label for c in v]
            elif isinstance(v, Path):
                v = str(v)
            out[k] = v
        return out


def roc_points(y_true: np.ndarray, y_score: np.ndarray, classes: Sequence[str],
               max_points: int = 101) -> dict[str, dict[str, list[float]]]:
    """One-vs-rest ROC curve per group, each downsampled to at most ``max_points`` points."""
    from sklearn.metrics import roc_curve

    out: dict[str, dict[str, list[float]]] = {}
    for j, g in enumerate(classes):
        pos = np.asarray(y_true) == g
        if pos.all() or not pos.any():
            continue
        fpr, tpr, _ = roc_curve(pos, y_score[:, j])
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).round().astype(int))
        out[str(g)] = {"fpr": np.round(fpr[keep], 5).tolist(), "tpr": np.round(tpr[keep], 5).tolist()}
    return out


def _slug(cond: Condition) -> str:
    return "".join(ch if ch.isalnum() or ch in "=-_." else "_" for ch in cond.label.replace(",", "_"))


def train_condition(data: PreparedData, config: ImagingAuditConfig, cond: Condition,
                    transform: Any) -> tuple[Any, dict[str, Any]]:
    """Train a model on ``transform``-ed train images (early stopping on val); return it and a summary.

    Checkpoints go to ``config.out/train/<condition>``, so a retrain is resumable.
    """
    from racelens.imaging.models import build_model
    from racelens.shared.train.loop import TrainConfig, train_classifier

    model = build_model(config.arch, len(data.classes), weights=config.weights, seed=config.seed)
    tcfg = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       patience=config.patience, seed=config.seed, device=config.device,
                       num_workers=config.num_workers, progress=config.progress,
                       class_weights=config.task is not None)
    res = train_classifier(model, data.dataset("train"), data.dataset("val"), data.classes, tcfg,
                           run_dir=Path(config.out) / "train" / _slug(cond), resume=config.resume,
                           transform=transform)
    summary = {"best_epoch": res.best_epoch, "best_val_auc": res.best_val_auc,
               "epochs_run": len(res.history), "stopped_early": res.stopped_early,
               "resumed_from_epoch": res.resumed_from_epoch}
    log.info("%s: trained %d epochs, best val macro AUC %.3f (epoch %d)", cond.label,
             len(res.history), res.best_val_auc, res.best_epoch)
    return model, summary


def _fairness_extras(config: ImagingAuditConfig, val: UnitScores, test: UnitScores,
                     groups: np.ndarray) -> dict[str, Any]:
    """Subgroup TPR/FPR/underdiagnosis at an operating point chosen on validation (``threshold``)."""
    from racelens.shared.metrics.fairness import (
        METRICS,
        choose_threshold,
        parse_threshold_rule,
        subgroup_metrics,
    )

    rule, target_fpr = parse_threshold_rule(config.threshold)
    threshold = choose_threshold(val.y_true.astype(np.int64), val.y_score[:, 1], rule=rule,
                                 target_fpr=target_fpr)
    # underdiagnosis (Seyyed-Kalantari et al.) is the FPR of a "No Finding" model
    no_finding = str(config.task).strip().lower() == "no finding"
    metrics_for = (*METRICS, "underdiagnosis_rate") if no_finding else METRICS
    metrics = subgroup_metrics(y_true=test.y_true.astype(np.int64), y_score=test.y_score[:, 1],
                               groups=groups, threshold=threshold, metrics=metrics_for,
                               patient_ids=test.patient_ids, n_boot=config.n_boot,
                               seed=config.seed)
    return {"fairness": metrics.to_dict()}


def _by_unit(data: PreparedData, split: str, probs: np.ndarray, unit: str,
             labels: np.ndarray | None = None) -> UnitScores:
    """The items of ``split`` scored ``probs``, aggregated to ``unit`` (mean probability)."""
    from racelens.shared.units import aggregate_to_unit, unit_ids

    mask = data.mask(split)
    part = data.table.loc[mask]
    return aggregate_to_unit(data.labels[mask] if labels is None else labels, probs,
                             unit_ids(part, unit), patient_ids=part["patient_id"].to_numpy())


def _evaluate(data: PreparedData, model: Any, cond: Condition, config: ImagingAuditConfig,
              pert: Any, ctx: DistContext) -> tuple[ConditionResult, pd.DataFrame] | None:
    """Score one condition; under torchrun every rank predicts, rank 0 alone scores (else None)."""
    from racelens.shared.train.loop import predict_proba

    def predict(split: str) -> np.ndarray:
        return predict_proba(model, data.dataset(split), batch_size=max(2 * config.batch_size, 64),
                             device=config.device, transform=pert, num_workers=config.num_workers,
                             shard=True)

    pert.set_random_state(config.seed)  # random perturbations draw the same whatever came before
    probs = predict("test")
    val_probs = predict("val") if config.task is not None else None
    if not ctx.is_main:
        return None
    # items (images, slices) are scored; the unit (a series, a study) is what is counted
    test = _by_unit(data, "test", probs, config.unit)
    y_true = np.asarray(data.classes, dtype=object)[test.y_true]
    extras: dict[str, Any] = {"mode": config.mode, "strength": pert.strength,
                              "roc": roc_points(y_true, test.y_score, data.classes),
                              "unit": config.unit, "n_test_items": int(test.n_items.sum())}
    if config.task is not None:
        val = _by_unit(data, "val", val_probs, config.unit)  # type: ignore[arg-type]
        groups = _unit_groups(data, config.unit, test.unit_ids)
        extras.update(_fairness_extras(config, val, test, groups))
    result = evaluate_condition(cond, y_true, test.y_score, data.classes,
                                patient_ids=test.patient_ids, n_boot=config.n_boot,
                                seed=config.seed, extras=extras, strength=pert.strength_point)
    # one row per unit (its id in sample_id; extras["unit"] says which unit)
    preds = prediction_frame(test.unit_ids, cond, y_true, test.y_score, data.classes,
                             patient_ids=test.patient_ids)
    return result, preds


def _unit_groups(data: PreparedData, unit: str, ids: np.ndarray) -> np.ndarray:
    """The race group of each unit (a unit belongs to one patient, hence one group)."""
    from racelens.shared.units import unit_ids

    table = data.table.assign(_unit=unit_ids(data.table, unit))
    return table.drop_duplicates("_unit").set_index("_unit").loc[ids, "race"].astype(str).to_numpy()


def run_imaging_audit(config: ImagingAuditConfig) -> AuditResult:
    """Train, perturb and score; write the run directory; return the :class:`AuditResult`.

    Under ``torchrun`` (``WORLD_SIZE > 1`` in the environment) it joins the process group for
    its duration; see the module notes.

    Raises
    ------
    DataError
        When the manifest leaves fewer than two classes or an empty split.
    ConfigError
        For an unknown architecture or perturbation (checked before any training).
    """
    with distributed_session(config.device) as ctx:
        audit = _run(config, ctx)
        # rank 0 scored and wrote; the others return the same result
        return broadcast_object(audit, ctx=ctx)  # type: ignore[return-value]


def _run(config: ImagingAuditConfig, ctx: DistContext) -> AuditResult | None:
    from racelens.imaging.models import save_model
    from racelens.imaging.perturb.transforms import make_perturbation

    out = Path(config.out)
    conditions = [ORIGINAL] + [c for c in config.conditions if c != ORIGINAL]
    perts = {c: make_perturbation(c, seed=config.seed) for c in conditions}  # validate early
    # the cache is built once, by rank 0; the other ranks then open the finished cache
    data = main_first(lambda: prepare_data(
        config.manifest, size=config.size, seed=config.seed,
        cache_dir=config.cache_dir or out / "cache", collapse=config.collapse, task=config.task,
        workers=config.workers, strict=config.strict, progress=config.progress and ctx.is_main,
        voi=config.voi, slices=config.slices), ctx)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_parquet(out / "splits.parquet", pd.DataFrame(
            {"sample_id": data.table["sample_id"].astype(str), "split": data.split}
        ).drop_duplicates("sample_id", ignore_index=True))
    results: list[ConditionResult] = []
    frames: list[pd.DataFrame] = []
    training: dict[str, Any] = {}
    model = None
    for cond in conditions:
        if model is None or config.mode == "retrain":
            transform = None if cond == ORIGINAL else perts[cond]
            model, training[cond.label] = train_condition(data, config, cond, transform)
            if cond == ORIGINAL and ctx.is_main:
                save_model(model, out / "model.pt", classes=data.classes,
                           meta={"size": config.size, "task": config.task, "seed": config.seed})
        scored = _evaluate(data, model, cond, config, perts[cond], ctx)
        if scored is None:  # not rank 0
            continue
        results.append(scored[0])
        frames.append(scored[1])
        log.info("%s: macro AUC %.3f", cond.label, scored[0].auc.macro.estimate or float("nan"))
    if not ctx.is_main:
        return None
    atomic_write_parquet(out / "predictions.parquet", pd.concat(frames, ignore_index=True))
    audit = AuditResult(modality="imaging", data=data.summary, conditions=tuple(results),
                        config=config.to_dict(), seed=config.seed,
                        extras={"task": config.task or "race", "classes": list(data.classes),
                                "mode": config.mode, "training": training,
                                "world_size": ctx.world_size,
                                "split_sizes": _split_sizes(data), "unit": config.unit,
                                "slice_skips": dict(data.slice_skips)})
    if audit.data.n_input_rows != data.n_input_rows:
        raise DataError(f"internal accounting error: {audit.data.n_input_rows} rows accounted "
                        f"for, {data.n_input_rows} in the input; please report it")
    audit.write(out)
    write_plots(audit, out)
    return audit


def _split_sizes(data: PreparedData) -> dict[str, int]:
    """Manifest rows (samples: images or series) per split, not items."""
    frame = pd.DataFrame({"sample_id": data.table["sample_id"].to_numpy(), "split": data.split})
    sizes = frame.drop_duplicates("sample_id")["split"].value_counts()
    return {s: int(sizes.get(s, 0)) for s in ("train", "val", "test")}


def write_plots(result: AuditResult, out: Path) -> list[Path]:
    """Write ``roc.png`` (``original``, per group) and ``auc_vs_strength.png`` into ``out``."""
    from matplotlib.figure import Figure

    from racelens.shared.report.plots import plot_auc_vs_strength, plot_roc_per_group

    written = []
    original = result.conditions[0]
    fig = Figure(figsize=(4.6, 4.4))
    plot_roc_per_group(original.extras.get("roc", {}), fig.add_subplot(),
                       title=f"ROC per group ({original.condition.label})",
                       aucs={g: e.to_dict() for g, e in original.auc.per_group.items()})
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    written.append(out / "roc.png")
    fig = Figure(figsize=(max(5.0, 1.2 * len(result.conditions)), 4.0))
    plot_auc_vs_strength([result], fig.add_subplot())
    fig.tight_layout()
    fig.savefig(out / "auc_vs_strength.png", dpi=110)
    written.append(out / "auc_vs_strength.png")
    return written
