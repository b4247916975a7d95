"""Paired comparison of two scorings of the same samples: macro one-vs-rest AUC, DeLong.

Two scorers (a model and a human reader, two models) rate the same samples; the difference of
their macro AUCs has a variance that accounts for the pairing, from the per-sample DeLong
influences of both (:func:`racelens.shared.metrics.delong.ovr_influence`), summed per patient when
``patient_ids`` is given. Per group, the same influences give the paired DeLong test of
:func:`racelens.shared.metrics.delong_test` (equal to it when each patient has one sample).

Example
-------
>>> y = ["A", "A", "B", "B", "C", "C"]
>>> a = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]
>>> round(paired_macro_auc_test(y, a, a, ["A", "B", "C"])["difference"], 3)
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from racelens.errors import ConfigError
from racelens.shared.metrics.auc import as_matrix, present_groups
from racelens.shared.metrics.delong import ovr_influence, z_p_value

__all__ = ["paired_macro_auc_test"]


def paired_macro_auc_test(y_true: Any, score_a: Any, score_b: Any, classes: Sequence[str], *,
                          patient_ids: Any | None = None) -> dict[str, Any]:
    """Two-sided paired DeLong test of ``macro AUC(score_a) == macro AUC(score_b)``.

    Parameters
    ----------
    y_true
        Group name per sample.
    score_a, score_b
        ``n x len(classes)`` scores of the same samples, columns in the order of ``classes``.
    classes
        Group names.
    patient_ids
        Patient per sample: influences are summed per patient (clustered variance).

    Returns
    -------
    dict
        ``macro_a``, ``macro_b``, ``difference`` (a - b), ``p_value``, and ``per_group``:
        ``{G: {"auc_a", "auc_b", "difference", "p_value"}}`` for the groups present.
    """
    codes, a = as_matrix(y_true, score_a, classes)
    codes_b, b = as_matrix(y_true, score_b, classes)
    if a.shape != b.shape:
        raise ConfigError(f"score_a has shape {a.shape} and score_b {b.shape}; pass the same samples")
    present = present_groups(codes, classes)
    aucs_a, phi_a = ovr_influence(codes, a, present, patient_ids)
    aucs_b, phi_b = ovr_influence(codes_b, b, present, patient_ids)
    d = phi_a - phi_b
    cov = d.T @ d
    k = len(present)
    diff = float(aucs_a.mean() - aucs_b.mean())
    per_group = {
        str(classes[j]): {"auc_a": float(aucs_a[i]), "auc_b": float(aucs_b[i]),
                          "difference": float(aucs_a[i] - aucs_b[i]),
                          "p_value": z_p_value(float(aucs_a[i] - aucs_b[i]), float(cov[i, i]))}
        for i, j in enumerate(present)}
    return {"macro_a": float(aucs_a.mean()), "macro_b": float(aucs_b.mean()),
            "difference": diff, "p_value": z_p_value(diff, float(cov.sum()) / k**2),
            "per_group": per_group}
