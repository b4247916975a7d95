"""``racelens imaging shortcut`` end to end on small synthetic radiographs.

The cohort: two groups; a 0/1 finding drawn as a faint focal opacity; a group texture that is
easier to see than the finding. With the finding more prevalent in one group, race is a shortcut
to the finding. The full known-answer sweep is opt-in (``pytest -m known_answer``); the default
suite runs a tiny sweep whose assertions still hold exactly (accounting, schema, selection on
validation only, the swap regression).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from racelens.errors import ConfigError, SplitError
from racelens.imaging.shortcut import ShortcutConfig, run_shortcut
from racelens.imaging.synthetic import (
    FindingSignal,
    ImageSignal,
    synthetic_images,
    write_png_manifest,
)
from racelens.shared.resample import EvalSets
from racelens.shared.shortcut import SHORTCUT_SCHEMA, ShortcutResult
from racelens.shared.shortcut_eval import RowsInfo, evaluate_model
from racelens.shared.synthetic import plant_finding, synthetic_patients

SIZE = 32
SHIFTED = {"Black": 0.2, "White": 0.6}
EQUAL = {"Black": 0.4, "White": 0.4}


def make_manifest(helpers, root: Path, prevalence: dict[str, float], *, n_patients: int,
                  race_strength: float = 0.2, finding_strength: float = 0.5) -> Path:
    patients = synthetic_patients(n_patients, seed=0, groups=("Black", "White"), group_probs=(0.5, 0.5),
                                  other_fraction=0.02, samples_per_patient=(1, 2))
    patients = plant_finding(patients, prevalence=prevalence, seed=0)
    images = synthetic_images(patients, size=SIZE, seed=0,
                              signal=ImageSignal(band="mid", strength=race_strength),
                              finding=FindingSignal(strength=finding_strength))
    return write_png_manifest(root, patients, images)


def _config(manifest: Path, out: Path, **kw) -> ShortcutConfig:
    base = dict(manifest=manifest, out=out, task="Finding", size=SIZE, epochs=2, batch_size=32, lr=3e-3,
                patience=10, scales=(-1.0, 0.0, 1.0), seeds=1, seed=0, n_boot=50, n_permutations=999,
                min_task_auc=0.0, device="cpu", progress=False, cache_dir=manifest.parent / "cache")
    base.update(kw)
    return ShortcutConfig(**base)


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory, helpers) -> Path:
    return make_manifest(helpers, tmp_path_factory.mktemp("tiny"), SHIFTED, n_patients=90)


def test_tiny_sweep_writes_the_schema_and_accounts_for_every_row(tiny_manifest, tmp_path):
    res = run_shortcut(_config(tiny_manifest, tmp_path / "run", resample_test="balanced"))
    d = json.loads((tmp_path / "run" / "shortcut.json").read_text())
    assert d["schema"] == SHORTCUT_SCHEMA and d["task"] == "Finding"
    assert d["gap_metric"] == "fpr" and d["threshold_rule"] == "max_f1"
    assert [(m["scale"], m["seed"]) for m in d["models"]] == [(-1.0, 0), (0.0, 0), (1.0, 0)]
    for m in d["models"] + d["mitigations"]:
        assert set(m["task_auc"]) == {"macro", "per_group"}
        assert set(m["encoding_auc"]["per_group"]) == {"Black", "White"}
        assert set(m["gap"]) == {"estimate", "ci_low", "ci_high"}
        assert 0.0 <= m["gap"]["estimate"] <= 1.0
    assert [m["name"] for m in d["mitigations"]] == [
        "erm", "resample", "groupdro", "dann", "split", "select:least_encoding", "select:least_val_gap"]
    assert d["mitigations"][3]["selected"] == "scale=1,seed=0"  # the one λ > 0 model
    # λ = 0 lets no race gradient into the backbone: the λ = 0 model is the ERM model, exactly
    erm, zero = d["mitigations"][0], d["models"][1]
    assert [erm[k] for k in ("task_auc", "encoding_auc", "gap")] == [
        zero[k] for k in ("task_auc", "encoding_auc", "gap")]
    # SPLIT keeps the ERM backbone: the same features, the same encoding
    assert d["mitigations"][4]["encoding_auc"] == d["mitigations"][0]["encoding_auc"]
    assert d["test"]["n_models"] == 3 and d["test"]["verdict"] == "too few models"
    # every manifest row is used, excluded or skipped; every test row kept or dropped, counted
    table_rows = len(__import__("pandas").read_csv(tiny_manifest.parent / "table.csv"))
    data = d["data"]
    assert data["n_samples"] + sum(data["excluded"].values()) + len(data["skipped"]) == table_rows
    ts = d["extras"]["test_set"]
    assert ts["kept"] + ts["dropped_to_balance"] + ts["dropped_missing_age"] == ts["n_rows"]
    assert ts["n_rows"] == d["extras"]["split_sizes"]["test"]
    assert len(set(ts["per_group"].values())) == 1  # race-balanced
    assert len({round(v, 9) for v in ts["prevalence"].values()}) == 1  # equal prevalence
    lower = d["extras"]["encoding_bounds"]["lower"]["auc"]["macro"]
    assert lower["ci_low"] <= 0.5 + 0.2  # shuffled labels: near chance
    assert (tmp_path / "run" / "shortcut.png").stat().st_size > 0
    assert ShortcutResult.read(tmp_path / "run").to_dict()["models"] == d["models"]
    assert res.test.n_models == 3
    # the report draws the registered section from the run folder (shortcut.json only)
    from racelens.shared.report.build import build_report

    payload = build_report([tmp_path / "run"])
    section = next(s for s in payload["sections"] if s["key"] == "shortcut")
    card = section["cards"][0]
    assert dict(card["facts"])["verdict"] == "too few models"
    assert [r[0] for r in card["tables"][0]["rows"]][:3] == ["erm", "resample", "groupdro"]
    assert card["figures"][0]["src"].startswith("data:image/svg+xml;base64,")
    assert payload["shortcut"][0]["test"] == d["test"]
    # racelens export copies the registered document (not the per-model store's cache)
    from racelens.shared.export import export_run

    summary = export_run(tmp_path / "run", tmp_path / "export")
    assert summary.copied.get("shortcut test") == 1
    assert json.loads((tmp_path / "export" / "shortcut.json").read_text())["test"] == d["test"]
    assert not (tmp_path / "export" / "cache").exists()

    # a rerun with one more scale reuses the three saved models and trains only the new one
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run" / "models").iterdir()}
    again = run_shortcut(_config(tiny_manifest, tmp_path / "run", scales=(-1.0, 0.0, 1.0, 0.5),
                                 mitigations=("erm",), resample_test="balanced"))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run" / "models").iterdir()
            if p.name in stamp} == stamp
    assert list(again.models)[:3] == d["models"] and len(again.models) == 4


def test_sets_cannot_be_swapped(tiny_manifest):
    """The anchor's bug: its notebook passed the validation set as the counterfactual set."""
    from racelens.imaging.audit.data import prepare_data

    data = prepare_data(tiny_manifest, size=SIZE, task="Finding", cache_dir=tiny_manifest.parent / "cache",
                        progress=False)
    race = data.table["race"].astype(str).to_numpy()
    rows = RowsInfo(task=data.labels, groups=race, patients=data.table["patient_id"].to_numpy(),
                    split=data.split, classes=("Black", "White"))
    right = EvalSets.from_split(data.split)
    right.check(data.split)
    swapped = EvalSets(val=right.test, test=right.val)
    with pytest.raises(SplitError, match="validation set holds .* of the \\['test'\\] split"):
        swapped.check(data.split)
    with pytest.raises(SplitError, match="counterfactual set must be a non-empty subset of the test"):
        EvalSets(val=right.val, test=right.test, counterfactual=right.val).check(data.split)
    rng = np.random.default_rng(0)
    probs = rng.random(len(data.labels))
    feats = rng.normal(size=(len(data.labels), 4))
    with pytest.raises(SplitError, match="were sets swapped"):
        evaluate_model(name="m", probs=probs, features=feats, rows=rows, sets=swapped, n_boot=0)
    with pytest.raises(TypeError):
        EvalSets(right.val, right.test)  # type: ignore[misc]  # keyword-only: no positional mix-ups
    ev = evaluate_model(name="m", probs=probs, features=feats, rows=rows, sets=right, n_boot=20)
    assert math.isfinite(ev.val_gap) and ev.gap.ci_low <= ev.gap.estimate <= ev.gap.ci_high


