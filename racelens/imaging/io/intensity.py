"""Intensity modes: how a DICOM file's modality values become display intensities in [0, 1].

One string names the mode, so it can travel through the cache key, the CLI (``--voi``) and the
``config`` block of ``result.json`` unchanged:

``auto`` (default)
    The file's VOI LUT or window when it has one; otherwise the *default scaling*: for CT the
    nominal HU range −1024 to 3071 (the 12-bit range CT scanners write), for every other modality
    the 0.5th to 99.5th percentile of the image's modality values.
``none``
    Ignore the file's VOI; the default scaling.
``bits``
    Ignore the file's VOI; the range ``BitsStored`` can hold (``0..2**BitsStored - 1``, or the
    signed range) taken through the rescale (or the Modality LUT's output range).
``minmax``
    Ignore the file's VOI; each image scaled by its own minimum and maximum (racelens before 0.2).
    Lossy ringing moves every value: a JPEG 2000 lossy copy of an image does not map like the
    lossless original. Kept for comparison, not as a default.
``percentile``
    Ignore the file's VOI; the 0.5th to 99.5th percentile of the image's modality values (CT too).
``lung``, ``mediastinum``, ``bone``
    Hounsfield-unit window presets (center/width −600/1500, 40/400, 400/1800) on the modality
    values of a CT image (an error on any other modality).
``C/W``
    A window of center ``C`` and width ``W`` in modality units, e.g. ``40/400``.

Why this default: min-max scaling lets one ringing pixel of a lossy codestream move every value
(on the DICOM WG-04 NM image the lossless and JPEG 2000 lossy copies have raw means 13.7 and
13.5 but min-max scaled means 0.049 and 0.158), so a clipping or windowing perturbation at one
intensity meant a different stored value in every file. CT values are Hounsfield units, so a fixed
HU range gives one intensity one tissue density on every scan. Other modalities' values have no
common unit, and ``BitsStored`` often overstates the range used (NM and MR files declare 16 bits
and use a few hundred values, which ``bits`` squeezes into 0.4 % of the scale); the percentiles
ignore the extreme 0.5 % at each end, where ringing and hot pixels live, so lossless and lossy
copies of one image map alike.
Several modes joined by ``+`` (``lung+mediastinum+bone``) are channels of
:func:`racelens.imaging.io.load.load_channels`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from racelens.errors import ConfigError

__all__ = ["WINDOW_PRESETS", "CT_RANGE", "IntensityMode", "parse_intensity", "parse_channels",
           "check_intensity", "slug"]

#: Hounsfield-unit window presets: name -> (center, width).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
}
#: The nominal HU range of CT without a window.
CT_RANGE: tuple[float, float] = (-1024.0, 3071.0)
_NAMED = ("auto", "none", "bits", "minmax", "percentile")
_PERCENTILES = (0.5, 99.5)
_CUSTOM = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class IntensityMode:
    """A parsed intensity mode (see the module docstring).

    Attributes
    ----------
    name
        The mode as written (``auto``, ``lung``, ``40/400``...).
    use_voi
        Apply the file's own VOI LUT or window when present.
    scaling
        Without a window: ``default`` (HU range for CT, else percentiles), ``bits``, ``minmax``
        or ``percentile``.
    window
        ``(center, width)`` in modality units for presets and custom windows, else None.
    needs_hu
        The window is in HU: only CT images qualify.
    """

    name: str
    use_voi: bool
    scaling: str
    window: tuple[float, float] | None = None
    needs_hu: bool = False

    def percentiles(self) -> tuple[float, float]:
        return _PERCENTILES


def parse_intensity(mode: str) -> IntensityMode:
    """Parse one intensity mode; :class:`ConfigError` naming the valid ones otherwise."""
    if not isinstance(mode, str):
        raise ConfigError(f"intensity mode must be a string, not {type(mode).__name__}")
    text = mode.strip().lower()
    if text == "auto":
        return IntensityMode(text, True, "default")
    if text == "none":
        return IntensityMode(text, False, "default")
    if text in ("bits", "minmax", "percentile"):
        return IntensityMode(text, False, text)
    if text in WINDOW_PRESETS:
        return IntensityMode(text, False, "default", WINDOW_PRESETS[text], needs_hu=True)
    found = _CUSTOM.match(text)
    if found and float(found.group(2)) > 1:
        return IntensityMode(f"{found.group(1)}/{found.group(2)}", False, "default",
                             (float(found.group(1)), float(found.group(2))))
    raise ConfigError(f"intensity mode {mode!r} is not one of: {', '.join(_NAMED)}, "
                      f"{', '.join(WINDOW_PRESETS)}, or CENTER/WIDTH (width > 1), e.g. 40/400")


def parse_channels(modes: str) -> tuple[IntensityMode, ...]:
    """``"lung+mediastinum+bone"`` -> one :class:`IntensityMode` per channel."""
    parts = [p for p in str(modes).split("+") if p.strip()]
    if not parts:
        raise ConfigError("no intensity mode given; e.g. 'auto' or 'lung+mediastinum+bone'")
    return tuple(parse_intensity(p) for p in parts)


def check_intensity(mode: Any) -> str:
    """The canonical spelling of a single mode (raises :class:`ConfigError` when invalid)."""
    return parse_intensity(mode).name


def slug(mode: str) -> str:
    """A file-name-safe form of a mode (for cache directory names): ``-600/1500`` -> ``m600w1500``."""
    return parse_intensity(mode).name.replace("/", "w").replace("-", "m").replace(".", "p")
