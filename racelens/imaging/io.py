"""Read one radiograph (DICOM, PNG or JPEG) as a 2-D float32 array in [0, 1].

Every loader returns the image *as displayed*: 1 is the brightest value (bone white), 0 the darkest
(air), whatever the file stores. For DICOM that means, in the order of the standard's grayscale
pipeline (PS3.3 C.11): the stored value with ``BitsStored`` honoured (pydicom 3's decoders clear
or sign-extend the unused high bits; a test holds it to that), the Modality LUT or rescale,
then the VOI LUT or window (``voi="auto"``), then MONOCHROME1 inversion.

Decisions
---------
- With a VOI LUT the output is divided by the LUT's nominal maximum (``2**bits - 1``); with a window
  the DICOM formula (LINEAR, LINEAR_EXACT or SIGMOID) is written directly on [0, 1]; the first of
  several windows is used. Without either (or with ``voi="none"``) the modality output is
  min-max scaled per image; a constant image becomes all zeros.
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

import functools
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from racelens.errors import ConfigError, ImageLoadError

__all__ = ["VoiMode", "load_image", "load_resized", "resize_image", "read_dicom_header",
           "HEADER_KEYWORDS"]

logger = logging.getLogger(__name__)

VoiMode = Literal["auto", "none"]

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
)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}
_COLOUR_TOLERANCE = 2  # levels of 255; lossy JPEG of a grey image may differ by one


def load_image(path: str | os.PathLike[str], *, voi: VoiMode = "auto") -> np.ndarray:
    """Load a single-frame greyscale radiograph as float32 in [0, 1], 1 = brightest displayed.

    Parameters
    ----------
    path
        A DICOM file (any transfer syntax pydicom and the pylibjpeg plugins decode: uncompressed,
        RLE, JPEG lossless, JPEG-LS, JPEG 2000), or a PNG (8- or 16-bit) or JPEG file.
    voi
        ``"auto"`` applies a DICOM file's VOI LUT or window when present; ``"none"`` skips it and
        min-max scales the modality values instead. PNG and JPEG ignore it.

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
    if voi not in ("auto", "none"):
        raise ConfigError(f"voi must be 'auto' or 'none', not {voi!r}")
    path = Path(path)
    head = _check_file(path)
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC):
        return _load_pillow(path)
    if head[128:132] == b"DICM" or path.suffix.lower() in _DICOM_SUFFIXES:
        return _load_dicom(path, voi)
    return _load_pillow(path)


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
        elif keyword in ("Rows", "Columns", "NumberOfFrames"):
            out[keyword] = int(value)
        else:
            out[keyword] = str(value)
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