def test_config_refuses_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="unknown mitigation"):
        _config(tmp_path / "m.parquet", tmp_path, mitigations=("erm", "magic"))
    with pytest.raises(ConfigError, match="threshold must be max_f1, youden or fpr=X"):
        _config(tmp_path / "m.parquet", tmp_path, threshold="best")
    with pytest.raises(ConfigError, match="--gap must be one of"):
        _config(tmp_path / "m.parquet", tmp_path, gap="ppv")
    with pytest.raises(ConfigError, match="repeats a value"):
        _config(tmp_path / "m.parquet", tmp_path, scales=(0.0, 0.0))


KNOWN = dict(epochs=10, scales=(-1.0, -0.5, -0.2, 0.0, 0.2, 0.5), seeds=2, min_task_auc=0.6,
             n_boot=200, mitigations=("erm", "dann"))


def _known_manifest(helpers, root: Path, prevalence: dict[str, float], *,
                    finding_strength: float = 0.5) -> Path:
    patients = synthetic_patients(400, seed=0, groups=("Black", "White"), group_probs=(0.5, 0.5),
                                  other_fraction=0.0, samples_per_patient=(1, 2))
    patients = plant_finding(patients, prevalence=prevalence, seed=0)
    images = synthetic_images(patients, size=SIZE, seed=0, signal=ImageSignal(band="mid", strength=0.2),
                              finding=FindingSignal(strength=finding_strength))
    return write_png_manifest(root, patients, images)


