"""Race-prediction AUCs: one-vs-rest per group, macro, intervals and tests against chance.

One concept per module: :mod:`~racelens.shared.metrics.auc` (point AUCs, ranked scores and the
weighted Mann-Whitney statistic), :mod:`~racelens.shared.metrics.bootstrap` (the stratified
patient bootstrap), :mod:`~racelens.shared.metrics.delong` (DeLong's variance, covariance,
interval and test), :mod:`~racelens.shared.metrics.interval` (:func:`auc_with_ci`),
:mod:`~racelens.shared.metrics.permutation` (:func:`p_value_vs_chance`),
:mod:`~racelens.shared.metrics.estimate` (the typed :class:`Estimate` and :class:`AUCBlock`
they return); :mod:`~racelens.shared.metrics.fairness` (subgroup error rates and gaps) and
:mod:`~racelens.shared.metrics.probe` (linear probes) are imported as submodules.

A group listed in ``classes`` but absent from ``y_true`` has no AUC: :func:`auc_per_group`
gives ``nan``, :func:`auc_with_ci` an :class:`Estimate` of ``None`` with a note, and the macro
AUC averages the groups present (a warning is logged).
"""

from __future__ import annotations

from racelens.shared.metrics.auc import (
    ABSENT_NOTE,
    RankedScores,
    auc_per_group,
    macro_auc,
    weighted_auc,
)
from racelens.shared.metrics.bootstrap import patient_bootstrap_counts, patient_codes
from racelens.shared.metrics.delong import (
    delong_ci,
    delong_covariance,
    delong_test,
    delong_variance,
)
from racelens.shared.metrics.estimate import AUCBlock, Estimate
from racelens.shared.metrics.interval import auc_with_ci
from racelens.shared.metrics.permutation import p_value_vs_chance

__all__ = [
    "ABSENT_NOTE",
    "Estimate",
    "AUCBlock",
    "auc_per_group",
    "macro_auc",
    "auc_with_ci",
    "delong_variance",
    "delong_covariance",
    "delong_ci",
    "delong_test",
    "p_value_vs_chance",
    "RankedScores",
    "weighted_auc",
    "patient_codes",
    "patient_bootstrap_counts",
]
