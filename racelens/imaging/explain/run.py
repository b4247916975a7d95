"""``racelens imaging explain``: where in a finished imaging audit's test images is the race signal?

:func:`run_explain` reads a run directory of ``racelens imaging audit`` (``model.pt``,
``result.json``, ``splits.parquet``, the image cache), re-derives its test split from the
manifest with :func:`~racelens.imaging.audit.data.prepare_data`, and answers with patient-level
bootstrap intervals on every AUC (the ``auc`` block of ``result.json``):

1. spectrum: per frequency ring (:mod:`.bands`) the AUC with only that ring kept and with it
   removed (mode ``test``: the audited model on filtered test images; mode ``retrain``: a model
   trained per ring and condition, as Gichoya et al. did);
2. regions: per tile of a grid (:mod:`.tiles`) the AUC with only that tile kept and with it masked;
3. attribution (:mod:`.attribution`): mean captum maps overall and per group on a seeded subset of
   the test images, as the share of attribution mass per tile, each with the randomised-weights
   sanity check;
4. deletion (:mod:`.deletion`): the AUC after masking the top ``x`` % of the first method's
   attributed pixels versus ``x`` % random pixels, on the same subset;
5. intensity and acquisition (:mod:`.intensity`): race from the histogram alone and from the
   acquisition tags the manifest carries.

Every test-time condition is one batched pass over the test images held in memory (masks and
filters are applied to whole batches on the model's device).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError
from racelens.imaging.explain.attribution import METHODS
from racelens.imaging.explain.deletion import FRACTIONS
from racelens.imaging.explain.write import ExplainResult

__all__ = ["ExplainConfig", "run_explain"]

log = logging.getLogger(__name__)
MIN_MEAN_IMAGES = 100
#: Default inputs per forward pass on the CPU: with 64 the activations of a small model stay
#: in cache (the small CNN's input gradients at 64 px: 1.4x faster per image than with 128 on the
#: 2-core benchmark machine, benchmarks/explain_batch.py); on a GPU a large batch fills the device.
CPU_BATCH = 64
CUDA_BATCH = 128
#: Test images held in page-locked host memory on CUDA up to this size (larger sets are copied
#: to the device from ordinary memory, synchronously).
PIN_MAX_BYTES = 4 * 2**30


@dataclass(frozen=True)
class ExplainConfig:
    """Settings of ``racelens imaging explain``.

    Parameters
    ----------
    run, manifest, out
        The audited run directory, its manifest, and where ``explain.json`` and figures go.
    grid, bands, band_edges
        Tile grid side; number of log-spaced frequency rings, or explicit ring edges.
    methods
        Attribution methods (:data:`~racelens.imaging.explain.attribution.METHODS`); the first
        one's maps make the deletion curve.
    mode
        ``test`` (the audited model on filtered images) or ``retrain`` (a model per ring).
    fractions, deletion_block
        Deletion fractions of the pixels, deleted in square blocks of this side (default a
        16th of the image side; see :mod:`racelens.imaging.explain.deletion`).
    attribution_samples, sanity_samples
        Test images the maps (and the deletion curve) use, and the randomised check's share of
        them; ``None`` uses every test image.
    ig_steps, sanity_threshold
        Integrated Gradients steps; rank correlation at or above which a method fails the check.
    overlay_mean_image
        Draw the maps over the mean of the test images (at least 100) instead of a neutral frame.
    n_boot, seed, batch_size, device, cache_dir, progress
        Bootstrap resamples; seed (default the run's); inputs per forward pass, for the
        evaluation passes and the attribution (``None``: :data:`CPU_BATCH` on the CPU, where a
        small batch keeps the activations in cache, :data:`CUDA_BATCH` on a GPU); device; image
        cache (default the run's); progress bars while retraining.
    """

    run: Path
    manifest: Path
    out: Path
    grid: int = 4
    bands: int = 8
    band_edges: Sequence[float] | None = None
    methods: Sequence[str] = METHODS
    mode: Literal["test", "retrain"] = "test"
    fractions: Sequence[float] = FRACTIONS
    deletion_block: int | None = None
    attribution_samples: int | None = 256
    sanity_samples: int = 64
    ig_steps: int = 16
    sanity_threshold: float = 0.5
    overlay_mean_image: bool = False
    n_boot: int = 1000
    seed: int | None = None
    batch_size: int | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("test", "retrain"):
            raise ConfigError(f"mode must be 'test' or 'retrain', got {self.mode!r}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ConfigError(f"unknown attribution method(s) {unknown or '(none given)'}; "
                              f"choose from {', '.join(METHODS)}")
        if self.n_boot < 1:
            raise ConfigError(f"n_boot must be >= 1, got {self.n_boot}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.attribution_samples is not None and self.attribution_samples < 2:
            raise ConfigError(f"attribution_samples must be >= 2, got {self.attribution_samples}")

    def to_dict(self) -> dict[str, Any]:
        """The ``config`` block of ``explain.json`` (paths as strings)."""
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            out[k] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
        return out


class _Scorer:
    """The audited model on the test images held in memory: probabilities and AUC blocks."""

    def __init__(self, model: Any, images: Any, y_true: np.ndarray, patient_ids: np.ndarray,
                 classes: list[str], config: ExplainConfig, seed: int, batch_size: int) -> None:
        self.model, self.images, self.y_true, self.patient_ids = model, images, y_true, patient_ids
        self.classes, self.config, self.seed, self.batch_size = classes, config, seed, batch_size

    def probs(self, images: Any, transform: Any = None, model: Any = None) -> np.ndarray:
        import torch

        from racelens.shared.train.inference import predict_proba

        data = torch.utils.data.TensorDataset(images, torch.zeros(len(images), dtype=torch.long))
        return predict_proba(self.model if model is None else model, data,
                             batch_size=self.batch_size, device=self.config.device,
                             transform=transform, channels_last=True)

    def auc(self, probs: np.ndarray, subset: np.ndarray | None = None) -> dict[str, Any]:
        from racelens.shared.metrics import auc_with_ci

        sel = slice(None) if subset is None else subset
        return auc_with_ci(self.y_true[sel], probs, self.classes, patient_ids=self.patient_ids[sel],
                           n_boot=self.config.n_boot, seed=self.seed).to_dict()

    def condition(self, transform: Any, model: Any = None) -> dict[str, Any]:
        return self.auc(self.probs(self.images, transform, model))


def _read_run(config: ExplainConfig) -> tuple[Any, list[str], dict[str, Any], dict[str, Any]]:
    from racelens.imaging.models import load_model
    from racelens.shared.results import AuditResult

    run = Path(config.run)
    for name in ("model.pt", "result.json", "splits.parquet"):
        if not (run / name).exists():
            raise ConfigError(f"{run}: no {name}; name a run directory of `racelens imaging audit`")
    cfg = dict(AuditResult.read(run).config)
    model, classes, meta = load_model(run / "model.pt")
    if meta.get("task"):
        raise ConfigError(f"{run}: the model predicts {meta['task']!r}, not race; explain needs a "
                          "race model (an audit without --task)")
    return model, classes, meta, cfg


def _retrain_config(config: ExplainConfig, cfg: dict[str, Any], seed: int) -> Any:
    from racelens.imaging.audit.run import ImagingAuditConfig

    weights = cfg.get("weights")
    return ImagingAuditConfig(
        manifest=config.manifest, out=config.out, arch=str(cfg.get("arch", "small_cnn")),
        size=int(cfg.get("size", 224)), epochs=int(cfg.get("epochs", 10)),
        batch_size=int(cfg.get("batch_size", 32)), lr=float(cfg.get("lr", 1e-3)), seed=seed,
        patience=int(cfg.get("patience", 3)), device=config.device, progress=config.progress,
        weights=Path(weights) if weights else None, n_boot=config.n_boot,
        voi=str(cfg.get("voi", "auto")))


def _subset(n: int, size: int | None, seed: int) -> np.ndarray:
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def run_explain(config: ExplainConfig) -> ExplainResult:
    """Answer the five questions for an audited run; write ``out/explain.json`` and figures.

    Raises
    ------
    ConfigError
        When ``run`` is not a race audit's run directory, or for bad ring edges, grid or methods.
    DataError
        When the manifest no longer holds the run's test images.
    """
    import torch

    from racelens.imaging.audit.data import prepare_data
    from racelens.imaging.explain import attribution as attr
    from racelens.imaging.explain.bands import ring_edges
    from racelens.imaging.explain.deletion import apply_mask, default_block, deletion_masks
    from racelens.imaging.explain.intensity import acquisition_auc, intensity_auc
    from racelens.imaging.explain.tiles import grid_tiles, tile_mass
    from racelens.imaging.perturb.base import derive_seed
    from racelens.shared.train.inference import resolve_device

    model, classes, meta, cfg = _read_run(config)
    seed = int(cfg.get("seed", 0)) if config.seed is None else int(config.seed)
    size = int(cfg.get("size", meta.get("size", 224)))
    rings = ring_edges(size, bands=config.bands, edges=config.band_edges)
    tiles = grid_tiles(config.grid)
    run_dir = Path(config.run)
    data = prepare_data(config.manifest, size=size, seed=seed,
                        cache_dir=config.cache_dir or Path(cfg.get("cache_dir") or run_dir / "cache"),
                        collapse=cfg.get("collapse"), strict=bool(cfg.get("strict", False)),
                        voi=str(cfg.get("voi", "auto")), progress=False,
                        split_from=pd.read_parquet(run_dir / "splits.parquet"))
    if set(data.classes) != set(classes):
        raise ConfigError(f"the manifest's groups {data.classes} are not the model's {classes}; "
                          "pass the manifest the run audited")
    test = data.mask("test")
    y_true = np.asarray(data.classes, dtype=object)[data.labels[test]].astype(str)
    images = torch.from_numpy(data.cache.as_float(data.rows[test]))[:, None]
    if config.overlay_mean_image and len(images) < MIN_MEAN_IMAGES:
        raise ConfigError(f"--overlay-mean-image needs at least {MIN_MEAN_IMAGES} test images to "
                          f"average; this run has {len(images)}")
    dev = resolve_device(config.device)
    batch = config.batch_size or (CUDA_BATCH if dev.type == "cuda" else CPU_BATCH)
    if dev.type == "cuda" and images.numel() * images.element_size() <= PIN_MAX_BYTES:
        images = images.pin_memory()  # every pass copies batches of it: asynchronously when pinned
    scorer = _Scorer(model, images, y_true, data.table.loc[test, "patient_id"].to_numpy(),
                     classes, config, seed, batch)
    original_probs = scorer.probs(images)
    original = scorer.auc(original_probs)
    log.info("original: macro AUC %.3f on %d test images", original["macro"]["estimate"], len(images))

    retrain = _retrain_config(config, cfg, seed) if config.mode == "retrain" else None
    bands = []
    for ring in rings:
        entry: dict[str, Any] = {"inner": ring.inner, "outer": ring.outer}
        for key, pert in (("keep", ring.keep(seed=seed)), ("remove", ring.remove(seed=seed))):
            trained = None
            if retrain is not None:
                from racelens.imaging.audit.run import train_condition

                trained, _ = train_condition(data, retrain, pert.condition, pert)
            entry[key] = scorer.condition(pert, trained)
        bands.append(entry)
    log.info("spectrum: %d rings (%s)", len(rings), config.mode)
    cells = [{"row": t.row, "col": t.col, "keep": scorer.condition(t.keep(seed=seed)),
              "remove": scorer.condition(t.remove(seed=seed))} for t in tiles]
    log.info("regions: %d tiles", len(tiles))

    # maps explain the model's own prediction, never the label: a deletion mask chosen with the
    # label would lower the true class's score by construction, even where there is no signal
    targets = torch.as_tensor(original_probs.argmax(axis=1), dtype=torch.long)
    sub = _subset(len(images), config.attribution_samples, seed)
    san = sub[:config.sanity_samples]
    randomized = attr.randomized_copy(model, seed=derive_seed(seed, 1))
    attribution, mean_maps, deletion_maps = [], {}, None
    for method in config.methods:
        kw = dict(grid=config.grid, batch_size=min(batch, 64), device=dev, ig_steps=config.ig_steps,
                  forward_rows=batch)
        maps = attr.attribution_maps(model, images[sub], targets[sub], method, **kw)
        rand = attr.attribution_maps(randomized, images[san], targets[san], method, **kw)
        rho = attr.rank_correlation(maps.maps[:len(san)], rand.maps)
        overall, per_group = attr.group_means(maps.maps, y_true[sub], classes)
        entry = {"method": method, "mass": tile_mass(overall, config.grid).round(6).tolist(),
                 "per_group": {g: tile_mass(m, config.grid).round(6).tolist()
                               for g, m in per_group.items()},
                 "sanity": {"randomized_rank_correlation": round(rho, 6) if np.isfinite(rho) else None,
                            "passed": bool(np.isfinite(rho) and rho < config.sanity_threshold)}}
        if maps.convergence_delta is not None:
            entry["convergence_delta"] = maps.convergence_delta
        attribution.append(entry)
        mean_maps[method] = (overall, per_group)
        deletion_maps = maps.maps if deletion_maps is None else deletion_maps
        log.info("attribution %s: sanity rank correlation %.3f", method, rho)

    deletion = []
    block = config.deletion_block or default_block(size)
    for k, fraction in enumerate(config.fractions):
        top, rand_mask = deletion_masks(deletion_maps, fraction, block=block,
                                        seed=derive_seed(seed, 2, k))
        deletion.append({"fraction": float(fraction),
                         "top": scorer.auc(scorer.probs(apply_mask(images[sub], top)), sub),
                         "random": scorer.auc(scorer.probs(apply_mask(images[sub], rand_mask)), sub)})
    log.info("deletion: %d fractions on %d images", len(deletion), len(sub))
    acquisition, acq_columns, acq_missing = acquisition_auc(data, seed=seed, n_boot=config.n_boot)
    intensity = intensity_auc(data, seed=seed, n_boot=config.n_boot)
    log.info("intensity: macro AUC %.3f from the histogram alone", intensity["macro"]["estimate"])
    result = ExplainResult(
        run=str(config.run), config=config.to_dict(), original=original, bands=bands,
        tiles={"grid": config.grid, "cells": cells}, attribution=attribution, deletion=deletion,
        intensity=intensity, acquisition=acquisition,
        extras={"classes": classes, "n_test": int(len(images)), "n_attribution": int(len(sub)),
                "batch_size": batch,
                "n_sanity": int(len(san)), "deletion_method": config.methods[0],
                "deletion_block": block,
                "deletion_original": scorer.auc(original_probs[sub], sub),
                "acquisition_columns": acq_columns, "acquisition_rows_missing": acq_missing,
                "frame": "mean of the test images" if config.overlay_mean_image else "neutral"},
        maps=mean_maps,
        mean_image=images.mean(dim=0)[0].numpy() if config.overlay_mean_image else None)
    result.write(Path(config.out))
    log.info("wrote %s", Path(config.out) / "explain.json")
    return result