@pytest.mark.known_answer
def test_known_answer_shortcut_when_the_finding_is_more_prevalent_in_one_group(tmp_path, helpers):
    """Finding prevalence 0.2 vs 0.6; race texture easier to see than the finding: the gap rises
    with race encoding (measured: ρ 0.59, p 0.025 over 12 models)."""
    manifest = _known_manifest(helpers, tmp_path, SHIFTED)
    res = run_shortcut(_config(manifest, tmp_path / "run", **KNOWN))
    assert res.test.spearman > 0.5 and res.test.p_value < 0.05, res.test
    assert res.test.verdict == "gap rises with race encoding: shortcut evidence"


@pytest.mark.known_answer
def test_known_answer_dann_is_fairer_than_erm_when_the_finding_is_hard(tmp_path, helpers):
    """The same cohort with a fainter finding (strength 0.35): ERM now leans on race (measured FPR
    gap 0.58) and DANN, the λ > 0 model of best validation task AUC, halves it (0.33); on the
    cohort above ERM learns the finding itself (gap 0.04) and no mitigation can beat it."""
    manifest = _known_manifest(helpers, tmp_path, SHIFTED, finding_strength=0.35)
    res = run_shortcut(_config(manifest, tmp_path / "run", **{**KNOWN, "scales": (0.2, 0.5)}))
    gap = {m["name"]: m["gap"]["estimate"] for m in res.mitigations}
    assert gap["dann"] < gap["erm"] - 0.1, gap
    assert res.extras["encoding_bounds"]["upper"]["auc"]["macro"]["estimate"] > 0.95


@pytest.mark.known_answer
def test_known_answer_negative_control_equal_prevalence(tmp_path, helpers):
    """Equal prevalence: race is no shortcut, the interval of ρ covers 0."""
    manifest = _known_manifest(helpers, tmp_path, EQUAL)
    res = run_shortcut(_config(manifest, tmp_path / "run", **KNOWN))
    assert res.test.ci_low <= 0.0 <= res.test.ci_high, res.test


def test_models_are_spread_over_torchrun_ranks(tiny_manifest, tmp_path, monkeypatch):
    """Rank 1 (another process) trains every other model; rank 0 waits for it and writes."""
    import os
    import subprocess
    import sys

    env = {"WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29999",
           "TORCHELASTIC_RUN_ID": f"test-{os.getpid()}"}
    out = tmp_path / "run"
    code = (f"from pathlib import Path\nfrom racelens.imaging.shortcut import ShortcutConfig, run_shortcut\n"
            f"run_shortcut(ShortcutConfig(**{_config(tiny_manifest, out, epochs=1, scales=(0.0, 1.0), mitigations=('erm',)).to_dict()!r} "
            f"| {{'manifest': Path({str(tiny_manifest)!r}), 'out': Path({str(out)!r}), "
            f"'cache_dir': Path({str(tiny_manifest.parent / 'cache')!r}), 'scales': (0.0, 1.0), "
            f"'mitigations': ('erm',)}}))\n")
    other = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **env, "RANK": "1"})
    for k, v in {**env, "RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    res = run_shortcut(_config(tiny_manifest, out, epochs=1, scales=(0.0, 1.0), mitigations=("erm",)))
    assert other.wait(timeout=300) == 0
    assert [(m["scale"], m["seed"]) for m in res.models] == [(0.0, 0), (1.0, 0)]
    assert sorted(p.name for p in (out / "models").iterdir()) == ["scale=0_seed=0.json", "scale=1_seed=0.json"]
