"""Pixel-data decoding: imagecodecs as the next pydicom plugin, and which plugin decoded a file.

Real archives hold JPEG lossy (Baseline 8-bit, Extended 12-bit) codestreams that
pylibjpeg-libjpeg rejects ("A misplaced marker segment was found", e.g. an APP14 marker of a
version it does not know) while libjpeg-turbo decodes the same bytes. pydicom 3 keeps, per transfer
syntax, a :class:`pydicom.pixels.decoders.base.Decoder` with named plugins (``add_plugin(label,
(module, function))``; a plugin module has ``is_available(uid)`` and ``DECODER_DEPENDENCIES``);
this module is such a plugin module for imagecodecs and registers itself on import.

:func:`decode_pixels` asks the plugins one at a time, in :data:`PLUGIN_ORDER`, through
``Decoder.as_array(ds, decoding_plugin=name)``: a frame one plugin rejects goes to the next before
the file is given up, and the name of the plugin that decoded it is returned, so a cohort can
record it (``native`` for uncompressed data).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

__all__ = ["PLUGIN_ORDER", "DECODER_DEPENDENCIES", "is_available", "register_imagecodecs",
           "decode_pixels"]

logger = logging.getLogger(__name__)

#: The order plugins are tried in (then any other plugin pydicom has, alphabetically).
PLUGIN_ORDER: tuple[str, ...] = ("pylibjpeg", "imagecodecs", "gdcm", "pillow", "pyjpegls")

_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
_JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
_JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
_JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"

#: pydicom's plugin contract: the packages each transfer syntax needs from this plugin.
DECODER_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    _JPEG_BASELINE: ("imagecodecs>=2024.1",),
    _JPEG_EXTENDED: ("imagecodecs>=2024.1",),
    _JPEG_LOSSLESS: ("imagecodecs>=2024.1",),
    _JPEG_LOSSLESS_SV1: ("imagecodecs>=2024.1",),
}


def is_available(uid: str) -> bool:
    """pydicom's plugin contract: True when imagecodecs is installed and ``uid`` is one of ours."""
    return uid in DECODER_DEPENDENCIES and importlib.util.find_spec("imagecodecs") is not None


def decode_frame(src: bytes, runner: Any) -> bytes:
    """pydicom's plugin contract: one encoded frame -> its pixels as bytes (little endian)."""
    import imagecodecs

    # jpeg8 is libjpeg-turbo (8- and 12-bit lossy, lossless); ljpeg covers lossless 2-16 bit
    try:
        arr = imagecodecs.jpeg8_decode(src)
    except Exception:
        if runner.transfer_syntax not in (_JPEG_LOSSLESS, _JPEG_LOSSLESS_SV1):
            raise
        arr = imagecodecs.ljpeg_decode(src)
    rows, cols = int(runner.rows), int(runner.columns)
    if arr.shape[:2] != (rows, cols):
        raise ValueError(f"imagecodecs decoded {arr.shape[:2]}, the header says {(rows, cols)}")
    if arr.ndim == 3 and int(runner.samples_per_pixel) > 1:
        # libjpeg-turbo converts YCbCr to RGB, as pydicom's other JPEG plugins do
        runner.set_option("photometric_interpretation", "RGB")
    runner.set_option("planar_configuration", 0)
    runner.set_option("bits_allocated", 8 if arr.dtype.itemsize == 1 else 16)
    return np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False)).tobytes()


def register_imagecodecs() -> bool:
    """Add imagecodecs as a plugin of pydicom's JPEG decoders (idempotent); True when available."""
    if importlib.util.find_spec("imagecodecs") is None:
        return False
    from pydicom.pixels.decoders.base import get_decoder

    for uid in DECODER_DEPENDENCIES:
        decoder = get_decoder(uid)
        if "imagecodecs" in decoder.available_plugins:
            continue
        try:
            decoder.add_plugin("imagecodecs", (__name__, "decode_frame"))
        except ValueError:  # already registered (as unavailable): nothing to do
            pass
    return True


def decode_pixels(ds: Any, *, index: int | None = None) -> tuple[np.ndarray, str]:
    """Decode a dataset's pixel data, trying each available plugin in turn.

    Parameters
    ----------
    ds
        A :class:`pydicom.dataset.Dataset` with pixel data.
    index
        One frame of a multi-frame object (only that frame is decoded); None: all frames.

    Returns
    -------
    (numpy.ndarray, str)
        The stored values (``(rows, cols)``, or ``(frames, rows, cols)`` for a multi-frame object;
        pydicom honours ``BitsStored``) and the name of the plugin that decoded them
        (``native`` for uncompressed data).

    Raises
    ------
    RuntimeError
        When every plugin fails; the message lists each plugin's reason.
    """
    from pydicom.pixels.decoders.base import get_decoder

    syntax = ds.file_meta.TransferSyntaxUID
    decoder = get_decoder(syntax)
    if not syntax.is_encapsulated:
        return decoder.as_array(ds, index=index)[0], "native"
    register_imagecodecs()
    available = decoder.available_plugins
    order = [p for p in PLUGIN_ORDER if p in available]
    order += sorted(set(available) - set(order))
    if not order:
        raise RuntimeError(f"no decoder installed for {syntax.name}")
    failures = []
    for name in order:
        try:
            arr = decoder.as_array(ds, index=index, decoding_plugin=name)[0]
        except Exception as exc:  # each plugin raises its own types on a codestream it rejects
            failures.append(f"{name}: {' '.join(str(exc).split())[:120]}")
            continue
        if failures:
            logger.debug("decoded with %s after %s", name, "; ".join(failures))
        return arr, name
    raise RuntimeError("every decoder failed (" + "; ".join(failures) + ")")


register_imagecodecs()
