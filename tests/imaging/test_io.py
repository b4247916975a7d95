"""racelens.imaging.io.load on real radiographs shipped by pydicom-data and on files made here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import JPEG2000Lossless, generate_uid

from racelens.errors import ConfigError, DataError, ImageLoadError
from racelens.imaging.io.load import load_image, load_resized, read_dicom_header, resize_image


def datafile(name: str) -> str:
    # download=False: the large files come from the installed pydicom-data package, never the net
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} missing: install the dev extra (pydicom-data)"
    return str(path)


def write_dicom(path: Path, stored: np.ndarray, *, photometric: str = "MONOCHROME2",
                bits_stored: int | None = None, **tags: object) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray for presentation
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.set_pixel_data(stored, photometric, bits_stored or stored.dtype.itemsize * 8)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def chest() -> dict[str, np.ndarray]:
    return {name: load_image(datafile(name)) for name in ("RG1_UNCR.dcm", "RG1_J2KR.dcm")}


# --- the real CR chest (MONOCHROME1, windowed) -------------------------------------------------


def test_chest_uncompressed_and_jpeg2000_identical(chest: dict[str, np.ndarray]) -> None:
    a, b = chest["RG1_UNCR.dcm"], chest["RG1_J2KR.dcm"]
    assert a.shape == (1955, 1841) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)


def test_chest_orientation_lungs_darker_than_spine(chest: dict[str, np.ndarray]) -> None:
    img = chest["RG1_UNCR.dcm"]
    h, w = img.shape
    rows = slice(int(0.35 * h), int(0.60 * h))
    left_lung = img[rows, int(0.20 * w):int(0.35 * w)].mean()
    right_lung = img[rows, int(0.65 * w):int(0.80 * w)].mean()
    spine = img[rows, int(0.45 * w):int(0.55 * w)].mean()
    assert left_lung < spine - 0.1 and right_lung < spine - 0.1


def test_chest_window_matches_pydicom(chest: dict[str, np.ndarray]) -> None:
    ds = pydicom.dcmread(datafile("RG1_UNCR.dcm"))
    windowed = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    y_max = 2.0**ds.BitsStored - 1  # unsigned, no rescale: pydicom's window output range
    expected = 1.0 - windowed / y_max  # MONOCHROME1
    np.testing.assert_allclose(chest["RG1_UNCR.dcm"], expected, atol=1e-5)


def test_chest_voi_minmax_is_minmax_of_stored_values() -> None:
    ds = pydicom.dcmread(datafile("RG1_UNCR.dcm"))
    raw = ds.pixel_array.astype(np.float64)
    expected = 1.0 - (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(load_image(datafile("RG1_UNCR.dcm"), voi="minmax"), expected,
                               atol=1e-6)


def test_chest_voi_bits_is_the_bits_stored_range() -> None:
    ds = pydicom.dcmread(datafile("RG1_UNCR.dcm"))
    assert ds.BitsStored == 15 and ds.PixelRepresentation == 0
    expected = 1.0 - ds.pixel_array.astype(np.float64) / (2**15 - 1)  # MONOCHROME1
    np.testing.assert_allclose(load_image(datafile("RG1_UNCR.dcm"), voi="bits"), expected,
                               atol=1e-6)


def test_read_dicom_header_of_chest() -> None:
    header = read_dicom_header(datafile("RG1_J2KR.dcm"))
    assert header["PatientID"] == "9RG1"
    assert header["ViewPosition"] == "PA"
    assert header["Modality"] == "CR"
    assert header["PhotometricInterpretation"] == "MONOCHROME1"
    assert (header["Rows"], header["Columns"]) == (1955, 1841)
    assert header["EthnicGroup"] is None
    assert header["TransferSyntaxUID"] == JPEG2000Lossless
    assert header["has_pixel_data"] is True
    assert header["StudyInstanceUID"].startswith("1.3.6.1.4.1.5962")


def test_read_dicom_header_non_image_and_tags(tmp_path: Path) -> None:
    assert read_dicom_header(datafile("rtplan.dcm"))["has_pixel_data"] is False
    path = write_dicom(tmp_path / "a.dcm", np.zeros((4, 4), np.uint16), PatientID="P7",
                       EthnicGroup="Black", ViewPosition="AP")
    header = read_dicom_header(path)
    assert (header["PatientID"], header["EthnicGroup"], header["ViewPosition"]) == ("P7", "Black", "AP")
    with pytest.raises(ImageLoadError) as info:
        read_dicom_header(_png8(tmp_path / "x.png"))
    assert info.value.reason == "not a DICOM file"
    (tmp_path / "README").write_text("a text file in a DICOM folder\n")
    with pytest.raises(ImageLoadError, match="not a DICOM file"):
        read_dicom_header(tmp_path / "README")


# --- transfer syntaxes and the grayscale pipeline -----------------------------------------------


@pytest.mark.parametrize("other", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                   "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm"])
def test_lossless_syntaxes_match_uncompressed(other: str) -> None:
    np.testing.assert_array_equal(load_image(datafile(other)), load_image(datafile("MR_small.dcm")))


@pytest.mark.parametrize("name, shape", [("JPEG-LL.dcm", (1024, 256)), ("JPEG2000.dcm", (1024, 256)),
                                         ("693_J2KR.dcm", (512, 512)),
                                         ("JPGLosslessP14SV1_1s_1f_8b.dcm", (768, 1024))])
def test_compressed_files_decode(name: str, shape: tuple[int, int]) -> None:
    img = load_image(datafile(name))
    assert img.shape == shape and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0 and img.std() > 0.01


def test_jpeg2000_ct_matches_uncompressed() -> None:
    np.testing.assert_array_equal(load_image(datafile("693_J2KR.dcm")),
                                  load_image(datafile("693_UNCR.dcm")))


def test_rescale_then_window_in_hounsfield_units(tmp_path: Path) -> None:
    src = pydicom.dcmread(datafile("CT_small.dcm"))
    assert (float(src.RescaleSlope), float(src.RescaleIntercept)) == (1.0, -1024.0)
    src.WindowCenter, src.WindowWidth = 40, 401  # a soft-tissue window in HU
    path = tmp_path / "ct.dcm"
    src.save_as(path)
    hu = src.pixel_array.astype(np.float64) - 1024.0
    expected = np.clip((hu - 39.5) / 400.0 + 0.5, 0.0, 1.0)
    np.testing.assert_allclose(load_image(path), expected, atol=1e-6)
    # voi="minmax": min-max of the rescaled values
    np.testing.assert_allclose(load_image(path, voi="minmax"),
                               (hu - hu.min()) / (hu.max() - hu.min()), atol=1e-6)
    # voi="none": CT's nominal HU range, -1024..3071
    np.testing.assert_allclose(load_image(path, voi="none"),
                               np.clip((hu + 1024.0) / 4095.0, 0.0, 1.0), atol=1e-6)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_functions_match_pydicom(tmp_path: Path, function: str) -> None:
    stored = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    path = write_dicom(tmp_path / "w.dcm", stored, bits_stored=12, WindowCenter=2000,
                       WindowWidth=1000, VOILUTFunction=function)
    ds = pydicom.dcmread(path)
    expected = apply_voi_lut(ds.pixel_array, ds) / 4095.0
    np.testing.assert_allclose(load_image(path), expected, atol=1e-5)


def test_voi_lut_sequence_applied() -> None:
    ds = pydicom.dcmread(datafile("vlut_04.dcm"))
    bits = ds.VOILUTSequence[0].LUTDescriptor[2]
    expected = apply_voi_lut(ds.pixel_array, ds) / (2.0**bits - 1)
    np.testing.assert_allclose(load_image(datafile("vlut_04.dcm")), expected, atol=1e-6)


def test_modality_lut_sequence_applied() -> None:
    ds = pydicom.dcmread(datafile("mlut_18.dcm"))
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    expected = (values - values.min()) / (values.max() - values.min())
    np.testing.assert_allclose(load_image(datafile("mlut_18.dcm")), expected, atol=1e-6)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    stored = np.array([[0, 100], [200, 4095]], dtype=np.uint16)
    m2 = load_image(write_dicom(tmp_path / "m2.dcm", stored, bits_stored=12), voi="bits")
    m1 = load_image(write_dicom(tmp_path / "m1.dcm", stored, photometric="MONOCHROME1",
                                bits_stored=12), voi="bits")
    np.testing.assert_allclose(m2, [[0.0, 100 / 4095], [200 / 4095, 1.0]], atol=1e-7)
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-7)


def test_bits_above_bits_stored_are_ignored(tmp_path: Path) -> None:
    clean = np.array([[0, 1000], [2000, 4095]], dtype=np.uint16)
    path = write_dicom(tmp_path / "noisy.dcm", clean, bits_stored=12)
    ds = pydicom.dcmread(path)
    ds.PixelData = (clean | np.uint16(0xA000)).tobytes()  # overlay junk in the unused high bits
    ds.save_as(path)
    np.testing.assert_allclose(load_image(path, voi="bits"), clean / 4095.0, atol=1e-7)


def test_signed_pixels_sign_extended_from_bits_stored(tmp_path: Path) -> None:
    stored = np.array([[-2048, 0], [1024, 2047]], dtype=np.int16)
    path = write_dicom(tmp_path / "s.dcm", stored, bits_stored=12)
    ds = pydicom.dcmread(path)
    raw = np.frombuffer(ds.PixelData, np.uint16)
    ds.PixelData = ((raw & np.uint16(0x0FFF)) | np.uint16(0x5000)).tobytes()  # junk, not the sign
    ds.save_as(path)
    np.testing.assert_allclose(load_image(path, voi="bits"), (stored + 2048.0) / 4095.0,
                               atol=1e-7)


def test_constant_image_is_zero(tmp_path: Path) -> None:
    img = load_image(write_dicom(tmp_path / "c.dcm", np.full((3, 5), 7, np.uint16)))
    np.testing.assert_array_equal(img, np.zeros((3, 5), np.float32))


def test_dicom_without_preamble(tmp_path: Path) -> None:
    src = Path(datafile("MR_small.dcm")).read_bytes()
    assert src[128:132] == b"DICM"
    (tmp_path / "raw.dcm").write_bytes(src[132:])  # as some PACS exports write them
    np.testing.assert_array_equal(load_image(tmp_path / "raw.dcm"), load_image(datafile("MR_small.dcm")))


# --- PNG and JPEG -------------------------------------------------------------------------------


def _png8(path: Path) -> Path:
    Image.fromarray(np.array([[0, 51], [204, 255]], np.uint8), mode="L").save(path)
    return path


def test_png_8bit(tmp_path: Path) -> None:
    img = load_image(_png8(tmp_path / "a.png"))
    assert img.dtype == np.float32
    np.testing.assert_allclose(img, [[0.0, 0.2], [0.8, 1.0]], atol=1e-7)


def test_png_16bit(tmp_path: Path) -> None:
    arr = np.array([[0, 1000], [40000, 65535]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").mode.startswith("I")
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), arr / 65535.0, atol=1e-7)


def test_jpeg_grey(tmp_path: Path) -> None:
    arr = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    Image.fromarray(arr, mode="L").save(tmp_path / "a.jpg", quality=100)
    img = load_image(tmp_path / "a.jpg")
    assert img.shape == (64, 64)
    assert np.abs(img - arr / 255.0).max() < 0.03  # lossy, but the ramp survives


def test_grey_saved_as_rgb_accepted_colour_rejected(tmp_path: Path) -> None:
    grey = np.array([[10, 20], [30, 40]], np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=2), mode="RGB").save(tmp_path / "g.png")
    np.testing.assert_allclose(load_image(tmp_path / "g.png"), grey / 255.0, atol=1e-7)
    colour = np.stack([grey, grey, grey + 100], axis=2)
    Image.fromarray(colour, mode="RGB").save(tmp_path / "c.png")
    with pytest.raises(ImageLoadError, match=r"colour image \(mode RGB, channels differ by up to 100\)"):
        load_image(tmp_path / "c.png")


def test_rgba_with_grey_channels_ignores_alpha(tmp_path: Path) -> None:
    grey = np.array([[0, 255]], np.uint8)
    alpha = np.array([[255, 0]], np.uint8)
    Image.fromarray(np.stack([grey, grey, grey, alpha], axis=2), mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), [[0.0, 1.0]])


# --- failures: each names the file and the reason ----------------------------------------------


@pytest.mark.parametrize("name, reason", [
    ("SC_rgb.dcm", "colour DICOM (PhotometricInterpretation RGB) not supported"),
    ("US1_J2KR.dcm", "colour DICOM (PhotometricInterpretation YBR_RCT) not supported"),
    ("emri_small.dcm", "multi-frame DICOM (10 frames): read it as a series (one frame at a time)"),
    ("rtplan.dcm", "DICOM object has no pixel data (Modality RTPLAN)"),
])
def test_unsupported_dicom_rejected(name: str, reason: str) -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(datafile(name))
    assert info.value.reason == reason
    assert info.value.path == datafile(name)
    assert str(info.value) == f"{datafile(name)}: {reason}"
    assert isinstance(info.value, DataError)


def test_truncated_dicom(tmp_path: Path) -> None:
    data = Path(datafile("RG1_UNCR.dcm")).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cannot decode pixel data"):
        load_image(tmp_path / "cut.dcm")


def test_truncated_jpeg2000_dicom(tmp_path: Path) -> None:
    data = Path(datafile("MR_small_jp2klossless.dcm")).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:-2000])
    with pytest.raises(ImageLoadError, match=r"truncated file \(ends inside a DICOM element\)"):
        load_image(tmp_path / "cut.dcm")


def test_truncated_png_and_jpeg(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    for name in ("a.png", "a.jpg"):
        Image.fromarray(arr, mode="L").save(tmp_path / name)
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageLoadError, match="cannot decode image"):
            load_image(tmp_path / name)


@pytest.mark.parametrize("make, reason", [
    (lambda p: p, "file not found"),
    (lambda p: (p.mkdir(), p)[1], "is a directory, not an image file"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty file (0 bytes)"),
])
def test_missing_directory_empty(tmp_path: Path, make, reason: str) -> None:  # noqa: ANN001
    path = make(tmp_path / "img.dcm")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert info.value.reason == reason


def test_garbage_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pixels here\n" * 20)
    with pytest.raises(ImageLoadError, match="not a DICOM, PNG or JPEG file"):
        load_image(tmp_path / "notes.txt")
    (tmp_path / "junk.dcm").write_bytes(b"\x00\x01" * 300)
    with pytest.raises(ImageLoadError, match="not a DICOM, PNG or JPEG file"):
        load_image(tmp_path / "junk.dcm")


def test_copied_file_keeps_working(tmp_path: Path) -> None:
    shutil.copy(datafile("CT_small.dcm"), tmp_path / "ct")  # no suffix: sniffed as DICOM
    assert load_image(tmp_path / "ct").shape == (128, 128)


def test_bad_voi_option() -> None:
    with pytest.raises(ConfigError, match="intensity mode 'window' is not one of"):
        load_image(datafile("CT_small.dcm"), voi="window")  # type: ignore[arg-type]


# --- damaged headers, cut headers, oversized images (found by tests/reliability) ----------------


def _ct_with(old: bytes, new: bytes, path: Path) -> Path:
    data = Path(datafile("CT_small.dcm")).read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new, 1))
    return path


def test_damaged_header_value_is_an_image_load_error(tmp_path: Path) -> None:
    # RescaleIntercept "-1024" with one flipped byte: pydicom fails lazily, on the read of the value
    path = _ct_with(b"-1024", b"-K024", tmp_path / "intercept.dcm")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert info.value.reason.startswith("invalid DICOM header value (ValueError: ")
    assert info.value.path == str(path)


def test_header_reader_damaged_value_is_an_image_load_error(tmp_path: Path) -> None:
    # Rows stored as two values (VM 2): int() of a MultiValue is a TypeError inside pydicom's value
    ds = pydicom.dcmread(datafile("CT_small.dcm"))
    ds["Rows"].value = [128, 128]
    ds.save_as(tmp_path / "rows.dcm")
    with pytest.raises(ImageLoadError) as info:
        read_dicom_header(tmp_path / "rows.dcm")
    assert info.value.reason.startswith("invalid DICOM header value (TypeError: ")


@pytest.mark.parametrize("keep, reason", [
    (1000, "truncated file (ends inside the DICOM header)"),   # inside an element's value
    (3000, "truncated file (ends inside the DICOM header)"),   # 6 bytes into a tag and length
    (5000, "truncated file (ends inside the DICOM header)"),
    (6288, "truncated file (ends before the pixel data)"),     # on the pixel data's element tag
    (200, "truncated file (ends inside the DICOM header)"),    # file meta only, no data set
])
def test_dicom_cut_inside_its_header_is_truncated(tmp_path: Path, keep: int, reason: str) -> None:
    data = Path(datafile("CT_small.dcm")).read_bytes()
    assert data.rindex(b"\xe0\x7f\x10\x00") == 6288  # where the pixel data element starts
    (tmp_path / "cut.dcm").write_bytes(data[:keep])
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "cut.dcm")
    assert info.value.reason == reason


def test_image_pixel_module_without_pixels_on_an_element_boundary(tmp_path: Path) -> None:
    # a whole header without PixelData: no partial element to see, the image module tells
    ds = pydicom.dcmread(datafile("CT_small.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "nopix.dcm")
    with pytest.raises(ImageLoadError, match=r"truncated file \(ends before the pixel data\)"):
        load_image(tmp_path / "nopix.dcm")


@pytest.mark.parametrize("side", [40, 50])  # 1,600 pixels: Pillow warns; 2,500: Pillow raises
def test_image_over_pillows_pixel_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   side: int) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the same check as 89 Mpx, at test size
    Image.new("L", (side, side), 7).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "big.png")
    assert info.value.reason == f"image too large ({side * side} pixels, over Pillow's limit of 1000)"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", side * side)
    assert load_image(tmp_path / "big.png").shape == (side, side)


# --- load_resized: the cache's decoder --------------------------------------------------------
# It resizes the stored values first where the display mapping is affine, and reads
# uncompressed pixels in place; every route must stay within 1 level of 65535 of
# resize_image(load_image(...)) (float32 rounding of the reordered steps).


def _within_one_level(path: Path | str, size: int, **kw: object) -> np.ndarray:
    fused = load_resized(path, size, **kw)  # type: ignore[arg-type]
    reference = resize_image(load_image(path, **kw), size)  # type: ignore[arg-type]
    assert fused.dtype == np.uint16 and fused.shape == (size, size)
    assert np.abs(fused.astype(np.int64) - reference).max() <= 1
    return fused


@pytest.mark.parametrize("voi", ["auto", "none"])
def test_load_resized_real_cr_chest(voi: str) -> None:
    # MONOCHROME1, 15 bits stored, a window covering every stored value: the affine route
    fused = _within_one_level(datafile("RG1_UNCR.dcm"), 64, voi=voi)
    np.testing.assert_array_equal(fused, load_resized(datafile("RG1_J2KR.dcm"), 64, voi=voi))


@pytest.mark.parametrize("tags", [
    {"WindowCenter": 1000, "WindowWidth": 800},  # clips: the load_image route
    {"WindowCenter": 2048, "WindowWidth": 4096, "VOILUTFunction": "LINEAR_EXACT"},
    {"WindowCenter": 1500, "WindowWidth": 900, "VOILUTFunction": "SIGMOID"},
    {"RescaleSlope": 2, "RescaleIntercept": -1024},
    {},
])
def test_load_resized_routes_match_load_image(tmp_path: Path, tags: dict[str, object]) -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 4096, (50, 70)).astype(np.uint16)
    _within_one_level(write_dicom(tmp_path / "w.dcm", stored, bits_stored=12, **tags), 16)
    _within_one_level(write_dicom(tmp_path / "m1.dcm", stored, photometric="MONOCHROME1",
                                  bits_stored=12, **tags), 24)


def test_load_resized_high_bits_and_signed(tmp_path: Path) -> None:
    clean = np.array([[0, 1000], [2000, 4095]], dtype=np.uint16)
    path = write_dicom(tmp_path / "noisy.dcm", clean, bits_stored=12)
    ds = pydicom.dcmread(path)
    ds.PixelData = (clean | np.uint16(0xA000)).tobytes()  # junk above BitsStored: not in place
    ds.save_as(path)
    np.testing.assert_array_equal(_within_one_level(path, 2, voi="bits"),
                                  np.rint(clean / 4095.0 * 65535))
    signed = np.array([[-2048, 0], [1024, 2047]], dtype=np.int16)
    fused = _within_one_level(write_dicom(tmp_path / "s.dcm", signed, bits_stored=12), 2,
                              voi="bits")
    np.testing.assert_array_equal(fused, np.rint((signed + 2048.0) / 4095.0 * 65535))
    flat = _within_one_level(write_dicom(tmp_path / "c.dcm", np.full((3, 5), 7, np.uint16)), 4)
    assert not flat.any()


def test_load_resized_png_and_errors(tmp_path: Path) -> None:
    _within_one_level(_png8(tmp_path / "a.png"), 8)
    with pytest.raises(ImageLoadError, match="colour DICOM"):
        load_resized(datafile("SC_rgb.dcm"), 8)
    with pytest.raises(ConfigError):
        load_resized(datafile("CT_small.dcm"), 8, voi="full")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape, size", [((97, 131), 16), ((40, 40), 40), ((12, 30), 64)])
def test_resize_image_is_pillows_antialiased_bilinear(shape: tuple[int, int], size: int) -> None:
    image = np.random.default_rng(5).random(shape, dtype=np.float32)
    pil = np.asarray(Image.fromarray(image, mode="F").resize((size, size), Image.Resampling.BILINEAR))
    expected = np.rint(np.clip(pil, 0, 1) * np.float32(65535)).astype(np.int64)
    assert np.abs(resize_image(image, size).astype(np.int64) - expected).max() <= 1
