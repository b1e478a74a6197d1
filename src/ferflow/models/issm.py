"""ISSM: the Inter-frame Static-dynamic Splitting Module of IFDD.

ISSM splits a feature sequence of T frames into a "static" (approximation) and a "dynamic" (detail) half of
T/2 frames each. Instead of the fixed even/odd split of a lifting scheme it learns, per clip, fractional
offsets (within +-L frames) from the even and odd positions, and samples the features there by linear
interpolation along time (clamped at the ends, like `grid_sample`'s border padding).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ferflow.model_names import SamplingMode

__all__ = ["ISSM", "ISSMOutput", "SamplingMode", "fixed_split", "interpolate_frames", "sample_positions"]


def sample_positions(idx: torch.Tensor, num_frames: int, mode: SamplingMode) -> torch.Tensor:
    """Continuous frame positions that fractional indices are sampled at.

    Args:
        idx: Fractional frame indices (any shape).
        num_frames: Length T of the sequence being sampled.
        mode: "exact" samples at `idx` itself. "shifted" reproduces the released code, which normalises
            with g = 2 * idx / (T - 1) - 1 but samples with `align_corners=False`, i.e. at
            ((g + 1) * T - 1) / 2 = idx * T / (T - 1) - 1/2.

    Returns:
        Positions clamped to [0, T - 1] (border padding), same shape as `idx`.
    """
    if mode == "exact":
        pos = idx
    elif mode == "shifted":
        g = 2.0 * idx / max(num_frames - 1, 1) - 1.0
        pos = ((g + 1.0) * num_frames - 1.0) / 2.0
    else:
        raise ValueError(f"unknown sampling mode {mode!r}; use 'shifted' or 'exact'")
    return pos.clamp(0.0, num_frames - 1.0)


def interpolate_frames(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Linearly interpolate a sequence along its time axis at per-sample positions.

    Args:
        x: B x C x T x ... features.
        pos: B x K positions in [0, T - 1] (see `sample_positions`).

    Returns:
        B x C x K x ... features; differentiable with respect to `x` and `pos`.
    """
    b, c, t = x.shape[:3]
    rest = x.shape[3:]
    flat = x.reshape(b, c, t, -1)
    i0 = pos.detach().floor().clamp(0, t - 1)
    frac = (pos - i0).to(x.dtype).unsqueeze(1).unsqueeze(-1)  # B x 1 x K x 1
    i0 = i0.long()
    i1 = (i0 + 1).clamp(max=t - 1)
    shape = (b, c, pos.shape[1], flat.shape[-1])
    x0 = torch.gather(flat, 2, i0[:, None, :, None].expand(shape))
    x1 = torch.gather(flat, 2, i1[:, None, :, None].expand(shape))
    return (x0 + frac * (x1 - x0)).reshape(b, c, pos.shape[1], *rest)


class ISSMOutput(NamedTuple):
    """A split: static/dynamic halves (B x C x T/2 x h x w) and their fractional frame indices (B x T/2)."""

    x_s: torch.Tensor
    x_d: torch.Tensor
    idx_s: torch.Tensor
    idx_d: torch.Tensor


def fixed_split(x: torch.Tensor) -> ISSMOutput:
    """The plain lifting split: even frames static, odd frames dynamic (the "no ISSM" ablation)."""
    b, t = x.shape[0], x.shape[2]
    base = torch.arange(t, device=x.device, dtype=x.dtype)
    return ISSMOutput(x[:, :, 0::2], x[:, :, 1::2], base[0::2].expand(b, -1), base[1::2].expand(b, -1))


class ISSM(nn.Module):
    """Learnable static/dynamic frame split.

    1. Temporal tokenizer: per frame, adaptive average pool to `token_grid`^2, Conv2d 1x1 (C -> 7) + GELU,
       flatten to z_t (7 * 7 * 7 = 343 dims for a 7x7 grid).
    2. Correlation S = Z Z^T / C (B x T x T); A_S = softmax(S), A_D = softmax(-S) over the last dim.
    3. Offsets = L * tanh(Linear_{T^2 -> T/2, no bias}(flatten A)), for static and dynamic separately.
    4. idx_S = [0, 2, ...] + offsets_S, idx_D = [1, 3, ...] + offsets_D; features are sampled there.

    Args:
        dim: Channels C of the input.
        num_frames: Sequence length T (even).
        token_grid: Spatial size the tokenizer pools each frame to (7 in the reference).
        token_channels: Tokenizer output channels (7 in the reference).
        max_offset: Allowable offset range L in frames.
        sampling: "shifted" (released-code positions) or "exact" (see `sample_positions`).
    """

    def __init__(
        self,
        dim: int,
        num_frames: int = 8,
        token_grid: int = 7,
        token_channels: int = 7,
        max_offset: float = 2.0,
        sampling: SamplingMode = "shifted",
    ) -> None:
        super().__init__()
        if num_frames < 2 or num_frames % 2:
            raise ValueError(f"ISSM needs an even number of frames >= 2, got {num_frames}")
        if sampling not in ("shifted", "exact"):
            raise ValueError(f"unknown sampling mode {sampling!r}; use 'shifted' or 'exact'")
        self.dim = dim
        self.num_frames = num_frames
        self.max_offset = max_offset
        self.sampling: SamplingMode = sampling
        self.pool = nn.AdaptiveAvgPool2d(token_grid)
        self.tokenizer = nn.Sequential(nn.Conv2d(dim, token_channels, kernel_size=1), nn.GELU())
        self.offset_s = nn.Linear(num_frames**2, num_frames // 2, bias=False)
        self.offset_d = nn.Linear(num_frames**2, num_frames // 2, bias=False)
        nn.init.trunc_normal_(self.offset_s.weight, std=0.03)
        nn.init.trunc_normal_(self.offset_d.weight, std=0.03)
        base = torch.arange(num_frames, dtype=torch.float32)
        self.register_buffer("base_s", base[0::2].clone(), persistent=False)
        self.register_buffer("base_d", base[1::2].clone(), persistent=False)

    def correlation(self, x: torch.Tensor) -> torch.Tensor:
        """B x C x T x h x w features -> B x T x T temporal correlation S = Z Z^T / C."""
        b, c, t, h, w = x.shape
        z = self.pool(x.transpose(1, 2).reshape(b * t, c, h, w))
        z = self.tokenizer(z).reshape(b, t, -1)
        return z @ z.transpose(1, 2) / self.dim

    def offsets(self, corr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Static and dynamic offsets (each B x T/2, within +-max_offset) from a B x T x T correlation."""
        a_s = corr.softmax(dim=-1).flatten(1)
        a_d = (-corr).softmax(dim=-1).flatten(1)
        return (
            self.max_offset * torch.tanh(self.offset_s(a_s)),
            self.max_offset * torch.tanh(self.offset_d(a_d)),
        )

    def forward(self, x: torch.Tensor) -> ISSMOutput:
        """Split B x C x T x h x w features into static and dynamic halves of T/2 frames."""
        if x.shape[1] != self.dim or x.shape[2] != self.num_frames:
            raise ValueError(
                f"ISSM expects B x {self.dim} x {self.num_frames} x h x w features, got {tuple(x.shape)}"
            )
        off_s, off_d = self.offsets(self.correlation(x))
        idx_s = self.base_s + off_s
        idx_d = self.base_d + off_d
        t = self.num_frames
        x_s = interpolate_frames(x, sample_positions(idx_s, t, self.sampling))
        x_d = interpolate_frames(x, sample_positions(idx_d, t, self.sampling))
        return ISSMOutput(x_s, x_d, idx_s, idx_d)
