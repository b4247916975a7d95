"""Intensity modes, HU windows, multi-frame objects and mammogram laterality in the loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from racelens.errors import ConfigError, ImageLoadError
from racelens.imaging.cache.build import cache_path
from racelens.imaging.io.intensity import WINDOW_PRESETS, parse_intensity
from racelens.imaging.io.load import load_channels, load_image, load_resized


def datafile(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None
    return str(path)


def hu_of(name: str) -> np.ndarray:
    ds = pydicom.dcmread(datafile(name))
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


@pytest.mark.parametrize("preset", ["lung", "mediastinum", "bone"])
def test_hu_presets_are_dicom_linear_windows(preset: str) -> None:
    center, width = WINDOW_PRESETS[preset]
    expected = np.clip((hu_of("CT_small.dcm") - (center - 0.5)) / (width - 1) + 0.5, 0, 1)
    np.testing.assert_allclose(load_image(datafile("CT_small.dcm"), voi=preset), expected,
                               atol=1e-6)


def test_preset_values() -> None:
    assert WINDOW_PRESETS == {"lung": (-600.0, 1500.0), "mediastinum": (40.0, 400.0),
                              "bone": (400.0, 1800.0)}
    assert parse_intensity("40/400").window == (40.0, 400.0)
    assert parse_intensity(" -600 / 1500 ").name == "-600/1500"
    with pytest.raises(ConfigError, match="intensity mode 'soft' is not one of: auto, none, "
                                          "bits, minmax, percentile, lung, mediastinum, bone"):
        parse_intensity("soft")


def test_ct_default_is_the_hu_range_and_custom_window() -> None:
    hu = hu_of("CT_small.dcm")
    np.testing.assert_allclose(load_image(datafile("CT_small.dcm")),
                               np.clip((hu + 1024) / 4095, 0, 1), atol=1e-6)
    np.testing.assert_allclose(load_image(datafile("CT_small.dcm"), voi="40/400"),
                               load_image(datafile("CT_small.dcm"), voi="mediastinum"))


def test_windows_as_channels_decode_once() -> None:
    out = load_channels(datafile("CT_small.dcm"), "lung+mediastinum+bone")
    assert out.shape == (3, 128, 128) and out.dtype == np.float32
    for k, preset in enumerate(("lung", "mediastinum", "bone")):
        np.testing.assert_array_equal(out[k], load_image(datafile("CT_small.dcm"), voi=preset))


def test_hu_preset_on_mr_is_refused() -> None:
    with pytest.raises(ImageLoadError, match="window preset 'lung' is in Hounsfield units, for "
                                             "CT; this image's Modality is MR"):
        load_image(datafile("MR_small.dcm"), voi="lung")


def test_percentiles_ignore_a_hot_pixel() -> None:
    ds = pydicom.dcmread(datafile("MR_small.dcm"))
    values = ds.pixel_array.astype(np.float64)
    lo, hi = np.percentile(values, [0.5, 99.5])
    expected = np.clip((values - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(load_image(datafile("MR_small.dcm"), voi="none"), expected,
                               atol=1e-6)


def test_lossy_copy_maps_closer_than_minmax() -> None:
    # pydicom's JPEG-LL.dcm / JPEG2000.dcm: the WG-04 NM image, lossless and lossy (raw means
    # 13.7 and 13.5); min-max scaling gave means 0.049 and 0.158
    def gap(voi: str) -> float:
        return abs(float(load_image(datafile("JPEG-LL.dcm"), voi=voi).mean())
                   - float(load_image(datafile("JPEG2000.dcm"), voi=voi).mean()))

    assert gap("minmax") == pytest.approx(0.1087, abs=1e-3)
    assert gap("auto") == pytest.approx(0.0729, abs=1e-3)  # percentiles
    assert gap("bits") < 1e-5


# --- multi-frame objects ----------------------------------------------------------------------


def test_old_style_multi_frame_mr_frame_by_frame() -> None:
    ds = pydicom.dcmread(datafile("emri_small.dcm"))
    frames = ds.pixel_array
    assert frames.shape == (10, 64, 64)
    for k in (0, 9):
        np.testing.assert_allclose(load_image(datafile("emri_small.dcm"), frame=k, voi="bits"),
                                   frames[k] / 4095.0, atol=1e-6)
    with pytest.raises(ImageLoadError, match="frame 10 out of range"):
        load_image(datafile("emri_small.dcm"), frame=10)


def enhanced_ct(path: Path, frames: np.ndarray, centers: list[float]) -> Path:
    """An enhanced CT object: rescale in the shared groups, a window per frame."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.set_pixel_data(frames, "MONOCHROME2", 12)
    ds.NumberOfFrames = len(frames)
    transform = Dataset()
    transform.RescaleIntercept, transform.RescaleSlope, transform.RescaleType = -1024, 1, "HU"
    shared = Dataset()
    shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for k, center in enumerate(centers):
        voi, plane, item = Dataset(), Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = center, 400
        plane.ImagePositionPatient = [0, 0, float(k)]
        item.FrameVOILUTSequence, item.PlanePositionSequence = [voi], [plane]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.save_as(path, enforce_file_format=True)
    return path


def test_enhanced_ct_uses_each_frames_functional_groups(tmp_path: Path) -> None:
    stored = np.random.default_rng(0).integers(0, 4096, (3, 16, 16)).astype(np.uint16)
    path = enhanced_ct(tmp_path / "e.dcm", stored, [40.0, -600.0, 400.0])
    for k, center in enumerate([40.0, -600.0, 400.0]):
        hu = stored[k] - 1024.0
        expected = np.clip((hu - (center - 0.5)) / 399.0 + 0.5, 0, 1)
        np.testing.assert_allclose(load_image(path, frame=k), expected, atol=1e-6)
    with pytest.raises(ImageLoadError, match=r"multi-frame DICOM \(3 frames\)"):
        load_image(path)


# --- mammograms -----------------------------------------------------------------------------


def mammogram(path: Path, stored: np.ndarray, side: str, photometric: str = "MONOCHROME1") -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"  # digital mammography, for presentation
    ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.ImageLaterality = "MG", side
    ds.set_pixel_data(stored, photometric, 12)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_right_mammogram_flipped_and_monochrome1_inverted(tmp_path: Path) -> None:
    stored = np.zeros((60, 40), np.uint16)
    stored[:, :10] = 4095  # dense tissue at the left edge, stored bright
    left = mammogram(tmp_path / "l.dcm", stored, "L")
    right = mammogram(tmp_path / "r.dcm", stored[:, ::-1].copy(), "R")
    info: dict[str, object] = {}
    a, b = load_image(left, voi="bits"), load_image(right, voi="bits", info=info)
    assert info == {"decoder": "native", "flipped": True}
    np.testing.assert_array_equal(a, b)
    assert a[:, :10].max() == 0.0 and a[:, 10:].min() == 1.0  # MONOCHROME1: stored max is dark
    np.testing.assert_array_equal(load_resized(left, 8, voi="bits"),
                                  load_resized(right, 8, voi="bits"))


def test_cache_directory_names_a_window_safely(tmp_path: Path) -> None:
    assert cache_path(tmp_path, "sha256:0123456789abcdef00", 64, "-600/1500").name == \
        "0123456789abcdef-64-voim600w1500"
    assert cache_path(tmp_path, "sha256:0123456789abcdef00", 64, "lung").name == \
        "0123456789abcdef-64-voilung"
