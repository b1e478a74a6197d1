"""What every video model shares: the `IFDDFeatures` container `forward_features` returns, the input checks,
`forward` and classifier reset of `VideoClassifier`, and the clip-shape arithmetic of the factories."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, NamedTuple, overload

import torch
from torch import nn

__all__ = [
    "IFDDFeatures",
    "SplitMode",
    "VideoClassifier",
    "WeightSource",
    "frames_to_map",
    "halve",
    "time_steps",
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


def frames_to_map(x: torch.Tensor, batch: int) -> torch.Tensor:
    """(B*T) x C x h x w -> B x C x T x h x w."""
    bt, c, h, w = x.shape
    return x.reshape(batch, bt // batch, c, h, w).transpose(1, 2)


class VideoClassifier(nn.Module):
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


def halve(size: int) -> int:
    """Output size of a stride-2, kernel-3, padding-1 conv/pool."""
    return (size - 1) // 2 + 1


def time_steps(num_frames: int) -> int:
    """Backbone time steps: pairs of frames, and the extra 2x pooling of the 32-frame setting (-> 8)."""
    if num_frames < 4 or num_frames % 4:
        raise ValueError(f"num_frames must be a multiple of 4 (16, or 32 for MAFW), got {num_frames}")
    return 8 if num_frames == 32 else num_frames // 2