def load_resized(path: str | os.PathLike[str], size: int, *, voi: VoiMode = "auto") -> np.ndarray:
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
    voi
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
    if voi not in ("auto", "none"):
        raise ConfigError(f"voi must be 'auto' or 'none', not {voi!r}")
    path = Path(path)
    head = _check_file(path)
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC) or not (
            head[128:132] == b"DICM" or path.suffix.lower() in _DICOM_SUFFIXES):
        return resize_image(_load_pillow(path), size)
    ds = _read_checked(path)
    try:
        stored, photometric, (lo, hi) = _stored_pixels(path, ds)
        affine = _affine_display(ds, voi, photometric, lo, hi)
        if affine is None:
            return resize_image(_display(stored, ds, voi, photometric), size)
    except ImageLoadError:
        raise
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc
    return _levels(_resize_float(stored.astype(np.float32), size), *affine)


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a float [0, 1] image to ``size x size`` (antialiased bilinear) as uint16 levels.

    The filter is Pillow's (``Image.resize(..., BILINEAR)``: a triangle widened by the scale
    factor when shrinking), applied as two sparse matrix products in float32; the result is
    within 1 level of Pillow's (which sums in float64). Pillow's ``reducing_gap`` shortcut
    (box-reduce first) is not used: on pydicom-data's RG1_UNCR it is off by up to 1200 levels.
    """
    return _levels(_resize_float(image, size))


def _resize_float(image: np.ndarray, size: int) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    rows = _resize_weights(img.shape[0], size) @ img  # vertical pass: axpy over whole rows
    return np.ascontiguousarray((_resize_weights(img.shape[1], size) @ rows.T).T)


@functools.lru_cache(maxsize=64)
def _resize_weights(n_in: int, n_out: int) -> Any:
    """Pillow's antialiased bilinear weights (``precompute_coeffs`` in its Resample.c) as a sparse
    float32 ``(n_out, n_in)`` matrix: output ``i`` samples at ``(i + 0.5) * n_in / n_out``."""
    from scipy import sparse

    scale = n_in / n_out
    widen = max(scale, 1.0)  # the filter's support grows with the reduction
    centers = (np.arange(n_out) + 0.5) * scale
    first = np.maximum(np.trunc(centers - widen + 0.5).astype(np.int64), 0)
    stop = np.minimum(np.trunc(centers + widen + 0.5).astype(np.int64), n_in)
    taps = first[:, None] + np.arange(int((stop - first).max()))[None, :]
    weights = np.clip(1.0 - np.abs((taps - centers[:, None] + 0.5) / widen), 0.0, None)
    weights[taps >= stop[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    cols = np.minimum(taps, n_in - 1).ravel()
    rows = np.repeat(np.arange(n_out), taps.shape[1])
    return sparse.csr_matrix((weights.ravel().astype(np.float32), (rows, cols)),
                             shape=(n_out, n_in))


def _levels(image: np.ndarray, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """``scale * image + offset`` clipped to [0, 1], as ``round(x * 65535)`` uint16 (float32)."""
    out = np.multiply(image, np.float32(65535.0 * scale), dtype=np.float32)
    if offset:
        out += np.float32(65535.0 * offset)
    np.clip(out, 0.0, 65535.0, out=out)
    return np.rint(out, out=out).astype(np.uint16)


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


def _load_dicom(path: Path, voi: VoiMode) -> np.ndarray:
    ds = _read_checked(path)
    # pydicom converts header values lazily (on ds.get, in the LUT helpers): a damaged value
    # fails here, not in dcmread; the pixel decode has its own reason
    try:
        return _dicom_image(path, ds, voi)
    except ImageLoadError:  # a DataError, hence a ValueError: keep its own reason
        raise
    except _header_value_errors() as exc:
        raise _invalid_header(path, exc) from exc


def _dicom_image(path: Path, ds: Any, voi: VoiMode) -> np.ndarray:
    stored, photometric, _ = _stored_pixels(path, ds, need_range=False)
    return _display(stored, ds, voi, photometric)


def _stored_pixels(path: Path, ds: Any, *, need_range: bool = True
                   ) -> tuple[np.ndarray, str, tuple[float, float]]:
    """Checked stored values (2-D), the photometric interpretation and, when asked, their range."""
    if "PixelData" not in ds:
        if (cut := _truncation(path, ds)) is not None:
            raise ImageLoadError(path, cut)
        kind = ds.get("Modality") or ds.get("SOPClassUID", "unknown")
        raise ImageLoadError(path, f"DICOM object has no pixel data (Modality {kind})")
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImageLoadError(
            path, f"colour DICOM (PhotometricInterpretation {photometric or 'missing'}) not supported"
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise ImageLoadError(path, f"multi-frame DICOM ({frames} frames) not supported")
    found = _native_pixels(ds)
    if found is not None:
        return found[0], photometric, found[1]
    try:
        stored = ds.pixel_array
    except Exception as exc:  # truncated data, missing plugin, corrupt codestream
        raise ImageLoadError(path, f"cannot decode pixel data ({_short(exc)})") from exc
    if stored.ndim != 2:
        raise ImageLoadError(path, f"expected a 2-D image, decoded shape {stored.shape}")
    span = (float(stored.min()), float(stored.max())) if need_range else (0.0, 0.0)
    return stored, photometric, span


_NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit/explicit VR LE


def _native_pixels(ds: Any) -> tuple[np.ndarray, tuple[float, float]] | None:
    """Uncompressed 8/16-bit pixel data as a read-only view of its bytes, with its range, when
    pydicom's decode would only copy it (no bits set above ``BitsStored``); else None."""
    try:  # anything unusual or damaged: pydicom's decode, and its own error message
        meta = ds.file_meta
        syntax, bits = meta.get("TransferSyntaxUID"), int(ds.BitsAllocated)
        signed, stored_bits = int(ds.get("PixelRepresentation", 0)), int(ds.BitsStored)
        rows, cols, data = int(ds.Rows), int(ds.Columns), ds.PixelData
    except Exception:
        return None
    if syntax not in _NATIVE_SYNTAXES or bits not in (8, 16) or signed not in (0, 1):
        return None
    if not isinstance(data, bytes) or len(data) < rows * cols * bits // 8 or rows * cols == 0:
        return None
    dtype = np.dtype(f"<{'iu'[signed == 0]}{bits // 8}")
    arr = np.frombuffer(data, dtype=dtype, count=rows * cols).reshape(rows, cols)
    lo, hi = int(arr.min()), int(arr.max())
    if signed:
        top = 2 ** (min(stored_bits, bits) - 1)
        ok = -top <= lo and hi < top
    else:
        ok = hi < 2 ** min(stored_bits, bits)
    return (arr, (float(lo), float(hi))) if ok else None


