"""Video controls: what a small model without and with dynamics learns from the same clips at a budget.

They bound a benchmark (issue 20): a method below the static control is not using the dynamics, and the
dynamics control shows how much of them a simple model finds at the same budget.

- ``control_static``: a per-frame CNN on grey frames, features averaged over time (no dynamics).
- ``control_dynamics``: the same CNN with a second input channel, each frame minus the clip's per-pixel
  temporal median (what moved away from the clip's own resting face), and max over time: the strongest
  frame decides, wherever in the clip it lies.

The CNN: 3 blocks of Conv 3x3 (no bias) -> BatchNorm -> ReLU -> MaxPool 2 (16, 32, 64 channels), then the
last map average-pooled to 4 x 4 positions (`spatial="grid"`; chosen on validation over a spatial mean,
docs/ifdd.md; `ferflow.models.frame_cnn`). Both are one architecture, `VideoControl`, with a switch
(`difference`); they run through `train-ifdd` like any video variant and share the models' interface
(`forward_features`, `forward_head`, `IFDDFeatures`; no lifting loss).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ferflow.models.frame_cnn import LUMA, FrameCNN
from ferflow.models.registry import register_model
from ferflow.models.video import IFDDFeatures, VideoClassifier

__all__ = ["VideoControl", "control_dynamics", "control_static"]

Temporal = Literal["mean", "max", "conv"]
Spatial = Literal["mean", "grid"]
GRID = 4  # "grid" pooling keeps GRID x GRID positions of the last map


class VideoControl(VideoClassifier):
    """Grey frames (and optionally their difference from the clip's median) -> FrameCNN per frame ->
    spatial mean -> temporal pooling -> Dropout -> Linear.

    Args:
        num_frames: Input frames.
        num_classes: Classes K.
        dropout: Dropout before the classifier.
        difference: Add the channel frame - per-pixel temporal median of the clip.
        temporal: How per-frame features become one: "mean", "max", or "conv" (Conv1d over time, kernel 3,
            + ReLU, then max).
        spatial: How a frame's last map becomes its features: "mean" over positions, or "grid" (average
            pooled to 4 x 4 positions and flattened: where in the face something happened is kept).
        channels: The CNN's block widths.
    """

    def __init__(
        self,
        num_frames: int,
        num_classes: int = 7,
        dropout: float = 0.0,
        difference: bool = False,
        temporal: Temporal = "mean",
        spatial: Spatial = "grid",
        channels: tuple[int, ...] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if temporal not in ("mean", "max", "conv"):
            raise ValueError(f"temporal must be 'mean', 'max' or 'conv', got {temporal!r}")
        if spatial not in ("mean", "grid"):
            raise ValueError(f"spatial must be 'mean' or 'grid', got {spatial!r}")
        self.num_frames = num_frames
        self.img_size = None
        self.num_classes = num_classes
        self.difference = difference
        self.temporal = temporal
        self.spatial = spatial
        self.backbone = FrameCNN(2 if difference else 1, channels)
        self.num_features = self.backbone.out_dim * (GRID * GRID if spatial == "grid" else 1)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1, 1), persistent=False)
        self.temporal_conv = (
            nn.Sequential(nn.Conv1d(self.num_features, self.num_features, 3, padding=1), nn.ReLU())
            if temporal == "conv"
            else None
        )
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.num_features, num_classes)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """B x 3 x T x H x W in [0, 1] -> grey B x 1 x T x H x W (+ its change from the temporal median)."""
        grey = (x * self.luma).sum(1, keepdim=True)
        if not self.difference:
            return grey
        return torch.cat((grey, grey - grey.median(dim=2, keepdim=True).values), dim=1)

    def forward_features(self, x: torch.Tensor) -> IFDDFeatures:
        """Clip -> per-frame CNN maps B x C x T x h x w (in `IFDDFeatures.x`; other fields None)."""
        self._check_input(x)
        frames = self.inputs(x)
        b, c, t, h, w = frames.shape
        maps = self.backbone(frames.transpose(1, 2).reshape(b * t, c, h, w))
        return IFDDFeatures(x=maps.reshape(b, t, *maps.shape[1:]).transpose(1, 2))

    def forward_head(self, features: IFDDFeatures, pre_logits: bool = False) -> torch.Tensor:
        """Spatial pooling, temporal pooling, Dropout, classifier."""
        maps = features.x
        if self.spatial == "grid":
            b, t = maps.shape[0], maps.shape[2]
            grid = F.adaptive_avg_pool2d(maps.transpose(1, 2).flatten(0, 1), GRID)  # B*T x C x 4 x 4
            per_frame = grid.reshape(b, t, -1).transpose(1, 2)  # B x C*16 x T
        else:
            per_frame = maps.mean(dim=(3, 4))  # B x C x T
        if self.temporal_conv is not None:
            per_frame = self.temporal_conv(per_frame)
        pooled = per_frame.mean(dim=2) if self.temporal == "mean" else per_frame.amax(dim=2)
        pooled = self.head_drop(pooled)
        return pooled if pre_logits else self.head(pooled)


def _control(
    num_frames: int,
    img_size: int,
    num_classes: int,
    dropout: float,
    difference: bool,
    temporal: Temporal,
    spatial: Spatial,
) -> VideoControl:
    if img_size < 8:
        raise ValueError(f"img_size must be at least 8, got {img_size}")
    return VideoControl(num_frames, num_classes, dropout, difference, temporal, spatial)


@register_model
def control_static(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 48,
    dropout: float = 0.0,
    temporal: Temporal = "mean",
    spatial: Spatial = "grid",
) -> VideoControl:
    """Static control: per-frame CNN on grey frames, mean over time (what a model without dynamics can do).

    Args:
        num_classes: Classes K.
        num_frames: Frames per clip.
        img_size: Frame size (only validated; any size of at least 8 runs).
        dropout: Dropout before the classifier.
        temporal: "mean" (default), "max" or "conv".
        spatial: "grid" (default: 4 x 4 positions kept) or "mean" over the last map's positions.
    """
    return _control(num_frames, img_size, num_classes, dropout, False, temporal, spatial)


@register_model
def control_dynamics(
    num_classes: int = 7,
    num_frames: int = 16,
    img_size: int = 48,
    dropout: float = 0.0,
    temporal: Temporal = "max",
    spatial: Spatial = "grid",
) -> VideoControl:
    """Dynamics control: the static control's CNN on grey frames and their difference from the clip's
    per-pixel temporal median, max over time (what a simple model with dynamics can do).

    Args:
        num_classes: Classes K.
        num_frames: Frames per clip.
        img_size: Frame size (only validated; any size of at least 8 runs).
        dropout: Dropout before the classifier.
        temporal: "max" (default), "mean" or "conv" (a temporal convolution, then max).
        spatial: "grid" (default: 4 x 4 positions kept) or "mean" over the last map's positions.
    """
    return _control(num_frames, img_size, num_classes, dropout, True, temporal, spatial)
