"""Settings of ``racelens imaging shortcut`` (one frozen config object for the command)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from racelens.errors import ConfigError
from racelens.shared.shortcut_eval import GAP_METRICS, parse_threshold

__all__ = ["MITIGATIONS", "DEFAULT_SCALES", "ShortcutConfig"]

MITIGATIONS: tuple[str, ...] = ("erm", "resample", "groupdro", "dann", "split")
DEFAULT_SCALES: tuple[float, ...] = (-1.0, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0)


@dataclass(frozen=True, kw_only=True)
class ShortcutConfig:
    """Everything ``racelens imaging shortcut`` needs.

    Parameters
    ----------
    manifest, out, task
        The manifest, the run directory and the 0/1 disease column (as ``imaging audit --task``).
    arch, weights, size, epochs, batch_size, lr, patience
        Backbone and training settings of every model (see ``imaging audit``).
    scales
        Gradient-reversal coefficients λ of the sweep (λ > 0 removes race information).
    seeds, seed
        Models per scale, seeded ``seed, seed + 1, ...``; ``seed`` also seeds the split, probes
        and bootstraps.
    race_weight
        Weight of the race head's cross-entropy in the sweep's loss.
    gap, threshold
        Fairness gap metric (``fpr``, ``tpr``, ``underdiagnosis``, ``auc``) and the threshold
        rule chosen on validation (``max_f1``, ``youden``, ``fpr=X``).
    min_task_auc
        Models below this test task AUC are left out of the shortcut test.
    resample_test
        ``balanced``: gaps on a race-balanced test subset with equal prevalence and age bins.
    mitigations
        Any of ``erm``, ``resample``, ``groupdro``, ``dann``, ``split``.
    n_boot, n_permutations
        Bootstrap resamples of every interval; permutations of the test's p-value.
    sweep_only
        Train and score the sweep's models into ``out/models`` and stop (no test, bounds or
        mitigations): how one of several GPU processes takes its share of the scales.
    """

    manifest: Path
    out: Path
    task: str
    arch: str = "small_cnn"
    weights: Path | None = None
    size: int = 224
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    patience: int = 3
    scales: Sequence[float] = DEFAULT_SCALES
    seeds: int = 5
    seed: int = 0
    race_weight: float = 0.75
    gap: Literal["fpr", "tpr", "underdiagnosis", "auc"] = "fpr"
    threshold: str = "max_f1"
    min_task_auc: float = 0.7
    resample_test: Literal["none", "balanced"] = "none"
    mitigations: Sequence[str] = MITIGATIONS
    n_boot: int = 1000
    n_permutations: int = 9999
    collapse: str | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    workers: int = 1
    num_workers: int = 0
    strict: bool = False
    progress: bool = True
    sweep_only: bool = False

    def __post_init__(self) -> None:
        if not self.scales:
            raise ConfigError("--scales is empty; name at least one gradient-reversal coefficient")
        if len(set(self.scales)) != len(self.scales):
            raise ConfigError(f"--scales repeats a value: {list(self.scales)}")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {self.seeds}")
        if self.race_weight < 0:
            raise ConfigError(f"--race-weight must be >= 0, got {self.race_weight}")
        if self.gap not in GAP_METRICS:
            raise ConfigError(f"--gap must be one of {', '.join(GAP_METRICS)}, got {self.gap!r}")
        parse_threshold(self.threshold)
        if self.resample_test not in ("none", "balanced"):
            raise ConfigError(f"--resample-test must be none or balanced, got {self.resample_test!r}")
        unknown = sorted(set(self.mitigations) - set(MITIGATIONS))
        if unknown:
            raise ConfigError(f"unknown mitigation(s) {unknown}; choose from {', '.join(MITIGATIONS)}")
        if self.size < 16 or self.n_boot < 0:
            raise ConfigError("size must be >= 16 pixels and n_boot >= 0")

    def to_dict(self) -> dict[str, Any]:
        """The ``config`` block of ``shortcut.json`` (paths as strings)."""
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            out[k] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, (tuple, list)) else v
        return out

    def model_key(self) -> dict[str, Any]:
        """What a trained model depends on: a saved model evaluation is reused only if it matches."""
        keep = ("manifest", "task", "arch", "weights", "size", "epochs", "batch_size", "lr",
                "patience", "seed", "race_weight", "gap", "threshold", "resample_test", "n_boot",
                "collapse")
        d = self.to_dict()
        return {k: d[k] for k in keep}
