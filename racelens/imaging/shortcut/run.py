"""``racelens imaging shortcut``: the sweep, the shortcut test and the mitigations on one split.

:func:`run_shortcut` prepares the data as ``imaging audit --task`` does
(:func:`racelens.imaging.audit.data.prepare_data`: the same exclusions, patient split and cache),
then:

1. **the sweep**: for every λ in ``scales`` and every seed, a backbone with a task head and a race
   head behind gradient reversal (:mod:`racelens.imaging.shortcut.model`); each is scored by
   :func:`racelens.shared.shortcut_eval.evaluate_model` (task AUC, race encoding by the shared
   linear probe on its frozen features, fairness gap at the validation threshold). A model's
   scores are saved under ``OUT/models/`` and reused by a later run with the same settings, so a
   sweep can be resumed, widened, or split over machines (see ``docs/shortcut.md``);
2. **the test**: :func:`racelens.shared.shortcut.shortcut_test` over the sweep;
3. **the bounds** of encoding: the probe on shuffled race labels (patients' labels permuted) over
   the ERM features (lower), and the probe on a race-trained model's features (upper);
4. **mitigations**: ERM, group-balanced resampling, GroupDRO, DANN (the λ > 0 sweep model with the
   best validation task AUC), SPLIT (last layer retrained on the frozen ERM backbone), and model
   selection over the sweep by least validation encoding vs least validation gap.

Thresholds and selection read validation rows only; gaps are measured on the test rows, or with
``resample_test="balanced"`` on a race-balanced test subset with equal prevalence and age bins
(Glocker et al. 2023), accounted for row by row in ``extras.test_set``.

Under ``torchrun`` the sweep's models are spread over the ranks, one whole model per rank at a
time on its own GPU (no process group: many small trainings spread better as independent
processes than as DDP), through the per-model store; rank 0 builds the cache first, waits for
every model, then runs the test and the mitigations alone.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from racelens.imaging.audit.data import PreparedData, prepare_data
from racelens.imaging.shortcut import train as fit
from racelens.imaging.shortcut.config import ShortcutConfig
from racelens.shared.resample import EvalSets, balanced_test_set
from racelens.shared.shortcut import ShortcutResult, shortcut_test
from racelens.shared.shortcut_eval import ModelEval, RowsInfo, evaluate_model
from racelens.shared.tables import atomic_write_json
from racelens.shared.train.launch import DistContext, launch_context

__all__ = ["run_shortcut", "select_models"]

log = logging.getLogger(__name__)
_POLL_S = 5.0
_READY = "data_ready.json"


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "=-_." else "_" for ch in name)


class _Run:
    """The prepared data and the per-row arrays every model of one run is scored on."""

    def __init__(self, config: ShortcutConfig) -> None:
        out = Path(config.out)
        self.config = config
        self.data: PreparedData = prepare_data(
            config.manifest, size=config.size, seed=config.seed, cache_dir=config.cache_dir or out / "cache",
            collapse=config.collapse, task=config.task, workers=config.workers, strict=config.strict,
            progress=config.progress)
        table = self.data.table
        race = table["race"].astype(str).to_numpy()
        self.race_classes = [g for g in self.data.summary.groups if g in set(race)]
        self.race_codes = np.array([self.race_classes.index(r) for r in race], dtype=np.int64)
        self.groups = self.race_codes * 2 + self.data.labels  # race x task label
        self.rows = RowsInfo(task=self.data.labels, groups=race, patients=table["patient_id"].to_numpy(),
                             split=self.data.split, classes=tuple(self.race_classes))
        self.test_set: dict[str, Any] = {"resample": config.resample_test}
        counterfactual = None
        if config.resample_test == "balanced":
            test = np.flatnonzero(self.data.split == "test")
            age = table["age"].to_numpy()[test] if "age" in table else None
            pos, acc = balanced_test_set(race[test], self.data.labels[test], age=age, seed=config.seed)
            counterfactual = test[pos]
            self.test_set.update(acc)
        self.sets = EvalSets.from_split(self.data.split, counterfactual=counterfactual)
        self.sets.check(self.data.split)

    def evaluate(self, name: str, trained: fit.Trained | None, *, probs: np.ndarray | None = None,
                 encoding: tuple[Any, float] | None = None, seed: int,
                 params: dict[str, Any] | None = None) -> ModelEval:
        c = self.config
        return evaluate_model(name=name, probs=trained.probs if trained is not None else probs,
                              features=None if trained is None else trained.features, rows=self.rows,
                              sets=self.sets, gap_metric=c.gap, threshold_rule=c.threshold,
                              n_boot=c.n_boot, seed=seed, encoding=encoding, params=params)


def _saved(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return saved if saved is not None and saved.get("key") == key else None


def _sweep(run: _Run, training: dict[str, Any], ctx: DistContext) -> list[ModelEval]:
    """Train (or reuse) every (λ, seed) model; under torchrun rank r trains models r, r + N, ...
    and rank 0 then waits for the other ranks' saved models."""
    c = run.config
    store = Path(c.out) / "models"
    key = c.model_key()
    grid = [(float(scale), c.seed + i) for scale in c.scales for i in range(c.seeds)]
    for k, (scale, seed) in enumerate(grid):
        name = f"scale={scale:g},seed={seed}"
        path = store / f"{_slug(name)}.json"
        if k % ctx.world_size != ctx.rank or _saved(path, key) is not None:
            continue
        trained = fit.train_sweep_model(run.data, c, scale=scale, seed=seed,
                                        race_codes=run.race_codes, n_race=len(run.race_classes))
        ev = run.evaluate(name, trained, seed=seed, params={"scale": scale, "seed": seed})
        atomic_write_json(path, {"key": key, "eval": ev.to_dict(), "training": trained.summary})
        log.info("%s: task AUC %.3f, encoding %.3f, gap %.3f", name, ev.task_auc.macro.estimate or math.nan,
                 ev.encoding_auc.macro.estimate or math.nan, ev.gap.estimate or math.nan)
    if not ctx.is_main:
        return []
    models: list[ModelEval] = []
    for scale, seed in grid:
        name = f"scale={scale:g},seed={seed}"
        path = store / f"{_slug(name)}.json"
        # another rank's model: torchrun stops this process too if that rank fails
        while (saved := _saved(path, key)) is None:
            log.info("waiting for %s from another rank", name)
            time.sleep(_POLL_S)
        models.append(ModelEval.from_dict(saved["eval"]))
        training[name] = saved.get("training", {})
    return models