def _display(stored: np.ndarray, ds: Any, voi: VoiMode, photometric: str) -> np.ndarray:
    """Stored values -> float32 display intensities in [0, 1] (modality, VOI, MONOCHROME1)."""
    values = _modality(stored, ds)  # pydicom 3 masks/sign-extends above BitsStored
    if voi == "auto" and ds.get("VOILUTSequence"):
        image = _voi_lut(values, ds)
    elif voi == "auto" and _window_of(ds) is not None:
        center, width, function = _window_of(ds)  # type: ignore[misc]
        image = _window(values, center, width, function)
    else:
        image = _minmax(values)
    if photometric == "MONOCHROME1":
        np.subtract(np.float32(1.0), image, out=image)
    return image


def _affine_display(ds: Any, voi: VoiMode, photometric: str, lo: float,
                    hi: float) -> tuple[float, float] | None:
    """``(scale, offset)`` when :func:`_display` is ``scale * stored + offset`` over stored values
    in ``[lo, hi]`` (nothing clipped, no LUT, no sigmoid); None otherwise."""
    if ds.get("ModalityLUTSequence") or (voi == "auto" and ds.get("VOILUTSequence")):
        return None
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    v_lo, v_hi = sorted((slope * lo + intercept, slope * hi + intercept))
    window = _window_of(ds) if voi == "auto" else None
    if window is None:
        if v_hi <= v_lo:  # _minmax: a constant image is all zeros
            scale, offset = 0.0, 0.0
        else:
            scale, offset = 1.0 / (v_hi - v_lo), -v_lo / (v_hi - v_lo)
    else:
        center, width, function = window
        if function == "LINEAR_EXACT" and width > 0:
            scale, offset = 1.0 / width, 0.5 - center / width
        elif function == "LINEAR" and width > 1:
            scale, offset = 1.0 / (width - 1), 0.5 - (center - 0.5) / (width - 1)
        else:
            return None
        if scale * v_lo + offset < -1e-6 or scale * v_hi + offset > 1.0 + 1e-6:
            return None  # the window clips some values: not affine
    scale, offset = scale * slope, scale * intercept + offset
    if photometric == "MONOCHROME1":
        scale, offset = -scale, 1.0 - offset
    return scale, offset


