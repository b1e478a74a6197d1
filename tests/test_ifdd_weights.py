"""Loading torchvision MViTv2-S / MobileNetV2 weights (random ones: nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.video import mvit as tv_mvit
from torchvision.models.video import mvit_v2_s

from ferflow.models import create_model
from ferflow.models.mobilenetv2 import load_mobilenet_v2_weights
from ferflow.models.mvit_xs import MVIT_S_DEPTHS, MViTXS, load_mvit_v2_s_weights, mvit_block_configs

_S_TO_XS = {**{i: i for i in range(8)}, 14: 8, 15: 9}


@pytest.fixture(scope="module")
def mvit_s_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return mvit_v2_s(weights=None).state_dict()


def _expected_xs_key(src: str) -> str | None:
    if src.startswith(("conv_proj.", "norm.")) or src == "pos_encoding.class_token":
        return src
    if src.startswith("blocks."):
        index, rest = src[len("blocks.") :].split(".", 1)
        return f"blocks.{_S_TO_XS[int(index)]}.{rest}" if int(index) in _S_TO_XS else None
    return None


def test_mvit_v2_s_mapping_onto_ifdd_mvit(mvit_s_state: dict[str, torch.Tensor]) -> None:
    torch.manual_seed(1)
    model = create_model("ifdd_mvit")
    report = load_mvit_v2_s_weights(model, mvit_s_state)
    state = model.state_dict()
    expected = {src: "backbone." + dst for src in mvit_s_state if (dst := _expected_xs_key(src)) is not None}
    assert dict(report.loaded) == expected
    for src, dst in report.loaded:
        assert torch.equal(state[dst], mvit_s_state[src]), dst
    # Nothing skipped silently: unused source keys are exactly S blocks 8-13 and the Kinetics head ...
    unused = {
        k
        for k in mvit_s_state
        if k.startswith("head.") or (k.startswith("blocks.") and 8 <= int(k.split(".")[1]) <= 13)
    }
    assert set(report.unused_source) == unused
    # ... and every backbone tensor was loaded; only the IFDD modules keep their initialisation.
    assert report.not_loaded and not any(k.startswith("backbone.") for k in report.not_loaded)
    assert {k.split(".")[0] for k in report.not_loaded} == {"pyramid", "issm", "lift", "token_pool", "head"}
    assert len(report.loaded) + len(report.not_loaded) == len(state)


def test_mvit_weights_from_a_file_and_from_the_factory(
    mvit_s_state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = tmp_path / "mvit_v2_s.pth"
    torch.save({"state_dict": mvit_s_state}, path)  # a wrapped checkpoint
    model = create_model("baseline_mvit", backbone_weights=path)
    assert torch.equal(model.backbone.blocks[9].mlp[3].weight, mvit_s_state["blocks.15.mlp.3.weight"])
    assert torch.equal(model.backbone.conv_proj.weight, mvit_s_state["conv_proj.weight"])


def test_wrong_weight_files_fail_clearly(tmp_path: Path) -> None:
    model = MViTXS()
    with pytest.raises(FileNotFoundError):
        load_mvit_v2_s_weights(model, tmp_path / "missing.pth")
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(ValueError, match="not a loadable"):
        load_mvit_v2_s_weights(model, text)
    other = tmp_path / "other.pth"
    torch.save(nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(ValueError, match="not a torchvision mvit_v2_s"):
        load_mvit_v2_s_weights(model, other)
    with pytest.raises(TypeError):
        load_mvit_v2_s_weights(nn.Linear(2, 2), {"conv_proj.weight": torch.zeros(1)})


def test_mvit_v2_s_state_dict_with_a_wrong_shape_is_rejected(mvit_s_state: dict[str, torch.Tensor]) -> None:
    broken = dict(mvit_s_state)
    broken["blocks.14.attn.qkv.weight"] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_mvit_v2_s_weights(MViTXS(), broken)


def test_mvit_s_depths_rebuild_torchvision_mvit_v2_s(mvit_s_state: dict[str, torch.Tensor]) -> None:
    with torch.device("meta"):
        trunk = MViTXS(depths=MVIT_S_DEPTHS)
    ours = {k: tuple(v.shape) for k, v in trunk.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in mvit_s_state.items() if not k.startswith("head.")}
    assert ours == theirs


def _torchvision_mvit_v2_s_settings(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The keyword arguments torchvision's own `mvit_v2_s()` passes to its builder (nothing is built)."""
    captured: dict = {}
    monkeypatch.setattr(tv_mvit, "_mvit", lambda **kwargs: captured.update(kwargs))
    tv_mvit.mvit_v2_s(weights=None)
    return captured


def test_block_configs_equal_torchvision_mvit_v2_s(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _torchvision_mvit_v2_s_settings(monkeypatch)
    theirs = settings["block_setting"]
    assert mvit_block_configs(MVIT_S_DEPTHS) == theirs
    assert mvit_block_configs() == [theirs[i] for i in (*range(8), 14, 15)]


def test_mvit_xs_computes_what_torchvision_computes_with_blocks_8_to_13_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # torchvision's MViT with mvit_v2_s's settings at a small geometry (4 frames of 64x64 -> 2 x 16 x 16
    # tokens) keeps this fast; blocks 8-13 are then dropped from it, which is what MViT-XS computes.
    settings = _torchvision_mvit_v2_s_settings(monkeypatch)
    for key in ("spatial_size", "temporal_size", "weights", "progress"):
        settings.pop(key)
    torch.manual_seed(0)
    tv = tv_mvit.MViT(spatial_size=(64, 64), temporal_size=4, **settings).eval()
    state = tv.state_dict()
    tv.blocks = nn.ModuleList([*tv.blocks[:8], *tv.blocks[14:]])
    captured: dict[str, torch.Tensor] = {}
    tv.blocks[7].register_forward_hook(lambda _m, _a, out: captured.__setitem__("stage3", out[0]))
    tv.norm.register_forward_hook(lambda _m, _a, out: captured.__setitem__("final", out))
    ours = MViTXS(rel_pos_geometry=(2, 16, 16)).eval()
    load_mvit_v2_s_weights(ours, state)
    x = torch.rand(2, 3, 4, 64, 64)
    with torch.no_grad():
        tv(x)
        stage3, final = ours(x)
    assert stage3.shape == (2, 384, 2, 4, 4) and final.shape == (2, 768, 2, 2, 2)
    torch.testing.assert_close(stage3, MViTXS._to_map(captured["stage3"], (2, 4, 4)))
    torch.testing.assert_close(final, MViTXS._to_map(captured["final"], (2, 2, 2)))


def test_mobilenet_v2_weights_load() -> None:
    torch.manual_seed(0)
    state = torchvision.models.mobilenet_v2(weights=None).state_dict()
    model = create_model("ifdd_mobilenetv2", img_size=112)
    report = load_mobilenet_v2_weights(model, state)
    assert set(report.unused_source) == {"classifier.1.weight", "classifier.1.bias"}
    for src, dst in report.loaded:
        assert torch.equal(model.state_dict()[dst], state[src])
    assert not any(k.startswith("backbone.") for k in report.not_loaded)
    with pytest.raises(ValueError, match="mobilenet_v2"):
        load_mobilenet_v2_weights(model, {"conv_proj.weight": torch.zeros(1)})
