"""Synthetic chest-radiograph-like images with a planted, group-dependent signal.

A control with a known answer: each image has the coarse anatomy of a frontal chest radiograph
(body outline, lung fields, ribs, spine, heart shadow, diaphragm) with small random pose and
exposure changes and quantum-like noise; BMI thickens the soft tissue, the disease labels of
:func:`racelens.shared.synthetic.synthetic_patients` change the heart size and lung bases. On top,
a hidden texture encodes the patient's group:

- a sinusoidal grating of ``frequency`` cycles per image at +45° (first group), at -45° (second
  group), or both at once, a cross-hatch (third group); other groups get none. Its phase is random
  and its angle and frequency jitter a little per image, so a model must learn the texture, not a
  template or a global mean shift (the grating has zero mean);
- ``band`` sets the frequency (FFT radius in cycles per image, the same at every image size):
  ``low`` 4, ``mid`` 14, ``high`` 34. At 64 px a ``lowpass(radius=30)`` removes the high band
  while a ``highpass(radius=30)`` keeps it; the low band survives low-pass filters down to about
  radius 6;
- ``strength`` scales its amplitude (``0.08 * strength`` of the display range); ``strength=0`` is
  the negative control (identical images except for the texture, same random stream);
- ``location`` confines it to the lung fields, a central square, a ``box`` (``box=(top, left,
  bottom, right)`` in fractions of the image side, e.g. one tile of a grid), or leaves it global.

Writers produce real DICOM files (pydicom; CR or DX, 12 bits stored in 16, MONOCHROME2 and some
MONOCHROME1 stored inverted, some with rescale slope/intercept, some with a window) and 16-bit PNGs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError

__all__ = [
    "Band",
    "Location",
    "BAND_FREQUENCY",
    "FindingSignal",
    "ImageSignal",
    "assign_views",
    "synthetic_images",
    "write_dicom",
    "write_png",
    "write_png_manifest",
]

Band = Literal["low", "mid", "high"]
Location = Literal["global", "lungs", "center", "box"]
BAND_FREQUENCY: dict[str, float] = {"low": 4.0, "mid": 14.0, "high": 34.0}
_AMPLITUDE = 0.08  # display-range amplitude at strength 1
_NOISE_SD = 0.012
_CHUNK = 128


@dataclass(frozen=True)
class ImageSignal:
    """The planted group signal.

    Parameters
    ----------
    band
        ``"low"``, ``"mid"`` or ``"high"`` spatial frequency (see :data:`BAND_FREQUENCY`).
    strength
        Amplitude scale; 0 plants nothing (negative control).
    location
        ``"global"``, ``"lungs"``, ``"center"`` or ``"box"``.
    box
        ``(top, left, bottom, right)`` in fractions of the image side (``0 <= top < bottom <= 1``),
        for ``location="box"`` only: the region that carries the signal.
    """

    band: Band = "high"
    strength: float = 0.5
    location: Location = "global"
    box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.band not in BAND_FREQUENCY:
            raise ConfigError(f"signal band must be low, mid or high, got {self.band!r}")
        if self.location not in ("global", "lungs", "center", "box"):
            raise ConfigError("signal location must be global, lungs, center or box, "
                              f"got {self.location!r}")
        if (self.location == "box") != (self.box is not None):
            raise ConfigError("give box=(top, left, bottom, right) exactly when location='box'")
        if self.box is not None:
            top, left, bottom, right = (float(v) for v in self.box)
            if not (0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0):
                raise ConfigError(f"signal box must satisfy 0 <= top < bottom <= 1 and "
                                  f"0 <= left < right <= 1, got {self.box}")
        if not 0.0 <= float(self.strength) <= 10.0:
            raise ConfigError(f"signal strength must be in [0, 10], got {self.strength}")

    @property
    def frequency(self) -> float:
        """Grating frequency in cycles per image (= FFT radius in frequency pixels)."""
        return BAND_FREQUENCY[self.band]

    @classmethod
    def parse(cls, spec: str) -> ImageSignal:
        """Parse ``"band=high,strength=0.5,location=lungs"`` (any subset, defaults otherwise)."""
        kwargs: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in ("band", "strength", "location"):
                raise ConfigError(f"bad image signal {part!r}; use band=low|mid|high,strength=S,location=L")
            try:
                kwargs[key] = float(value) if key == "strength" else value.strip()
            except ValueError:
                raise ConfigError(f"signal strength must be a number, got {value!r}") from None
        return cls(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FindingSignal:
    """A faint focal opacity (a nodule-like blob in the right lower lung) where a 0/1 column is 1.

    With :func:`racelens.shared.synthetic.plant_finding` it makes the shortcut test's known
    answer: a finding that is harder to see than the group texture and more prevalent in one
    group. The blob's position jitters a little per image; its amplitude is ``0.08 * strength`` of
    the display range (the group texture's at the same strength) and it draws on its own random
    stream, so anatomy, pose, texture and noise are the same with or without it.

    Parameters
    ----------
    column
        The 0/1 column of the patients table that marks the finding.
    strength
        Amplitude scale (0: the images carry no trace of the finding).
    radius
        Gaussian SD of the blob as a fraction of the image half-width.
    """

    column: str = "Finding"
    strength: float = 0.5
    radius: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.strength) <= 10.0:
            raise ConfigError(f"finding strength must be in [0, 10], got {self.strength}")
        if not 0.02 <= float(self.radius) <= 1.0:
            raise ConfigError(f"finding radius must be in [0.02, 1], got {self.radius}")


def _finding(rng: np.random.Generator, present: np.ndarray, size: int,
             finding: FindingSignal) -> np.ndarray:
    n = len(present)
    g = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    cx = (-0.33 + rng.normal(0.0, 0.04, n)).reshape(n, 1, 1)
    cy = (0.15 + rng.normal(0.0, 0.04, n)).reshape(n, 1, 1)
    r2 = (g[None, None, :] - cx) ** 2 + (g[None, :, None] - cy) ** 2
    blob = np.exp(-0.5 * r2 / finding.radius**2).astype(np.float32)
    return blob * (present.astype(np.float32) * np.float32(_AMPLITUDE * finding.strength)).reshape(n, 1, 1)


def assign_views(patients: pd.DataFrame, *, seed: int = 0) -> pd.Series:
    """Draw a view per sample: AP more often for effusion/edema (sicker, portable films)."""
    rng = np.random.default_rng(seed)
    sick = np.zeros(len(patients), dtype=bool)
    for col in ("Pleural Effusion", "Edema"):
        if col in patients:
            sick |= patients[col].to_numpy() == 1
    ap = rng.random(len(patients)) < np.where(sick, 0.6, 0.3)
    return pd.Series(np.where(ap, "AP", "PA"), index=patients.index, name="view")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _ellipse(x: np.ndarray, y: np.ndarray, cx, cy, ax, ay, edge: float = 0.03) -> np.ndarray:
    r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return _sigmoid((1.0 - r) / edge)


def _column(patients: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in patients:
        return np.full(len(patients), default, dtype=np.float32)
    return patients[name].fillna(default).to_numpy(dtype=np.float32)


def _anatomy(rng: np.random.Generator, n: int, size: int, bmi: np.ndarray, cardio: np.ndarray,
             effusion: np.ndarray, edema: np.ndarray, ap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, size, size) in display units and their soft lung masks."""
    def per(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float32).reshape(n, 1, 1)

    g = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    u, v = g[None, None, :], g[None, :, None]
    theta = per(rng.normal(0.0, np.deg2rad(2.0), n))
    dx, dy = per(rng.normal(0.0, 0.03, n)), per(rng.normal(0.0, 0.03, n))
    scale = per(rng.normal(1.0, 0.03, n))
    x = (np.cos(theta) * (u - dx) + np.sin(theta) * (v - dy)) / scale
    y = (-np.sin(theta) * (u - dx) + np.cos(theta) * (v - dy)) / scale

    fat = per(np.clip((bmi - 28.0) / 10.0, -1.0, 2.5))
    half_w = 0.80 + 0.07 * fat  # soft tissue thickens with BMI
    torso = (np.abs(x / half_w) ** 4 + np.abs((y - 0.25) / 1.05) ** 4) ** 0.25
    neck = _sigmoid((0.16 - np.abs(x)) / 0.02) * _sigmoid((-0.65 - y) / 0.02)
    body = np.clip(_sigmoid((1.0 - torso) / 0.02) + neck, 0.0, 1.0)
    img = body * (0.30 + 0.05 * fat) + 0.1 * body * _sigmoid((np.abs(x) - 0.62) / 0.05) * (1.0 + fat)
    lungs = (_ellipse(x, y, -0.33, -0.05, 0.27, 0.58, 0.05)
             + _ellipse(x, y, 0.33, -0.05, 0.26, 0.56, 0.05))
    img = img - 0.22 * lungs
    ribs = (0.5 + 0.5 * np.cos(2 * np.pi * 6.5 * (y + 0.30 * x**2 - 0.15 * np.abs(x)))) ** 4
    img = img + 0.07 * ribs * lungs
    clavicles = _sigmoid((0.03 - np.abs(y + 0.58 - 0.22 * np.abs(x))) / 0.01)
    img = img + 0.12 * clavicles * _sigmoid((0.62 - np.abs(x)) / 0.03) * body
    spine = _sigmoid((0.085 - np.abs(x)) / 0.015) * body
    img = img + spine * (0.22 + 0.04 * np.cos(2 * np.pi * 9.0 * y))
    heart_w = per(0.30 * (1.0 + 0.25 * cardio + 0.08 * ap) * rng.normal(1.0, 0.04, n))
    img = img + 0.26 * _ellipse(x, y, 0.12, 0.26, heart_w, 0.24, 0.06)
    img = img + 0.25 * _sigmoid((y - 0.52) / 0.05) * body  # diaphragm and abdomen
    bases = lungs * _sigmoid((y - 0.30) / 0.06)
    img = img + 0.16 * per(effusion) * bases + 0.06 * per(edema) * lungs
    gain, offset = per(rng.normal(1.0, 0.06, n)), per(rng.normal(0.0, 0.02, n))
    gamma = per(np.exp(rng.normal(0.0, 0.08, n)))
    img = np.clip(img * gain + offset + 0.12, 0.0, 1.0) ** gamma
    return img.astype(np.float32), np.clip(lungs, 0.0, 1.0).astype(np.float32)


def _signal(rng: np.random.Generator, group_index: np.ndarray, size: int, signal: ImageSignal,
            lungs: np.ndarray) -> np.ndarray:
    n = len(group_index)
    c = (np.arange(size, dtype=np.float32) / size)
    cx, cy = c[None, None, :], c[None, :, None]
    out = np.zeros((n, size, size), dtype=np.float32)
    freq = signal.frequency * rng.normal(1.0, 0.02, n)
    for angle_deg, members in ((45.0, (0, 2)), (-45.0, (1, 2))):
        angle = np.deg2rad(angle_deg + rng.normal(0.0, 3.0, n))
        phase = rng.uniform(0.0, 2 * np.pi, n)
        on = np.isin(group_index, members).astype(np.float32)
        # the cross-hatch (both gratings) keeps the same total energy as one grating
        amp = on * np.where(group_index == 2, np.sqrt(0.5), 1.0)
        fx = (freq * np.cos(angle)).reshape(n, 1, 1)
        fy = (freq * np.sin(angle)).reshape(n, 1, 1)
        out += amp.reshape(n, 1, 1).astype(np.float32) * np.cos(
            2 * np.pi * (fx * cx + fy * cy) + phase.reshape(n, 1, 1)).astype(np.float32)
    if signal.location == "lungs":
        out *= lungs
    elif signal.location == "center":
        g = np.abs(c - 0.5)
        out *= (_sigmoid((0.25 - g[:, None]) / 0.02) * _sigmoid((0.25 - g[None, :]) / 0.02))[None]
    elif signal.location == "box":
        top, left, bottom, right = signal.box  # type: ignore[misc]
        # pixel centres inside the box (sharp edges: the box is a tile of a grid in the tests)
        centre = (np.arange(size, dtype=np.float32) + 0.5) / size
        rows = ((centre >= top) & (centre < bottom)).astype(np.float32)
        cols = ((centre >= left) & (centre < right)).astype(np.float32)
        out *= (rows[:, None] * cols[None, :])[None]
    return out * np.float32(_AMPLITUDE * signal.strength)


def synthetic_images(
    patients: pd.DataFrame,
    *,
    size: int = 128,
    signal: ImageSignal | None = None,
    groups: Sequence[str] = ("Asian", "Black", "White"),
    views: pd.Series | None = None,
    seed: int = 0,
    finding: FindingSignal | None = None,
) -> np.ndarray:
    """Render one image per row of ``patients`` (the table of ``synthetic_patients``).

    Parameters
    ----------
    patients
        Needs ``race`` (canonical); uses ``bmi``, ``Cardiomegaly``, ``Pleural Effusion``,
        ``Edema`` when present.
    size
        Image side in pixels (>= 32).
    signal
        The planted signal (default ``ImageSignal()``: high band, strength 0.5, global).
    groups
        Groups carrying the +45°, -45° and cross-hatch textures, in that order.
    views
        ``AP``/``PA`` per row (AP magnifies the heart a little); default :func:`assign_views`.
    seed
        Seed; anatomy, pose and noise do not depend on ``signal``.
    finding
        A focal opacity drawn where ``patients[finding.column] == 1`` (see :class:`FindingSignal`).

    Returns
    -------
    numpy.ndarray
        ``(len(patients), size, size)`` float32 in [0, 1], 1 = brightest (bone).
    """
    if size < 32:
        raise ConfigError(f"image size must be >= 32, got {size}")
    if "race" not in patients:
        raise DataError("patients table needs a canonical 'race' column (see synthetic_patients)")
    signal = ImageSignal() if signal is None else signal
    views = assign_views(patients, seed=seed) if views is None else views
    lookup = {g: i for i, g in enumerate(groups[:3])}
    group_index = np.array([lookup.get(r, -1) for r in patients["race"]])
    bmi = _column(patients, "bmi", 28.0)
    cardio = _column(patients, "Cardiomegaly", 0.0)
    effusion = _column(patients, "Pleural Effusion", 0.0)
    edema = _column(patients, "Edema", 0.0)
    ap = (np.asarray(views) == "AP").astype(np.float32)
    if finding is not None and finding.column not in patients:
        raise DataError(f"patients table has no {finding.column!r} column for the finding signal")
    present = (np.zeros(len(patients), dtype=bool) if finding is None
               else patients[finding.column].fillna(0).to_numpy() == 1)
    out = np.empty((len(patients), size, size), dtype=np.float32)
    for k, start in enumerate(range(0, len(patients), _CHUNK)):
        sl = slice(start, min(start + _CHUNK, len(patients)))
        anatomy_rng, signal_rng, noise_rng = (np.random.default_rng([seed, k, i]) for i in range(3))
        img, lungs = _anatomy(anatomy_rng, sl.stop - sl.start, size, bmi[sl], cardio[sl],
                              effusion[sl], edema[sl], ap[sl])
        img += _signal(signal_rng, group_index[sl], size, signal, lungs)
        if finding is not None:
            img += _finding(np.random.default_rng([seed, k, 3]), present[sl], size, finding)
        img += noise_rng.normal(0.0, _NOISE_SD, img.shape).astype(np.float32)
        out[sl] = np.clip(img, 0.0, 1.0)
    return out


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a [0, 1] image as a 16-bit greyscale PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    levels = np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)
    Image.fromarray(levels).save(path, format="PNG")
    return path


