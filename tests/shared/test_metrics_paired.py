"""The paired macro-AUC DeLong test against DeLong's binary test and its own symmetries."""

from __future__ import annotations

import numpy as np
import pytest

from racelens.shared.metrics import delong_test, macro_auc
from racelens.shared.metrics.paired import paired_macro_auc_test

CLASSES = ["A", "B", "C"]


def _data(seed: int = 0, n: int = 150):
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, n)
    signal = np.eye(3)[[CLASSES.index(v) for v in y]]
    return y, signal + rng.normal(0, 1.0, (n, 3)), signal + rng.normal(0, 2.0, (n, 3))


def test_per_group_is_delongs_paired_test_and_macro_is_the_mean():
    y, a, b = _data()
    out = paired_macro_auc_test(y, a, b, CLASSES)
    for j, g in enumerate(CLASSES):
        diff, p = delong_test(y == g, a[:, j], b[:, j])
        assert out["per_group"][g]["difference"] == pytest.approx(diff, abs=1e-12)
        assert out["per_group"][g]["p_value"] == pytest.approx(p, abs=1e-12)
    assert out["macro_a"] == pytest.approx(macro_auc(y, a, CLASSES), abs=1e-12)
    assert out["macro_b"] == pytest.approx(macro_auc(y, b, CLASSES), abs=1e-12)
    assert out["difference"] == pytest.approx(out["macro_a"] - out["macro_b"], abs=1e-12)
    assert out["p_value"] < 0.05  # the noisier scorer is clearly worse on 150 samples


def test_symmetric_and_identical_scorers():
    y, a, b = _data(1)
    ab, ba = paired_macro_auc_test(y, a, b, CLASSES), paired_macro_auc_test(y, b, a, CLASSES)
    assert ab["difference"] == pytest.approx(-ba["difference"]) and ab["p_value"] == pytest.approx(
        ba["p_value"])
    same = paired_macro_auc_test(y, a, a, CLASSES)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0


def test_patients_cluster_the_variance():
    y, a, b = _data(2, 40)
    # each sample twice, as two samples of one patient: the point estimates stay, and the
    # clustered variance matches the unclustered one of the original samples (same p-value)
    y2, a2, b2 = np.repeat(y, 2), np.repeat(a, 2, axis=0), np.repeat(b, 2, axis=0)
    once = paired_macro_auc_test(y, a, b, CLASSES)
    twice = paired_macro_auc_test(y2, a2, b2, CLASSES, patient_ids=np.repeat(np.arange(40), 2))
    naive = paired_macro_auc_test(y2, a2, b2, CLASSES)
    assert twice["difference"] == pytest.approx(once["difference"], abs=1e-12)
    assert naive["p_value"] < twice["p_value"]  # duplicates treated as independent: too sure
