"""Read one radiograph (DICOM, PNG or JPEG) as a 2-D float32 array in [0, 1].

Every loader returns the image *as displayed*: 1 is the brightest value (bone white), 0 the darkest
(air), whatever the file stores. For DICOM that means, in the order of the standard's grayscale
pipeline (PS3.3 C.11): the stored value with ``BitsStored`` honoured (pydicom 3's decoders clear
or sign-extend the unused high bits; a test holds it to that), the Modality LUT or rescale,
then the VOI LUT or window (``voi="auto"``), then MONOCHROME1 inversion.

Decisions
---------
- ``voi`` is an intensity mode of :mod:`racelens.imaging.io.intensity`. With a VOI LUT the output
  is divided by the LUT's nominal maximum (``2**bits - 1``); with a window the DICOM formula
  (LINEAR, LINEAR_EXACT or SIGMOID) is written directly on [0, 1]; the first of several windows is
  used. Without either (or with ``voi="none"``) the modality output is scaled by the file's
  nominal range (HU −1024..3071 for CT, else the ``BitsStored`` range), the same mapping for every
  file of a kind, so lossy ringing or one bright pixel does not move the rest of the image;
  ``voi="minmax"`` keeps per-image min-max scaling (a constant image becomes all zeros).
  HU presets (``lung``, ``mediastinum``, ``bone``) and ``C/W`` windows apply to CT modality values.
- Multi-frame objects (enhanced CT/MR, tomosynthesis, old-style multi-frame MR) are read one frame
  at a time (``frame=k``), with the frame's own rescale and window from the functional groups.
- Compressed pixel data is decoded by the first plugin of :data:`~.decoders.PLUGIN_ORDER` that
  accepts it (imagecodecs after pylibjpeg, so JPEG lossy codestreams pylibjpeg-libjpeg rejects
  still load); ``info`` receives the plugin's name.
- Mammograms (Modality MG) of the right breast (``ImageLaterality`` or ``Laterality`` ``R``) are
  flipped left-right, so every breast has its chest wall on the same side.
- PNG: 8-bit (``L``) is divided by 255, 16-bit (``I;16``/``I``) by 65535. RGB, RGBA and palette
  images are accepted only when their colour channels agree to within 2 levels of 255 (a greyscale
  radiograph saved as colour; lossy JPEG may differ by a level): the channel mean is used and alpha
  is ignored. Any other colour image is rejected.
- A PNG/JPEG declaring more pixels than Pillow's ``MAX_IMAGE_PIXELS`` (about 89 million) is
  refused before decoding, including the range where Pillow itself only warns.
- Every failure is an :class:`~racelens.errors.ImageLoadError` carrying the path and a short reason
  (``reason`` is what a cohort records in ``data.skipped``).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from racelens.errors import ImageLoadError
from racelens.imaging.io.dicom_display import (
    VoiMode,
    affine_display,
    display,
    short_error,
    stored_pixels,
)
from racelens.imaging.io.intensity import parse_channels, parse_intensity
from racelens.imaging.io.resize import resize_float, resize_image, to_levels

__all__ = ["VoiMode", "load_image", "load_resized", "load_channels", "resize_image",
           "read_dicom_header", "HEADER_KEYWORDS", "check_voi"]

#: DICOM keywords :func:`read_dicom_header` returns (``None`` when absent).
HEADER_KEYWORDS: tuple[str, ...] = (
    "PatientID",
    "PatientSex",
    "PatientAge",
    "PatientBirthDate",
    "EthnicGroup",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "StudyDate",
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PresentationIntentType",
    "ImageLaterality",
    "Laterality",
    "ImageType",
    "InstanceNumber",
    "SliceThickness",
    # acquisition settings (Lotter et al. 2024): covariates of the explain's acquisition baseline
    "Manufacturer",
    "KVP",
    "Exposure",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "WindowCenter",
    "WindowWidth",
)
#: Multi-valued geometry keywords :func:`read_dicom_header` returns as tuples of floats.
GEOMETRY_KEYWORDS: tuple[str, ...] = ("ImagePositionPatient", "ImageOrientationPatient")

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}
_COLOUR_TOLERANCE = 2  # levels of 255; lossy JPEG of a grey image may differ by one


def check_voi(voi: Any) -> str:
    """The canonical spelling of an intensity mode; :class:`ConfigError` when invalid."""
    return parse_intensity(voi).name


def load_image(path: str | os.PathLike[str], *, voi: VoiMode = "auto", frame: int | None = None,
               info: dict[str, Any] | None = None) -> np.ndarray:
    """Load one greyscale image (a radiograph, a slice, a frame) as float32 in [0, 1].

    Parameters
    ----------
    path
        A DICOM file (any transfer syntax pydicom and the pylibjpeg plugins decode: uncompressed,
        RLE, JPEG lossless, JPEG-LS, JPEG 2000), or a PNG (8- or 16-bit) or JPEG file.
    voi
        An intensity mode (:mod:`racelens.imaging.io.intensity`): ``"auto"`` applies a DICOM
        file's VOI LUT or window when present, else its nominal range; ``"none"`` skips the VOI;
        ``"minmax"``, ``"percentile"``, ``"lung"``, ``"mediastinum"``, ``"bone"``, ``"C/W"``.
        PNG and JPEG ignore it.
    frame
        The frame of a multi-frame DICOM object (required for one; 0-based).
    info
        When given, receives ``decoder`` (the pixel-data plugin, ``native`` when uncompressed,
        ``pillow`` for PNG/JPEG) and ``flipped`` (a right mammogram flipped left-right).

    Returns
    -------
    numpy.ndarray
        Shape ``(rows, columns)``, dtype float32, values in [0, 1].

    Raises
    ------
    ImageLoadError
        When the file is missing, a directory, empty, truncated, not an image, colour, multi-frame
        or cannot be decoded; ``err.reason`` says which.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> img = load_image(get_testdata_file("CT_small.dcm"))
    >>> img.shape, img.dtype
    ((128, 128), dtype('float32'))
    """
    voi = check_voi(voi)
    info = {} if info is None else info
    path = Path(path)
    head = _check_file(path)
    if not (head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC)) and (
            head[128:132] == b"DICM" or path.suffix.lower() in _DICOM_SUFFIXES):
        return _load_dicom(path, voi, frame, info)
    info.update(decoder="pillow", flipped=False)
    return _load_pillow(path)


def load_channels(path: str | os.PathLike[str], modes: str, *, frame: int | None = None
                  ) -> np.ndarray:
    """Several intensity modes of one DICOM image as channels, e.g. CT windows as RGB.

    Parameters
    ----------
    path, frame
        As :func:`load_image`.
    modes
        Modes joined by ``+``, e.g. ``"lung+mediastinum+bone"``.

    Returns
    -------
    numpy.ndarray
        ``(channels, rows, columns)`` float32 in [0, 1]; the pixels are decoded once.
    """
    channels = [m.name for m in parse_channels(modes)]
    path = Path(path)
    _check_file(path)
    ds = _read_checked(path)
    try:
        stored = stored_pixels(path, ds, need_range=False, frame=frame)
        flip = _flip_right(ds)
        out = np.stack([display(stored.values, ds, m, stored.photometric) for m in channels])
    except ImageLoadError:
        raise
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc
    return np.ascontiguousarray(out[:, :, ::-1]) if flip else out


def read_dicom_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the header of a DICOM file without its pixel data.

    Parameters
    ----------
    path
        A DICOM file.

    Returns
    -------
    dict
        Every keyword of :data:`HEADER_KEYWORDS` (value as ``str`` or ``int``, ``None`` when absent),
        plus ``TransferSyntaxUID`` and ``has_pixel_data`` (bool).

    Raises
    ------
    ImageLoadError
        When the file is missing, empty, not DICOM, or one of the values read is damaged.
    """
    path = Path(path)
    _check_file(path)
    ds = _read_dataset(path, stop_before_pixels=True, not_dicom="not a DICOM file")
    try:
        return _header_values(ds)
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc


