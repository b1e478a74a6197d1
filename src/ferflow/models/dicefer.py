"""DICE-FER: expression and identity encoders disentangled by mutual-information estimation.

Aquib, Verma & Akhtar, CVPRW (ABAW) 2025, built on the two-stage shared/exclusive scheme of Sanchez,
Serrurier & Ortner (ECCV 2020). See ``docs/dicefer.md`` for the choices made where the paper is silent.

Parts (all submodules of `DiceFer`):

- ``expression_encoder`` / ``identity_encoder``: torchvision ResNet-18 trunks giving the layer-4 map
  (512x4x4 at 112x112) and a 64-d code (E or I) from a linear layer on the pooled 512-d feature.
- ``exp_stats``: statistics networks for stage 1's cross terms, keys ``global_mn`` / ``local_mn`` (map of
  M with E_N) and ``global_nm`` / ``local_nm`` (map of N with E_M).
- ``id_stats``: ``global`` / ``local`` statistics networks between a map of M and T_M = [E_M, I_M].
- ``discriminator``: 3 fully connected layers on [E, I] -> logit (joint vs I shuffled).
- ``classifier``: 2 hidden fully connected layers on E -> class logits.

The ResNet-18 trunk and the plain ResNet-18 baseline are in `ferflow.models.resnet18`. The losses are pure
functions in `ferflow.models.losses`; a trainer only wires encoders, losses and optimisers together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ferflow.models.mine import (
    GlobalStatNet,
    LocalStatNet,
    mlp,
)
from ferflow.models.registry import register_model
from ferflow.models.resnet18 import TRUNK_CHANNELS, TrunkWeights, load_trunk_weights, resnet18_trunk, to_rgb

__all__ = [
    "Classifier",
    "DiceFer",
    "Discriminator",
    "ResNetEncoder",
    "dicefer_resnet18",
]


class ResNetEncoder(nn.Module):
    """ResNet-18 encoder: layer-4 feature map and a linear code on the pooled feature.

    Grey input (B, 1, H, W) is replicated to three channels, so any three-channel ResNet-18 state dict
    loads unchanged; RGB input is accepted as well.

    Args:
        code_dim: Size of the code.
        weights: Optional ResNet-18 weights for the trunk, a state dict or a local file (see
            `load_trunk_weights`); random init if None.
    """

    def __init__(self, code_dim: int = 64, weights: TrunkWeights | None = None) -> None:
        super().__init__()
        self.trunk = resnet18_trunk()
        self.head = nn.Linear(TRUNK_CHANNELS, code_dim)
        self.code_dim = code_dim
        if weights is not None:
            load_trunk_weights(self.trunk, weights)

    def forward_features(self, x: Tensor) -> Tensor:
        """Layer-4 feature map, ``(B, 512, ceil(H/32), ceil(W/32))``."""
        return self.trunk(to_rgb(x))

    def forward_head(self, feature_map: Tensor) -> Tensor:
        """Code ``(B, code_dim)`` from the average-pooled feature map."""
        return self.head(feature_map.mean(dim=(2, 3)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(feature_map, code)``."""
        feature_map = self.forward_features(x)
        return feature_map, self.forward_head(feature_map)


class Discriminator(nn.Module):
    """Three fully connected layers on [E, I] -> one logit ("drawn together" vs "I shuffled").

    Args:
        code_dim: Size of E and of I.
        hidden: The two hidden layer sizes.
    """

    def __init__(self, code_dim: int = 64, hidden: Sequence[int] = (512, 512)) -> None:
        super().__init__()
        if len(hidden) != 2:
            raise ValueError(f"the discriminator has 3 layers, so 2 hidden sizes; got {list(hidden)}")
        self.net = mlp([2 * code_dim, *hidden, 1])

    def forward(self, e: Tensor, i: Tensor) -> Tensor:
        """Logits ``(B,)``."""
        return self.net(torch.cat([e, i], dim=1)).squeeze(1)


