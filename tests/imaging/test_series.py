"""CT series as samples: grouping, slice order, skipped series, per-series AUC and accounting."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
from racelens.imaging.audit.slices import drop_unreadable, expand_items, sample_slices
from racelens.imaging.sources.archives import from_dicom_folder
from racelens.imaging.sources.cohort import load_manifest, write_manifest

sys.path.insert(0, str(Path(__file__).parent))
from _series_fixtures import ct_slice, ct_tree  # noqa: E402


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])  # cut inside the pixel data


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[float]]]:
    root = tmp_path_factory.mktemp("ct")
    written = ct_tree(root, n_patients=16, n_slices=6, signal=600.0)
    return root, written


def test_one_row_per_series_in_body_order(tree: tuple[Path, dict[str, list[float]]]) -> None:
    root, written = tree
    cohort = from_dicom_folder(root, series="auto")
    table = cohort.table
    assert len(table) == 32 and cohort.n_input_rows == 32 and cohort.extra["n_files"] == 192
    assert set(table["sample_id"]) == set(written) and (table["n_slices"] == 6).all()
    assert table.groupby("study_id")["sample_id"].nunique().eq(2).all()  # two series per study
    for _, row in table.head(4).iterrows():
        z = [float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in row["slice_paths"]]
        assert z == sorted(written[row["sample_id"]])  # files were written shuffled
        assert row["path"] == row["slice_paths"][0]


def test_files_stay_files_with_series_off(tree: tuple[Path, dict[str, list[float]]]) -> None:
    cohort = from_dicom_folder(tree[0], series="off")
    assert len(cohort.table) == 192 and cohort.n_input_rows == 192
    assert cohort.table["series_id"].nunique() == 32


def test_inconsistent_and_unordered_series_skipped(tmp_path: Path) -> None:
    px = np.full((8, 8), 1000)
    kw = dict(patient="P1", race="White", study="1.2.3")
    ct_slice(tmp_path / "a1.dcm", px, series="1.2.3.1", z=0.0, instance=1, **kw)
    ct_slice(tmp_path / "a2.dcm", np.full((6, 8), 1000), series="1.2.3.1", z=1.0, instance=2, **kw)
    ct_slice(tmp_path / "b1.dcm", px, series="1.2.3.2", z=0.0, instance=1, **kw)
    ct_slice(tmp_path / "b2.dcm", px, series="1.2.3.2", z=1.0, instance=2,
             orientation=[0.0, 1.0, 0.0, 0.0, 0.0, -1.0], **kw)  # a sagittal slice
    ct_slice(tmp_path / "c1.dcm", px, series="1.2.3.3", z=None, instance=None, **kw)
    ct_slice(tmp_path / "c2.dcm", px, series="1.2.3.3", z=None, instance=None, **kw)
    ct_slice(tmp_path / "d2.dcm", px, series="1.2.3.4", z=None, instance=2, **kw)
    ct_slice(tmp_path / "d1.dcm", px, series="1.2.3.4", z=None, instance=1, **kw)
    cohort = from_dicom_folder(tmp_path, series="on")
    reasons = dict(cohort.skipped)
    assert reasons == {
        "1.2.3.1": "inconsistent series: slices of 2 sizes (6x8, 8x8)",
        "1.2.3.2": "inconsistent series: slices of different orientations",
        "1.2.3.3": "no slice order: 2 slice(s) lack both ImagePositionPatient and InstanceNumber",
    }
    (row,) = cohort.table.to_dict("records")  # instance numbers order the last one
    assert [Path(p).name for p in row["slice_paths"]] == ["d1.dcm", "d2.dcm"]
    assert cohort.n_input_rows == 4


def test_multi_frame_object_is_a_series() -> None:
    from racelens.imaging.sources.series import group_series

    src = Path(get_testdata_file("emri_small.dcm", download=False))
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    head = {"sample_id": "emri.dcm", "path": str(src), "SeriesInstanceUID": ds.SeriesInstanceUID,
            "Modality": "MR", "NumberOfFrames": 10, "Rows": 64, "Columns": 64}
    rows, skipped, n = group_series([head], "auto")
    assert not skipped and n == 1
    assert rows[0]["n_slices"] == 10 and rows[0]["slice_frames"] == list(range(10))


def test_slice_sampling_and_the_unreadable_rule() -> None:
    assert sample_slices(6, 3).tolist() == [0, 2, 5] and sample_slices(6, None).tolist() == list(
        range(6))
    import pandas as pd

    table = pd.DataFrame({"sample_id": ["s1", "s2", "cxr"], "path": ["a", "b", "c"],
                          "slice_paths": [["a"] * 4, ["b"] * 4, ["c"]],
                          "slice_frames": [[-1] * 4, [-1] * 4, [-1]]})
    items = expand_items(table, None)
    assert items["item_id"].tolist()[:2] == ["s1#0", "s1#1"] and items["item_id"].iloc[-1] == "cxr"
    bad = {"s1#1": "truncated", "s2#0": "truncated", "s2#1": "truncated", "s2#2": "truncated"}
    out = drop_unreadable(items, bad)
    assert out.skipped == [("s2", "3 of 4 sampled slices unreadable (truncated)")]
    assert out.slice_skips == {"truncated": 1}
    assert out.items["sample_id"].value_counts().to_dict() == {"s1": 3, "cxr": 1}


def test_audit_scores_per_series(tree: tuple[Path, dict[str, list[float]]],
                                 tmp_path: Path) -> None:
    root = tmp_path / "ct"
    shutil.copytree(tree[0], root)  # the slices are broken below: not the shared tree's
    cohort = from_dicom_folder(root, series="auto")
    table = cohort.table
    one, many = table.iloc[0], table.iloc[1]
    truncate(Path(one["slice_paths"][2]))  # one bad slice: left out, counted
    for p in many["slice_paths"][:4]:  # four of six: the series goes
        truncate(Path(p))
    manifest = write_manifest(cohort, tmp_path / "m.parquet")[0]
    assert "slice_paths" in load_manifest(manifest).table
    res = run_imaging_audit(ImagingAuditConfig(
        manifest=manifest, out=tmp_path / "run", size=16, epochs=6, batch_size=32, lr=3e-3,
        n_boot=50, device="cpu", progress=False, slices="all", cache_dir=tmp_path / "cache"))
    data, original = res.data, res.conditions[0]
    assert data.n_samples + sum(data.excluded.values()) + len(data.skipped) == 32
    assert [s.sample_id for s in data.skipped] == [many["sample_id"]]
    assert data.skipped[0].reason.startswith("4 of 6 sampled slices unreadable (cannot decode "
                                             "pixel data (ValueError: The number of bytes of pixel")
    ((reason, n),) = res.extras["slice_skips"].items()
    assert n == 1 and reason.startswith("cannot decode pixel data")
    assert original.n_test == res.extras["split_sizes"]["test"]  # series, not slices
    assert original.extras["n_test_items"] in (6 * original.n_test, 6 * original.n_test - 1)
    assert original.auc.macro.estimate > 0.8  # 600 HU on half of every Black patient's slices
    assert res.config["unit"] == "sample" and res.config["slices"] is None


def test_unit_study_counts_studies(tree: tuple[Path, dict[str, list[float]]],
                                   tmp_path: Path) -> None:
    manifest = write_manifest(from_dicom_folder(tree[0], series="auto"), tmp_path / "m.parquet")[0]
    res = run_imaging_audit(ImagingAuditConfig(
        manifest=manifest, out=tmp_path / "run", size=16, epochs=2, batch_size=32, lr=3e-3,
        n_boot=20, device="cpu", progress=False, slices=2, unit="study",
        cache_dir=tmp_path / "cache"))
    original = res.conditions[0]
    # two series per study, each study of one patient: half as many units as test series
    assert 2 * original.n_test == res.extras["split_sizes"]["test"]
    assert original.extras["n_test_items"] == 2 * 2 * original.n_test  # 2 slices per series
    assert res.config["unit"] == "study" and res.config["slices"] == 2