def _header_values(ds: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for keyword in HEADER_KEYWORDS:
        value = ds.get(keyword)  # pydicom converts the raw bytes here, lazily
        if value is None or value == "":
            out[keyword] = None
        elif keyword in ("Rows", "Columns", "NumberOfFrames", "InstanceNumber"):
            out[keyword] = int(value)
        elif keyword == "ImageType" and not isinstance(value, str):
            out[keyword] = "\\".join(str(v) for v in value)
        else:
            out[keyword] = str(value)
    for keyword in GEOMETRY_KEYWORDS:
        value = ds.get(keyword)
        out[keyword] = tuple(float(v) for v in value) if value else None
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    out["TransferSyntaxUID"] = str(tsyntax) if tsyntax else None
    # stop_before_pixels ends the read at the pixel tag, so its presence is judged from the
    # image-pixel module attributes instead
    out["has_pixel_data"] = "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds
    return out


# --- file checks ------------------------------------------------------------------------------


def _check_file(path: Path) -> bytes:
    """Fail early with a precise reason; return the first 132 bytes for format sniffing."""
    if not path.exists():
        raise ImageLoadError(path, "file not found")
    if path.is_dir():
        raise ImageLoadError(path, "is a directory, not an image file")
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise ImageLoadError(path, f"cannot open file ({exc.strerror or exc})") from exc
    if not head:
        raise ImageLoadError(path, "empty file (0 bytes)")
    return head


# --- DICOM ------------------------------------------------------------------------------------


def _read_dataset(path: Path, *, stop_before_pixels: bool = False,
                  not_dicom: str = "not a DICOM, PNG or JPEG file") -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        if path.suffix.lower() not in _DICOM_SUFFIXES:
            raise ImageLoadError(path, not_dicom) from None
    except Exception as exc:  # pydicom raises many types on damaged headers
        raise ImageLoadError(path, f"unreadable DICOM header ({type(exc).__name__})") from exc
    # DICOM written without the 128-byte preamble is still common in PACS exports; forced
    # parsing of anything else yields a stray element or two, told apart by the missing SOP class
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
    except Exception as exc:
        raise ImageLoadError(path, not_dicom) from exc
    if "SOPClassUID" not in ds and "PixelData" not in ds and "Rows" not in ds:
        raise ImageLoadError(path, not_dicom)
    return ds


def load_resized(path: str | os.PathLike[str], size: int, *, voi: VoiMode = "auto",
                 frame: int | None = None, info: dict[str, Any] | None = None) -> np.ndarray:
    """``resize_image(load_image(path, voi=voi), size)`` in fewer passes (the cache's decoder).

    When the DICOM display mapping is affine over the image's stored values (rescale, then a
    LINEAR window that clips none of them or the min-max scaling, then MONOCHROME1 inversion),
    the stored values are resized first and mapped afterwards on the small image; uncompressed
    pixel data is read in place when no bits above ``BitsStored`` are set. Other images take the
    ``load_image`` route.

    Parameters
    ----------
    path
        Any file :func:`load_image` reads.
    size
        Side of the square output.
    voi, frame, info
        As in :func:`load_image`.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` uint16, intensity * 65535; within 1 level of
        ``resize_image(load_image(path, voi=voi), size)`` (float rounding of the reordered steps).

    Raises
    ------
    ImageLoadError
        As :func:`load_image`.
    """
    voi = check_voi(voi)
    info = {} if info is None else info
    path = Path(path)
    head = _check_file(path)
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC) or not (
            head[128:132] == b"DICM" or path.suffix.lower() in _DICOM_SUFFIXES):
        info.update(decoder="pillow", flipped=False)
        return resize_image(_load_pillow(path), size)
    ds = _read_checked(path)
    try:
        stored = stored_pixels(path, ds, frame=frame)
        info.update(decoder=stored.decoder, flipped=_flip_right(ds))
        affine = affine_display(ds, voi, stored.photometric, *stored.span)
        if affine is None:
            out = resize_image(display(stored.values, ds, voi, stored.photometric), size)
        else:
            # the stored values, not a float copy of the full image, go into the resize: a
            # 4096x3328 mammogram needs one small float32 intermediate, not two full-size ones
            out = to_levels(resize_float(stored.values, size), *affine)
    except ImageLoadError:
        raise
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc
    return np.ascontiguousarray(out[:, ::-1]) if info["flipped"] else out


