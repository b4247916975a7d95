"""Image classifiers: single-channel backbones, seeded init, local weights, hf: backbones."""

from __future__ import annotations

import pytest
import torch

from racelens.errors import ConfigError
from racelens.imaging.models import build_model, features, load_model, save_model


def test_small_cnn_seeded_and_global_rng_untouched():
    before = torch.random.get_rng_state()
    a, b, c = (build_model("small_cnn", 3, seed=s) for s in (0, 0, 1))
    assert torch.equal(before, torch.random.get_rng_state())
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    a.eval(), b.eval(), c.eval()
    assert a(x).shape == (4, 3)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))
    assert features(a, x).shape == (4, 128)


@pytest.mark.parametrize("arch", ["densenet121", "resnet34", "resnet50", "efficientnet_b0"])
def test_torchvision_backbones_take_one_channel(arch):
    model = build_model(arch, 2, seed=0).eval()
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(x).shape == (1, 2)
        n_feat = {"densenet121": 1024, "resnet34": 512, "resnet50": 2048, "efficientnet_b0": 1280}[arch]
        assert features(model, x).shape == (1, n_feat)


def test_imagenet_state_dict_summed_to_one_channel(tmp_path):
    import torchvision

    with torch.random.fork_rng():
        torch.manual_seed(3)
        ref = torchvision.models.resnet34(weights=None)  # stands for an ImageNet checkpoint
    path = tmp_path / "resnet34-imagenet.pth"
    torch.save(ref.state_dict(), path)
    model = build_model("resnet34", 3, weights=path)
    torch.testing.assert_close(model.backbone.conv1.weight, ref.conv1.weight.sum(dim=1, keepdim=True))
    assert torch.equal(model.backbone.layer3[0].conv1.weight, ref.layer3[0].conv1.weight)
    assert model.head.out_features == 3

    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    wrapped = build_model("resnet34", 3, weights=path)
    assert torch.equal(wrapped.backbone.layer1[0].conv1.weight, ref.layer1[0].conv1.weight)


def test_weights_of_another_arch_are_refused(tmp_path):
    import torchvision

    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ConfigError, match="do not match resnet34"):
        build_model("resnet34", 3, weights=path)
    with pytest.raises(ConfigError, match="not found"):
        build_model("resnet34", 3, weights=tmp_path / "missing.pth")
    with pytest.raises(ConfigError, match="unknown arch"):
        build_model("vgg16", 3)


def test_hf_vision_backbone_from_local_directory(tmp_path):
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64)
    ViTModel(cfg).save_pretrained(tmp_path / "vit")
    model = build_model(f"hf:{tmp_path / 'vit'}", 3).eval()
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(x).shape == (2, 3)
        assert features(model, x).shape == (2, 32)
    with pytest.raises(ConfigError, match="not a directory"):
        build_model(f"hf:{tmp_path / 'nope'}", 3)


def test_save_and_load_roundtrip(tmp_path):
    model = build_model("small_cnn", 3, seed=5).eval()
    path = save_model(model, tmp_path / "model.pt", classes=["Asian", "Black", "White"], meta={"size": 32})
    loaded, classes, meta = load_model(path)
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert classes == ["Asian", "Black", "White"] and meta == {"size": 32}
    assert torch.equal(model(x), loaded(x))
