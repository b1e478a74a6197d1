"""Face-recognition networks for pretraining the trunks DICE-FER and IFDD start from.

A `FaceIdNet` is one of the two trunks, built exactly as the downstream model builds it, plus an embedding
neck (global pooling, linear, BatchNorm) whose output a margin loss (ArcFace, CosFace) trains:

- ``resnet18``: DICE-FER's encoder trunk (`ferflow.models.resnet18.resnet18_trunk`): grey input replicated to
  three channels, values in [0, 1], no mean/std normalisation;
- ``mobilenetv2``: IFDD's per-frame trunk (`ferflow.models.mobilenetv2.MobileNetV2Frames`): RGB input in
  [0, 1], normalised with ImageNet statistics inside, at the configured width.

`trunk_state_dict` returns the trunk's weights in torchvision's key layout (`resnet18()` without `fc`,
`mobilenet_v2()` without `classifier`), the format every ferflow weight loader reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ferflow.models.mobilenetv2 import MobileNetV2Frames
from ferflow.models.resnet18 import TRUNK_CHANNELS, resnet18_trunk

Trunk = Literal["resnet18", "mobilenetv2"]
TRUNKS: tuple[str, ...] = ("resnet18", "mobilenetv2")
#: Whether a trunk's downstream model sees grey faces (DICE-FER) or colour frames (IFDD).
GREY: dict[str, bool] = {"resnet18": True, "mobilenetv2": False}


class FaceIdNet(nn.Module):
    """A trunk with an embedding neck, for training by a margin loss on identity labels.

    Args:
        trunk: "resnet18" or "mobilenetv2".
        embedding_dim: Size of the embedding the loss sees.
        width_mult: MobileNetV2 width multiplier (the `ifdd.model.width_mult` the trunk will serve).
    """

    def __init__(self, trunk: Trunk, embedding_dim: int = 512, width_mult: float = 1.0) -> None:
        super().__init__()
        if trunk == "resnet18":
            self.backbone: nn.Module = resnet18_trunk()
            channels = TRUNK_CHANNELS
        elif trunk == "mobilenetv2":
            self.backbone = MobileNetV2Frames(width_mult=width_mult, time_stride=1)
            channels = self.backbone.out_dim
        else:
            raise ValueError(f"unknown trunk {trunk!r}; known: {', '.join(TRUNKS)}")
        self.trunk = trunk
        self.grey = GREY[trunk]
        self.neck = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, embedding_dim, bias=False),
            nn.BatchNorm1d(embedding_dim),
        )

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 1 or 3, H, W) faces in [0, 1] -> the trunk's last feature map."""
        if self.trunk == "resnet18":
            return self.backbone(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
        _, coarse = self.backbone(x.unsqueeze(2))  # one-frame clips through the per-frame trunk
        return coarse[:, :, 0]

    def forward_head(self, features: Tensor) -> Tensor:
        """The embedding of a feature map (not normalised: the margin losses normalise it)."""
        return self.neck(features)

    def forward(self, x: Tensor) -> Tensor:
        """The embedding (not normalised: the margin losses normalise it)."""
        return self.forward_head(self.forward_features(x))

    def trunk_state_dict(self) -> dict[str, Tensor]:
        """The trunk's weights with torchvision's key names (`conv1.weight`, `features.0.0.weight`, ...)."""
        return {k: v.detach().clone() for k, v in self.backbone.state_dict().items()}


@torch.no_grad()
def embed(model: FaceIdNet, loader: Iterable[Sequence[Tensor]], device: torch.device) -> Tensor:
    """L2-normalised embeddings of every image a loader of (image, label) batches yields, in order."""
    model.eval()
    return torch.cat([nn.functional.normalize(model(x.to(device)).float(), dim=1).cpu() for x, _ in loader])