def select_models(models: list[ModelEval], *, min_task_auc: float) -> dict[str, ModelEval]:
    """Model selection on validation only: the least encoding and the least gap among the models
    whose validation task AUC reaches ``min_task_auc`` (all models when none does)."""
    ok = [m for m in models if math.isfinite(m.val_task_auc) and m.val_task_auc >= min_task_auc] or models

    def least(attr: str) -> ModelEval:
        return min(ok, key=lambda m: (getattr(m, attr) if math.isfinite(getattr(m, attr)) else math.inf,
                                      -m.val_task_auc))

    out = {"least_encoding": least("val_encoding"), "least_val_gap": least("val_gap")}
    dann = [m for m in ok if float(m.params.get("scale", 0.0)) > 0]
    if dann:
        out["dann"] = max(dann, key=lambda m: m.val_task_auc)
    return out


def _row(name: str, ev: ModelEval, **extra: Any) -> dict[str, Any]:
    d = ev.to_dict()
    d.pop("name")
    return {"name": name, **extra, **d}


def _bounds(run: _Run, erm: fit.Trained, race_model: fit.Trained) -> dict[str, Any]:
    from racelens.shared.metrics.probe import linear_probe
    from racelens.shared.results import Condition

    c, r = run.config, run.rows
    patients = np.unique(r.patients)
    first = {p: g for p, g in zip(r.patients[::-1], r.groups[::-1], strict=True)}
    perm = np.random.default_rng([c.seed, 17]).permutation(len(patients))
    shuffled_of = dict(zip(patients, [first[p] for p in patients[perm]], strict=True))
    shuffled = np.array([shuffled_of[p] for p in r.patients], dtype=object)
    lower = linear_probe(erm.features, shuffled, r.patients, r.split, r.classes,
                         condition=Condition("shuffled"), seed=c.seed, n_boot=c.n_boot)
    upper = linear_probe(race_model.features, r.groups, r.patients, r.split, r.classes,
                         condition=Condition("race_model"), seed=c.seed, n_boot=c.n_boot)
    return {"lower": {"what": "probe on shuffled race labels (ERM features)", "auc": lower.result.auc.to_dict()},
            "upper": {"what": "probe on a race-trained model's features", "auc": upper.result.auc.to_dict()}}


def _rank_config(config: ShortcutConfig, ctx: DistContext) -> ShortcutConfig:
    """Under torchrun: this rank's GPU (``LOCAL_RANK``) and progress bars on rank 0 only."""
    if ctx.world_size <= 1:
        return config
    device = config.device
    if device in ("auto", "cuda"):
        import torch

        device = f"cuda:{ctx.local_rank}" if torch.cuda.is_available() else "cpu"
    return replace(config, device=device, progress=config.progress and ctx.is_main)


