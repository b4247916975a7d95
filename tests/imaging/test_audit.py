"""The imaging audit end to end on small synthetic radiographs with a planted race texture."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _image_fixtures import synthetic_manifest

from racelens.errors import ConfigError, ImageLoadError
from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
from racelens.imaging.synthetic import ImageSignal
from racelens.shared.results import AuditResult, Condition

SIZE = 32


def make_manifest(root: Path, strength: float, *, n_patients: int = 160, corrupt: int = 0,
                  permute: bool = False) -> Path:
    """~380 samples of 32 px with a mid-band texture per group; ``corrupt`` files made unreadable;
    ``permute`` reassigns race labels across patients (no information left in the images)."""
    return synthetic_manifest(root, ImageSignal(band="mid", strength=strength), size=SIZE,
                              n_patients=n_patients, seed=0, permute_seed=1 if permute else None,
                              corrupt=corrupt)


@pytest.fixture(scope="module")
def signal_manifest(tmp_path_factory) -> Path:
    return make_manifest(tmp_path_factory.mktemp("signal"), strength=2.0, corrupt=1)


@pytest.fixture(scope="module")
def null_manifest(tmp_path_factory) -> Path:
    return make_manifest(tmp_path_factory.mktemp("null"), strength=0.0, permute=True)


def _config(manifest: Path, out: Path, **kw) -> ImagingAuditConfig:
    base = dict(manifest=manifest, out=out, size=SIZE, epochs=8, batch_size=32, lr=3e-3, seed=0,
                n_boot=200, device="cpu", progress=False, cache_dir=manifest.parent / "cache")
    base.update(kw)
    return ImagingAuditConfig(**base)


def test_audit_learns_planted_signal_and_accounts_for_every_row(signal_manifest, tmp_path):
    conds = (Condition("lowpass", {"radius": 4}), Condition("lowpass", {"radius": 20}))
    res = run_imaging_audit(_config(signal_manifest, tmp_path / "run", conditions=conds))
    original = res.condition("original")
    assert original.auc.macro.estimate > 0.9
    assert original.p_value_vs_chance < 1e-6
    # the texture is at 14 cycles/image: a radius-4 low-pass removes it, radius 20 keeps it
    assert res.condition("lowpass", radius=4).auc.macro.estimate < 0.7
    assert res.condition("lowpass", radius=20).auc.macro.estimate > 0.9

    table = pd.read_csv(signal_manifest.parent / "table.csv")
    d = res.data
    assert d.n_samples + sum(d.excluded.values()) + len(d.skipped) == len(table)
    assert len(d.skipped) == 1 and d.skipped[0].reason
    assert set(d.groups) == {"Asian", "Black", "White"}

    run = tmp_path / "run"
    for name in ("result.json", "predictions.parquet", "roc.png", "auc_vs_strength.png",
                 "model.pt", "splits.parquet"):
        assert (run / name).stat().st_size > 0
    back = AuditResult.read(run)
    assert back.modality == "imaging" and back.to_dict() == res.to_dict()
    preds = pd.read_parquet(run / "predictions.parquet")
    assert len(preds) == 3 * original.n_test
    assert list(preds.columns) == ["sample_id", "patient_id", "condition", "split", "y_true",
                                   "p_Asian", "p_Black", "p_White"]
    np.testing.assert_allclose(preds[["p_Asian", "p_Black", "p_White"]].sum(axis=1), 1.0, rtol=1e-5)
    roc = original.extras["roc"]
    assert set(roc) == {"Asian", "Black", "White"}
    assert all(len(c["fpr"]) <= 101 and c["fpr"][0] == 0.0 and c["tpr"][-1] == 1.0 for c in roc.values())
    assert res.condition("lowpass", radius=4).extras["strength"] == 4.0


def test_negative_control_interval_contains_chance(null_manifest, tmp_path):
    res = run_imaging_audit(_config(null_manifest, tmp_path / "run", epochs=4))
    macro = res.condition("original").auc.macro
    assert macro.contains(0.5), macro


def test_resume_after_interruption_equals_uninterrupted(signal_manifest, tmp_path):
    # retrain mode with a random perturbation: its noise must resume exactly as well
    kw = dict(patience=5, mode="retrain", conditions=(Condition("gaussian_noise", {"sigma": 0.05}),))
    straight = run_imaging_audit(_config(signal_manifest, tmp_path / "a", epochs=3, **kw))
    # an interrupted run: its checkpoints stop at epoch 2; resuming finishes epoch 3
    run_imaging_audit(_config(signal_manifest, tmp_path / "b", epochs=2, **kw))
    resumed = run_imaging_audit(_config(signal_manifest, tmp_path / "b", epochs=3, resume=True, **kw))
    assert {t["resumed_from_epoch"] for t in resumed.extras["training"].values()} == {2}
    pa = pd.read_parquet(tmp_path / "a" / "predictions.parquet")
    pb = pd.read_parquet(tmp_path / "b" / "predictions.parquet")
    pd.testing.assert_frame_equal(pa, pb)
    assert [c.to_dict() for c in straight.conditions] == [c.to_dict() for c in resumed.conditions]


def test_retrain_mode_trains_a_model_per_condition(signal_manifest, tmp_path):
    cond = Condition("lowpass", {"radius": 4})
    cfg = _config(signal_manifest, tmp_path / "retrain", epochs=3, conditions=(cond,), mode="retrain")
    retrain = run_imaging_audit(cfg)
    test = run_imaging_audit(replace(cfg, out=tmp_path / "test", mode="test"))
    assert set(retrain.extras["training"]) == {"original", "lowpass(radius=4)"}
    assert set(test.extras["training"]) == {"original"}
    assert sorted(p.name for p in (tmp_path / "retrain" / "train").iterdir()) == [
        "lowpass_radius=4_", "original"]
    # same clean model, so `original` agrees; the perturbed condition comes from another model
    assert retrain.condition("original").auc == test.condition("original").auc
    p_re = pd.read_parquet(tmp_path / "retrain" / "predictions.parquet")
    p_te = pd.read_parquet(tmp_path / "test" / "predictions.parquet")
    low = p_re["condition"] == "lowpass(radius=4)"
    assert not np.allclose(p_re.loc[low, "p_Asian"], p_te.loc[low, "p_Asian"])
    assert retrain.condition("lowpass", radius=4).extras["mode"] == "retrain"


def test_disease_task_reports_subgroup_error_rates(signal_manifest, tmp_path):
    res = run_imaging_audit(_config(signal_manifest, tmp_path / "task", epochs=2, task="No Finding"))
    assert res.extras["classes"] == ["negative", "positive"]
    fair = res.condition("original").extras["fairness"]
    assert set(fair["by_group"]) == {"Asian", "Black", "White"}
    assert {"tpr", "fpr", "underdiagnosis_rate"} <= set(fair["by_group"]["Black"])
    assert 0.0 <= fair["threshold"] <= 1.0
    json.dumps(res.to_dict())  # JSON-ready


def test_strict_stops_at_the_unreadable_file(signal_manifest, tmp_path):
    with pytest.raises(ImageLoadError) as err:
        run_imaging_audit(_config(signal_manifest, tmp_path / "strict", strict=True,
                                  cache_dir=tmp_path / "cache"))
    assert err.value.path.endswith(".png")


def test_prepare_data_recollapse_and_task_account_for_every_row(signal_manifest):
    from racelens.imaging.audit.data import prepare_data

    n_rows = len(pd.read_csv(signal_manifest.parent / "table.csv"))
    bw = prepare_data(signal_manifest, collapse="bw", images=False)
    assert bw.classes == ["Black", "White"]
    assert set(bw.table["race"]) == {"Black", "White"}
    asian_raw = {r for r in pd.read_parquet(signal_manifest)["race_raw"] if "ASIAN" in str(r)}
    assert asian_raw and asian_raw <= set(bw.summary.excluded)
    assert bw.summary.n_input_rows == n_rows

    table = pd.read_parquet(signal_manifest)
    task = prepare_data(signal_manifest, task="No Finding", images=False)
    assert task.classes == ["negative", "positive"]
    np.testing.assert_array_equal(
        task.labels, table.set_index("sample_id").loc[task.table["sample_id"], "No Finding"].to_numpy())
    assert task.summary.n_input_rows == n_rows
    # the split is by patient: no patient in two splits
    assert (task.table.assign(split=task.split).groupby("patient_id")["split"].nunique() == 1).all()


def test_bad_threshold_rule_fails_before_training(tmp_path):
    from racelens.imaging.audit.run import ImagingAuditConfig

    with pytest.raises(ConfigError, match="threshold rule 'fpr=2'"):
        ImagingAuditConfig(manifest=tmp_path / "m.parquet", out=tmp_path / "run", task="No Finding",
                           threshold="fpr=2")
