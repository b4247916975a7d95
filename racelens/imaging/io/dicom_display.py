"""The DICOM grayscale display pipeline: stored pixel values to display intensities in [0, 1].

It exists apart from :mod:`racelens.imaging.io.load` (which finds, reads and checks files) because it
is one concept with its own rules, the standard's grayscale pipeline (PS3.3 C.11): the stored
values, checked (monochrome, single frame, ``BitsStored`` honoured), then the Modality LUT or
rescale, the VOI LUT or window, and MONOCHROME1 inversion. :func:`affine_display` says when that
whole mapping is ``scale * stored + offset``, which lets
:func:`racelens.imaging.io.load.load_resized` resize the stored values first.

The decisions (which window, LUT scaling, min-max fallback) are listed in
:mod:`racelens.imaging.io.load`, whose loaders are the public way in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from racelens.errors import ImageLoadError
from racelens.imaging.io.intensity import CT_RANGE, IntensityMode, parse_intensity

__all__ = ["VoiMode", "Stored", "stored_pixels", "display", "affine_display", "short_error",
           "frame_count", "nominal_range"]

logger = logging.getLogger(__name__)

#: An intensity mode of :mod:`racelens.imaging.io.intensity` (``auto``, ``none``, ``minmax``,
#: ``percentile``, ``lung``, ``mediastinum``, ``bone`` or ``C/W``).
VoiMode = str


class Stored(NamedTuple):
    """Checked stored values of one frame and what the display pipeline needs to know of them."""

    values: np.ndarray
    photometric: str
    span: tuple[float, float]
    decoder: str


def frame_count(ds: Any) -> int:
    """``NumberOfFrames`` (1 when absent or empty)."""
    return int(ds.get("NumberOfFrames", 1) or 1)


def stored_pixels(path: Path, ds: Any, *, need_range: bool = True, frame: int | None = None
                  ) -> Stored:
    """Checked stored values (2-D) of one frame, the photometric interpretation, their range (when
    asked) and the decoder used. A multi-frame object needs ``frame``; its per-frame rescale and
    window (enhanced CT/MR functional groups) are copied onto ``ds`` for the later steps."""
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
    frames = frame_count(ds)
    if frame is None and frames != 1:
        raise ImageLoadError(path, f"multi-frame DICOM ({frames} frames): read it as a series "
                                   "(one frame at a time)")
    index = 0 if frame is None else int(frame)
    if not 0 <= index < frames:
        raise ImageLoadError(path, f"frame {index} out of range ({frames} frames)")
    _frame_groups(ds, index)
    found = _native_pixels(ds, index)
    if found is not None:
        return Stored(found[0], photometric, found[1], "native")
    from racelens.imaging.io.decoders import decode_pixels

    try:
        if frames == 1:
            stored, decoder = decode_pixels(ds)
        else:
            stored, decoder = decode_pixels(ds, index=index)
    except Exception as exc:  # truncated data, missing plugin, corrupt codestream
        raise ImageLoadError(path, f"cannot decode pixel data ({short_error(exc)})") from exc
    if stored.ndim != 2:
        raise ImageLoadError(path, f"expected a 2-D image, decoded shape {stored.shape}")
    span = (float(stored.min()), float(stored.max())) if need_range else (0.0, 0.0)
    return Stored(stored, photometric, span, decoder)


def _frame_groups(ds: Any, index: int) -> None:
    """Copy an enhanced object's per-frame (else shared) rescale and window onto ``ds``, where the
    display steps look for them; top-level values win (classic objects have only those)."""
    groups = []
    for seq in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = ds.get(seq)
        if items:
            groups.append(items[index] if seq.startswith("PerFrame") and index < len(items)
                          else items[0])
    for item in groups:
        for macro, keys in (("PixelValueTransformationSequence",
                             ("RescaleSlope", "RescaleIntercept")),
                            ("FrameVOILUTSequence", ("WindowCenter", "WindowWidth",
                                                     "VOILUTFunction"))):
            inner = item.get(macro)
            if not inner:
                continue
            for key in keys:
                if key not in ds and key in inner[0]:
                    setattr(ds, key, inner[0][key].value)


_NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit/explicit VR LE


def _native_pixels(ds: Any, index: int = 0) -> tuple[np.ndarray, tuple[float, float]] | None:
    """Uncompressed 8/16-bit pixel data of frame ``index`` as a read-only view of its bytes, with
    its range, when pydicom's decode would only copy it (no bits set above ``BitsStored``)."""
    try:  # anything unusual or damaged: pydicom's decode, and its own error message
        meta = ds.file_meta
        syntax, bits = meta.get("TransferSyntaxUID"), int(ds.BitsAllocated)
        signed, stored_bits = int(ds.get("PixelRepresentation", 0)), int(ds.BitsStored)
        rows, cols, data = int(ds.Rows), int(ds.Columns), ds.PixelData
    except Exception:
        return None
    if syntax not in _NATIVE_SYNTAXES or bits not in (8, 16) or signed not in (0, 1):
        return None
    frame_bytes = rows * cols * bits // 8
    if not isinstance(data, bytes) or len(data) < (index + 1) * frame_bytes or rows * cols == 0:
        return None
    dtype = np.dtype(f"<{'iu'[signed == 0]}{bits // 8}")
    arr = np.frombuffer(data, dtype=dtype, count=rows * cols,
                        offset=index * frame_bytes).reshape(rows, cols)
    lo, hi = int(arr.min()), int(arr.max())
    if signed:
        top = 2 ** (min(stored_bits, bits) - 1)
        ok = -top <= lo and hi < top
    else:
        ok = hi < 2 ** min(stored_bits, bits)
    return (arr, (float(lo), float(hi))) if ok else None


