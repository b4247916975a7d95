"""Bad imaging input ends in a clear answer: a one-line error (exit 2) naming the file and the
problem, or a recorded skip with its reason; never a traceback or a silent drop.

The corpus is made here: truncated and zero-byte DICOMs, DICOMs without pixel data, colour and
multi-frame DICOMs (files pydicom and pydicom-data ship), PNGs of the wrong mode, a directory
named like an image, missing files, damaged header values; manifests with missing, extra and
misnamed columns, race values never seen before and one group only.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _reliability_fixtures import (  # one_torch_thread: autouse
    SIZE,
    accounted,
    assert_clean_error,
    assert_clean_success,
    one_torch_thread,  # noqa: F401
    png_cohort,
    run_cli,
    run_module,
)
from PIL import Image
from pydicom.data import get_testdata_file

from racelens.errors import ImageLoadError
from racelens.imaging.cache.build import build_cache
from racelens.imaging.io.load import load_image, read_dicom_header
from racelens.imaging.synthetic import write_dicom
from racelens.shared.labels import RARE_UNKNOWN_KEY, RARE_VALUE_FLOOR

CT = Path(get_testdata_file("CT_small.dcm"))


# --- the corpus -------------------------------------------------------------------------------


def _cut(nbytes_from_end: int | None = None, keep: int | None = None) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        data = CT.read_bytes()
        n = keep if keep is not None else len(data) - int(nbytes_from_end or 0)
        (d / "cut.dcm").write_bytes(data[:n])
        return d / "cut.dcm"
    return make


def _copy(name: str, as_name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        return Path(shutil.copy(get_testdata_file(name), d / as_name))
    return make


def _pillow(mode: str, value: object, name: str, size: int = 8) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        Image.new(mode, (size, size), value).save(d / name)  # type: ignore[arg-type]
        return d / name
    return make


def _bytes(data: bytes, name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return make


def _dir(name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).mkdir()
        return d / name
    return make


def _replace(old: bytes, new: bytes) -> Callable[[Path], Path]:
    """CT_small with one header value's bytes damaged (same length, so offsets stay right)."""
    def make(d: Path) -> Path:
        data = CT.read_bytes()
        assert data.count(old) >= 1 and len(old) == len(new)
        (d / "damaged.dcm").write_bytes(data.replace(old, new, 1))
        return d / "damaged.dcm"
    return make


# (case id, builder, words the reason must hold)
REJECTED = [
    ("zero-byte DICOM", _bytes(b"", "zero.dcm"), ["empty"]),
    ("DICOM truncated in its pixel data", _cut(nbytes_from_end=5000), ["pixel data"]),
    ("DICOM without pixel data (RT plan)", _copy("rtplan.dcm", "rtplan.dcm"), ["no pixel data"]),
    ("colour DICOM (RGB)", _copy("SC_rgb.dcm", "rgb.dcm"), ["colour"]),
    ("multi-frame DICOM", _copy("emri_small.dcm", "multi.dcm"), ["multi-frame", "10 frames"]),
    ("colour PNG", _pillow("RGB", (255, 0, 0), "red.png"), ["colour"]),
    ("CMYK TIFF", _pillow("CMYK", (1, 200, 3, 4), "cmyk.tif"), ["colour"]),
    ("float TIFF", _pillow("F", 0.5, "float.tif"), ["mode F"]),
    ("32-bit TIFF out of range", _pillow("I", 70000, "i32.tif"), ["outside"]),
    ("text named .png", _bytes(b"hello, not an image", "text.png"), ["not a DICOM, PNG or JPEG"]),
    ("JPEG cut in half", lambda d: _half_jpeg(d), ["cannot decode"]),
    ("directory named like an image", _dir("folder.png"), ["directory"]),
    ("missing file", lambda d: d / "missing.dcm", ["not found"]),
]

# Cases the loader once answered badly (found by these tests; fixed in imaging.io).
TRUNCATED_HEADER = [
    ("DICOM cut inside its header (after Rows)", _cut(keep=6000)),
    ("DICOM cut inside its header (early)", _cut(keep=1000)),
]
DAMAGED_HEADER = [
    # "-1024" of RescaleIntercept with a letter in it (one flipped byte on disk)
    ("non-numeric RescaleIntercept", _replace(b"-1024", b"-K024")),
    # the explicit VR "US" of an image-pixel attribute turned into an unknown VR
    ("unknown VR in the image-pixel module", lambda d: _damage_vr(d, "SamplesPerPixel")),
]


