"""Image perturbations of Gichoya et al. (2022) as small, seeded transform objects.

Each perturbation is a small class holding its parameters (after MONAI's
``monai/transforms/intensity/array.py``) and applies to a float tensor batch ``(B, C, H, W)``
with intensities in ``[0, 1]`` on any device; the output keeps the input's device and dtype.
Randomness is local to the object (a seeded :class:`torch.Generator`), never the global RNG;
passing ``sample_seeds`` (e.g. each sample's row index in the cache) makes every sample's draw
independent of how the samples were batched. Noise is drawn on the images' device, so it is
reproducible per device type (CPU and CUDA generators differ); crops are drawn on the CPU.

Frequency filters use a centred FFT disc mask: with ``d`` the distance of a frequency pixel from
the zero frequency after ``fftshift`` (pixel ``(H//2, W//2)``), ``lowpass(radius=r)`` keeps
``d**2 < r**2``, ``highpass(radius=r)`` keeps ``d**2 >= r**2``. Gichoya et al.'s code names this
parameter "diameter" but tests ``dist < D0``, so their "diameter" is our ``radius`` (both in
frequency pixels of the model-size image; for 224 px the corner lies at ``112 * sqrt(2) = 158.4``,
so ``lowpass(radius=159)`` is the identity and ``highpass(radius=159)`` is zero).

Example
-------
>>> import torch
>>> from racelens.shared.results import Condition
>>> p = make_perturbation(Condition("lowpass", {"radius": 10}))
>>> p(torch.rand(2, 1, 32, 32)).shape
torch.Size([2, 1, 32, 32])
"""

from __future__ import annotations

import inspect
import io
import math

import numpy as np
import torch
import torch.nn.functional as F

from racelens.errors import ConfigError
from racelens.imaging.perturb.base import (
    Compose,
    Identity,
    Perturbation,
    _check,
    _resize,
    _work,
    derive_seed,
)
from racelens.shared.results import Condition

__all__ = [
    "Perturbation", "Identity", "Lowpass", "Highpass", "Bandpass", "Notch", "Resolution",
    "GaussianNoise", "GaussianBlur", "Patch", "MaskPatch", "KeepPatch", "RandomCrop", "Clip",
    "Window", "Jpeg", "Equalize", "Compose", "PERTURBATIONS", "make_perturbation", "derive_seed",
]


def _freq_dist2(h: int, w: int, device: torch.device) -> torch.Tensor:
    dy = torch.arange(h, device=device, dtype=torch.float64) - h // 2
    dx = torch.arange(w, device=device, dtype=torch.float64) - w // 2
    return dy[:, None] ** 2 + dx[None, :] ** 2


