"""ResNet-18: the trunk DICE-FER's encoders and the face-identity pretraining use (torchvision's, up to
layer 4, grey input replicated to three channels), the loader of ResNet-18 weights into it, and the plain
ResNet-18 expression classifier DICE-FER is compared against (`resnet18_classifier`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor, nn
from torchvision.models import resnet18

from ferflow.core.checkpoint import load_state_dict_file
from ferflow.models.registry import register_model

__all__ = [
    "TRUNK_CHANNELS",
    "ResNet18Classifier",
    "TrunkWeights",
    "load_trunk_weights",
    "resnet18_classifier",
    "resnet18_trunk",
    "to_rgb",
]

TRUNK_CHANNELS = 512
TrunkWeights = Mapping[str, Tensor] | str | Path
_TRUNK_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
_STRIP_PREFIXES = ("module.", "trunk.", "backbone.", "encoder.")


def resnet18_trunk() -> nn.Sequential:
    """torchvision ResNet-18 up to layer 4 (random init; keys as in torchvision, without ``fc``)."""
    net = resnet18(weights=None)
    return nn.Sequential(OrderedDict((name, getattr(net, name)) for name in _TRUNK_PARTS))


def to_rgb(x: Tensor) -> Tensor:
    """Replicate a grey channel to three (no copy); three-channel input passes through."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (B, 1 or 3, H, W), got {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def load_trunk_weights(trunk: nn.Module, weights: TrunkWeights) -> None:
    """Load ResNet-18 weights (a state dict or a local file) into a trunk made by `resnet18_trunk`.

    Accepts a plain torchvision-style state dict or one wrapped under ``"state_dict"`` or ``"model"``;
    prefixes ``module.``, ``trunk.``, ``backbone.``, ``encoder.`` are stripped; keys outside the trunk
    (``fc.*``, a code head, ...) are ignored. Files are read with ``weights_only=True``.

    Args:
        trunk: The module to fill.
        weights: A state dict, or the ``.pt``/``.pth`` file holding one.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file cannot be read as a state dict, or trunk keys are missing or mis-shaped.
    """
    source = "the given state dict" if isinstance(weights, Mapping) else str(weights)
    state = load_state_dict_file(weights)
    cleaned: dict[str, Tensor] = {}
    for key, value in state.items():
        for prefix in _STRIP_PREFIXES:
            key = key.removeprefix(prefix)
        cleaned[key] = value
    expected = trunk.state_dict()
    missing = [k for k in expected if k not in cleaned]
    if missing:
        raise ValueError(
            f"{source} is not a ResNet-18 state dict: {len(missing)} trunk keys missing, e.g. {missing[:3]}"
        )
    wrong = [k for k in expected if cleaned[k].shape != expected[k].shape]
    if wrong:
        k = wrong[0]
        raise ValueError(
            f"{source}: shape mismatch for {k}: file {tuple(cleaned[k].shape)}, "
            f"model {tuple(expected[k].shape)}"
        )
    trunk.load_state_dict({k: cleaned[k] for k in expected}, strict=True)


class ResNet18Classifier(nn.Module):
    """Plain ResNet-18 expression classifier, the baseline DICE-FER is compared against.

    Args:
        num_classes: Expression classes.
        weights: Optional local ResNet-18 state dict for the trunk.
        drop_rate: Dropout before the final layer.
    """

    def __init__(
        self, num_classes: int = 7, weights: TrunkWeights | None = None, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.trunk = resnet18_trunk()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(TRUNK_CHANNELS, num_classes)
        self.num_classes = num_classes
        if weights is not None:
            load_trunk_weights(self.trunk, weights)

    def forward_features(self, x: Tensor) -> Tensor:
        """Penultimate embedding: the average-pooled layer-4 feature, ``(B, 512)``."""
        return self.trunk(to_rgb(x)).mean(dim=(2, 3))

    def forward_head(self, features: Tensor) -> Tensor:
        """Class logits from the embedding."""
        return self.fc(self.drop(features))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        return self.forward_head(self.forward_features(x))


@register_model
def resnet18_classifier(
    num_classes: int = 7, weights: TrunkWeights | None = None, drop_rate: float = 0.0
) -> ResNet18Classifier:
    """Plain ResNet-18 expression classifier (baseline), random init unless a local state dict is given."""
    return ResNet18Classifier(num_classes=num_classes, weights=weights, drop_rate=drop_rate)