def write_png_manifest(root: str | os.PathLike[str], patients: pd.DataFrame, images: np.ndarray,
                       **columns: Sequence[object]) -> Path:
    """Write a PNG cohort and its manifest: the one writer of the tests' and benchmarks' cohorts.

    ``root/img/<i>.png`` per row of ``patients`` (as :func:`racelens.shared.synthetic.synthetic_patients`
    makes them: ``sample_id``, ``patient_id``, ``race_raw`` ...), ``root/table.csv`` (those columns,
    ``path`` and any ``columns`` given, e.g. ``split=...``) and ``root/manifest.parquet`` read
    through :func:`racelens.imaging.sources.cohort.from_table`, as a user's table would be.

    Returns
    -------
    Path
        The manifest.
    """
    from racelens.imaging.sources.cohort import from_table, write_manifest

    root = Path(root)
    paths = [f"img/{i}.png" for i in range(len(images))]
    for p, img in zip(paths, images, strict=True):
        write_png(root / p, img)
    patients.assign(path=paths, **columns).to_csv(root / "table.csv", index=False)
    cohort = from_table(root / "table.csv", path_col="path", race_col="race_raw",
                        patient_col="patient_id", sample_col="sample_id")
    return write_manifest(cohort, root / "manifest.parquet")[0]