def display(stored: np.ndarray, ds: Any, voi: VoiMode, photometric: str) -> np.ndarray:
    """Stored values -> float32 display intensities in [0, 1] (modality, VOI, MONOCHROME1).

    ``voi`` is an intensity mode of :mod:`racelens.imaging.io.intensity`."""
    mode = parse_intensity(voi)
    values = _modality(stored, ds)  # pydicom 3 masks/sign-extends above BitsStored
    if mode.window is not None:
        _check_hu(ds, mode)
        image = _window(values, mode.window[0], mode.window[1], "LINEAR")
    elif mode.use_voi and ds.get("VOILUTSequence"):
        image = _voi_lut(values, ds)
    elif mode.use_voi and _window_of(ds) is not None:
        center, width, function = _window_of(ds)  # type: ignore[misc]
        image = _window(values, center, width, function)
    elif mode.scaling == "minmax":
        image = _minmax(values)
    elif mode.scaling == "bits" or (mode.scaling == "default" and _is_hu(ds)):
        image = _scale(values, *nominal_range(ds))
    else:  # percentile, and the default for everything but CT
        lo, hi = np.percentile(values, mode.percentiles())
        image = _scale(values, float(lo), float(hi))
    if photometric == "MONOCHROME1":
        np.subtract(np.float32(1.0), image, out=image)
    return image


def _is_hu(ds: Any) -> bool:
    return str(ds.get("Modality", "")).upper() == "CT"


def nominal_range(ds: Any) -> tuple[float, float]:
    """The modality-value range an image of this kind can hold (see
    :mod:`racelens.imaging.io.intensity`): HU −1024..3071 for CT, else the ``BitsStored`` range
    through the rescale or the Modality LUT."""
    if _is_hu(ds):
        return CT_RANGE
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels import apply_modality_lut

        item = ds.ModalityLUTSequence[0]
        first = int(item.LUTDescriptor[1])
        n = int(item.LUTDescriptor[0]) or 65536
        ends = np.array([first, first + n - 1], dtype=np.int64)
        lut = apply_modality_lut(np.arange(ends[0], ends[1] + 1), ds)
        return float(lut.min()), float(lut.max())
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    else:
        lo, hi = 0.0, 2.0**bits - 1
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    a, b = sorted((slope * lo + intercept, slope * hi + intercept))
    return a, b