def _truncation(path: Path, ds: Any) -> str | None:
    """Why a DICOM without pixel data looks cut short (pydicom stops silently at a partial
    element), or None when it looks whole.

    The cut shows as a last element whose value runs past the end of the file, as fewer bytes left
    over than an element's tag and length take (8), as no data-set element at all, or, for a cut on
    an element boundary, as an image-pixel module (Rows, Columns, BitsAllocated) without pixels.
    """
    elements = list(ds.values())
    if not elements:
        return "truncated file (ends inside the DICOM header)"
    start, length = getattr(elements[-1], "value_tell", None), getattr(elements[-1], "length", None)
    if start is not None and length is not None and length != 0xFFFFFFFF:  # else: unknown end
        left = path.stat().st_size - (start + length)
        if left < 0 or 0 < left < 8:
            return "truncated file (ends inside the DICOM header)"
    if all(k in ds for k in ("Rows", "Columns", "BitsAllocated")) and not any(
            k in ds for k in ("FloatPixelData", "DoubleFloatPixelData", "PixelDataProviderURL")):
        return "truncated file (ends before the pixel data)"
    return None


def _header_value_errors() -> tuple[type[BaseException], ...]:
    """What pydicom raises converting a damaged value (evaluated when an ``except`` matches)."""
    from pydicom.errors import BytesLengthException  # not a ValueError

    return (ValueError, TypeError, KeyError, IndexError, AttributeError, NotImplementedError,
            OverflowError, BytesLengthException)


def _invalid_header(path: Path, exc: BaseException) -> ImageLoadError:
    return ImageLoadError(path, f"invalid DICOM header value ({_short(exc)})")


def _modality(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Modality LUT or rescale (PS3.3 C.11.1) into a new float32 array (later steps work in place)."""
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels import apply_modality_lut

        return apply_modality_lut(arr, ds).astype(np.float32)
    out = arr.astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    if slope != 1.0:
        out *= slope
    if intercept != 0.0:
        out += intercept
    return out


def _window_of(ds: Any) -> tuple[float, float, str] | None:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    center, width = ds.WindowCenter, ds.WindowWidth
    center = center[0] if _is_multi(center) else center
    width = width[0] if _is_multi(width) else width
    if center is None or width is None or center == "" or width == "":
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    return float(center), float(width), function


def _is_multi(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM window (PS3.3 C.11.2.1.2 and C.11.2.1.3) onto [0, 1], in place on float32 ``values``."""
    if function == "SIGMOID" and width > 0:
        values -= np.float32(center)
        values *= np.float32(-4.0 / width)
        np.exp(values, out=values)
        values += np.float32(1.0)
        return np.reciprocal(values, out=values)
    if function == "LINEAR_EXACT" and width > 0:
        scale, offset = 1.0 / width, 0.5 - center / width
    elif function == "LINEAR" and width > 1:
        scale, offset = 1.0 / (width - 1), 0.5 - (center - 0.5) / (width - 1)
    elif function == "LINEAR" and width == 1:
        return (values > center - 0.5).astype(np.float32)
    else:
        logger.debug("ignoring invalid window (%s, width %s)", function, width)
        return _minmax(values)
    values *= np.float32(scale)  # one affine pass: the image may be tens of megapixels
    values += np.float32(offset)
    return np.clip(values, 0.0, 1.0, out=values)


def _voi_lut(values: np.ndarray, ds: Any) -> np.ndarray:
    from pydicom.pixels import apply_voi

    bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    mapped = apply_voi(np.rint(values).astype(np.int64), ds, 0)
    out = mapped.astype(np.float32) / np.float32(2**bits - 1)
    return np.clip(out, 0.0, 1.0, out=out)


def _minmax(values: np.ndarray) -> np.ndarray:
    """Scale float32 ``values`` (modified in place) to [0, 1]; a constant image becomes zeros."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    values -= np.float32(lo)
    values *= np.float32(1.0 / (hi - lo))
    return values


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        raise ImageLoadError(path, f"cannot decode image ({_short(exc)})") from exc


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
