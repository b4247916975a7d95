"""`racelens imaging audit|baseline|probe` through the root entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from racelens.cli.main import main
from racelens.imaging.synthetic import ImageSignal, synthetic_images, write_png_manifest
from racelens.shared.results import AuditResult
from racelens.shared.synthetic import synthetic_patients


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    patients = synthetic_patients(120, seed=3)
    images = synthetic_images(patients, size=32, signal=ImageSignal(band="mid", strength=2.0), seed=3)
    manifest = write_png_manifest(root, patients, images)
    (root / "img/0.png").write_bytes(b"")  # an empty file: skipped, not dropped silently
    return manifest


def _rows(manifest: Path) -> int:
    return len(pd.read_csv(manifest.parent / "table.csv"))


def test_audit_then_probe(manifest, tmp_path, capsys):
    run = tmp_path / "run"
    main(["imaging", "audit", "--manifest", str(manifest), "--out", str(run), "--size", "32",
          "--epochs", "3", "--lr", "3e-3", "--seed", "0", "--condition", "lowpass:radius=4,20",
          "--condition", "gaussian_noise:sigma=0.1", "--n-boot", "100", "--device", "cpu",
          "--no-progress"])
    out = capsys.readouterr().out
    for label in ("original", "lowpass(radius=4)", "lowpass(radius=20)", "gaussian_noise(sigma=0.1)"):
        assert label in out
    res = AuditResult.read(run)
    assert res.modality == "imaging"
    assert [c.condition.label for c in res.conditions] == [
        "original", "lowpass(radius=4)", "lowpass(radius=20)", "gaussian_noise(sigma=0.1)"]
    assert res.config["conditions"] == ["lowpass(radius=4)", "lowpass(radius=20)",
                                        "gaussian_noise(sigma=0.1)"]
    assert res.data.n_input_rows == _rows(manifest)
    assert len(res.data.skipped) == 1
    # stdout holds aggregates only: no sample or patient identifier
    preds = pd.read_parquet(run / "predictions.parquet")
    assert not any(str(s) in out for s in preds["sample_id"].head(20))

    probe_run = tmp_path / "probe"
    main(["imaging", "probe", "--run", str(run), "--manifest", str(manifest), "--out",
          str(probe_run), "--device", "cpu", "--n-boot", "100"])
    probe = AuditResult.read(probe_run)
    assert probe.extras["kind"] == "feature_probe" and probe.extras["n_features"] == 128
    assert probe.data.n_input_rows == _rows(manifest)
    assert probe.conditions[0].auc.macro.estimate > 0.5
    # the probe reused the run's split: same test patients
    split = pd.read_parquet(run / "splits.parquet")
    assert probe.conditions[0].n_test == int((split["split"] == "test").sum())


def test_covariate_baseline(manifest, tmp_path, capsys):
    out = tmp_path / "base"
    main(["imaging", "baseline", "--manifest", str(manifest), "--features", "age,sex,bmi",
          "--out", str(out), "--n-boot", "100"])
    assert "original" in capsys.readouterr().out
    res = AuditResult.read(out)
    assert res.modality == "covariates"
    assert res.extras["features"] == ["age", "sex", "bmi"]
    assert res.data.n_input_rows == _rows(manifest)
    macro = res.conditions[0].auc.macro.estimate
    assert 0.3 < macro < 0.85  # weak links only; nowhere near the image model


def test_errors_are_one_line_and_exit_2(manifest, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["imaging", "audit", "--manifest", str(manifest), "--out", str(tmp_path / "x"),
              "--condition", "lowpass:diameter=3", "--device", "cpu"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lowpass" in err[0] and "radius" in err[0]

    with pytest.raises(SystemExit) as exc:
        main(["imaging", "audit", "--manifest", str(manifest), "--out", str(tmp_path / "y"),
              "--size", "32", "--strict", "--device", "cpu", "--cache-dir", str(tmp_path / "c"),
              "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "img/0.png" in err[0]

    with pytest.raises(SystemExit) as exc:
        main(["imaging", "baseline", "--manifest", str(manifest), "--features", "shoe_size",
              "--out", str(tmp_path / "z")])
    assert exc.value.code == 2
    assert "shoe_size" in capsys.readouterr().err


def test_baseline_counts_rows_with_a_missing_covariate(manifest, tmp_path):
    import shutil

    from racelens.imaging.audit.baselines import CovariateBaselineConfig, run_covariate_baseline

    table = pd.read_parquet(manifest)
    table.loc[table.index[:5], "bmi"] = np.nan
    holed = tmp_path / "manifest.parquet"
    table.to_parquet(holed, index=False)
    shutil.copy(manifest.with_suffix(".json"), holed.with_suffix(".json"))
    res = run_covariate_baseline(CovariateBaselineConfig(holed, tmp_path / "b", ("age", "bmi"),
                                                         n_boot=50))
    assert res.data.excluded["missing bmi"] == 5
    assert res.data.n_samples == len(table) - 5
    assert res.data.n_input_rows == _rows(manifest)


def test_cache_command_builds_what_the_audit_reuses(manifest, tmp_path, capsys):
    cache_dir = tmp_path / "shared-cache"
    main(["imaging", "cache", "--manifest", str(manifest), "--cache-dir", str(cache_dir),
          "--size", "32", "--workers", "2", "--no-progress"])
    out = capsys.readouterr().out
    n = _rows(manifest)
    listed = len(pd.read_parquet(manifest))  # the manifest's rows (its exclusions are not images)
    assert f"cache: {listed - 1} images at 32 px, 1 skipped" in out
    assert "empty file" in out  # the reason is counted; the file is not named
    assert "img/0.png" not in out and "0.png" not in out
    built = [p for p in cache_dir.rglob("complete.json")]
    assert len(built) == 1
    images = built[0].parent / "images.npy"
    before = (images.stat().st_mtime_ns, built[0].read_bytes())

    run = tmp_path / "run"
    main(["imaging", "audit", "--manifest", str(manifest), "--out", str(run), "--size", "32",
          "--epochs", "1", "--cache-dir", str(cache_dir), "--n-boot", "50", "--device", "cpu",
          "--no-progress"])
    # the audit found the finished cache and decoded nothing: same files, no second cache
    assert (images.stat().st_mtime_ns, built[0].read_bytes()) == before
    assert list(cache_dir.rglob("complete.json")) == built
    assert not (run / "cache").exists()
    res = AuditResult.read(run)
    assert len(res.data.skipped) == 1 and res.data.n_input_rows == n


def test_shortcut_writes_shortcut_json_and_prints_aggregates(manifest, tmp_path, capsys):
    import json

    run = tmp_path / "shortcut"
    main(["imaging", "shortcut", "--manifest", str(manifest), "--task", "No Finding", "--out", str(run),
          "--size", "32", "--epochs", "1", "--scales", "0,1", "--seeds", "1", "--mitigations", "erm,dann",
          "--gap", "underdiagnosis", "--threshold", "fpr=0.2", "--min-task-auc", "0", "--n-boot", "20",
          "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert "shortcut test over 2 models" in out and "too few models" in out
    assert "erm" in out and "dann" in out and "P0" not in out  # aggregates only
    d = json.loads((run / "shortcut.json").read_text())
    assert d["gap_metric"] == "underdiagnosis" and d["threshold_rule"] == "fpr=0.2"
    assert [m["name"] for m in d["mitigations"]] == ["erm", "dann", "select:least_encoding",
                                                     "select:least_val_gap"]
    with pytest.raises(SystemExit) as exc:
        main(["imaging", "shortcut", "--manifest", str(manifest), "--task", "No Finding",
              "--out", str(run), "--gap", "ppv"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--gap must be one of fpr, tpr, underdiagnosis, auc" in err[0]


def test_audit_then_explain_and_its_report_section(manifest, tmp_path, capsys):
    from racelens.imaging.explain import read_explain

    run = tmp_path / "run"
    main(["imaging", "audit", "--manifest", str(manifest), "--out", str(run), "--size", "32",
          "--epochs", "3", "--lr", "3e-3", "--n-boot", "50", "--device", "cpu", "--no-progress"])
    capsys.readouterr()
    out = run / "explain"
    main(["imaging", "explain", "--run", str(run), "--manifest", str(manifest), "--out", str(out),
          "--grid", "2", "--bands", "3", "--methods", "gradcam,integrated_gradients",
          "--attribution-samples", "24", "--n-boot", "50", "--device", "cpu", "--no-progress"])
    printed = capsys.readouterr().out
    assert "necessary ring" in printed and "gradcam: randomised-weights rank correlation" in printed
    doc = read_explain(out)
    assert [a["method"] for a in doc["attribution"]] == ["gradcam", "integrated_gradients"]
    assert len(doc["bands"]) == 3 and len(doc["tiles"]["cells"]) == 4
    assert doc["extras"]["deletion_method"] == "gradcam"
    for name in ("spectrum.png", "tiles.png", "attribution.png", "deletion.png"):
        assert (out / name).stat().st_size > 0
    preds = pd.read_parquet(run / "predictions.parquet")
    assert not any(str(s) in printed for s in preds["sample_id"].head(20))

    html = tmp_path / "report.html"
    main(["report", str(run), "--out", str(html)])
    page = html.read_text(encoding="utf-8")
    assert "Where is the signal" in page and "necessary ring" in page

    # too few test images to average for an overlay: one line, exit 2
    with pytest.raises(SystemExit) as info:
        main(["imaging", "explain", "--run", str(run), "--manifest", str(manifest), "--out",
              str(tmp_path / "x"), "--overlay-mean-image", "--device", "cpu"])
    assert info.value.code == 2
    assert "needs at least 100 test images" in capsys.readouterr().err


def test_explain_retrain_mode_trains_a_model_per_ring(manifest, tmp_path, capsys):
    from racelens.imaging.explain import read_explain

    run = tmp_path / "run"
    main(["imaging", "audit", "--manifest", str(manifest), "--out", str(run), "--size", "32",
          "--epochs", "2", "--lr", "3e-3", "--n-boot", "20", "--device", "cpu", "--no-progress"])
    out = tmp_path / "explain"
    main(["imaging", "explain", "--run", str(run), "--manifest", str(manifest), "--out", str(out),
          "--mode", "retrain", "--band-edges", "0,10,23", "--grid", "1", "--methods", "gradcam",
          "--attribution-samples", "8", "--n-boot", "20", "--device", "cpu", "--no-progress"])
    doc = read_explain(out)
    assert doc["config"]["mode"] == "retrain"
    assert [(b["inner"], b["outer"]) for b in doc["bands"]] == [(0, 10), (10, 23)]
    # one checkpointed model per ring and question (kept alone, removed), like the audit's retrain
    trained = sorted(p.name for p in (out / "train").iterdir())
    assert len(trained) == 4 and all(n.startswith(("bandpass", "notch")) for n in trained)
    assert all(set(b["keep"]) == {"macro", "per_group"} for b in doc["bands"])
