"""Each perturbation against a direct numpy (or Pillow/scipy) implementation, at its extremes,
and for determinism, device/dtype, and batch independence."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from racelens.errors import ConfigError, DataError
from racelens.imaging.perturb import transforms as P
from racelens.shared.results import Condition, parse_conditions

H = W = 24


@pytest.fixture
def batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.rand(3, 1, H, W, generator=g, dtype=torch.float64)


def np_fft_filter(x: np.ndarray, keep) -> np.ndarray:
    h, w = x.shape[-2:]
    yy, xx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    mask = keep(yy**2 + xx**2)
    spec = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1)) * mask
    return np.fft.ifft2(np.fft.ifftshift(spec, axes=(-2, -1))).real


def np_bilinear(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (align_corners=False), as cv2/torch do."""
    def axis(n_in: int, n_out: int):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(img.shape[0], h)
    x0, x1, wx = axis(img.shape[1], w)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bot = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy)[:, None] + bot * wy[:, None]


def np_equalize(img: np.ndarray) -> np.ndarray:
    lv = np.round(np.clip(img, 0, 1) * 255).astype(int)
    hist = np.bincount(lv.ravel(), minlength=256)
    cdf = np.cumsum(hist)
    cdf_min = cdf[hist > 0][0]
    if cdf_min == lv.size:
        return img
    return np.round((cdf[lv] - cdf_min) / (lv.size - cdf_min) * 255) / 255


# --- frequency filters ------------------------------------------------------------------------

@pytest.mark.parametrize(("cond", "keep"), [
    (Condition("lowpass", {"radius": 5}), lambda d2: d2 < 25),
    (Condition("lowpass", {"radius": 2.5}), lambda d2: d2 < 6.25),
    (Condition("highpass", {"radius": 5}), lambda d2: d2 >= 25),
    (Condition("bandpass", {"inner": 3, "outer": 8}), lambda d2: (d2 >= 9) & (d2 < 64)),
    (Condition("notch", {"inner": 3, "outer": 8}), lambda d2: ~((d2 >= 9) & (d2 < 64))),
])
def test_fft_filters_match_numpy(batch, cond, keep):
    got = P.make_perturbation(cond)(batch).numpy()
    np.testing.assert_allclose(got, np_fft_filter(batch.numpy(), keep), atol=1e-12)


