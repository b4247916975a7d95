"""racelens.imaging.cache.build: build, reuse, resume, skip and read the preprocessing cache."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from racelens.errors import ConfigError, DataError, ImageLoadError
from racelens.imaging.cache.build import build_cache, cache_path, open_cache, resize_image
from racelens.imaging.io.load import load_image

FP = "sha256:0123456789abcdef0123456789abcdef"


def png(path: Path, seed: int, shape: tuple[int, int] = (40, 30)) -> str:
    arr = np.random.default_rng(seed).integers(0, 65535, shape, dtype=np.uint16)
    Image.fromarray(arr).save(path)
    return str(path)


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Six rows: three PNGs, two real DICOMs, then a colour DICOM, a missing file, a truncated PNG."""
    src = tmp_path / "src"
    src.mkdir()
    paths = [png(src / f"{i}.png", i) for i in range(3)]
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb.dcm"):
        paths.append(str(shutil.copy(get_testdata_file(name, download=False), src / name)))
    paths.append(str(src / "gone.png"))
    cut = Path(png(src / "cut.png", 9, (64, 64)))
    cut.write_bytes(cut.read_bytes()[:100])
    paths.append(str(cut))
    return paths, [f"id{i}" for i in range(len(paths))]


def assert_within_one_level(cached: np.ndarray, expected: np.ndarray) -> None:
    assert np.abs(np.asarray(cached, np.int64) - expected).max() <= 1


def build(paths: list[str], ids: list[str], cache_dir: Path, **kw: object):  # noqa: ANN201
    kw = {"size": 16, "fingerprint": FP, "progress": False, **kw}
    return build_cache(paths, ids, cache_dir=cache_dir, **kw)  # type: ignore[arg-type]


