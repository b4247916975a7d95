"""Synthetic radiographs: planted signal in the right band and orientation, writers, controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from racelens.errors import ConfigError
from racelens.imaging.io.load import load_image
from racelens.imaging.synthetic import ImageSignal, synthetic_images, write_dicom, write_png
from racelens.shared.synthetic import synthetic_patients


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return synthetic_patients(40, seed=2, other_fraction=0.0, samples_per_patient=(1, 1))


def _radius(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.fft.fftshift(np.fft.fftfreq(size, d=1.0 / size))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    return np.hypot(fx, fy), fx, fy


def _power(images: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.fftshift(np.fft.fft2(images), axes=(-2, -1))) ** 2


def test_shape_range_determinism(patients):
    a = synthetic_images(patients, size=64, seed=1)
    assert a.shape == (40, 64, 64) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, synthetic_images(patients, size=64, seed=1))
    assert not np.array_equal(a, synthetic_images(patients, size=64, seed=2))


@pytest.mark.parametrize(("band", "lo", "hi"), [("high", 30, 40), ("mid", 10, 18), ("low", 0, 8)])
def test_signal_lives_in_its_band(patients, band, lo, hi):
    on = synthetic_images(patients, size=128, seed=0, signal=ImageSignal(band=band, strength=0.5))
    off = synthetic_images(patients, size=128, seed=0, signal=ImageSignal(band=band, strength=0.0))
    power = _power(on - off).sum(axis=0)
    r, _, _ = _radius(128)
    inside = power[(r >= lo) & (r <= hi)].sum() / power.sum()
    assert inside > 0.9
    if band == "high":  # a lowpass of radius 30 (as the perturbation) removes it
        assert power[r < 30].sum() / power.sum() < 0.05


def test_orientation_encodes_group_and_negative_control(patients):
    r, fx, fy = _radius(128)
    band = (r > 30) & (r < 40)

    def diagonal_ratio(strength: float) -> np.ndarray:
        imgs = synthetic_images(patients, size=128, seed=3, signal=ImageSignal(strength=strength))
        p = _power(imgs - imgs.mean(axis=(1, 2), keepdims=True))
        plus = p[:, band & (fx * fy > 0)].sum(axis=1)
        minus = p[:, band & (fx * fy < 0)].sum(axis=1)
        return np.log(plus / minus)

    race = patients["race"].to_numpy()
    ratio = diagonal_ratio(0.5)
    assert roc_auc_score(race == "Asian", ratio) > 0.95  # +45 degrees
    assert roc_auc_score(race == "Black", -ratio) > 0.95  # -45 degrees
    white = np.abs(ratio[race == "White"])  # cross-hatch: balanced
    assert np.median(white) < np.median(np.abs(ratio[race != "White"]))
    control = diagonal_ratio(0.0)
    assert 0.2 < roc_auc_score(race == "Asian", control) < 0.8


def test_bmi_thickens_soft_tissue():
    base = pd.DataFrame({"race": ["White", "White"], "bmi": [20.0, 40.0]})
    imgs = synthetic_images(base.iloc[[0]], size=128, seed=5), synthetic_images(base.iloc[[1]], size=128, seed=5)
    width = [int((im[0, 64] > 0.2).sum()) for im in imgs]
    assert width[1] > width[0] + 5


def test_signal_location_center_is_confined(patients):
    on = synthetic_images(patients, size=128, seed=0, signal=ImageSignal(strength=1.0, location="center"))
    off = synthetic_images(patients, size=128, seed=0, signal=ImageSignal(strength=0.0))
    diff = np.abs(on - off).mean(axis=0)
    assert diff[:16, :16].mean() < 0.05 * diff[56:72, 56:72].mean()


@pytest.mark.parametrize(
    ("mono1", "rescale", "window"),
    [(False, None, False), (True, None, False), (False, (2.0, -1000.0), True), (True, (0.5, 10.0), True)],
)
def test_dicom_round_trip_through_loader(tmp_path, mono1, rescale, window):
    image = synthetic_images(pd.DataFrame({"race": ["Asian"]}), size=64, seed=0)[0]
    path = write_dicom(tmp_path / "p" / "s" / "1.dcm", image, patient_id="P1", study_uid="1.2.3.4",
                       series_uid="1.2.3.4.5", sop_uid="1.2.3.4.5.6", view="AP", modality="DX",
                       monochrome1=mono1, rescale=rescale, window=window, sex="F", age=54)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == ("MONOCHROME1" if mono1 else "MONOCHROME2")
    assert (ds.BitsAllocated, ds.BitsStored, ds.Rows, ds.Columns) == (16, 12, 64, 64)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1" and ds.Modality == "DX"
    assert ds.ViewPosition == "AP" and ds.PatientID == "P1" and str(ds.PatientName) == "SYNTHETIC^P1"
    assert ds.pixel_array.max() <= 4095
    assert ("RescaleSlope" in ds) == (rescale is not None) and ("WindowCenter" in ds) == window
    # without a window the loader's default clips at the 0.5/99.5th percentiles; the stored-bits
    # range is the affine mapping this round trip checks
    loaded = load_image(path, voi="auto" if window else "bits")

    def norm(a):
        return (a - a.min()) / (a.max() - a.min())

    assert np.abs(norm(loaded) - norm(image)).max() < 2e-3


def test_png_is_16_bit(tmp_path):
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    path = write_png(tmp_path / "a.png", image)
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")
        back = np.asarray(im, dtype=np.float64) / 65535.0
    assert np.abs(back - image).max() < 1e-4


def test_signal_parse_and_validation():
    assert ImageSignal.parse("band=low,strength=0.25,location=lungs") == ImageSignal("low", 0.25, "lungs")
    assert ImageSignal.parse("") == ImageSignal()
    for bad in ("band=ultra", "strength=x", "colour=red", "location=feet", "strength=-1"):
        with pytest.raises(ConfigError):
            ImageSignal.parse(bad)
