"""IFDD: lifting-scheme-based implicit disentanglement of facial dynamics (Wang & Chai, arXiv 2412.13168).

Pipeline (``ifdd_mvit``, 16 x 224 x 224 input, B = batch):

    clip B x 3 x 16 x 224 x 224 (values in [0, 1], no mean/std normalisation)
      -> MViT-XS (embed conv + 10 MViTv2 blocks): stage-3 map B x 384 x 8 x 14 x 14, final B x 768 x 8 x 7 x 7
      -> two-scale pyramid: X, B x 768 x 8 x 7 x 7
      -> ISSM: static X_S and dynamic X_D, B x 768 x 4 x 7 x 7 each, with fractional frame indices
      -> LADM: Y_S (static, used by the lifting loss) and dynamic tokens B x 196 x 768
      -> Linear(196 -> 1) token pooling -> Dropout -> Linear -> logits

``ifdd_mobilenetv2`` runs the same ISSM/LADM on a per-frame 2D MobileNetV2 (our design; see docs/ifdd.md).
``ifdd_smallcnn`` runs them on the controls' small CNN (a diagnosis). The trunks live in their own files
(`ferflow.models.mvit_xs`, `ferflow.models.mobilenetv2`, `ferflow.models.frame_cnn`); the static baselines on
the same trunks in `ferflow.models.video_baseline`. All video models share ``forward_features`` /
``forward_head`` and the ``IFDDFeatures`` container (`ferflow.models.video`).
"""

from __future__ import annotations

import torch
from torch import nn

from ferflow.model_names import MOBILENETV2_OWN, RELEASED, SMALLCNN_OWN, PoolInit, SamplingMode
from ferflow.models.frame_cnn import SmallCNNFrames
from ferflow.models.issm import ISSM, fixed_split
from ferflow.models.ladm import LADM, HaarLift
from ferflow.models.mobilenetv2 import load_mobilenet_v2_weights, mobilenet_backbone
from ferflow.models.mvit_xs import load_mvit_v2_s_weights, mvit_backbone
from ferflow.models.registry import register_model
from ferflow.models.video import (
    IFDDFeatures,
    SplitMode,
    VideoClassifier,
    WeightSource,
    frames_to_map,
    time_steps,
)

__all__ = ["IFDD", "TwoScalePyramid", "ifdd_mobilenetv2", "ifdd_mvit", "ifdd_smallcnn"]


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
        return frames_to_map(self.fuse(torch.cat((fine, coarse), dim=1)), b)


class IFDD(VideoClassifier):
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
        head_norm: LayerNorm the pooled dynamic features before the classifier (ours; the released head
            reads them as they are).
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
        head_norm: bool = False,
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
        self.head_norm = nn.LayerNorm(embed_dim) if head_norm else nn.Identity()
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
        pooled = self.head_drop(self.head_norm(pooled))
        return pooled if pre_logits else self.head(pooled)


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
    backbone, grid = mvit_backbone(num_frames, img_size, drop_path)
    model = IFDD(
        backbone,
        backbone.stage3_dim,
        backbone.out_dim,
        768,
        num_frames,
        time_steps(num_frames),
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
    backbone, size = mobilenet_backbone(num_frames, img_size, width_mult)
    model = IFDD(
        backbone,
        backbone.fine_dim,
        backbone.out_dim,
        embed_dim,
        num_frames,
        time_steps(num_frames),
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
def ifdd_smallcnn(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 48,
    drop_path: float = 0.2,
    dropout: float = 0.5,
    split: SplitMode = "issm",
    use_ladm: bool = True,
    issm_sampling: SamplingMode = SMALLCNN_OWN.issm_sampling,
    mlp_residual: bool = SMALLCNN_OWN.mlp_residual,
    pool_init: PoolInit = SMALLCNN_OWN.pool_init,
    ladm_input_norm: bool = SMALLCNN_OWN.ladm_input_norm,
    embed_dim: int = 128,
    head_norm: bool = False,
) -> IFDD:
    """IFDD's pyramid, ISSM, LADM and heads on the controls' CNN instead of MobileNetV2 (a diagnosis: does
    the lifting find the dynamics when the per-frame features are those of a shallow CNN that keeps fine
    spatial detail?). The fine map is the CNN's stride-4 block, the coarse its stride-8 block; the other
    choices are `ifdd_mobilenetv2`'s but the token pool's init, the released one (`SMALLCNN_OWN`: the mean
    init stalls training over its 144 tokens, docs/ifdd.md). Always from random weights.

    Args:
        num_classes: Classes K.
        num_frames: Frames per clip (a multiple of 4).
        img_size: Frame size (at least 16; the token count follows it).
        drop_path, dropout, split, use_ladm, issm_sampling, mlp_residual, pool_init, ladm_input_norm,
            embed_dim: As for `ifdd_mobilenetv2`.
        head_norm: LayerNorm the pooled features before the classifier (a diagnosis; see `IFDD`).
    """
    if img_size < 16:
        raise ValueError(f"img_size must be at least 16, got {img_size}")
    steps = time_steps(num_frames)
    backbone = SmallCNNFrames(time_stride=num_frames // steps)
    size = img_size // 8  # three 2x max-poolings
    return IFDD(
        backbone,
        backbone.fine_dim,
        backbone.out_dim,
        embed_dim,
        num_frames,
        steps,
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
        head_norm=head_norm,
    )
