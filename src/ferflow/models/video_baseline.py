"""The static video baselines: a trunk's final map averaged over space and time, Dropout and a linear head
(`baseline_mvit`, `baseline_mobilenetv2`: IFDD's trunks without its modules)."""

from __future__ import annotations

import torch
from torch import nn

from ferflow.models.mobilenetv2 import load_mobilenet_v2_weights, mobilenet_backbone
from ferflow.models.mvit_xs import load_mvit_v2_s_weights, mvit_backbone
from ferflow.models.registry import register_model
from ferflow.models.video import IFDDFeatures, VideoClassifier, WeightSource, time_steps

__all__ = ["VideoBaseline", "baseline_mobilenetv2", "baseline_mvit"]


class VideoBaseline(VideoClassifier):
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
    backbone, _ = mvit_backbone(num_frames, img_size, drop_path)
    time_steps(num_frames)
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
    backbone, _ = mobilenet_backbone(num_frames, img_size, width_mult)
    model = VideoBaseline(backbone, backbone.out_dim, num_frames, num_classes=num_classes, dropout=dropout)
    if backbone_weights is not None:
        load_mobilenet_v2_weights(model, backbone_weights)
    return model