def run_shortcut(config: ShortcutConfig) -> ShortcutResult | None:
    """Run the sweep, the test and the mitigations; write ``OUT/shortcut.json``; return it.

    With ``config.sweep_only`` only the sweep's models are trained and saved (``OUT/models``);
    nothing else is written and ``None`` is returned. Under ``torchrun`` (``WORLD_SIZE > 1``)
    the sweep's models are spread over the ranks (each on its own GPU, no process group); rank 0
    waits for them, runs the test and the mitigations, writes and returns the result; the other
    ranks return ``None``.

    Raises
    ------
    DataError
        When the manifest leaves fewer than two classes, an empty split, or no task column.
    ConfigError
        For bad settings (checked by :class:`ShortcutConfig` before any training).
    """
    ctx = launch_context()
    c = _rank_config(config, ctx)
    out = Path(c.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    ready = out / "models" / _READY
    # rank 0 builds the image cache; the others then open the finished one. The marker names
    # this launch, so one left by an interrupted launch is not taken for this one's
    launch = {"run_id": os.environ.get("TORCHELASTIC_RUN_ID", ""),
              "master": f"{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}"}
    if not ctx.is_main:
        while not (ready.exists() and json.loads(ready.read_text(encoding="utf-8")).get("launch") == launch):
            time.sleep(_POLL_S)
    run = _Run(c)
    if ctx.is_main and ctx.world_size > 1:
        atomic_write_json(ready, {"launch": launch, "fingerprint": run.data.summary.fingerprint})
    training: dict[str, Any] = {}
    models = _sweep(run, training, ctx)
    if not ctx.is_main:
        return None
    if ready.exists():
        ready.unlink()
    if c.sweep_only:
        log.info("sweep only: %d models in %s", len(models), out / "models")
        return None
    test = shortcut_test([m.point() for m in models], min_task_auc=c.min_task_auc, n_boot=c.n_boot,
                         n_permutations=c.n_permutations, seed=c.seed)
    erm = fit.train_erm(run.data, c, seed=c.seed)
    training["erm"] = erm.summary
    erm_ev = run.evaluate("erm", erm, seed=c.seed)
    race_model = fit.train_race_model(run.data, c, seed=c.seed, race_codes=run.race_codes,
                                      race_classes=run.race_classes)
    training["race_model"] = race_model.summary
    chosen = select_models(models, min_task_auc=c.min_task_auc)
    mitigations: list[dict[str, Any]] = []
    for name in c.mitigations:
        if name == "erm":
            mitigations.append(_row("erm", erm_ev))
        elif name == "resample":
            t = fit.train_resampled(run.data, c, seed=c.seed, groups=run.groups)
            training["resample"] = t.summary
            mitigations.append(_row("resample", run.evaluate("resample", t, seed=c.seed)))
        elif name == "groupdro":
            t = fit.train_groupdro(run.data, c, seed=c.seed, groups=run.groups,
                                   n_groups=2 * len(run.race_classes))
            training["groupdro"] = t.summary
            mitigations.append(_row("groupdro", run.evaluate("groupdro", t, seed=c.seed)))
        elif name == "dann" and "dann" in chosen:
            mitigations.append(_row("dann", chosen["dann"], selected=chosen["dann"].name))
        elif name == "split":
            probs = fit.retrain_last_layer(erm.features, run.data, c, seed=c.seed, groups=run.groups)
            ev = run.evaluate("split", None, probs=probs, seed=c.seed,
                              encoding=(erm_ev.encoding_auc, erm_ev.val_encoding))
            mitigations.append(_row("split", ev))
    for name in ("least_encoding", "least_val_gap"):
        mitigations.append(_row(f"select:{name}", chosen[name], selected=chosen[name].name))
    result = ShortcutResult(
        task=c.task, gap_metric=c.gap, threshold_rule=c.threshold, modality="imaging",
        models=[m.to_dict() for m in models], test=test, mitigations=mitigations,
        data=run.data.summary.to_dict(), config=c.to_dict(),
        extras={"encoding_bounds": _bounds(run, erm, race_model), "test_set": run.test_set,
                "classes": run.race_classes, "training": training,
                "split_sizes": {s: int((run.data.split == s).sum()) for s in ("train", "val", "test")}})
    result.write(out)
    from racelens.imaging.shortcut.plots import write_plot

    write_plot(result, out / "shortcut.png")
    log.info("shortcut test: rho %.3f, p %.3g (%d models): %s", test.spearman, test.p_value,
             test.n_models, test.verdict)
    return result