def _flip_right(ds: Any) -> bool:
    """A mammogram of the right breast (flipped so every chest wall is on the same side)."""
    if str(ds.get("Modality", "")).upper() != "MG":
        return False
    side = ds.get("ImageLaterality") or ds.get("Laterality") or ""
    return str(side).strip().upper() == "R"



def _read_checked(path: Path) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _read_dataset(path)
    for w in caught:
        # pydicom drops an element cut off by the end of the file and only warns about it
        if "end of file" in str(w.message).lower():
            raise ImageLoadError(path, "truncated file (ends inside a DICOM element)")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ds


def _load_dicom(path: Path, voi: VoiMode, frame: int | None, info: dict[str, Any]
                ) -> np.ndarray:
    ds = _read_checked(path)
    # pydicom converts header values lazily (on ds.get, in the LUT helpers): a damaged value
    # fails here, not in dcmread; the pixel decode has its own reason
    try:
        stored = stored_pixels(path, ds, need_range=False, frame=frame)
        info.update(decoder=stored.decoder, flipped=_flip_right(ds))
        image = display(stored.values, ds, voi, stored.photometric)
    except ImageLoadError:  # a DataError, hence a ValueError: keep its own reason
        raise
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc
    return np.ascontiguousarray(image[:, ::-1]) if info["flipped"] else image



