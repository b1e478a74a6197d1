"""The small CNN of the controls: Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2 blocks per image (`FrameCNN`),
and the same CNN as an IFDD trunk on grey frames (`SmallCNNFrames`, for `ifdd_smallcnn`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ferflow.models.video import frames_to_map

__all__ = ["LUMA", "FrameCNN", "SmallCNNFrames"]

#: ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
LUMA = (0.2989, 0.587, 0.114)


class FrameCNN(nn.Module):
    """Per-image CNN: blocks of Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2.

    Args:
        in_channels: Input channels.
        channels: Output channels of each block.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for out in channels:
            layers += [
                nn.Conv2d(in_channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out
        self.features = nn.Sequential(*layers)
        self.out_dim = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x in_channels x H x W -> N x out_dim x H/2^k x W/2^k."""
        return self.features(x)


class SmallCNNFrames(nn.Module):
    """The controls' CNN as an IFDD trunk: grey frames -> FrameCNN, tapped after its last two blocks (the
    fine and the coarse map), each averaged over windows of `time_stride` frames like `MobileNetV2Frames`.

    Args:
        time_stride: Frames averaged into one time step.
        channels: The CNN's block widths (at least two blocks).
    """

    def __init__(self, time_stride: int = 2, channels: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.cnn = FrameCNN(1, channels)
        self.fine_dim, self.out_dim = channels[-2], channels[-1]
        self.time_stride = time_stride
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B x 3 x T x H x W clip -> (fine, coarse) maps, each B x C x T/time_stride x h x w."""
        b = x.shape[0]
        frames = (x * self.luma).sum(1, keepdim=True).transpose(1, 2).flatten(0, 1)
        blocks = len(self.cnn.features) // 4
        fine = self.cnn.features[: 4 * (blocks - 1)](frames)
        coarse = self.cnn.features[4 * (blocks - 1) :](fine)
        return tuple(  # type: ignore[return-value]
            F.avg_pool3d(frames_to_map(m, b), (self.time_stride, 1, 1)) for m in (fine, coarse)
        )