class Classifier(nn.Module):
    """Expression classifier on E: hidden fully connected layers (256, 128 by default) -> logits.

    Args:
        code_dim: Size of E.
        num_classes: Number of expression classes.
        hidden: Hidden layer sizes.
        drop_rate: Dropout after each hidden activation.
        input_norm: Standardise E first (BatchNorm1d). Stage 1's L1 term shrinks E's scale by orders of
            magnitude; a scale-invariant classifier reads E the way the leakage probes (standardised
            logistic regression) do. False: the plain MLP.
    """

    def __init__(
        self,
        code_dim: int = 64,
        num_classes: int = 7,
        hidden: Sequence[int] = (256, 128),
        drop_rate: float = 0.0,
        input_norm: bool = False,
    ) -> None:
        super().__init__()
        layers = mlp([code_dim, *hidden, num_classes], dropout=drop_rate)
        self.net = nn.Sequential(nn.BatchNorm1d(code_dim), layers) if input_norm else layers

    def forward(self, e: Tensor) -> Tensor:
        """Logits ``(B, num_classes)``."""
        return self.net(e)


# ------------------------------------------------------------------------------------------- container
class DiceFer(nn.Module):
    """All DICE-FER parts as named submodules, with per-stage freezing.

    Args:
        num_classes: Expression classes.
        code_dim: Size of E and of I.
        input_size: Side of the square input images (fixes the map size of the flattening global networks).
        expression_weights: Optional local state dict for the expression encoder's trunk.
        identity_weights: Optional local state dict for the identity encoder's trunk.
        global_pool: ``"flatten"`` or ``"avg"``: how global statistics networks read the feature map.
        stat_hidden: Hidden sizes of every statistics network (MLP widths / 1x1 conv channels).
        disc_hidden: The discriminator's two hidden sizes.
        cls_hidden: The classifier's hidden sizes.
        drop_rate: Dropout in the classifier.
        cls_input_norm: Standardise E at the classifier's input (see `Classifier`).
    """

    #: Submodules trained in each stage; `set_stage` freezes all the others.
    STAGE_TRAINABLE: ClassVar[dict[int, tuple[str, ...]]] = {
        1: ("expression_encoder", "exp_stats"),
        2: ("identity_encoder", "id_stats", "discriminator"),
        3: ("classifier",),
    }
    PARTS: ClassVar[tuple[str, ...]] = (
        "expression_encoder",
        "identity_encoder",
        "exp_stats",
        "id_stats",
        "discriminator",
        "classifier",
    )

    def __init__(
        self,
        num_classes: int = 7,
        code_dim: int = 64,
        input_size: int = 112,
        expression_weights: TrunkWeights | None = None,
        identity_weights: TrunkWeights | None = None,
        global_pool: Literal["flatten", "avg"] = "flatten",
        stat_hidden: Sequence[int] = (512, 512),
        disc_hidden: Sequence[int] = (512, 512),
        cls_hidden: Sequence[int] = (256, 128),
        drop_rate: float = 0.0,
        cls_input_norm: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.code_dim = code_dim
        self.map_size = math.ceil(input_size / 32)
        self.expression_encoder = ResNetEncoder(code_dim, expression_weights)
        self.identity_encoder = ResNetEncoder(code_dim, identity_weights)

        def global_net(dim: int) -> GlobalStatNet:
            return GlobalStatNet(TRUNK_CHANNELS, self.map_size, dim, stat_hidden, global_pool)

        def local_net(dim: int) -> LocalStatNet:
            return LocalStatNet(TRUNK_CHANNELS, dim, stat_hidden)

        self.exp_stats = nn.ModuleDict(
            {
                "global_mn": global_net(code_dim),
                "local_mn": local_net(code_dim),
                "global_nm": global_net(code_dim),
                "local_nm": local_net(code_dim),
            }
        )
        self.id_stats = nn.ModuleDict({"global": global_net(2 * code_dim), "local": local_net(2 * code_dim)})
        self.discriminator = Discriminator(code_dim, disc_hidden)
        self.classifier = Classifier(code_dim, num_classes, cls_hidden, drop_rate, cls_input_norm)
        self._frozen: set[str] = set()

    # -- inference
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Codes ``(E, I)``, each ``(B, code_dim)``."""
        return self.expression_encoder(x)[1], self.identity_encoder(x)[1]

    def forward_features(self, x: Tensor) -> Tensor:
        """The expression code E ``(B, code_dim)``."""
        return self.expression_encoder(x)[1]

    def forward_head(self, e: Tensor) -> Tensor:
        """Class logits from E."""
        return self.classifier(e)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits: image -> E -> classifier."""
        return self.forward_head(self.forward_features(x))

    # -- stages
    def freeze(self, *names: str) -> None:
        """Stop gradients into the named parts and keep them in eval mode (BatchNorm statistics fixed)."""
        for name in self._check(names):
            part = getattr(self, name)
            part.requires_grad_(False)
            part.eval()
            self._frozen.add(name)

    def unfreeze(self, *names: str) -> None:
        """Undo `freeze` for the named parts (their train/eval mode follows the container's)."""
        for name in self._check(names):
            part = getattr(self, name)
            part.requires_grad_(True)
            part.train(self.training)
            self._frozen.discard(name)

    @property
    def frozen(self) -> frozenset[str]:
        """Names of the frozen parts."""
        return frozenset(self._frozen)

    def set_stage(self, stage: int) -> None:
        """Make the parts of ``stage`` (1, 2 or 3) trainable and freeze every other part."""
        if stage not in self.STAGE_TRAINABLE:
            raise ValueError(f"stage must be one of {sorted(self.STAGE_TRAINABLE)}, got {stage!r}")
        trainable = self.STAGE_TRAINABLE[stage]
        self.unfreeze(*trainable)
        self.freeze(*(p for p in self.PARTS if p not in trainable))

    def optimizer_groups(self, stage: int) -> dict[str, list[nn.Parameter]]:
        """Parameters for the stage's separate optimisers: ``encoder``, ``statistics``, ``discriminator``,
        ``classifier`` (only those the stage trains)."""
        groups: dict[int, dict[str, Iterable[nn.Parameter]]] = {
            1: {"encoder": self.expression_encoder.parameters(), "statistics": self.exp_stats.parameters()},
            2: {
                "encoder": self.identity_encoder.parameters(),
                "statistics": self.id_stats.parameters(),
                "discriminator": self.discriminator.parameters(),
            },
            3: {"classifier": self.classifier.parameters()},
        }
        if stage not in groups:
            raise ValueError(f"stage must be one of {sorted(groups)}, got {stage!r}")
        return {name: list(params) for name, params in groups[stage].items()}

    def train(self, mode: bool = True) -> DiceFer:
        """Set train/eval mode; frozen parts stay in eval mode."""
        super().train(mode)
        for name in self._frozen:
            getattr(self, name).eval()
        return self

    def _check(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        unknown = [n for n in names if n not in self.PARTS]
        if unknown:
            raise ValueError(f"unknown DICE-FER part(s) {unknown}; known: {list(self.PARTS)}")
        return names


# ------------------------------------------------------------------------------------------- factories
@register_model
def dicefer_resnet18(
    num_classes: int = 7,
    code_dim: int = 64,
    input_size: int = 112,
    expression_weights: TrunkWeights | None = None,
    identity_weights: TrunkWeights | None = None,
    **kwargs: object,
) -> DiceFer:
    """DICE-FER with two ResNet-18 encoders, 64-d codes, 112x112 grey input (random init by default)."""
    return DiceFer(
        num_classes=num_classes,
        code_dim=code_dim,
        input_size=input_size,
        expression_weights=expression_weights,
        identity_weights=identity_weights,
        **kwargs,
    )  # type: ignore[arg-type]
