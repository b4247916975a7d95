"""The p-value of a macro AUC against chance: DeLong's z-test or a patient permutation test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from racelens.errors import ConfigError
from racelens.shared.metrics.auc import (
    RankedScores,
    as_matrix,
    point_aucs,
    present_groups,
    weighted_auc,
)
from racelens.shared.metrics.bootstrap import BLOCK_ELEMENTS, patient_codes
from racelens.shared.metrics.delong import ovr_delong, z_p_value

__all__ = ["p_value_vs_chance"]


def p_value_vs_chance(
    y_true: Any,
    y_score: Any,
    classes: Sequence[str],
    *,
    method: Literal["delong", "permutation"] = "delong",
    patient_ids: Any | None = None,
    n_perm: int = 1000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of ``macro AUC == 0.5``.

    ``delong``: z-test of the macro AUC with the DeLong covariance of the one-vs-rest AUCs
    (clustered by patient when ``patient_ids`` is given). ``permutation``: the group labels are
    shuffled across patients (a patient keeps all its samples, with its first sample's group)
    ``n_perm`` times; ``p = (1 + #{|perm - 0.5| >= |observed - 0.5|}) / (n_perm + 1)``.
    """
    codes, scores = as_matrix(y_true, y_score, classes)
    present = present_groups(codes, classes)
    if method == "delong":
        aucs, cov = ovr_delong(codes, scores, present, patient_ids)
        return z_p_value(float(aucs.mean()) - 0.5, float(cov.sum()) / len(present) ** 2)
    if method != "permutation":
        raise ConfigError(f"method must be 'delong' or 'permutation', got {method!r}")
    if n_perm < 1:
        raise ConfigError(f"n_perm must be >= 1, got {n_perm}")
    observed = abs(float(point_aucs(codes, scores, present).mean()) - 0.5)
    pidx, n_pat = patient_codes(patient_ids, len(codes))
    first = np.full(n_pat, -1)
    first[pidx[::-1]] = codes[::-1]  # each patient's first sample's group
    ranked = [RankedScores.from_scores(scores[:, j]) for j in present]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_perm, BLOCK_ELEMENTS // len(codes)))
    hits = 0
    for start in range(0, n_perm, chunk):
        b = min(chunk, n_perm - start)
        perm = np.argsort(rng.random((b, n_pat)), axis=1)
        labels = first[perm][:, pidx]
        macro = np.zeros(b)
        for j, r in zip(present, ranked, strict=True):
            wp = (labels[:, r.order] == j).astype(float)
            macro += weighted_auc(wp, 1.0 - wp, r.starts)
        hits += int((np.abs(macro / len(present) - 0.5) >= observed - 1e-12).sum())
    return (1 + hits) / (n_perm + 1)
