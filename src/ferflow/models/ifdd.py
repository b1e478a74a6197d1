"""IFDD: lifting-scheme-based implicit disentanglement of facial dynamics (Wang & Chai, arXiv 2412.13168).

Pipeline (``ifdd_mvit``, 16 x 224 x 224 input, B = batch):

    clip B x 3 x 16 x 224 x 224 (values in [0, 1], no mean/std normalisation)
      -> MViT-XS (embed conv + 10 MViTv2 blocks): stage-3 map B x 384 x 8 x 14 x 14, final B x 768 x 8 x 7 x 7
      -> two-scale pyramid: X, B x 768 x 8 x 7 x 7
      -> ISSM: static X_S and dynamic X_D, B x 768 x 4 x 7 x 7 each, with fractional frame indices
      -> LADM: Y_S (static, used by the lifting loss) and dynamic tokens B x 196 x 768
      -> Linear(196 -> 1) token pooling -> Dropout -> Linear -> logits

``ifdd_mobilenetv2`` runs the same ISSM/LADM on a per-frame 2D MobileNetV2 (our design; see docs/ifdd.md).
``baseline_mvit`` and ``baseline_mobilenetv2`` are the same backbones with temporal average pooling and a
linear head. All models share ``forward_features`` / ``forward_head`` and the ``IFDDFeatures`` container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, NamedTuple, overload

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ferflow.core.checkpoint import load_state_dict_file
from ferflow.model_names import MOBILENETV2_OWN, RELEASED, PoolInit, SamplingMode
from ferflow.models.issm import ISSM, fixed_split
from ferflow.models.ladm import LADM, HaarLift
from ferflow.models.mvit_xs import (
    MViTXS,
    WeightLoadReport,
    apply_key_map,
    find_backbone,
    load_mvit_v2_s_weights,
)
from ferflow.models.registry import register_model

__all__ = [
    "IFDD",
    "IFDDFeatures",
    "MobileNetV2Frames",
    "TwoScalePyramid",
    "VideoBaseline",
    "WeightLoadReport",
    "baseline_mobilenetv2",
    "baseline_mvit",
    "ifdd_mobilenetv2",
    "ifdd_mvit",
    "load_mobilenet_v2_weights",
    "load_mvit_v2_s_weights",
]

SplitMode = Literal["issm", "fixed"]
WeightSource = Mapping[str, torch.Tensor] | str | os.PathLike[str]


class IFDDFeatures(NamedTuple):
    """What `forward_features` returns.

    Attributes:
        x: Fused features before splitting, B x C x T x h x w (T = 8 in the DFEW setting). For the
            baselines, the backbone's final feature map.
        y_s: Static stream after the update step, B x C x T/2 x h x w (None for the baselines).
        dynamic: Dynamic tokens after LADM, B x (T/2 * h * w) x C, time-major (None for the baselines).
        idx_s: Fractional frame indices of the static half, B x T/2 (the fixed split reports 0, 2, ...).
        idx_d: Fractional frame indices of the dynamic half, B x T/2.
    """

    x: torch.Tensor
    y_s: torch.Tensor | None = None
    dynamic: torch.Tensor | None = None
    idx_s: torch.Tensor | None = None
    idx_d: torch.Tensor | None = None


# ---------------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------------


def _frames_to_map(x: torch.Tensor, batch: int) -> torch.Tensor:
    """(B*T) x C x h x w -> B x C x T x h x w."""
    bt, c, h, w = x.shape
    return x.reshape(batch, bt // batch, c, h, w).transpose(1, 2)


class TwoScalePyramid(nn.Module):
    """Fuse a fine and a coarse (half-size) feature map per frame.

    fine -> Conv2d(k3, dilation 2, stride 2, padding 2, no bias) -> concat with coarse
    -> Conv2d 1x1 (no bias).

    Args:
        fine_dim: Channels of the fine map.
        coarse_dim: Channels of the coarse map.
        out_dim: Channels of the fused map.
    """

    def __init__(self, fine_dim: int, coarse_dim: int, out_dim: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(fine_dim, fine_dim, kernel_size=3, stride=2, padding=2, dilation=2, bias=False)
        self.fuse = nn.Conv2d(fine_dim + coarse_dim, out_dim, kernel_size=1, bias=False)

    def forward(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """B x C1 x T x 2h x 2w and B x C2 x T x h x w maps -> B x out_dim x T x h x w."""
        b = fine.shape[0]
        fine = self.down(fine.transpose(1, 2).flatten(0, 1))
        coarse = coarse.transpose(1, 2).flatten(0, 1)
        return _frames_to_map(self.fuse(torch.cat((fine, coarse), dim=1)), b)


class MobileNetV2Frames(nn.Module):
    """Per-frame torchvision MobileNetV2 features with a stride-16 and a stride-32 tap.

    Frames are normalised with ImageNet mean/std (the statistics MobileNetV2 weights expect), run through
    `mobilenet_v2().features` as a batch of images, and both taps are averaged over non-overlapping windows
    of `time_stride` frames (the temporal counterpart of MViT's tubelet stride).

    Args:
        width_mult: MobileNetV2 width multiplier (1.0 matches the ImageNet weights).
        time_stride: Frames averaged into one time step (2 for 16 frames, 4 for 32).
        normalize: Apply ImageNet mean/std to [0, 1] input.
    """

    _MEAN = (0.485, 0.456, 0.406)
    _STD = (0.229, 0.224, 0.225)

    def __init__(self, width_mult: float = 1.0, time_stride: int = 2, normalize: bool = True) -> None:
        super().__init__()
        net = torchvision.models.mobilenet_v2(weights=None, width_mult=width_mult)
        self.features = net.features
        self.fine_index = 13  # last block at stride 16 (96 channels at width 1.0)
        self.fine_dim: int = net.features[self.fine_index].out_channels
        self.out_dim: int = net.last_channel
        self.time_stride = time_stride
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(self._MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self._STD).view(1, 3, 1, 1), persistent=False)

    def _to_map(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        x = _frames_to_map(x, batch)
        if self.time_stride > 1:
            x = F.avg_pool3d(x, (self.time_stride, 1, 1))
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B x 3 x T x H x W clip -> (stride-16 map, stride-32 map), each B x C x T/time_stride x h x w."""
        b = x.shape[0]
        x = x.transpose(1, 2).flatten(0, 1)
        if self.normalize:
            x = (x - self.mean) / self.std
        fine: torch.Tensor | None = None
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i == self.fine_index:
                fine = x
        assert fine is not None
        return self._to_map(fine, b), self._to_map(x, b)


# ---------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------


class _VideoClassifier(nn.Module):
    """Shared input checks, `forward` and classifier reset."""

    num_frames: int
    img_size: int | None
    head: nn.Linear

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != 3 or x.shape[2] != self.num_frames:
            raise ValueError(f"expected B x 3 x {self.num_frames} x H x W clips, got {tuple(x.shape)}")
        if self.img_size is not None and tuple(x.shape[3:]) != (self.img_size, self.img_size):
            raise ValueError(
                f"this model was built for {self.img_size}x{self.img_size} frames, got {tuple(x.shape[3:])}"
            )

    def forward_features(self, x: torch.Tensor) -> IFDDFeatures:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, features: IFDDFeatures, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - abstract

    @overload
    def forward(self, x: torch.Tensor, return_features: Literal[False] = ...) -> torch.Tensor: ...

    @overload
    def forward(
        self, x: torch.Tensor, return_features: Literal[True]
    ) -> tuple[torch.Tensor, IFDDFeatures]: ...

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, IFDDFeatures]:
        """B x 3 x T x H x W clip in [0, 1] -> B x num_classes logits.

        Args:
            x: Clip batch.
            return_features: Also return the `IFDDFeatures` (for the lifting loss) from the same call,
                which keeps one `forward` per step under DistributedDataParallel.
        """
        features = self.forward_features(x)
        logits = self.forward_head(features)
        return (logits, features) if return_features else logits

    def get_classifier(self) -> nn.Module:
        """The final linear layer."""
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final linear layer (e.g. 7 -> 11 classes)."""
        self.head = nn.Linear(self.head.in_features, num_classes)
        self.num_classes = num_classes


class IFDD(_VideoClassifier):
    """IFDD on any backbone that returns a fine and a coarse (half-size) map per time step.

    Args:
        backbone: Module mapping B x 3 x num_frames x H x W to (fine, coarse) maps, B x C x T x h x w.
        fine_dim: Channels of the fine map.
        coarse_dim: Channels of the coarse map.
        embed_dim: Channels C of the fused features X (and of the LADM tokens).
        num_frames: Input frames.
        time_steps: Time steps T of the backbone output (even).
        grid: Spatial size (h, w) of the coarse map.
        img_size: Input frame size (checked at run time; it fixes the token count).
        num_classes: Classes K.
        dropout: Dropout before the classifier.
        drop_path: Stochastic depth in LADM.
        split: "issm" (learned split) or "fixed" (even/odd frames).
        use_ladm: LADM (True) or the unlearned Haar lifting (False).
        issm_sampling: "shifted" (released code) or "exact" (see `ferflow.models.issm.sample_positions`).
        mlp_residual: Residual around LADM's final MLP (the released code has none).
        pool_init: Initial token-pool weights: "default" (PyTorch's Linear init, as released: random signs
            per token position) or "mean" (1/N each, so training starts from average pooling).
        ladm_input_norm: LayerNorm LADM's two input streams (released) or pass the fused tokens as they are.
        num_heads: LADM heads.
        token_grid: Spatial size ISSM's tokenizer pools frames to.
    """

    def __init__(
        self,
        backbone: nn.Module,
        fine_dim: int,
        coarse_dim: int,
        embed_dim: int,
        num_frames: int,
        time_steps: int,
        grid: tuple[int, int],
        img_size: int | None,
        num_classes: int = 7,
        dropout: float = 0.5,
        drop_path: float = 0.2,
        split: SplitMode = "issm",
        use_ladm: bool = True,
        issm_sampling: SamplingMode = "shifted",
        mlp_residual: bool = False,
        pool_init: PoolInit = "default",
        ladm_input_norm: bool = True,
        num_heads: int = 8,
        token_grid: int = 7,
    ) -> None:
        super().__init__()
        if split not in ("issm", "fixed"):
            raise ValueError(f"split must be 'issm' or 'fixed', got {split!r}")
        if pool_init not in ("default", "mean"):
            raise ValueError(f"pool_init must be 'default' or 'mean', got {pool_init!r}")
        if time_steps < 2 or time_steps % 2:
            raise ValueError(f"IFDD needs an even number of time steps, got {time_steps}")
        self.num_frames = num_frames
        self.img_size = img_size
        self.num_classes = num_classes
        self.num_features = embed_dim
        self.split = split
        self.backbone = backbone
        self.pyramid = TwoScalePyramid(fine_dim, coarse_dim, embed_dim)
        self.issm = (
            ISSM(embed_dim, time_steps, token_grid=token_grid, sampling=issm_sampling)
            if split == "issm"
            else None
        )
        self.lift: nn.Module = (
            LADM(
                embed_dim,
                num_heads=num_heads,
                drop_path=drop_path,
                mlp_residual=mlp_residual,
                input_norm=ladm_input_norm,
            )
            if use_ladm
            else HaarLift(embed_dim)
        )
        self.num_tokens = time_steps // 2 * grid[0] * grid[1]
        self.token_pool = nn.Linear(self.num_tokens, 1, bias=False)
        if pool_init == "mean":
            nn.init.constant_(self.token_pool.weight, 1.0 / self.num_tokens)
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> IFDDFeatures:
        """Clip -> fused features, ISSM split, LADM streams (see `IFDDFeatures`)."""
        self._check_input(x)
        fused = self.pyramid(*self.backbone(x))
        parts = self.issm(fused) if self.issm is not None else fixed_split(fused)
        tokens_s = parts.x_s.flatten(2).transpose(1, 2)  # B x (T/2*h*w) x C, time-major
        tokens_d = parts.x_d.flatten(2).transpose(1, 2)
        y_s, dynamic = self.lift(tokens_s, tokens_d)
        y_s = y_s.transpose(1, 2).reshape(parts.x_s.shape)
        return IFDDFeatures(x=fused, y_s=y_s, dynamic=dynamic, idx_s=parts.idx_s, idx_d=parts.idx_d)

    def forward_head(self, features: IFDDFeatures, pre_logits: bool = False) -> torch.Tensor:
        """Pool the dynamic tokens with Linear(N -> 1), then Dropout and the classifier."""
        if features.dynamic is None:
            raise ValueError("IFDD.forward_head needs features with dynamic tokens")
        pooled = self.token_pool(features.dynamic.transpose(1, 2)).squeeze(-1)
        pooled = self.head_drop(pooled)
        return pooled if pre_logits else self.head(pooled)


class VideoBaseline(_VideoClassifier):
    """Backbone -> spatial and temporal average pooling of the final map -> Dropout -> Linear.

    Args:
        backbone: Module returning (fine, coarse) maps; only the coarse (final) map is used.
        dim: Channels of the final map.
        num_frames: Input frames.
        num_classes: Classes K.
        dropout: Dropout before the classifier.
    """

    def __init__(
        self, backbone: nn.Module, dim: int, num_frames: int, num_classes: int = 7, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.img_size = None
        self.num_classes = num_classes
        self.num_features = dim
        self.backbone = backbone
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> IFDDFeatures:
        """Clip -> final backbone map B x C x T x h x w (in `IFDDFeatures.x`; other fields None)."""
        self._check_input(x)
        return IFDDFeatures(x=self.backbone(x)[1])

    def forward_head(self, features: IFDDFeatures, pre_logits: bool = False) -> torch.Tensor:
        """Average over space, then time; Dropout; classifier."""
        pooled = self.head_drop(features.x.mean(dim=(3, 4)).mean(dim=2))
        return pooled if pre_logits else self.head(pooled)


# ---------------------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------------------


def load_mobilenet_v2_weights(model: nn.Module, state_dict_or_path: WeightSource) -> WeightLoadReport:
    """Initialise a `MobileNetV2Frames` trunk from torchvision `mobilenet_v2()` weights (local file or dict).

    `features.*` is copied (including BatchNorm statistics); the ImageNet classifier is reported unused.

    Args:
        model: `ifdd_mobilenetv2`/`baseline_mobilenetv2` or a `MobileNetV2Frames`.
        state_dict_or_path: A `torchvision.models.mobilenet_v2().state_dict()` or a file holding one.

    Raises:
        ValueError: The weights are not a MobileNetV2 state dict of the model's width.
    """
    backbone, prefix = find_backbone(model, MobileNetV2Frames)
    state_dict = load_state_dict_file(state_dict_or_path)
    if "features.0.0.weight" not in state_dict or "features.18.0.weight" not in state_dict:
        raise ValueError(f"not a torchvision mobilenet_v2 state dict (first keys: {list(state_dict)[:5]})")
    key_map = {k: k for k in state_dict if k.startswith("features.")}
    uncovered = sorted(set(backbone.state_dict()) - set(key_map))
    if uncovered:
        raise ValueError(f"not a torchvision mobilenet_v2 state dict: no source for {uncovered[:8]} ...")
    return apply_key_map(model, backbone, prefix, state_dict, key_map, "MobileNetV2")


# ---------------------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------------------


def _halve(size: int) -> int:
    """Output size of a stride-2, kernel-3, padding-1 conv/pool."""
    return (size - 1) // 2 + 1


def _time_steps(num_frames: int) -> int:
    """Backbone time steps: pairs of frames, and the extra 2x pooling of the 32-frame setting (-> 8)."""
    if num_frames < 4 or num_frames % 4:
        raise ValueError(f"num_frames must be a multiple of 4 (16, or 32 for MAFW), got {num_frames}")
    return 8 if num_frames == 32 else num_frames // 2


def _mvit_backbone(num_frames: int, img_size: int, drop_path: float) -> tuple[MViTXS, tuple[int, int]]:
    if img_size < 32:
        raise ValueError(f"img_size must be at least 32, got {img_size}")
    stage4 = _halve(_halve(_halve((img_size - 1) // 4 + 1)))
    return MViTXS(temporal_pool=num_frames == 32, drop_path=drop_path), (stage4, stage4)


def _mobilenet_backbone(num_frames: int, img_size: int, width_mult: float) -> tuple[MobileNetV2Frames, int]:
    if img_size < 32:
        raise ValueError(f"img_size must be at least 32, got {img_size}")
    size = img_size
    for _ in range(5):
        size = _halve(size)
    return MobileNetV2Frames(width_mult=width_mult, time_stride=num_frames // _time_steps(num_frames)), size


@register_model
def ifdd_mvit(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 224,
    drop_path: float = 0.2,
    dropout: float = 0.5,
    split: SplitMode = "issm",
    use_ladm: bool = True,
    issm_sampling: SamplingMode = RELEASED.issm_sampling,
    mlp_residual: bool = RELEASED.mlp_residual,
    pool_init: PoolInit = RELEASED.pool_init,
    ladm_input_norm: bool = RELEASED.ladm_input_norm,
    backbone_weights: WeightSource | None = None,
) -> IFDD:
    """IFDD on MViT-XS, as released (37.5 M parameters, 36.0 G Conv/Linear MACs per 16 x 224^2 clip).

    Args:
        num_classes: 7 (DFEW, FERV39k) or 11 (MAFW).
        num_frames: 16, or 32 (MAFW: the embedding is followed by AvgPool3d((2, 1, 1))).
        img_size: Frame size; 224 as released (the token pool is Linear(196 -> 1)). Other sizes of at least
            32 work (relative positions are interpolated) but change the token-pool size.
        drop_path: Stochastic depth (backbone, linear to this value; LADM).
        dropout: Dropout before the classifier.
        split: "issm" or "fixed" (even/odd frames, no ISSM).
        use_ladm: LADM, or the unlearned Haar lifting when False.
        issm_sampling: "shifted" (default: released-code positions) or "exact".
        mlp_residual: Residual around LADM's last MLP (default False, as released).
        pool_init: Token-pool initialisation, "default" (as released) or "mean" (average pooling).
        ladm_input_norm: LayerNorm LADM's inputs (default True, as released).
        backbone_weights: Optional torchvision MViTv2-S weights (local file or state dict) for the trunk.
    """
    backbone, grid = _mvit_backbone(num_frames, img_size, drop_path)
    model = IFDD(
        backbone,
        backbone.stage3_dim,
        backbone.out_dim,
        768,
        num_frames,
        _time_steps(num_frames),
        grid,
        img_size,
        num_classes=num_classes,
        dropout=dropout,
        drop_path=drop_path,
        split=split,
        use_ladm=use_ladm,
        issm_sampling=issm_sampling,
        mlp_residual=mlp_residual,
        pool_init=pool_init,
        ladm_input_norm=ladm_input_norm,
        num_heads=8,
        token_grid=min(7, grid[0]),
    )
    if backbone_weights is not None:
        load_mvit_v2_s_weights(model, backbone_weights)
    return model


@register_model
def ifdd_mobilenetv2(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 224,
    drop_path: float = 0.2,
    dropout: float = 0.5,
    split: SplitMode = "issm",
    use_ladm: bool = True,
    issm_sampling: SamplingMode = MOBILENETV2_OWN.issm_sampling,
    mlp_residual: bool = MOBILENETV2_OWN.mlp_residual,
    pool_init: PoolInit = MOBILENETV2_OWN.pool_init,
    ladm_input_norm: bool = MOBILENETV2_OWN.ladm_input_norm,
    embed_dim: int = 256,
    width_mult: float = 1.0,
    backbone_weights: WeightSource | None = None,
) -> IFDD:
    """IFDD on a per-frame MobileNetV2 (our construction of the paper's CNN variant; see docs/ifdd.md).

    Frames -> MobileNetV2 features (stride-16 tap, 96 ch; stride-32 output, 1280 ch) -> average over frame
    pairs (16 frames -> 8 steps) -> two-scale pyramid to `embed_dim` -> ISSM -> LADM (8 heads) -> heads.

    Args:
        num_classes: Classes K.
        num_frames: 16, or 32 (4 frames averaged per step); any multiple of 4.
        img_size: Frame size (112 for CPU demos; 224 default).
        drop_path: Stochastic depth in LADM.
        dropout: Dropout before the classifier.
        split: "issm" or "fixed".
        use_ladm: LADM, or the unlearned Haar lifting when False.
        issm_sampling: "exact" (default: no released weights to match) or "shifted".
        mlp_residual: Residual around LADM's last MLP (default False, as in the released LADM).
        pool_init: Token-pool initialisation: "mean" (default: start from average pooling; with random
            per-position weights the model fits identity-specific positions, see docs/ifdd.md) or "default".
        ladm_input_norm: LayerNorm LADM's inputs as released (default False: on from-scratch ReLU6 features
            the per-token norm removes each token's magnitude; see docs/ifdd.md).
        embed_dim: Width of the fused features and LADM tokens.
        width_mult: MobileNetV2 width multiplier.
        backbone_weights: Optional torchvision MobileNetV2 weights (local file or state dict).
    """
    backbone, size = _mobilenet_backbone(num_frames, img_size, width_mult)
    model = IFDD(
        backbone,
        backbone.fine_dim,
        backbone.out_dim,
        embed_dim,
        num_frames,
        _time_steps(num_frames),
        (size, size),
        img_size,
        num_classes=num_classes,
        dropout=dropout,
        drop_path=drop_path,
        split=split,
        use_ladm=use_ladm,
        issm_sampling=issm_sampling,
        mlp_residual=mlp_residual,
        pool_init=pool_init,
        ladm_input_norm=ladm_input_norm,
        num_heads=8,
        token_grid=min(7, size),
    )
    if backbone_weights is not None:
        load_mobilenet_v2_weights(model, backbone_weights)
    return model


@register_model
def baseline_mvit(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 224,
    drop_path: float = 0.2,
    dropout: float = 0.5,
    backbone_weights: WeightSource | None = None,
) -> VideoBaseline:
    """MViT-XS with average pooling of the final tokens over space and time and a linear head.

    Args:
        num_classes: Classes K.
        num_frames: 16, or 32 (AvgPool3d after the embedding).
        img_size: Frame size (only validated; any size of at least 32 runs).
        drop_path: Backbone stochastic depth.
        dropout: Dropout before the classifier.
        backbone_weights: Optional torchvision MViTv2-S weights (local file or state dict).
    """
    backbone, _ = _mvit_backbone(num_frames, img_size, drop_path)
    _time_steps(num_frames)
    model = VideoBaseline(backbone, backbone.out_dim, num_frames, num_classes=num_classes, dropout=dropout)
    if backbone_weights is not None:
        load_mvit_v2_s_weights(model, backbone_weights)
    return model


@register_model
def baseline_mobilenetv2(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 224,
    drop_path: float = 0.0,
    dropout: float = 0.5,
    width_mult: float = 1.0,
    backbone_weights: WeightSource | None = None,
) -> VideoBaseline:
    """Per-frame MobileNetV2 (1280-ch output), spatial then temporal average pooling, linear head.

    Args:
        num_classes: Classes K.
        num_frames: Frames per clip (multiple of 4).
        img_size: Frame size (only validated).
        drop_path: Accepted for a uniform interface; MobileNetV2 has no stochastic depth.
        dropout: Dropout before the classifier.
        width_mult: MobileNetV2 width multiplier.
        backbone_weights: Optional torchvision MobileNetV2 weights (local file or state dict).
    """
    del drop_path
    backbone, _ = _mobilenet_backbone(num_frames, img_size, width_mult)
    model = VideoBaseline(backbone, backbone.out_dim, num_frames, num_classes=num_classes, dropout=dropout)
    if backbone_weights is not None:
        load_mobilenet_v2_weights(model, backbone_weights)
    return model
