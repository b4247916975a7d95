"""Each paper preset runs end to end on tiny data in its real file layout.

Epochs, image sizes, the backbone and the perturbation lists are overridden from the command
line (``--set``), as a user trying a preset on a laptop would; everything else is the preset's.
"""

from __future__ import annotations

import json

import pytest

from racelens.cli.main import main

FAST_AUDIT = ["arch=small_cnn", "size=32", "epochs=1", "n-boot=20", "device=cpu", "progress=false"]


def _sets(step: str, items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", f"{step}.{item}")]


def _run(tmp_path, preset: str, data: dict, sets: list[str]) -> dict:
    study = tmp_path / "study.toml"
    main(["study", "init", preset, "--out", str(study)])
    argv = ["study", "run", str(study), "--out", str(tmp_path / "run")]
    for k, v in data.items():
        argv += ["--set", f"data.{k}={json.dumps(str(v))}"]
    try:
        main(argv + sets)
    except SystemExit as exc:  # main() exits only on failure
        raise AssertionError(f"racelens study run exited with {exc.code}") from exc
    return json.loads((tmp_path / "run" / "study.json").read_text())


@pytest.fixture
def layouts(helpers):
    return helpers("study/_layouts.py")


@pytest.mark.slow
def test_gichoya_mimic_preset_on_the_mimic_cxr_layout(tmp_path, layouts):
    data = layouts.mimic_layout(tmp_path / "data", n_patients=50)
    data.pop("notes")
    doc = _run(tmp_path, "gichoya2022-mimic", data,
               _sets("resnet34", FAST_AUDIT) + _sets("densenet121", FAST_AUDIT + [
                   "mode=test", 'condition=["lowpass:radius=1,10,50", "highpass:radius=100,150"]'])
               + _sets("confounders", ['features="age,sex,No Finding"', "n-boot=20"])
               + _sets("probe", ["n-boot=20", "device=cpu"]))
    assert [s["status"] for s in doc["steps"]] == ["ran"] * 5
    rows = doc["paper"]
    assert len(rows) == 8 and all(r["measured"] is not None for r in rows), rows
    asian = next(r for r in rows if r["group"] == "Asian")
    assert asian["paper"]["value"] == 0.986
    m = asian["measured"]
    assert m["ci_low"] <= m["estimate"] <= m["ci_high"]
    assert asian["difference"]["estimate"] == pytest.approx(m["estimate"] - 0.986)
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.slow
def test_gichoya_chexpert_preset_on_the_chexpert_layout(tmp_path, layouts):
    data = layouts.chexpert_layout(tmp_path / "data", n_patients=90)
    doc = _run(tmp_path, "gichoya2022-chexpert", data,
               _sets("resnet34", FAST_AUDIT) + _sets("densenet121", FAST_AUDIT + [
                   "mode=test", 'condition=["lowpass:radius=10"]'])
               + _sets("confounders", ["n-boot=20"]))
    assert [s["status"] for s in doc["steps"]] == ["ran"] * 4
    res = json.loads((tmp_path / "run" / "densenet121" / "result.json").read_text())
    assert [c["name"] for c in res["conditions"]] == ["original", "lowpass"]


@pytest.mark.slow
def test_glocker_preset_measures_tpr_at_the_global_fpr_threshold(tmp_path, layouts):
    data = layouts.chexpert_layout(tmp_path / "data", n_patients=120)
    doc = _run(tmp_path, "glocker2023-chexpert", data,
               _sets("disease", FAST_AUDIT) + _sets("probe", ["n-boot=20", "device=cpu"]))
    tpr = {r["group"]: r for r in doc["paper"]}
    assert set(tpr) == {"White", "Asian", "Black"}
    for r in tpr.values():
        assert r["metric"] == "tpr" and r["measured"] is not None, r
        assert 0.0 <= r["measured"]["estimate"] <= 1.0
    res = json.loads((tmp_path / "run" / "disease" / "result.json").read_text())
    assert res["config"]["threshold"] == "fpr=0.2"


@pytest.mark.slow
def test_adam_notes_preset_on_the_mimic_iv_note_layout(tmp_path, layouts):
    full = layouts.mimic_layout(tmp_path / "data", n_patients=80)
    data = {"notes": full["notes"], "admissions": full["admissions"]}
    doc = _run(tmp_path, "adam2022-mimic-notes", data,
               _sets("audit", ["strip-proxies=10", "n-boot=20"]) + _sets("check", ["n-boot=20"]))
    assert [s["status"] for s in doc["steps"]] == ["ran"] * 4
    res = json.loads((tmp_path / "run" / "audit" / "result.json").read_text())
    assert set(res["data"]["groups"]) == {"Black", "White"}  # the paper's Black vs White
    assert (tmp_path / "run" / "check" / "check.json").is_file()
