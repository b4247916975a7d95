"""`racelens imaging manifest dicom --series` and `imaging audit --unit` on an NLST-like CT tree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from racelens.cli.main import app
from racelens.imaging.sources.cohort import load_manifest

sys.path.insert(0, str(Path(__file__).parents[1] / "imaging"))
from _series_fixtures import ct_tree  # noqa: E402

runner = CliRunner()


def test_nlst_like_tree_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "nlst"
    ct_tree(root, n_patients=12, n_slices=4, signal=600.0)
    # the participant table: race codes 1 White / 2 Black, ethnic 2 = not Hispanic; one
    # Hispanic participant (ethnic 1) is excluded by the abw rule, one refused (race 7)
    pids = [f"P{p:03d}" for p in range(12)]
    races = [1 if p % 2 == 0 else 2 for p in range(12)]
    races[11] = 7
    ethnic = [2] * 12
    ethnic[10] = 1
    pd.DataFrame({"pid": pids, "race": races, "ethnic": ethnic}).to_csv(tmp_path / "prsn.csv",
                                                                        index=False)
    out = tmp_path / "m.parquet"
    res = runner.invoke(app, ["imaging", "manifest", "dicom", "--root", str(root), "--out",
                              str(out), "--labels-csv", str(tmp_path / "prsn.csv"),
                              "--patient-col", "pid", "--race-source", "nlst",
                              "--ethnicity-col", "ethnic"])
    assert res.exit_code == 0, res.output
    assert "  input rows: 24" in res.output and "  rows:       20" in res.output
    cohort = load_manifest(out)
    # two series each: the refused participant and the Hispanic one (rare values are not named)
    assert cohort.excluded == {"unrecognised value (fewer than 5 rows each)": 4}
    assert (cohort.table["n_slices"] == 4).all()
    run = tmp_path / "run"
    res = runner.invoke(app, ["imaging", "audit", "--manifest", str(out), "--out", str(run),
                              "--size", "16", "--epochs", "4", "--n-boot", "20", "--device", "cpu",
                              "--no-progress", "--slices", "2", "--unit", "series"])
    assert res.exit_code == 0, res.output
    result = json.loads((run / "result.json").read_text())
    original = result["conditions"][0]
    assert result["config"]["unit"] == "series" and result["config"]["slices"] == 2
    assert original["n_test"] == result["extras"]["split_sizes"]["test"]
    preds = pd.read_parquet(run / "predictions.parquet")
    assert set(preds["sample_id"]) <= set(cohort.table["series_id"])