def _check_hu(ds: Any, mode: IntensityMode) -> None:
    modality = str(ds.get("Modality", "") or "missing")
    if mode.needs_hu and modality.upper() != "CT":
        raise ImageLoadError(getattr(ds, "filename", "") or "<dataset>",
                             f"window preset {mode.name!r} is in Hounsfield units, for CT; this "
                             f"image's Modality is {modality}")


def affine_display(ds: Any, voi: VoiMode, photometric: str, lo: float,
                   hi: float) -> tuple[float, float] | None:
    """``(scale, offset)`` when :func:`display` is ``scale * stored + offset`` over stored values
    in ``[lo, hi]`` (nothing clipped, no LUT, no sigmoid, no percentiles); None otherwise."""
    mode = parse_intensity(voi)
    if ds.get("ModalityLUTSequence") or (mode.use_voi and ds.get("VOILUTSequence")):
        return None
    percentiles = mode.scaling == "percentile" or (mode.scaling == "default" and not _is_hu(ds))
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    v_lo, v_hi = sorted((slope * lo + intercept, slope * hi + intercept))
    if mode.window is not None:
        _check_hu(ds, mode)
        window: tuple[float, float, str] | None = (*mode.window, "LINEAR")
    else:
        window = _window_of(ds) if mode.use_voi else None
    if window is None and percentiles:
        return None  # a clip at the percentiles: not affine
    if window is None:
        r_lo, r_hi = (v_lo, v_hi) if mode.scaling == "minmax" else nominal_range(ds)
        if r_hi <= r_lo:  # _minmax: a constant image is all zeros
            scale, offset = 0.0, 0.0
        else:
            scale, offset = 1.0 / (r_hi - r_lo), -r_lo / (r_hi - r_lo)
    else:
        linear = _linear_window(*window)
        if linear is None:
            return None
        scale, offset = linear
    if scale * v_lo + offset < -1e-6 or scale * v_hi + offset > 1.0 + 1e-6:
        return None  # some values are clipped: not affine
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
    linear = _linear_window(center, width, function)
    if linear is None and function == "LINEAR" and width == 1:
        return (values > center - 0.5).astype(np.float32)
    if linear is None:
        logger.debug("ignoring invalid window (%s, width %s)", function, width)
        return _minmax(values)
    scale, offset = linear
    values *= np.float32(scale)  # one affine pass: the image may be tens of megapixels
    values += np.float32(offset)
    return np.clip(values, 0.0, 1.0, out=values)


def _linear_window(center: float, width: float, function: str) -> tuple[float, float] | None:
    """``(scale, offset)`` of a LINEAR or LINEAR_EXACT window before clipping; None for a sigmoid
    or a width the formula does not cover."""
    if function == "LINEAR_EXACT" and width > 0:
        return 1.0 / width, 0.5 - center / width
    if function == "LINEAR" and width > 1:
        return 1.0 / (width - 1), 0.5 - (center - 0.5) / (width - 1)
    return None


def _voi_lut(values: np.ndarray, ds: Any) -> np.ndarray:
    from pydicom.pixels import apply_voi

    bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    mapped = apply_voi(np.rint(values).astype(np.int64), ds, 0)
    out = mapped.astype(np.float32) / np.float32(2**bits - 1)
    return np.clip(out, 0.0, 1.0, out=out)


def _scale(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(values - lo) / (hi - lo)`` clipped to [0, 1], in place; zeros when ``hi <= lo``."""
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    values -= np.float32(lo)
    values *= np.float32(1.0 / (hi - lo))
    return np.clip(values, 0.0, 1.0, out=values)


def _minmax(values: np.ndarray) -> np.ndarray:
    """Scale float32 ``values`` (modified in place) to [0, 1]; a constant image becomes zeros."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    values -= np.float32(lo)
    values *= np.float32(1.0 / (hi - lo))
    return values


def short_error(exc: BaseException) -> str:
    """``"ErrorType: message"`` on one line, at most 160 characters of message (an error reason)."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