def write_dicom(
    path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    sop_uid: str,
    view: Literal["PA", "AP"] = "PA",
    modality: Literal["CR", "DX"] = "CR",
    monochrome1: bool = False,
    rescale: tuple[float, float] | None = None,
    window: bool = False,
    sex: str | None = None,
    age: int | None = None,
) -> Path:
    """Write a [0, 1] display image as a single-frame DICOM (12 bits stored, 16 allocated).

    Parameters
    ----------
    path
        Output file.
    image
        2-D float image, 1 = brightest displayed.
    patient_id, study_uid, series_uid, sop_uid
        Identifiers (synthetic); PatientName is ``SYNTHETIC^<patient_id>``.
    view, modality
        ViewPosition and Modality (``CR`` or ``DX`` with the matching SOP class).
    monochrome1
        Store inverted (MONOCHROME1: low values are bright).
    rescale
        ``(slope, intercept)`` for RescaleSlope/RescaleIntercept, or ``None``.
    window
        Add a WindowCenter/WindowWidth covering the full stored range.
    sex, age
        PatientSex and PatientAge when given.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    sop_class = {"CR": "1.2.840.10008.5.1.4.1.1.1", "DX": "1.2.840.10008.5.1.4.1.1.1.1"}[modality]
    levels = np.rint(np.clip(image, 0.0, 1.0) * 4095.0).astype(np.uint16)
    if monochrome1:
        levels = np.uint16(4095) - levels
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.PatientName = patient_id, f"SYNTHETIC^{patient_id}"
    if sex is not None:
        ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = f"{int(age):03d}Y"
    ds.Modality, ds.ViewPosition, ds.BodyPartExamined = modality, view, "CHEST"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Rows, ds.Columns = levels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    slope, intercept = rescale if rescale is not None else (1.0, 0.0)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    if window:
        ds.WindowCenter = round(slope * 2047.5 + intercept, 2)
        ds.WindowWidth = round(slope * 4096.0, 2)
    ds.PixelData = levels.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