def test_fft_filters_odd_size_match_numpy():
    x = torch.rand(2, 1, 15, 17, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = P.Lowpass(4)(x).numpy()
    np.testing.assert_allclose(got, np_fft_filter(x.numpy(), lambda d2: d2 < 16), atol=1e-12)


def test_fft_extremes(batch):
    corner = np.hypot(H // 2, W // 2)  # 16.97 for 24 px
    x = batch.float()
    assert torch.allclose(P.Lowpass(corner + 0.01)(x), x, atol=1e-5)
    assert torch.allclose(P.Highpass(corner + 0.01)(x), torch.zeros_like(x), atol=1e-6)
    assert torch.equal(P.Lowpass(0)(x), torch.zeros_like(x))
    assert torch.allclose(P.Highpass(0)(x), x, atol=1e-5)
    assert torch.allclose(P.Bandpass(0, corner + 1)(x), x, atol=1e-5)
    assert torch.allclose(P.Notch(0, corner + 1)(x), torch.zeros_like(x), atol=1e-6)
    assert torch.allclose(P.Notch(4, 4)(x), x, atol=1e-5)
    # radius 1 keeps only the DC term: every pixel becomes the image mean
    lp1 = P.Lowpass(1)(x)
    assert torch.allclose(lp1, x.mean(dim=(-2, -1), keepdim=True).expand_as(x), atol=1e-6)
    # low + high = identity
    assert torch.allclose(P.Lowpass(6)(x) + P.Highpass(6)(x), x, atol=1e-5)


def test_paper_size_corner_is_158():
    x = torch.rand(1, 1, 224, 224, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(P.Lowpass(159)(x), x, atol=1e-5)
    assert not torch.allclose(P.Lowpass(158)(x), x, atol=1e-5)
    assert P.Highpass(159)(x).abs().max() < 1e-6


# --- spatial ----------------------------------------------------------------------------------

def test_resolution_matches_numpy(batch):
    got = P.Resolution(6)(batch).numpy()
    for i in range(batch.shape[0]):
        img = batch[i, 0].numpy()
        small = img.reshape(6, 4, 6, 4).mean(axis=(1, 3))
        np.testing.assert_allclose(got[i, 0], np_bilinear(small, H, W), atol=1e-12)
    assert torch.equal(P.Resolution(H)(batch), batch)
    one = P.Resolution(1)(batch)
    assert torch.allclose(one, batch.mean(dim=(-2, -1), keepdim=True).expand_as(batch))


def test_gaussian_blur_matches_scipy(batch):
    for sigma in (0.7, 1.5):
        got = P.GaussianBlur(sigma)(batch).numpy()
        for i in range(batch.shape[0]):
            ref = ndimage.gaussian_filter(batch[i, 0].numpy(), sigma, mode="mirror", truncate=4.0)
            np.testing.assert_allclose(got[i, 0], ref, atol=1e-6)
    assert torch.equal(P.GaussianBlur(0)(batch), batch)
    with pytest.raises(ConfigError, match="smaller sigma"):
        P.GaussianBlur(10)(batch)


def test_patch_and_mask_patch_match_numpy(batch):
    # 24 / 3 -> tiles [0,8), [8,16), [16,24); index 5 = row 1, col 2
    got = P.Patch(3, 5)(batch).numpy()
    masked = P.MaskPatch(3, 5)(batch).numpy()
    for i in range(batch.shape[0]):
        img = batch[i, 0].numpy()
        np.testing.assert_allclose(got[i, 0], np_bilinear(img[8:16, 16:24], H, W), atol=1e-12)
        ref = img.copy()
        ref[8:16, 16:24] = 0
        np.testing.assert_array_equal(masked[i, 0], ref)
    assert P.Patch(3, 0).tile(224, 224) == (0, 74, 0, 74)
    assert P.Patch(3, 8).tile(224, 224) == (149, 224, 149, 224)
    assert torch.equal(P.Patch(1, 0)(batch), batch)
    assert torch.equal(P.MaskPatch(1, 0)(batch), torch.zeros_like(batch))
    # keep_patch is mask_patch's complement: the two add up to the image
    kept = P.KeepPatch(3, 5)(batch)
    assert torch.equal(kept + P.MaskPatch(3, 5)(batch), batch)
    assert torch.equal(kept[..., 8:16, 16:24], batch[..., 8:16, 16:24])
    assert torch.equal(P.KeepPatch(1, 0)(batch), batch)
    with pytest.raises(ConfigError, match=r"index must be in 0\.\.8"):
        P.Patch(3, 9)


def test_random_crop_is_a_resized_window(batch):
    crop = P.RandomCrop(0.25, seed=3)
    got = crop(batch).numpy()
    side = 12  # round(24 * sqrt(0.25))
    for i in range(batch.shape[0]):
        img = batch[i, 0].numpy()
        hits = [(t, left) for t in range(H - side + 1) for left in range(W - side + 1)
                if np.allclose(got[i, 0], np_bilinear(img[t:t + side, left:left + side], H, W),
                               atol=1e-12)]
        assert len(hits) == 1
    assert torch.equal(P.RandomCrop(1.0)(batch), batch)
    with pytest.raises(ConfigError, match=r"scale must be in \(0, 1\]"):
        P.RandomCrop(0)


# --- intensity --------------------------------------------------------------------------------

def test_clip_and_window_match_numpy(batch):
    x = batch.numpy()
    np.testing.assert_array_equal(P.Clip(0.6)(batch).numpy(), np.minimum(x, 0.6))
    np.testing.assert_allclose(P.Window(0.4, 0.5)(batch).numpy(),
                               np.clip((x - 0.15) / 0.5, 0, 1), atol=1e-12)
    assert torch.equal(P.Clip(1.0)(batch), batch)
    assert torch.allclose(P.Window(0.5, 1.0)(batch), batch)
    with pytest.raises(ConfigError, match="width must be > 0"):
        P.Window(0.5, 0)


def test_gaussian_noise_statistics_and_clipping():
    x = torch.full((4, 1, 64, 64), 0.5)
    noisy = P.GaussianNoise(0.1, clip=False, seed=0)(x)
    diff = (noisy - x).flatten()
    assert abs(float(diff.mean())) < 0.005
    assert abs(float(diff.std()) - 0.1) < 0.005
    clipped = P.GaussianNoise(2.0, seed=0)(x)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert torch.equal(P.GaussianNoise(0)(x), x)


def test_jpeg_matches_pillow(batch):
    got = P.Jpeg(40)(batch).numpy()
    for i in range(batch.shape[0]):
        u8 = np.round(batch[i, 0].numpy() * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(u8).save(buf, format="JPEG", quality=40)
        ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64) / 255
        np.testing.assert_allclose(got[i, 0], ref, atol=1e-7)
    smooth = P.GaussianBlur(2)(batch)
    err = [float((P.Jpeg(q)(smooth) - smooth).abs().mean()) for q in (5, 50, 95)]
    assert err[0] > err[1] > err[2]


def test_equalize_matches_numpy(batch):
    x = batch ** 2  # skewed histogram
    got = P.Equalize()(x).numpy()
    for i in range(x.shape[0]):
        np.testing.assert_allclose(got[i, 0], np_equalize(x[i, 0].numpy()), atol=1e-7)
    const = torch.full((1, 1, 8, 8), 0.3)
    assert torch.equal(P.Equalize()(const), const)
    ramp = (torch.arange(256, dtype=torch.float64) / 255).reshape(1, 1, 16, 16)
    assert torch.allclose(P.Equalize()(ramp), ramp)


# --- common contract --------------------------------------------------------------------------

ALL = [Condition("original"), Condition("lowpass", {"radius": 4}),
       Condition("highpass", {"radius": 4}), Condition("bandpass", {"inner": 2, "outer": 6}),
       Condition("notch", {"inner": 2, "outer": 6}), Condition("resolution", {"size": 8}),
       Condition("gaussian_noise", {"sigma": 0.1}), Condition("gaussian_blur", {"sigma": 1.0}),
       Condition("patch", {"grid": 3, "index": 4}), Condition("mask_patch", {"grid": 3, "index": 4}),
       Condition("keep_patch", {"grid": 3, "index": 4}),
       Condition("random_crop", {"scale": 0.5}), Condition("clip", {"threshold": 0.6}),
       Condition("window", {"center": 0.5, "width": 0.5}), Condition("jpeg", {"quality": 50}),
       Condition("equalize")]


def test_registry_covers_every_condition_name():
    assert sorted(P.PERTURBATIONS) == sorted(c.name for c in ALL)


@pytest.mark.parametrize("cond", ALL, ids=lambda c: c.name)
def test_contract(cond, batch):
    p = P.make_perturbation(cond, seed=11)
    assert p.condition == cond
    assert isinstance(p.strength, float)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64, torch.float16):
            x = batch.to(device=device, dtype=dtype)
            y = p(x)
            assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    # determinism on every device: same seed, same output
    for device in devices:
        xd = batch.float().to(device)
        assert torch.equal(P.make_perturbation(cond, seed=11)(xd),
                           P.make_perturbation(cond, seed=11)(xd))
    x = batch.float()
    a = P.make_perturbation(cond, seed=11)(x)
    # batch independence with per-sample seeds
    seeds = [100, 101, 102]
    whole = p(x, sample_seeds=seeds)
    for i in range(x.shape[0]):
        assert torch.allclose(p(x[i:i + 1], sample_seeds=seeds[i:i + 1]), whole[i:i + 1],
                              atol=1e-6)
    if not p.randomized:
        for i in range(x.shape[0]):
            assert torch.allclose(p(x[i:i + 1]), a[i:i + 1], atol=1e-6)


@pytest.mark.parametrize("cls_args", [(P.GaussianNoise, (0.1,)), (P.RandomCrop, (0.5,))])
def test_random_ones_depend_on_seed_only(cls_args, batch):
    cls, args = cls_args
    x = batch.float()
    assert not torch.equal(cls(*args, seed=0)(x), cls(*args, seed=1)(x))
    p = cls(*args, seed=5)
    first, second = p(x), p(x)
    assert not torch.equal(first, second)  # the object's generator advances ...
    p.set_random_state(5)
    assert torch.equal(p(x), first)  # ... and resets
    state = torch.random.get_rng_state()
    cls(*args, seed=5)(x)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched


def test_compose_gives_children_derived_seeds(batch):
    x = batch.float()
    comp = P.Compose([P.GaussianNoise(0.05), P.RandomCrop(0.5), P.Lowpass(5)], seed=3)
    assert comp.transforms[0].seed == P.derive_seed(3, 0)
    assert comp.transforms[1].seed == P.derive_seed(3, 1)
    assert comp.transforms[0].seed != comp.transforms[1].seed
    out = comp(x)
    again = P.Compose([P.GaussianNoise(0.05), P.RandomCrop(0.5), P.Lowpass(5)], seed=3)(x)
    assert torch.equal(out, again)
    manual = P.Lowpass(5)(P.RandomCrop(0.5, seed=P.derive_seed(3, 1))(
        P.GaussianNoise(0.05, seed=P.derive_seed(3, 0))(x)))
    assert torch.equal(out, manual)
    assert comp.condition.name == "gaussian_noise+random_crop+lowpass"
    assert comp.strength == 5.0


def test_make_perturbation_errors():
    with pytest.raises(ConfigError, match=r"unknown image perturbation 'blur'; choose one of \["):
        P.make_perturbation(Condition("blur", {"sigma": 1}))
    with pytest.raises(ConfigError, match=r"lowpass: unknown parameter\(s\) \['diameter'\]; "
                                          r"its parameters are \['radius'\]"):
        P.make_perturbation(Condition("lowpass", {"diameter": 10}))
    with pytest.raises(ConfigError, match=r"missing parameter\(s\) \['outer'\]"):
        P.make_perturbation(Condition("bandpass", {"inner": 1}))
    with pytest.raises(ConfigError, match="must be >= 0"):
        P.make_perturbation(Condition("lowpass", {"radius": -1}))
    with pytest.raises(ConfigError, match="parameters are none"):
        P.make_perturbation(Condition("equalize", {"x": 1}))
    with pytest.raises(DataError, match=r"\(B, C, H, W\)"):
        P.Lowpass(3)(torch.rand(4, 4))


def test_cli_spec_to_strengths():
    ps = [P.make_perturbation(c) for c in parse_conditions("lowpass:radius=1,10,50")]
    assert [p.strength for p in ps] == [1.0, 10.0, 50.0]
    assert [p.condition.label for p in ps] == ["lowpass(radius=1)", "lowpass(radius=10)",
                                               "lowpass(radius=50)"]
