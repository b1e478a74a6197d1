"""The per-frame MobileNetV2 trunk of `ifdd_mobilenetv2`, `baseline_mobilenetv2` and the face-identity
pretraining, and the loader of torchvision MobileNetV2 weights into it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ferflow.core.checkpoint import load_state_dict_file
from ferflow.models.mvit_xs import WeightLoadReport, apply_key_map, find_backbone
from ferflow.models.video import WeightSource, frames_to_map, halve, time_steps

__all__ = ["MobileNetV2Frames", "load_mobilenet_v2_weights", "mobilenet_backbone"]


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
        x = frames_to_map(x, batch)
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


def mobilenet_backbone(num_frames: int, img_size: int, width_mult: float) -> tuple[MobileNetV2Frames, int]:
    """The per-frame MobileNetV2 trunk for `num_frames` x `img_size`^2 clips and its final map's side."""
    if img_size < 32:
        raise ValueError(f"img_size must be at least 32, got {img_size}")
    size = img_size
    for _ in range(5):
        size = halve(size)
    return MobileNetV2Frames(width_mult=width_mult, time_stride=num_frames // time_steps(num_frames)), size
