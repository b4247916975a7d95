"""The decoder fallback: JPEG lossy files pylibjpeg-libjpeg rejects are decoded by imagecodecs.

The files are encoded here (imagecodecs' libjpeg-turbo writes 8- and 12-bit JPEG) and wrapped in
DICOM with ``pydicom.encaps.encapsulate``. An APP14 "Adobe" segment of an unknown version makes
pylibjpeg-libjpeg stop with "A misplaced marker segment was found" (the class of error the DICOM
WG-04 JPEG lossy files give), while libjpeg-turbo skips it.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit, generate_uid

from racelens.imaging.io.decoders import PLUGIN_ORDER, decode_pixels
from racelens.imaging.io.load import load_image, load_resized

ADOBE_V200 = b"\xff\xee\x00\x0eAdobe\x00\xc8\x00\x00\x00\x00\x00"  # APP14, version 200


def jpeg_dicom(path: Path, bits: int, *, misplaced: bool, frames: int = 1) -> tuple[Path, list[bytes]]:
    rng = np.random.default_rng(bits)
    dtype = np.uint8 if bits == 8 else np.uint16
    codestreams = []
    for _ in range(frames):
        image = rng.integers(0, 2**bits, (24, 40)).astype(dtype)
        code = imagecodecs.jpeg8_encode(image, level=95)
        codestreams.append(code[:2] + ADOBE_V200 + code[2:] if misplaced else code)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit if bits == 8 else JPEGExtended12Bit
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1.2", generate_uid()
    ds.Modality, ds.Rows, ds.Columns = "MG", 24, 40
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = (8 if bits == 8 else 16), bits, bits - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = encapsulate(codestreams)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path, codestreams


@pytest.mark.parametrize("bits", [8, 12])
def test_plain_jpeg_decoded_by_pylibjpeg(tmp_path: Path, bits: int) -> None:
    path, (code,) = jpeg_dicom(tmp_path / "a.dcm", bits, misplaced=False)
    arr, plugin = decode_pixels(pydicom.dcmread(path))
    assert plugin == "pylibjpeg"
    # two conforming decoders of one lossy codestream agree to within a level or two (IDCT)
    assert np.abs(arr.astype(int) - imagecodecs.jpeg8_decode(code).astype(int)).max() <= 2


@pytest.mark.parametrize("bits", [8, 12])
def test_rejected_jpeg_falls_back_to_imagecodecs(tmp_path: Path, bits: int) -> None:
    path, (code,) = jpeg_dicom(tmp_path / "a.dcm", bits, misplaced=True)
    ds = pydicom.dcmread(path)
    with pytest.raises(Exception, match="misplaced marker segment"):
        get_decoder(ds.file_meta.TransferSyntaxUID).as_array(ds, decoding_plugin="pylibjpeg")
    arr, plugin = decode_pixels(ds)
    assert plugin == "imagecodecs"
    assert arr.dtype == (np.uint8 if bits == 8 else np.uint16) and arr.shape == (24, 40)
    np.testing.assert_array_equal(arr, imagecodecs.jpeg8_decode(code))
    info: dict[str, object] = {}
    image = load_image(path, voi="bits", info=info)
    assert info["decoder"] == "imagecodecs"
    np.testing.assert_allclose(image, arr / (2.0**bits - 1), atol=1e-6)
    resized = load_resized(path, 8, voi="bits", info=info)
    assert resized.shape == (8, 8) and info["decoder"] == "imagecodecs"


def test_multi_frame_jpeg_decodes_the_frame_asked_for(tmp_path: Path) -> None:
    path, codes = jpeg_dicom(tmp_path / "m.dcm", 12, misplaced=True, frames=3)
    for k, code in enumerate(codes):
        info: dict[str, object] = {}
        image = load_image(path, voi="bits", frame=k, info=info)
        np.testing.assert_allclose(image, imagecodecs.jpeg8_decode(code) / 4095.0, atol=1e-6)
        assert info["decoder"] == "imagecodecs"


def test_every_decoder_failing_is_one_reason(tmp_path: Path) -> None:
    path, _ = jpeg_dicom(tmp_path / "a.dcm", 8, misplaced=False)
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xdb not a jpeg \xff\xd9"])
    ds.save_as(path)
    from racelens.errors import ImageLoadError

    with pytest.raises(ImageLoadError, match=r"cannot decode pixel data \(RuntimeError: every "
                                             r"decoder failed \(pylibjpeg: "):
        load_image(path)


def test_imagecodecs_is_the_plugin_after_pylibjpeg() -> None:
    assert PLUGIN_ORDER.index("imagecodecs") == PLUGIN_ORDER.index("pylibjpeg") + 1
    assert "imagecodecs" in get_decoder(JPEGExtended12Bit).available_plugins