def test_build_contents_index_and_skips(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    paths, ids = inputs
    cache = build(paths, ids, tmp_path / "cache")
    assert cache.directory == tmp_path / "cache" / "0123456789abcdef-16"
    assert len(cache) == 8 and cache.array.shape == (8, 16, 16) and cache.array.dtype == np.uint16
    for row in range(5):  # the cache decodes with load_resized: within 1 level (float rounding)
        assert_within_one_level(cache.array[row], resize_image(load_image(paths[row]), 16))
    assert cache.skipped == [
        ("id5", "colour DICOM (PhotometricInterpretation RGB) not supported"),
        ("id6", "file not found"),
        ("id7", cache.index["reason"][7]),
    ]
    assert cache.index["reason"][7].startswith("cannot decode image")
    assert list(cache.index.columns) == ["sample_id", "row", "status", "reason"]
    assert list(cache.index["status"]) == ["ok"] * 5 + ["skipped"] * 3
    assert not cache.array[5:].any()  # skipped rows hold zeros
    np.testing.assert_array_equal(cache.ok_rows, np.arange(5))
    np.testing.assert_array_equal(cache.rows(["id3", "id0"]), [3, 0])
    done = json.loads((cache.directory / "complete.json").read_text())
    assert (done["n"], done["n_ok"], done["n_skipped"], done["size"]) == (8, 5, 3, 16)
    with pytest.raises(ValueError, match="read-only"):
        cache.array[0, 0, 0] = 1


def test_rows_of_unknown_or_skipped_sample(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    cache = build(*inputs, tmp_path / "cache")
    with pytest.raises(DataError, match=r"1 sample_id\(s\) not in the cache"):
        cache.rows(["id0", "nope"])
    with pytest.raises(DataError, match=r"were skipped .* \(file not found\)"):
        cache.rows(["id6"])


def test_as_float_and_torch_dataset(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    cache = build(*inputs, tmp_path / "cache")
    floats = cache.as_float([0, 3])
    assert floats.dtype == np.float32 and floats.shape == (2, 16, 16)
    np.testing.assert_allclose(floats, cache.array[[0, 3]] / 65535.0, rtol=1e-6)
    data = cache.torch_dataset([3, 0, 1], [2, 0, 1])
    assert isinstance(data, torch.utils.data.Dataset) and len(data) == 3
    image, label = data[0]
    assert image.shape == (1, 16, 16) and image.dtype == torch.float32 and label == 2
    np.testing.assert_allclose(image[0].numpy(), floats[1], rtol=1e-6)
    clone = pickle.loads(pickle.dumps(data))  # what a DataLoader worker receives
    assert clone._images is None and torch.equal(clone[2][0], data[2][0])
    batch, labels = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert batch.shape == (3, 1, 16, 16) and labels.tolist() == [2, 0, 1]
    with pytest.raises(ConfigError, match="one length"):
        cache.torch_dataset([0, 1], [0])


def test_finished_cache_is_reused_not_rebuilt(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    paths, ids = inputs
    first = build(paths, ids, tmp_path / "cache")
    expected = np.array(first.array)
    for p in paths[:5]:
        Path(p).unlink()  # a rebuild would now skip these rows
    again = build(paths, ids, tmp_path / "cache")
    np.testing.assert_array_equal(again.array, expected)
    assert len(again.skipped) == 3


def test_other_inputs_under_same_key_refused(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    paths, ids = inputs
    build(paths, ids, tmp_path / "cache")
    with pytest.raises(ConfigError, match="built from other inputs"):
        build(paths[::-1], ids, tmp_path / "cache")


def test_strict_stops_at_first_bad_file_then_resume(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    paths, ids = inputs
    with pytest.raises(ImageLoadError) as info:
        build(paths, ids, tmp_path / "cache", strict=True)
    assert info.value.path == paths[5] and "colour DICOM" in info.value.reason
    directory = cache_path(tmp_path / "cache", FP, 16)
    assert not (directory / "complete.json").exists()
    with pytest.raises(DataError, match="not a finished image cache"):
        open_cache(directory)
    state = json.loads((directory / "progress.json").read_text())
    assert state["status"] == "ooooo..."  # one task held all eight; failures stay pending
    assert state["reasons"] == {}

    # resume: recorded rows are not decoded again (their files are gone), the rest are
    reference = build(paths, ids, tmp_path / "reference")
    for p in paths[:5]:
        Path(p).unlink()
    resumed = build(paths, ids, tmp_path / "cache")
    np.testing.assert_array_equal(resumed.array, reference.array)
    assert resumed.skipped == reference.skipped


def test_interrupted_midway_resumes_only_pending_rows(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    paths = [png(src / f"{i}.png", i) for i in range(40)]
    ids = [f"s{i}" for i in range(40)]
    bad = src / "9.png"
    good = bad.read_bytes()
    bad.write_bytes(b"")  # stops a strict build inside the first task (rows 0-15)
    with pytest.raises(ImageLoadError, match="empty file"):
        build(paths, ids, tmp_path / "cache", strict=True)
    directory = cache_path(tmp_path / "cache", FP, 16)
    status = json.loads((directory / "progress.json").read_text())["status"]
    assert status == "o" * 9 + "." + "o" * 6 + "." * 24
    bad.write_bytes(good)  # fixed: the resumed build reads it
    resumed = build(paths, ids, tmp_path / "cache", workers=1)
    parallel = build(paths, ids, tmp_path / "parallel", workers=2)
    np.testing.assert_array_equal(resumed.array, parallel.array)
    assert resumed.skipped == parallel.skipped == []
    assert_within_one_level(resumed.array[9], resize_image(load_image(bad), 16))


def test_partial_directory_without_meta_is_laid_out_again(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    paths, ids = inputs
    directory = cache_path(tmp_path / "cache", FP, 16)
    directory.mkdir(parents=True)
    (directory / "images.npy").write_bytes(b"half-written")
    cache = build(paths, ids, tmp_path / "cache")
    assert len(cache.skipped) == 3 and cache.array.shape == (8, 16, 16)


def test_cache_path_and_arguments(tmp_path: Path) -> None:
    assert cache_path(tmp_path, FP, 224).name == "0123456789abcdef-224"
    assert cache_path(tmp_path, FP, 320, "none").name == "0123456789abcdef-320-voinone"
    with pytest.raises(ConfigError, match="one id per path"):
        build(["a.png"], [], tmp_path)
    with pytest.raises(ConfigError, match="not unique"):
        build(["a.png", "b.png"], ["x", "x"], tmp_path)
    with pytest.raises(ConfigError, match="size must be"):
        build(["a.png"], ["x"], tmp_path, size=2)
    with pytest.raises(ConfigError, match="workers must be"):
        build(["a.png"], ["x"], tmp_path, workers=0)


def test_resize_image_is_antialiased() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    out = resize_image(checker, 16)
    assert out.dtype == np.uint16 and out.shape == (16, 16)
    # nearest-neighbour would give 0 or 65535; the filter averages the pattern away
    assert np.abs(out.astype(np.float64) / 65535 - 0.5).max() < 0.02
    np.testing.assert_array_equal(resize_image(np.full((30, 50), 0.25, np.float32), 8),
                                  np.full((8, 8), round(0.25 * 65535), np.uint16))
    assert resize_image(np.ones((5, 5), np.float32), 10).min() == 65535


def test_rewritten_file_is_decoded_again(tmp_path: Path, inputs) -> None:  # noqa: ANN001
    import os

    paths, ids = inputs
    first = build(paths, ids, tmp_path / "cache")
    row = int(first.ok_rows[0])
    before = np.array(first.array[row])
    # rewrite one file in place with other pixels (a re-export at the same path)
    other = next(p for i, p in enumerate(paths) if i in set(first.ok_rows.tolist()) and i != row)
    Path(paths[row]).write_bytes(Path(other).read_bytes())
    st = os.stat(paths[row])
    os.utime(paths[row], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = build(paths, ids, tmp_path / "cache")
    assert not np.array_equal(np.array(again.array[row]), before)
    np.testing.assert_array_equal(np.array(again.array[row]),
                                  np.array(again.array[paths.index(other)]))
