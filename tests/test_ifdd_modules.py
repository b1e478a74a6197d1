"""ISSM, LADM and the lifting loss in isolation, on small hand-checkable inputs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ferflow.models.issm import ISSM, fixed_split, interpolate_frames, sample_positions
from ferflow.models.ladm import LADM, HaarLift, LiftingAttention
from ferflow.models.losses import lifting_loss
from ferflow.models.video import IFDDFeatures

# ---------------------------------------------------------------------------------------------------------
# ISSM
# ---------------------------------------------------------------------------------------------------------


def _frame_ramp(b: int = 2, c: int = 3, t: int = 8, h: int = 2, w: int = 2) -> torch.Tensor:
    """Features whose value is the frame index, so a sample's value is the position it was taken at."""
    return torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(b, c, t, h, w).contiguous()


def _zero_offsets(issm: ISSM) -> ISSM:
    with torch.no_grad():
        issm.offset_s.weight.zero_()
        issm.offset_d.weight.zero_()
    return issm


def test_issm_zero_offsets_exact_samples_the_base_frames() -> None:
    issm = _zero_offsets(ISSM(dim=3, num_frames=8, sampling="exact"))
    out = issm(_frame_ramp())
    assert torch.equal(out.idx_s, torch.tensor([[0.0, 2.0, 4.0, 6.0]] * 2))
    assert torch.equal(out.idx_d, torch.tensor([[1.0, 3.0, 5.0, 7.0]] * 2))
    x = torch.randn(2, 3, 8, 2, 2)
    out = issm(x)
    torch.testing.assert_close(out.x_s, x[:, :, 0::2])
    torch.testing.assert_close(out.x_d, x[:, :, 1::2])


def test_issm_zero_offsets_shifted_samples_the_released_positions() -> None:
    # Released code: g = 2 idx / 7 - 1 sampled with align_corners=False -> position idx * 8/7 - 1/2,
    # clamped to [0, 7] by border padding.
    issm = _zero_offsets(ISSM(dim=3, num_frames=8, sampling="shifted"))
    out = issm(_frame_ramp())
    assert torch.equal(out.idx_s, torch.tensor([[0.0, 2.0, 4.0, 6.0]] * 2))
    static = [0.0, 16 / 7 - 0.5, 32 / 7 - 0.5, 48 / 7 - 0.5]  # 0 (clamped from -0.5), 1.786, 4.071, 6.357
    dynamic = [8 / 7 - 0.5, 24 / 7 - 0.5, 40 / 7 - 0.5, 7.0]  # 0.643, 2.929, 5.214, 7 (clamped from 7.5)
    torch.testing.assert_close(out.x_s[:, :, :, 0, 0], torch.tensor(static).expand(2, 3, 4))
    torch.testing.assert_close(out.x_d[:, :, :, 0, 0], torch.tensor(dynamic).expand(2, 3, 4))