def _header_value_errors() -> tuple[type[BaseException], ...]:
    """What pydicom raises converting a damaged value (evaluated when an ``except`` matches)."""
    from pydicom.errors import BytesLengthException  # not a ValueError

    return (ValueError, TypeError, KeyError, IndexError, AttributeError, NotImplementedError,
            OverflowError, BytesLengthException)


def _invalid_header(path: Path, exc: BaseException) -> ImageLoadError:
    return ImageLoadError(path, f"invalid DICOM header value ({short_error(exc)})")


# --- PNG / JPEG -------------------------------------------------------------------------------


def _load_pillow(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that (and raises above): refuse
            # both alike, before anything is decoded
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if getattr(im, "n_frames", 1) > 1:
                raise ImageLoadError(path, f"multi-frame image ({im.n_frames} frames) not supported")
            im.load()
            if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation: show it the way it was taken
                im = ImageOps.exif_transpose(im)
            return _pillow_to_float(path, im)
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, "not a DICOM, PNG or JPEG file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(path, f"image too large ({_pixels(exc)} pixels, over Pillow's "
                                   f"limit of {Image.MAX_IMAGE_PIXELS})") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow reports truncation as OSError
        raise ImageLoadError(path, f"cannot decode image ({short_error(exc)})") from exc


def _pixels(exc: BaseException) -> str:
    """The pixel count in Pillow's decompression-bomb message ("Image size (N pixels) exceeds")."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return found.group(1) if found else "too many"


def _pillow_to_float(path: Path, im: Any) -> np.ndarray:
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float32)
    if mode == "L":
        return np.asarray(im, dtype=np.float32) / np.float32(255.0)
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.float32) / np.float32(65535.0)
    if mode == "I":
        arr = np.asarray(im)
        if arr.min() < 0 or arr.max() > 65535:
            raise ImageLoadError(path, "32-bit integer image values outside 0..65535")
        return arr.astype(np.float32) / np.float32(65535.0)
    if mode in ("LA", "La"):
        return np.asarray(im.getchannel("L"), dtype=np.float32) / np.float32(255.0)
    if mode in ("RGB", "RGBA", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
        spread = int((rgb.max(axis=2) - rgb.min(axis=2)).max())
        if spread > _COLOUR_TOLERANCE:
            raise ImageLoadError(
                path, f"colour image (mode {mode}, channels differ by up to {spread}) not supported"
            )
        return rgb.mean(axis=2, dtype=np.float32) / np.float32(255.0)
    raise ImageLoadError(path, f"unsupported image mode {mode}")

