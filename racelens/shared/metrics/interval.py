"""Macro and per-group AUC with intervals (patient bootstrap or DeLong), as a typed block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from racelens.errors import ConfigError
from racelens.shared.metrics.auc import ABSENT_NOTE, as_matrix, point_aucs, present_groups
from racelens.shared.metrics.bootstrap import bootstrap_aucs
from racelens.shared.metrics.delong import normal_ci, ovr_delong
from racelens.shared.metrics.estimate import AUCBlock, Estimate

__all__ = ["auc_with_ci"]


def auc_with_ci(
    y_true: Any,
    y_score: Any,
    classes: Sequence[str],
    *,
    patient_ids: Any | None = None,
    method: Literal["bootstrap", "delong"] = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> AUCBlock:
    """Macro and per-group AUC with intervals: a condition's ``auc`` block.

    Returns
    -------
    AUCBlock
        ``macro`` and ``per_group`` estimates with intervals (``to_dict()`` is the block of
        ``result.json``); a group absent from ``y_true`` gets ``None`` values and a ``note``,
        and the macro estimate then notes how many groups it averages.

    Raises
    ------
    LabelError
        One group only in ``y_true``, or labels not in ``classes``.
    ConfigError
        Shapes that do not match, or an unknown ``method`` / bad ``level`` / ``n_boot``.
    """
    if method not in ("bootstrap", "delong"):
        raise ConfigError(f"method must be 'bootstrap' or 'delong', got {method!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    codes, scores = as_matrix(y_true, y_score, classes)
    present = present_groups(codes, classes)
    if method == "delong":
        aucs, cov = ovr_delong(codes, scores, present, patient_ids)
        k = len(present)
        lows_highs = [normal_ci(a, cov[i, i], level) for i, a in enumerate(aucs)]
        macro = float(aucs.mean())
        macro_ci = normal_ci(macro, float(cov.sum()) / k**2, level)
    else:
        if n_boot < 1:
            raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
        aucs = point_aucs(codes, scores, present)
        boot = bootstrap_aucs(codes, scores, present, patient_ids, n_boot, seed)
        q = [(1 - level) / 2, (1 + level) / 2]
        per_q = np.nanquantile(boot, q, axis=0)
        lows_highs = [(float(per_q[0, i]), float(per_q[1, i])) for i in range(len(present))]
        macro = float(aucs.mean())
        mq = np.nanquantile(boot.mean(axis=1), q)
        macro_ci = (float(mq[0]), float(mq[1]))
    per_group = {str(c): Estimate(None, note=ABSENT_NOTE) for c in classes}
    for i, j in enumerate(present):
        per_group[str(classes[j])] = Estimate(float(aucs[i]), *lows_highs[i])
    note = (f"mean over the {len(present)} groups present in the test set"
            if len(present) < len(classes) else None)
    return AUCBlock(Estimate(macro, *macro_ci, note=note), per_group)