def _half_jpeg(d: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(d / "full.jpg", quality=90)
    data = (d / "full.jpg").read_bytes()
    (d / "half.jpg").write_bytes(data[: len(data) // 2])
    return d / "half.jpg"


def _damage_vr(d: Path, keyword: str) -> Path:
    import pydicom

    ds = pydicom.dcmread(CT)
    data = bytearray(CT.read_bytes())
    tag = ds.data_element(keyword).tag
    # explicit VR little endian: group, element (2 bytes each), then the two VR characters
    needle = tag.group.to_bytes(2, "little") + tag.element.to_bytes(2, "little") + b"US"
    pos = bytes(data).index(needle)
    data[pos + 4:pos + 6] = b"Uz"
    (d / "vr.dcm").write_bytes(bytes(data))
    return d / "vr.dcm"


@pytest.mark.parametrize(("builder", "words"), [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_loader_rejects_with_a_reason(tmp_path: Path, builder, words) -> None:
    path = builder(tmp_path)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}: ")
    for w in words:
        assert w.lower() in err.value.reason.lower(), err.value.reason
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("builder", [c[1] for c in TRUNCATED_HEADER],
                         ids=[c[0] for c in TRUNCATED_HEADER])
def test_truncated_header_is_called_truncated(tmp_path: Path, builder) -> None:
    with pytest.raises(ImageLoadError) as err:
        load_image(builder(tmp_path))
    assert "truncated" in err.value.reason


@pytest.mark.parametrize("builder", [c[1] for c in DAMAGED_HEADER],
                         ids=[c[0] for c in DAMAGED_HEADER])
def test_damaged_header_value_is_an_image_load_error(tmp_path: Path, builder) -> None:
    path = builder(tmp_path)
    for fn in (load_image, read_dicom_header):
        try:
            fn(path)
        except ImageLoadError:
            pass
        except Exception as exc:  # noqa: BLE001 - the point: nothing but ImageLoadError
            raise AssertionError(f"{fn.__name__} raised {type(exc).__name__}: {exc}") from exc


def test_cache_skips_a_damaged_header_instead_of_stopping(tmp_path: Path) -> None:
    good = tmp_path / "good.dcm"
    shutil.copy(CT, good)
    bad = _replace(b"-1024", b"-K024")(tmp_path)
    try:
        cache = build_cache([good, bad], ["good", "bad"], size=SIZE, cache_dir=tmp_path / "c",
                            fingerprint="sha256:test", progress=False)
    except ImageLoadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"cache build stopped: {type(exc).__name__}: {exc}") from exc
    assert [s for s, _ in cache.skipped] == ["bad"]


def test_decompression_bomb_png_is_an_image_load_error(tmp_path: Path) -> None:
    Image.new("1", (14000, 13000)).save(tmp_path / "bomb.png")  # 182 Mpx, 22 KB on disk
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    try:
        load_image(tmp_path / "bomb.png")
    except ImageLoadError as exc:
        assert "large" in exc.reason or "pixels" in exc.reason
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{type(exc).__name__} escaped: {exc}") from exc
    else:
        raise AssertionError("a 182-megapixel image was decoded")


def test_greyscale_saved_as_colour_or_palette_is_accepted(tmp_path: Path) -> None:
    # PACS exports often save greyscale radiographs as RGB/RGBA/P: same values in every channel
    Image.new("RGB", (8, 8), (51, 51, 51)).save(tmp_path / "rgb.png")
    Image.new("RGBA", (8, 8), (51, 51, 51, 0)).save(tmp_path / "rgba.png")
    Image.new("LA", (8, 8), (51, 255)).save(tmp_path / "la.png")
    for name in ("rgb.png", "rgba.png", "la.png"):
        img = load_image(tmp_path / name)
        assert img.dtype == np.float32 and img.shape == (8, 8)
        np.testing.assert_allclose(img, 0.2, atol=1e-6)


# --- through the CLI: manifest + audit with the corpus in the table ----------------------------


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> dict:
    """A table of 40 synthetic patients' PNGs plus one row per bad file, through
    ``racelens imaging manifest table`` and a tiny ``racelens imaging audit`` (1 epoch, 32 px)."""
    root = tmp_path_factory.mktemp("corpus")
    table = png_cohort(root, 40)
    bad_dir = root / "bad"
    bad_dir.mkdir()
    rows = []
    for k, (case, builder, words) in enumerate(REJECTED):
        sub = bad_dir / f"case{k}"
        sub.mkdir()
        path = builder(sub)
        rows.append({"sample_id": f"BAD{k:02d}", "patient_id": f"PBAD{k:02d}", "race_raw": "WHITE",
                     "path": path.relative_to(root).as_posix(), "age": 60, "sex": "F",
                     "bmi": 27.0, "_case": case, "_words": words})
    bad = pd.DataFrame(rows)
    full = pd.concat([table, bad.drop(columns=["_case", "_words"])], ignore_index=True)
    full.to_csv(root / "table.csv", index=False)
    manifest = run_cli("imaging", "manifest", "table", "--table", root / "table.csv",
                       "--out", root / "manifest.parquet", "--race-col", "race_raw",
                       "--sample-col", "sample_id")
    audit = run_cli("--verbose", "imaging", "audit", "--manifest", root / "manifest.parquet",
                    "--out", root / "run", "--size", SIZE, "--epochs", 1, "--n-boot", 20,
                    "--device", "cpu", "--no-progress")
    return {"root": root, "n_rows": len(full), "bad": bad, "manifest": manifest, "audit": audit}


def test_manifest_accounts_for_every_row(corpus_run) -> None:
    run = corpus_run["manifest"]
    assert_clean_success(run)
    side = json.loads((corpus_run["root"] / "manifest.json").read_text())
    assert side["n_input_rows"] == corpus_run["n_rows"]
    skipped = {s["sample_id"]: s["reason"] for s in side["skipped"]}
    assert side["rows"] + sum(side["excluded"].values()) + len(skipped) == corpus_run["n_rows"]
    # only the missing file is known at manifest time (a cheap existence check)
    missing = corpus_run["bad"].loc[corpus_run["bad"]["_case"] == "missing file", "sample_id"]
    assert skipped == {missing.item(): "file not found"}
    assert f"input rows: {corpus_run['n_rows']}" in run.out


def test_audit_skips_each_bad_file_with_its_reason(corpus_run) -> None:
    run = corpus_run["audit"]
    assert_clean_success(run)
    result = json.loads((corpus_run["root"] / "run" / "result.json").read_text())
    data = result["data"]
    assert accounted(data) == corpus_run["n_rows"]
    reasons = {s["sample_id"]: s["reason"] for s in data["skipped"]}
    bad = corpus_run["bad"]
    assert set(bad["sample_id"]) == set(reasons), "every bad file skipped, and nothing else"
    for sid, words in zip(bad["sample_id"], bad["_words"], strict=True):
        for w in words:
            assert w.lower() in reasons[sid].lower(), (sid, reasons[sid])
    # the CLI summary line agrees with result.json
    assert f"skipped {len(reasons)}" in run.out
    assert data["n_samples"] == sum(data["groups"].values())


def test_strict_audit_stops_with_one_line_naming_the_file(corpus_run, tmp_path: Path) -> None:
    root = corpus_run["root"]
    run = run_cli("imaging", "audit", "--manifest", root / "manifest.parquet", "--out",
                  tmp_path / "strict", "--size", SIZE, "--epochs", 1, "--device", "cpu",
                  "--no-progress", "--strict", "--cache-dir", tmp_path / "cache")
    line = assert_clean_error(run)
    first_bad = corpus_run["bad"].iloc[0]  # the zero-byte file is the first bad row
    assert str((root / first_bad["path"]).resolve()) in line or first_bad["path"] in line
    assert "empty" in line


# --- manifests: missing, extra, misnamed columns; unseen races; one group ----------------------


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("small")
    return root, png_cohort(root, 24)


def _manifest(table_path: Path, out: Path, *extra: str):
    return run_cli("imaging", "manifest", "table", "--table", table_path, "--out", out,
                   "--race-col", "race_raw", "--sample-col", "sample_id", *extra)


@pytest.mark.parametrize(("change", "option"), [
    ({"race_raw": "Race"}, "race_raw"),          # misnamed (case)
    ({"patient_id": "subject_id"}, "patient_id"),  # misnamed (another source's name)
    ({"path": None}, "path"),                     # missing
])
def test_manifest_with_missing_or_misnamed_column(small_table, tmp_path: Path, change: dict,
                                                  option: str) -> None:
    root, table = small_table
    t = table.drop(columns=[k for k, v in change.items() if v is None]).rename(
        columns={k: v for k, v in change.items() if v is not None})
    t.to_csv(root / "bad_columns.csv", index=False)
    line = assert_clean_error(_manifest(root / "bad_columns.csv", tmp_path / "m.parquet"), option)
    assert not (tmp_path / "m.parquet").exists()
    assert "column" in line


def test_manifest_column_error_names_the_file(small_table, tmp_path: Path) -> None:
    root, table = small_table
    table.rename(columns={"race_raw": "Race"}).to_csv(root / "named.csv", index=False)
    assert_clean_error(_manifest(root / "named.csv", tmp_path / "m.parquet"), "named.csv")


def test_manifest_keeps_extra_columns_and_header_only_table_is_an_error(small_table,
                                                                       tmp_path: Path) -> None:
    root, table = small_table
    table.assign(scanner="X", comment="extra column").to_csv(root / "extra.csv", index=False)
    assert_clean_success(_manifest(root / "extra.csv", tmp_path / "m.parquet"))
    kept = pd.read_parquet(tmp_path / "m.parquet")
    assert {"scanner", "comment"} <= set(kept.columns)
    table.iloc[:0].to_csv(root / "empty.csv", index=False)
    assert_clean_error(_manifest(root / "empty.csv", tmp_path / "e.parquet"), "no rows")


def test_missing_or_duplicate_sample_ids_are_a_one_line_error(small_table, tmp_path: Path) -> None:
    root, table = small_table
    t = table.copy()
    t.loc[:2, "sample_id"] = np.nan
    t.to_csv(root / "nosid.csv", index=False)
    assert_clean_error(_manifest(root / "nosid.csv", tmp_path / "m.parquet"), "duplicate sample ids")


def test_missing_patient_ids_are_refused_or_counted(small_table, tmp_path: Path) -> None:
    root, table = small_table
    t = table.copy()
    t.loc[:3, "patient_id"] = np.nan
    t.to_csv(root / "nopid.csv", index=False)
    run = _manifest(root / "nopid.csv", tmp_path / "m.parquet")
    assert_clean_success(run)  # excluded and counted (the manifest is usable without them)
    kept = pd.read_parquet(tmp_path / "m.parquet")
    assert kept["patient_id"].notna().all() and (kept["patient_id"] != "nan").all()
    side = json.loads((tmp_path / "m.json").read_text())
    assert side["excluded"]["missing patient id"] == 4
    assert side["rows"] + sum(side["excluded"].values()) + len(side["skipped"]) == len(t)
    assert "without a patient id" in run.everything  # told, not silent


def test_unseen_race_values_are_counted_not_dropped(small_table, tmp_path: Path) -> None:
    root, table = small_table
    t = table.copy()
    pids = list(t["patient_id"].unique())
    # whole patients, so no consistency rule applies; a value held by fewer than
    # RARE_VALUE_FLOOR rows is counted without its name (it could be an identifier)
    martian, zorb, rare = (t["patient_id"].isin(p) for p in (pids[:3], pids[3:6], pids[6:7]))
    assert martian.sum() >= RARE_VALUE_FLOOR and zorb.sum() >= RARE_VALUE_FLOOR > rare.sum()
    t.loc[martian, "race_raw"] = "MARTIAN"
    t.loc[zorb, "race_raw"] = "Zorblaxian / other"
    t.loc[rare, "race_raw"] = "Klingon"
    t.to_csv(root / "unseen.csv", index=False)
    run = _manifest(root / "unseen.csv", tmp_path / "m.parquet")
    assert_clean_success(run)
    assert "UnmatchedLabelWarning" in run.err and "MARTIAN" in run.err  # told, not silent
    assert "Klingon" not in run.everything
    side = json.loads((tmp_path / "m.json").read_text())
    assert side["excluded"]["MARTIAN"] == martian.sum()
    assert side["excluded"]["Zorblaxian / other"] == zorb.sum()
    assert side["excluded"][RARE_UNKNOWN_KEY] == rare.sum()
    assert side["rows"] + sum(side["excluded"].values()) + len(side["skipped"]) == len(t)


def test_one_group_only_is_a_one_line_error(small_table, tmp_path: Path) -> None:
    root, table = small_table
    table.assign(race_raw="WHITE").to_csv(root / "white.csv", index=False)
    assert_clean_success(_manifest(root / "white.csv", tmp_path / "m.parquet"))
    run = run_cli("imaging", "audit", "--manifest", tmp_path / "m.parquet", "--out",
                  tmp_path / "run", "--size", SIZE, "--epochs", 1, "--device", "cpu",
                  "--no-progress")
    assert_clean_error(run, "class")
    assert not (tmp_path / "run" / "result.json").exists()
    run = run_cli("imaging", "baseline", "--manifest", tmp_path / "m.parquet", "--features",
                  "age,sex,bmi", "--out", tmp_path / "base")
    assert_clean_error(run)


def test_audit_of_a_missing_manifest_and_unknown_covariate(small_table, tmp_path: Path) -> None:
    root, table = small_table
    assert_clean_error(run_cli("imaging", "audit", "--manifest", tmp_path / "nope.parquet",
                               "--out", tmp_path / "run", "--no-progress"), "nope.parquet",
                       "not found")
    assert_clean_success(_manifest_of(root, table, tmp_path))
    assert_clean_error(run_cli("imaging", "baseline", "--manifest", tmp_path / "m.parquet",
                               "--features", "age,shoe_size", "--out", tmp_path / "b"),
                       "shoe_size")


def _manifest_of(root: Path, table: pd.DataFrame, out_dir: Path):
    table.to_csv(root / "ok.csv", index=False)
    return _manifest(root / "ok.csv", out_dir / "m.parquet")


# --- a DICOM folder with bad files ------------------------------------------------------------


def test_dicom_folder_lists_unreadable_files_as_skipped(tmp_path: Path) -> None:
    root = tmp_path / "pacs"
    rng = np.random.default_rng(0)
    races = {"P1": "WHITE", "P2": "BLACK/AFRICAN AMERICAN", "P3": "ASIAN"}
    for k, pid in enumerate(races):
        write_dicom(root / pid / "a.dcm", rng.random((SIZE, SIZE)).astype(np.float32),
                    patient_id=pid, study_uid=f"1.2.3.{k}", series_uid=f"1.2.3.{k}.1",
                    sop_uid=f"1.2.3.{k}.1.1")
    bad = {"zero.dcm": _bytes(b"", "zero.dcm"), "rtplan.dcm": _copy("rtplan.dcm", "rtplan.dcm"),
           "multi.dcm": _copy("emri_small.dcm", "multi.dcm"),
           "notes.txt": _bytes(b"not a dicom", "notes.txt"), "cut.dcm": _cut(keep=100)}
    (root / "junk").mkdir()
    for make in bad.values():
        make(root / "junk")
    pd.DataFrame({"PatientID": list(races), "race": list(races.values())}).to_csv(
        tmp_path / "labels.csv", index=False)
    run = run_cli("imaging", "manifest", "dicom", "--root", root, "--out", tmp_path / "m.parquet",
                  "--labels-csv", tmp_path / "labels.csv")
    assert_clean_success(run)
    side = json.loads((tmp_path / "m.json").read_text())
    reasons = {s["sample_id"]: s["reason"] for s in side["skipped"]}
    # an enhanced multi-frame MR object is a series since issue 15: it loads, and having no
    # label it is excluded (counted), not skipped
    assert set(reasons) == {f"junk/{n}" for n in bad if n != "multi.dcm"}
    assert sum(side["excluded"].values()) == 1
    assert "pixel data" in reasons["junk/rtplan.dcm"]
    assert "empty" in reasons["junk/zero.dcm"]
    assert side["rows"] == 3 and side["n_input_rows"] == 3 + len(bad)
    assert side["rows"] + sum(side["excluded"].values()) + len(reasons) == side["n_input_rows"]


def test_dicom_folder_with_a_damaged_header_lists_it_as_skipped(tmp_path: Path) -> None:
    root = tmp_path / "pacs"
    root.mkdir()
    shutil.copy(CT, root / "ok.dcm")
    _damage_vr(root, "Rows")
    run = run_cli("imaging", "manifest", "dicom", "--root", root, "--out", tmp_path / "m.parquet")
    assert_clean_success(run)
    side = json.loads((tmp_path / "m.json").read_text())
    assert [s["sample_id"] for s in side["skipped"]] == ["vr.dcm"]
    assert side["skipped"][0]["reason"].startswith("invalid DICOM header value (")


# --- what a user's shell sees -----------------------------------------------------------------


def test_console_script_errors_are_one_line(small_table, tmp_path: Path) -> None:
    root, table = small_table
    table.drop(columns=["path"]).to_csv(root / "nopath.csv", index=False)
    run = run_module("imaging", "manifest", "table", "--table", root / "nopath.csv", "--out",
                     tmp_path / "m.parquet", "--race-col", "race_raw")
    assert_clean_error(run, "path")
    run = run_module("imaging", "audit", "--manifest", tmp_path / "missing.parquet", "--out",
                     tmp_path / "run")
    assert_clean_error(run, "missing.parquet")