class _FFTMask(Perturbation):
    """Keep the frequencies where :meth:`mask` is true (centred spectrum), real part back.

    ``real(ifft2(F * M))`` equals ``irfft2(rfft2(x) * (M(k) + M(-k)) / 2)`` for a real image, so
    the filter runs on the half spectrum with the mask made Hermitian (it differs from ``M`` only
    on the unpaired Nyquist row/column of even sizes) at half the cost.
    """

    def mask(self, d2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _half_mask(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (h, w, str(device), dtype)
        cached = getattr(self, "_mask_cache", None)
        if cached is None or cached[0] != key:
            m = torch.fft.ifftshift(self.mask(_freq_dist2(h, w, device)).to(torch.float64))
            flipped = torch.roll(torch.flip(m, dims=(0, 1)), shifts=(1, 1), dims=(0, 1))
            half = ((m + flipped) / 2)[:, : w // 2 + 1].to(dtype)
            cached = (key, half)
            self._mask_cache = cached
        return cached[1]

    def apply(self, images, generators):
        x = _work(images)
        h, w = x.shape[-2:]
        keep = self._half_mask(h, w, x.device, x.dtype)
        return torch.fft.irfft2(torch.fft.rfft2(x) * keep, s=(h, w))


class _RadiusFilter(_FFTMask):
    strength_param = "radius"

    def __init__(self, radius: float, *, seed: int = 0) -> None:
        _check(radius >= 0, f"{self.name} radius must be >= 0, got {radius}")
        self.radius = radius
        super().__init__(seed=seed)


class Lowpass(_RadiusFilter):
    """Keep frequencies with ``d**2 < radius**2`` (Gichoya's "diameter" ``D0``).

    Parameters
    ----------
    radius
        In frequency pixels of the image as given (>= 0); 0 gives zero, past the corner the identity.
    """

    name = "lowpass"

    def mask(self, d2):
        return d2 < self.radius**2


class Highpass(_RadiusFilter):
    """Keep frequencies with ``d**2 >= radius**2`` (the complement of :class:`Lowpass`).

    The output has no DC component, so it is centred on 0 and is not clipped to ``[0, 1]``.
    """

    name = "highpass"

    def mask(self, d2):
        return d2 >= self.radius**2


class Bandpass(_FFTMask):
    """Keep the annulus ``inner**2 <= d**2 < outer**2``; strength is the band's mid radius."""

    name = "bandpass"

    def __init__(self, inner: float, outer: float, *, seed: int = 0) -> None:
        _check(0 <= inner <= outer, f"{self.name} needs 0 <= inner <= outer, got {inner}, {outer}")
        self.inner, self.outer = inner, outer
        super().__init__(seed=seed)

    @property
    def strength(self) -> float:
        return (self.inner + self.outer) / 2

    def mask(self, d2):
        return (d2 >= self.inner**2) & (d2 < self.outer**2)


class Notch(Bandpass):
    """Remove the annulus ``inner**2 <= d**2 < outer**2`` (band-stop); keep everything else."""

    name = "notch"

    def mask(self, d2):
        return ~super().mask(d2)


class Resolution(Perturbation):
    """Down-sample to ``size x size`` (area averaging) and back up (bilinear)."""

    name, strength_param = "resolution", "size"

    def __init__(self, size: int, *, seed: int = 0) -> None:
        _check(int(size) == size and size >= 1, f"resolution size must be an integer >= 1, got {size}")
        self.size = int(size)
        super().__init__(seed=seed)

    def apply(self, images, generators):
        x = _work(images)
        small = F.interpolate(x, size=(self.size, self.size), mode="area")
        return _resize(small, x.shape[-2], x.shape[-1])


class GaussianNoise(Perturbation):
    """Add ``N(0, sigma**2)`` noise per pixel, then clip to ``[0, 1]`` (``clip=True``)."""

    name, strength_param, randomized = "gaussian_noise", "sigma", True

    def __init__(self, sigma: float, clip: bool = True, *, seed: int = 0) -> None:
        _check(sigma >= 0, f"gaussian_noise sigma must be >= 0, got {sigma}")
        self.sigma, self.clip = sigma, clip
        super().__init__(seed=seed)

    def apply(self, images, generators):
        noise = torch.stack([torch.randn(images.shape[1:], generator=g, device=images.device)
                             for g in generators])
        out = images + self.sigma * noise.to(images.dtype)
        return out.clamp(0, 1) if self.clip else out


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Normalised 1-D Gaussian of radius ``int(truncate * sigma + 0.5)`` (as scipy.ndimage)."""
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


class GaussianBlur(Perturbation):
    """Separable Gaussian blur, edges mirrored (scipy's ``mode="mirror"``); sigma 0 is identity."""

    name, strength_param = "gaussian_blur", "sigma"

    def __init__(self, sigma: float, *, seed: int = 0) -> None:
        _check(sigma >= 0, f"gaussian_blur sigma must be >= 0, got {sigma}")
        self.sigma = sigma
        super().__init__(seed=seed)

    def apply(self, images, generators):
        if self.sigma == 0:
            return images
        b, c, h, w = images.shape
        x = _work(images)
        k = gaussian_kernel1d(self.sigma).to(device=x.device, dtype=x.dtype)
        r = k.numel() // 2
        if r >= min(h, w):
            raise ConfigError(f"gaussian_blur sigma={self.sigma} needs a kernel radius {r} smaller "
                              f"than the image ({h}x{w}); use a smaller sigma")
        x = x.reshape(b * c, 1, h, w)
        x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
        return x.reshape(b, c, h, w)


def _tile_bounds(size: int, grid: int, i: int) -> tuple[int, int]:
    return (i * size) // grid, ((i + 1) * size) // grid


class Patch(Perturbation):
    """Keep one tile of a ``grid x grid`` partition (row-major ``index``) resized back.

    Gichoya et al.'s 3x3 grid of a 224 image gives 74-px tiles (bounds ``floor(i * 224 / 3)``).
    """

    name, strength_param = "patch", "index"

    def __init__(self, grid: int, index: int, *, seed: int = 0) -> None:
        _check(int(grid) == grid and grid >= 1, f"{self.name} grid must be an integer >= 1, got {grid}")
        _check(int(index) == index and 0 <= index < grid * grid,
               f"{self.name} index must be in 0..{grid * grid - 1} for grid={grid}, got {index}")
        self.grid, self.index = int(grid), int(index)
        super().__init__(seed=seed)

    def tile(self, h: int, w: int) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` of the chosen tile."""
        row, col = divmod(self.index, self.grid)
        return (*_tile_bounds(h, self.grid, row), *_tile_bounds(w, self.grid, col))

    def apply(self, images, generators):
        t, b, left, right = self.tile(images.shape[-2], images.shape[-1])
        return _resize(_work(images[..., t:b, left:right]), images.shape[-2], images.shape[-1])


class MaskPatch(Patch):
    """Black out (set to 0) one tile of a ``grid x grid`` partition; the rest is unchanged."""

    name = "mask_patch"

    def apply(self, images, generators):
        t, b, left, right = self.tile(images.shape[-2], images.shape[-1])
        out = images.clone()
        out[..., t:b, left:right] = 0
        return out


class KeepPatch(Patch):
    """Keep one tile of a ``grid x grid`` partition in place; set the rest to 0.

    The complement of :class:`MaskPatch`: unlike :class:`Patch` the tile is not resized, so a
    model trained on whole images sees it where it was (the test-time "only this tile" question).
    """

    name = "keep_patch"

    def apply(self, images, generators):
        t, b, left, right = self.tile(images.shape[-2], images.shape[-1])
        out = torch.zeros_like(images)
        out[..., t:b, left:right] = images[..., t:b, left:right]
        return out


class RandomCrop(Perturbation):
    """Crop a random window covering ``scale`` of the area (same aspect) and resize it back."""

    name, strength_param, randomized = "random_crop", "scale", True
    generator_device = "cpu"  # two integers per image: same crops on every device, no syncs

    def __init__(self, scale: float, *, seed: int = 0) -> None:
        _check(0 < scale <= 1, f"random_crop scale must be in (0, 1], got {scale}")
        self.scale = scale
        super().__init__(seed=seed)

    def apply(self, images, generators):
        h, w = images.shape[-2:]
        ch, cw = (max(1, round(s * math.sqrt(self.scale))) for s in (h, w))
        out = []
        for img, g in zip(_work(images), generators, strict=True):
            top, left = (int(torch.randint(0, n + 1, (1,), generator=g)) for n in (h - ch, w - cw))
            out.append(_resize(img[None, :, top:top + ch, left:left + cw], h, w))
        return torch.cat(out)


class Clip(Perturbation):
    """Bone-density clipping: intensities above ``threshold`` are set to ``threshold``.

    Gichoya et al. removed bone-density cues by clipping bright (dense) pixels; bright is bone
    because :func:`racelens.imaging.io.load.load_image` maps bone to high values.
    """

    name, strength_param = "clip", "threshold"

    def __init__(self, threshold: float, *, seed: int = 0) -> None:
        _check(0 <= threshold <= 1, f"clip threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        super().__init__(seed=seed)

    def apply(self, images, generators):
        return images.clamp(max=self.threshold)


class Window(Perturbation):
    """Linear window: ``clip((x - (center - width / 2)) / width, 0, 1)`` (Lotter et al. 2024)."""

    name, strength_param = "window", "width"

    def __init__(self, center: float, width: float, *, seed: int = 0) -> None:
        _check(width > 0, f"window width must be > 0, got {width}")
        self.center, self.width = center, width
        super().__init__(seed=seed)

    def apply(self, images, generators):
        return ((images - (self.center - self.width / 2)) / self.width).clamp(0, 1)


class Jpeg(Perturbation):
    """JPEG round trip at ``quality`` (1-95) through Pillow, 8-bit greyscale, per channel."""

    name, strength_param = "jpeg", "quality"

    def __init__(self, quality: int, *, seed: int = 0) -> None:
        _check(int(quality) == quality and 1 <= quality <= 100,
               f"jpeg quality must be an integer in 1..100, got {quality}")
        self.quality = int(quality)
        super().__init__(seed=seed)

    def apply(self, images, generators):
        from PIL import Image

        u8 = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        out = np.empty(u8.shape, dtype=np.float32)
        for idx in np.ndindex(u8.shape[:2]):
            buf = io.BytesIO()
            Image.fromarray(u8[idx]).save(buf, format="JPEG", quality=self.quality)
            buf.seek(0)
            out[idx] = np.asarray(Image.open(buf).convert("L"), dtype=np.float32) / 255
        return torch.from_numpy(out)


class Equalize(Perturbation):
    """Histogram equalisation on 256 levels per image: ``(cdf - cdf_min) / (n - cdf_min)``.

    Images with one level only are returned unchanged.
    """

    name = "equalize"

    @property
    def strength(self) -> float:
        return 1.0

    def apply(self, images, generators):
        b, c, h, w = images.shape
        levels = (images.float().clamp(0, 1) * 255).round().long().reshape(b * c, h * w)
        hist = torch.zeros(b * c, 256, dtype=torch.long, device=images.device)
        hist.scatter_add_(1, levels, torch.ones_like(levels))
        cdf = hist.cumsum(1)
        cdf_min = torch.where(hist > 0, cdf, torch.full_like(cdf, h * w)).min(1, keepdim=True).values
        denom = (h * w - cdf_min).clamp(min=1)
        mapped = ((cdf - cdf_min).clamp(min=0).double() / denom * 255).round() / 255
        out = mapped.gather(1, levels).float()
        flat = (cdf_min == h * w).squeeze(1)
        out[flat] = images.float().reshape(b * c, h * w)[flat]
        return out.reshape(b, c, h, w)


PERTURBATIONS: dict[str, type[Perturbation]] = {
    cls.name: cls for cls in (Identity, Lowpass, Highpass, Bandpass, Notch, Resolution,
                              GaussianNoise, GaussianBlur, Patch, MaskPatch, KeepPatch,
                              RandomCrop, Clip, Window, Jpeg, Equalize)
}


def make_perturbation(condition: Condition, *, seed: int = 0) -> Perturbation:
    """The perturbation a :class:`~racelens.shared.results.Condition` names.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones) or unknown/missing parameters
        (the message lists the valid ones).
    """
    cls = PERTURBATIONS.get(condition.name)
    if cls is None:
        raise ConfigError(f"unknown image perturbation {condition.name!r}; "
                          f"choose one of {sorted(PERTURBATIONS)}")
    sig = inspect.signature(cls.__init__)
    valid = [k for k in sig.parameters if k not in ("self", "seed")]
    required = [k for k in valid if sig.parameters[k].default is inspect.Parameter.empty]
    unknown = [k for k in condition.params if k not in valid]
    missing = [k for k in required if k not in condition.params]
    if unknown or missing:
        what = f"unknown parameter(s) {unknown}" if unknown else f"missing parameter(s) {missing}"
        raise ConfigError(f"{condition.name}: {what}; its parameters are {valid or 'none'}")
    try:
        return cls(**dict(condition.params), seed=seed)
    except TypeError as exc:
        raise ConfigError(f"{condition.label}: bad parameter value ({exc})") from exc