def test_shifted_sampling_matches_grid_sample_with_border_padding() -> None:
    torch.manual_seed(0)
    b, c, t, n = 2, 3, 8, 5
    x = torch.randn(b, c, t, n)
    idx = torch.rand(b, 4) * 11 - 2  # includes out-of-range indices
    grid = F.pad((2 * idx / (t - 1) - 1)[..., None, None], (1, 0))  # (x=0, y=g)
    ref = F.grid_sample(
        x.permute(0, 3, 1, 2).reshape(b, n * c, t, 1),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    ref = ref.reshape(b, n, c, 4).permute(0, 2, 3, 1)
    torch.testing.assert_close(interpolate_frames(x, sample_positions(idx, t, "shifted")), ref)


def test_interpolation_is_linear_between_frames() -> None:
    x = torch.randn(1, 2, 8, 3)
    out = interpolate_frames(x, torch.tensor([[2.25, 6.5]]))
    torch.testing.assert_close(out[:, :, 0], 0.75 * x[:, :, 2] + 0.25 * x[:, :, 3])
    torch.testing.assert_close(out[:, :, 1], 0.5 * x[:, :, 6] + 0.5 * x[:, :, 7])


@pytest.mark.parametrize("scale", [1.0, 1e4, -1e4])
def test_issm_offsets_stay_within_the_allowed_range(scale: float) -> None:
    torch.manual_seed(0)
    issm = ISSM(dim=16, num_frames=8)
    with torch.no_grad():  # saturate the offset layers too
        issm.offset_s.weight.mul_(1e4)
        issm.offset_d.weight.mul_(-1e4)
    out = issm(torch.randn(3, 16, 8, 7, 7) * scale)
    for idx, base in ((out.idx_s, issm.base_s), (out.idx_d, issm.base_d)):
        offsets = idx - base
        assert torch.isfinite(offsets).all()
        assert offsets.abs().max() <= 2.0
    assert torch.isfinite(out.x_s).all() and torch.isfinite(out.x_d).all()


def test_issm_gradients_reach_the_offset_layers() -> None:
    torch.manual_seed(0)
    issm = ISSM(dim=16, num_frames=8, sampling="exact")
    x = torch.randn(2, 16, 8, 7, 7, requires_grad=True)
    out = issm(x)
    (out.x_s.square().sum() + (out.x_d * torch.randn_like(out.x_d)).sum()).backward()
    for layer in (issm.offset_s, issm.offset_d, issm.tokenizer[0]):
        assert layer.weight.grad is not None
        assert torch.isfinite(layer.weight.grad).all() and layer.weight.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_issm_correlation_uses_scale_one_over_c() -> None:
    torch.manual_seed(0)
    issm = ISSM(dim=16, num_frames=4)
    x = torch.randn(1, 16, 4, 7, 7)
    z = issm.tokenizer(issm.pool(x.transpose(1, 2).reshape(4, 16, 7, 7))).reshape(1, 4, 343)
    torch.testing.assert_close(issm.correlation(x), z @ z.transpose(1, 2) / 16)


def test_fixed_split_is_even_odd() -> None:
    x = torch.randn(2, 3, 6, 2, 2)
    out = fixed_split(x)
    assert torch.equal(out.x_s, x[:, :, 0::2]) and torch.equal(out.x_d, x[:, :, 1::2])
    assert out.idx_s.tolist() == [[0, 2, 4]] * 2 and out.idx_d.tolist() == [[1, 3, 5]] * 2


# ---------------------------------------------------------------------------------------------------------
# LADM
# ---------------------------------------------------------------------------------------------------------


def test_lifting_attention_is_softmax_attention_plus_values() -> None:
    torch.manual_seed(0)
    layer = LiftingAttention(dim=8, num_heads=2)
    query, context = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    q = layer.q(query).reshape(2, 5, 2, 4).transpose(1, 2)
    k, v = layer.kv(context).split(8, dim=-1)
    k = k.reshape(2, 5, 2, 4).transpose(1, 2)
    v = v.reshape(2, 5, 2, 4).transpose(1, 2)
    attn = (q @ k.transpose(-1, -2) / math.sqrt(4)).softmax(-1)
    expected = layer.proj((attn @ v + v).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(layer(query, context), expected)


def test_ladm_shapes_and_gradients() -> None:
    torch.manual_seed(0)
    ladm = LADM(dim=32, num_heads=8, drop_path=0.0)
    x_s = torch.randn(2, 12, 32, requires_grad=True)
    x_d = torch.randn(2, 12, 32, requires_grad=True)
    y_s, dyn = ladm(x_s, x_d)
    assert y_s.shape == dyn.shape == (2, 12, 32)
    (y_s.square().mean() + dyn.square().mean()).backward()
    for name, p in ladm.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert x_s.grad.abs().sum() > 0 and x_d.grad.abs().sum() > 0


def test_ladm_updates_before_it_predicts() -> None:
    # Y_S comes from the updater alone (it sees the raw dynamic stream), so it cannot depend on the
    # predictor, the self-attention or the MLP.
    torch.manual_seed(0)
    ladm = LADM(dim=16, num_heads=8, drop_path=0.0)
    y_s, _ = ladm(torch.randn(1, 6, 16), torch.randn(1, 6, 16))
    y_s.sum().backward()
    for name, p in ladm.named_parameters():
        used = name.startswith(("norm_s", "norm_d", "update"))
        assert (p.grad is not None) == used, name


def test_ladm_input_norm_switch() -> None:
    # With the released input LayerNorms LADM ignores each token's scale; without them it does not.
    torch.manual_seed(0)
    normed = LADM(dim=16, num_heads=8, drop_path=0.0).eval()
    raw = LADM(dim=16, num_heads=8, drop_path=0.0, input_norm=False).eval()
    raw.load_state_dict(normed.state_dict(), strict=False)
    assert isinstance(raw.norm_s, torch.nn.Identity) and isinstance(raw.norm_d, torch.nn.Identity)
    x_s, x_d = torch.randn(2, 6, 16), torch.randn(2, 6, 16)
    scale = torch.rand(2, 6, 1) * 4 + 0.5  # a different positive factor per token
    for a, b in zip(normed(x_s, x_d), normed(x_s * scale, x_d * scale), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    for a, b in zip(raw(x_s, x_d), raw(x_s * scale, x_d * scale), strict=True):
        assert (a - b).abs().max() > 1e-2


def test_ladm_mlp_residual_switch() -> None:
    torch.manual_seed(0)
    plain = LADM(dim=16, num_heads=8, drop_path=0.0, mlp_residual=False).eval()
    residual = LADM(dim=16, num_heads=8, drop_path=0.0, mlp_residual=True).eval()
    residual.load_state_dict(plain.state_dict())
    captured: list[torch.Tensor] = []
    plain.norm2.register_forward_hook(lambda _m, args, _out: captured.append(args[0]))
    x_s, x_d = torch.randn(2, 6, 16), torch.randn(2, 6, 16)
    _, without = plain(x_s, x_d)
    _, with_res = residual(x_s, x_d)
    torch.testing.assert_close(with_res - without, captured[0])


def test_haar_lift() -> None:
    lift = HaarLift(dim=4)
    x_s, x_d = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    y_s, dyn = lift(x_s, x_d)
    torch.testing.assert_close(y_s, (x_s + x_d) / 2)
    torch.testing.assert_close(dyn, lift.norm(x_d - (x_s + x_d) / 2))
    assert isinstance(lift.norm, nn.LayerNorm)


# ---------------------------------------------------------------------------------------------------------
# Lifting loss
# ---------------------------------------------------------------------------------------------------------


def _hand_features() -> IFDDFeatures:
    """B=2, C=2, T=4 (T'=2), h=1, w=2; the second spatial position is all zeros."""
    x = torch.zeros(2, 2, 4, 1, 2)
    y_s = torch.zeros(2, 2, 2, 1, 2)
    # sample 0: pair averages ch0 [2, 6], ch1 [0, 2]; Y_S ch0 [1, 5], ch1 [1, 1]
    #   differences ch0 [1, 1], ch1 [-1, 1] -> mean 0.5 -> SmoothL1 0.5 * 0.5^2 = 0.125
    x[0, 0, :, 0, 0] = torch.tensor([1.0, 3.0, 5.0, 7.0])
    x[0, 1, :, 0, 0] = torch.tensor([0.0, 0.0, 2.0, 2.0])
    y_s[0, 0, :, 0, 0] = torch.tensor([1.0, 5.0])
    y_s[0, 1, :, 0, 0] = torch.tensor([1.0, 1.0])
    # sample 1: pair averages ch0 [4, 4], ch1 [1, 1]; Y_S zeros -> mean 2.5 -> SmoothL1 2.5 - 0.5 = 2.0
    x[1, 0, :, 0, 0] = 4.0
    x[1, 1, :, 0, 0] = torch.tensor([0.0, 2.0, 0.0, 2.0])
    return IFDDFeatures(x=x, y_s=y_s, dynamic=None)


def test_lifting_loss_hand_computed() -> None:
    feats = _hand_features()
    # per-sample means over the 2 positions: (0.125 + 0) / 2 = 0.0625 and (2.0 + 0) / 2 = 1.0
    assert float(lifting_loss(feats, reduction="sum")) == pytest.approx(0.1 * (0.0625 + 1.0))
    assert float(lifting_loss(feats)) == pytest.approx(0.1 * (0.0625 + 1.0) / 2)
    assert float(lifting_loss(feats, weight=1.0, reduction="mean")) == pytest.approx(0.53125)
    with pytest.raises(ValueError, match="reduction"):
        lifting_loss(feats, reduction="none")  # type: ignore[arg-type]


def test_lifting_loss_gradient_flows_to_both_streams() -> None:
    feats = _hand_features()
    x = feats.x.clone().requires_grad_(True)
    y_s = feats.y_s.clone().requires_grad_(True)
    lifting_loss(IFDDFeatures(x=x, y_s=y_s)).backward()
    assert x.grad.abs().sum() > 0 and y_s.grad.abs().sum() > 0
