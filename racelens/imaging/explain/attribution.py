"""Attribution maps through captum, their per-group averages and the weight-randomisation check.

Three methods, each a captum attribution object used as its tutorials do (racelens aggregates
maps, it does not re-implement them):

- ``integrated_gradients``: :class:`captum.attr.IntegratedGradients` from a black baseline,
  ``return_convergence_delta=True`` (the mean absolute delta is reported);
- ``gradcam``: :class:`captum.attr.LayerGradCam` on the backbone's last spatial feature layer,
  ReLU'd and upsampled to the image (torchvision's DenseNet uses a functional ReLU, which is why
  DeepLift is not offered);
- ``occlusion``: :class:`captum.attr.Occlusion` with black square windows of half a tile (its
  positive part: where covering the window lowers the predicted group's score).

Each image's map is the attribution magnitude toward the group the model predicts for it (never
the label, so that a deletion mask chosen from the map cannot carry the label), normalised to sum 1,
so every image weighs the same in the averages. The sanity check (Adebayo et al. 2018) computes
the same maps with a copy of the model whose weights are re-initialised: a method whose maps keep
their rank order (Spearman correlation at or above ``threshold``) shows the image, not the model,
and is flagged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from racelens.errors import ConfigError
from racelens.shared.train.inference import seeded_rng

__all__ = ["METHODS", "Method", "AttributionMaps", "attribution_maps", "last_feature_layer",
           "randomized_copy", "group_means", "rank_correlation"]

Method = Literal["integrated_gradients", "gradcam", "occlusion"]
METHODS: tuple[str, ...] = ("integrated_gradients", "gradcam", "occlusion")


@dataclass(frozen=True)
class AttributionMaps:
    """Per-image maps of one method: ``maps`` ``(N, H, W)`` non-negative, each summing to 1."""

    method: str
    maps: np.ndarray
    convergence_delta: float | None = None


def last_feature_layer(model: nn.Module) -> nn.Module:
    """The backbone's last layer with a spatial output (what LayerGradCam attributes to).

    Raises
    ------
    ConfigError
        For a backbone without a known spatial feature layer (e.g. ``hf:`` models).
    """
    backbone = getattr(model, "backbone", None)
    arch = str(getattr(model, "arch", ""))
    if arch == "small_cnn" and backbone is not None:
        relus = [m for m in backbone.body if isinstance(m, nn.ReLU)]
        return relus[-1]
    if arch.startswith("resnet") and backbone is not None:
        return backbone.layer4
    if arch in ("densenet121", "efficientnet_b0") and backbone is not None:
        return backbone.features
    raise ConfigError(f"gradcam needs a convolutional backbone; {arch or type(model).__name__} has "
                      "no known last feature layer (use --methods integrated_gradients,occlusion)")


def randomized_copy(model: nn.Module, *, seed: int) -> nn.Module:
    """A copy of ``model`` with every layer re-initialised (the Adebayo et al. control)."""
    clone = copy.deepcopy(model)
    with seeded_rng(seed):
        for module in clone.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
    return clone.eval()


def _normalise(attr: torch.Tensor, *, positive: bool = False) -> torch.Tensor:
    """``|attr|`` (or its positive part) summed over channels, each image scaled to sum 1
    (uniform where all zero)."""
    a = attr.detach().float()
    mag = (a.clamp(min=0) if positive else a.abs()).sum(dim=1)
    total = mag.sum(dim=(1, 2), keepdim=True)
    uniform = torch.full_like(mag, 1.0 / (mag.shape[1] * mag.shape[2]))
    return torch.where(total > 0, mag / total.clamp(min=1e-30), uniform)


def attribution_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, method: str, *,
                     grid: int = 4, batch_size: int = 64, device: str | torch.device = "cpu",
                     ig_steps: int = 16, forward_rows: int = 256) -> AttributionMaps:
    """Maps of ``method`` for ``images`` (``(N, C, H, W)`` in [0, 1]) toward ``targets``.

    Batched through captum, ``batch_size`` images at a time; ``ig_steps`` is Integrated Gradients'
    number of steps, ``grid`` sets the occlusion window (half a tile). ``forward_rows`` is how many
    inputs one forward pass takes: Integrated Gradients' interpolation steps and Occlusion's
    occluded copies are batched up to it (at least one image's worth).

    Raises
    ------
    ConfigError
        For an unknown method.
    """
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

    if method not in METHODS:
        raise ConfigError(f"unknown attribution method {method!r}; choose from {', '.join(METHODS)}")
    dev = torch.device(device)
    # channels-last, as the explain's evaluation passes run (much faster convolutions and pooling)
    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    h, w = images.shape[-2:]
    window = max(1, min(h, w) // (2 * grid))
    if method == "integrated_gradients":
        explainer = IntegratedGradients(model)
    elif method == "gradcam":
        explainer = LayerGradCam(model, last_feature_layer(model))
    else:
        explainer = Occlusion(model)
    out, deltas = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(dev).contiguous(memory_format=torch.channels_last)
        t = targets[start:start + batch_size].to(dev)
        if method == "integrated_gradients":
            attr, delta = explainer.attribute(x, target=t, baselines=torch.zeros_like(x),
                                              n_steps=ig_steps,
                                              internal_batch_size=max(len(x), forward_rows),
                                              return_convergence_delta=True)
            deltas.append(delta.detach().abs().float().cpu())
        elif method == "gradcam":
            cam = explainer.attribute(x, target=t, relu_attributions=True)
            attr = LayerAttribution.interpolate(cam, (h, w), interpolate_mode="bilinear")
        else:
            attr = explainer.attribute(x, target=t, baselines=0.0,
                                       sliding_window_shapes=(x.shape[1], window, window),
                                       strides=(x.shape[1], window, window),
                                       perturbations_per_eval=max(1, forward_rows // len(x)))
        # occlusion's sign is meaningful: positive where covering the window lowers the score
        out.append(_normalise(attr, positive=method == "occlusion").cpu())
    maps = torch.cat(out).numpy() if out else np.zeros((0, h, w), dtype=np.float32)
    delta_mean = float(torch.cat(deltas).mean()) if deltas else None
    return AttributionMaps(method, maps, delta_mean)


def group_means(maps: np.ndarray, groups: np.ndarray, classes: Sequence[str]
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The mean map over all images and per group (groups without images are left out)."""
    per = {str(g): maps[groups == g].mean(axis=0) for g in classes if (groups == g).any()}
    return maps.mean(axis=0), per


def rank_correlation(trained: np.ndarray, randomized: np.ndarray) -> float:
    """Mean over images of the Spearman rank correlation of two maps of the same image."""
    import warnings

    from scipy.stats import spearmanr

    n = len(trained)
    a, b = trained.reshape(n, -1), randomized.reshape(n, -1)
    # a constant map (e.g. Grad-CAM all zero on a random model) has no rank order: NaN, left out
    keep = (a.std(axis=1) > 0) & (b.std(axis=1) > 0)
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        if n == 1:
            return float(spearmanr(a[0], b[0]).statistic)
        # rows are variables: the cross block's diagonal pairs each image with itself
        rho = np.asarray(spearmanr(a, b, axis=1).statistic)
    return float(np.nanmean(np.diagonal(rho[:n, n:])))
