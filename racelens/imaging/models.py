"""Image classifiers for race (and disease) prediction: torchvision backbones, a small CPU CNN and
transformers vision backbones from a local directory.

Every model is an :class:`ImagingClassifier`: a fixed input normalisation, a ``backbone`` that maps
``(B, in_channels, H, W)`` images in [0, 1] to penultimate features, and a linear ``head``. The
features are what the frozen-feature race probe reads (:func:`features`).

Weights are never downloaded. ``weights=`` names a local file: a torchvision ImageNet state dict,
a torchxrayvision DenseNet state dict, or a model saved by racelens. A 3-channel first convolution
is summed over its input channels to take one-channel radiographs.

Example
-------
>>> m = build_model("small_cnn", 3, seed=0)
>>> m(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from racelens.errors import ConfigError
from racelens.shared.tables import atomic_path
from racelens.shared.train.loop import seeded_rng

__all__ = [
    "ARCHS",
    "Arch",
    "ImagingClassifier",
    "SmallCNN",
    "build_model",
    "features",
    "save_model",
    "load_model",
]

log = logging.getLogger(__name__)

Arch = Literal["small_cnn", "densenet121", "resnet34", "resnet50", "efficientnet_b0"]
ARCHS: tuple[str, ...] = ("small_cnn", "densenet121", "resnet34", "resnet50", "efficientnet_b0")
_HEAD_PREFIXES = ("fc.", "classifier.", "head.")
_FIRST_CONV_KEY = {"resnet": "conv1.weight", "densenet": "features.conv0.weight",
                   "efficientnet": "features.0.0.weight"}


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU-maxpool blocks and global average pooling: fast enough for CPU runs."""

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for w in widths:
            layers += [nn.Conv2d(prev, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            prev = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.out_features = prev

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ImagingClassifier(nn.Module):
    """Normalise ``[0, 1]`` images to ``[-1, 1]``, extract features, classify linearly."""

    def __init__(self, backbone: nn.Module, n_features: int, n_classes: int, *, arch: str,
                 in_channels: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.arch = arch
        self.in_channels = in_channels
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(n_features, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features of ``x`` (``B x n_features``)."""
        out = self.backbone((x - 0.5) / 0.5)
        return out.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(x)))


def features(model: nn.Module, x: Tensor) -> Tensor:
    """Penultimate features of an :class:`ImagingClassifier` for a batch ``x``."""
    if not isinstance(model, ImagingClassifier):
        raise ConfigError(f"features() needs a model from build_model, got {type(model).__name__}")
    return model.features(x)


def _first_conv_parent(net: nn.Module, arch: str) -> tuple[nn.Module, str]:
    if arch.startswith("resnet"):
        return net, "conv1"
    if arch == "densenet121":
        return net.features, "conv0"  # type: ignore[return-value]
    return net.features[0], "0"  # type: ignore[index,return-value]  # efficientnet stem


def _adapt_first_conv(net: nn.Module, arch: str, in_channels: int) -> None:
    parent, name = _first_conv_parent(net, arch)
    conv: nn.Conv2d = getattr(parent, name)
    if conv.in_channels == in_channels:
        return
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    bias=conv.bias is not None)
    setattr(parent, name, new)


def _strip_head(net: nn.Module, arch: str) -> tuple[int, float]:
    """Replace the torchvision classifier by the identity; return (n_features, dropout)."""
    if arch.startswith("resnet"):
        n = net.fc.in_features  # type: ignore[union-attr]
        net.fc = nn.Identity()  # type: ignore[assignment]
        return int(n), 0.0
    if arch == "densenet121":
        n = net.classifier.in_features  # type: ignore[union-attr]
        net.classifier = nn.Identity()  # type: ignore[assignment]
        return int(n), 0.0
    n = net.classifier[1].in_features  # type: ignore[index,union-attr]
    net.classifier = nn.Identity()  # type: ignore[assignment]
    return int(n), 0.2


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.exists():
        raise ConfigError(f"weights file {path} not found")
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(
            f"{path}: cannot read a state dict ({type(exc).__name__}). A pickled whole model "
            "(e.g. a torchxrayvision .pt) must be exported first: torch.save(model.state_dict(), "
            "'weights.pth')") from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ConfigError(f"{path}: expected a state dict of tensors")
    state = dict(obj)
    for prefix in ("module.", "model.", "backbone."):
        if state and all(k.startswith(prefix) for k in state if not k.startswith("head.")):
            state = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
    return state


def _load_backbone_weights(net: nn.Module, arch: str, path: Path, in_channels: int) -> None:
    state = _read_state_dict(path)
    own = net.state_dict()
    conv_key = _FIRST_CONV_KEY[arch.split("_")[0].rstrip("0123456789")]
    if conv_key in state and state[conv_key].shape[1] != in_channels:
        w = state[conv_key]
        if in_channels == 1:
            state[conv_key] = w.sum(dim=1, keepdim=True)  # keeps the response to grey inputs
        else:
            raise ConfigError(f"{path}: first convolution has {w.shape[1]} input channels, "
                              f"the model {in_channels}")
    state = {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}
    missing = [k for k in own if k not in state and not k.startswith(_HEAD_PREFIXES)]
    unexpected = [k for k in state if k not in own]
    bad_shape = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or unexpected or bad_shape:
        raise ConfigError(
            f"{path}: weights do not match {arch} ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(bad_shape)} of another shape; e.g. "
            f"{(missing + unexpected + bad_shape)[:3]}). Check --arch matches the weights file")
    net.load_state_dict(state, strict=False)
    log.info("loaded %d tensors from %s", len(state), path)


def _torchvision(arch: str, in_channels: int, weights: Path | None) -> tuple[nn.Module, int, float]:
    import torchvision

    net = getattr(torchvision.models, arch)(weights=None)
    _adapt_first_conv(net, arch, in_channels)
    if weights is not None:
        _load_backbone_weights(net, arch, Path(weights), in_channels)
    n_features, dropout = _strip_head(net, arch)
    return net, n_features, dropout


class _HFBackbone(nn.Module):
    """A transformers vision model as a feature extractor (pooled output, else mean token)."""

    def __init__(self, model: nn.Module, n_channels: int) -> None:
        super().__init__()
        self.model = model
        self.n_channels = n_channels

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != self.n_channels:
            x = x.expand(-1, self.n_channels, -1, -1)
        out = self.model(pixel_values=x)
        pooled = getattr(out, "pooler_output", None)
        if pooled is not None:
            return pooled.flatten(1)
        hidden = out.last_hidden_state
        return hidden.mean(dim=1) if hidden.dim() == 3 else hidden.mean(dim=(2, 3))


def _hf_backbone(directory: Path) -> tuple[nn.Module, int]:
    from transformers import AutoConfig, AutoModel

    if not directory.is_dir():
        raise ConfigError(f"hf:{directory}: not a directory; name a local transformers model folder")
    try:
        cfg = AutoConfig.from_pretrained(directory, local_files_only=True)
        model = AutoModel.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"hf:{directory}: cannot load a transformers model ({exc})") from exc
    n_features = getattr(cfg, "hidden_size", None)
    sizes = getattr(cfg, "hidden_sizes", None)
    if sizes:
        n_features = sizes[-1]
    if n_features is None:
        raise ConfigError(f"hf:{directory}: config has no hidden_size; cannot size the head")
    return _HFBackbone(model, int(getattr(cfg, "num_channels", 3))), int(n_features)


def build_model(arch: str, n_classes: int, *, in_channels: int = 1, weights: Path | None = None,
                seed: int = 0) -> ImagingClassifier:
    """Build an image classifier, initialised reproducibly from ``seed``.

    Parameters
    ----------
    arch
        ``small_cnn``, ``densenet121``, ``resnet34``, ``resnet50``, ``efficientnet_b0``, or
        ``hf:DIR`` for a transformers vision model saved in the local directory ``DIR``.
    n_classes
        Number of outputs.
    in_channels
        Image channels (1 for radiographs).
    weights
        Optional local weights file for a torchvision backbone (ImageNet, torchxrayvision or a
        racelens model); its classifier is dropped and a new head is trained.
    seed
        Seeds the initialisation; the global RNG is left as it was.

    Raises
    ------
    ConfigError
        For an unknown architecture or weights that do not match it.
    """
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}")
    with seeded_rng(seed):
        if arch.startswith("hf:"):
            if weights is not None:
                raise ConfigError("hf: models take their weights from their directory; drop --weights")
            backbone, n_features = _hf_backbone(Path(arch[3:]))
            return ImagingClassifier(backbone, n_features, n_classes, arch=arch, in_channels=in_channels)
        if arch == "small_cnn":
            if weights is not None:
                raise ConfigError("small_cnn has no pretrained weights; drop --weights")
            cnn = SmallCNN(in_channels)
            return ImagingClassifier(cnn, cnn.out_features, n_classes, arch=arch,
                                     in_channels=in_channels)
        if arch not in ARCHS:
            raise ConfigError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)} or hf:DIR")
        net, n_features, dropout = _torchvision(arch, in_channels, weights)
        return ImagingClassifier(net, n_features, n_classes, arch=arch, in_channels=in_channels,
                                 dropout=dropout)


def save_model(model: ImagingClassifier, path: Path, *, classes: Sequence[str],
               meta: Mapping[str, Any] | None = None) -> Path:
    """Save a trained model with what :func:`load_model` needs to rebuild it (atomically)."""
    with atomic_path(path) as tmp:
        torch.save({"arch": model.arch, "in_channels": model.in_channels, "classes": list(classes),
                    "meta": dict(meta or {}),
                    "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}},
                   tmp)
    return Path(path)


def load_model(path: Path) -> tuple[ImagingClassifier, list[str], dict[str, Any]]:
    """Rebuild a model saved by :func:`save_model`; returns ``(model, classes, meta)``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no saved model; run `racelens imaging audit` first")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    classes = list(blob["classes"])
    model = build_model(blob["arch"], len(classes), in_channels=int(blob["in_channels"]))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, classes, dict(blob.get("meta", {}))
