"""MViT-XS: the 10-block MViTv2 video backbone used by IFDD, built from torchvision's MViT blocks.

MViT-XS keeps MViTv2-S's embedding, widths, heads and pooling strides but has stages of 1, 2, 5 and 2 blocks
instead of 1, 2, 11 and 2. It is assembled from torchvision's own `MultiscaleBlock`, `MSBlockConfig` and
`PositionalEncoding`, so a torchvision `mvit_v2_s()` state dict maps onto it key for key (S blocks 0-7 onto
XS blocks 0-7, S blocks 14/15 onto XS blocks 8/9); see `load_mvit_v2_s_weights`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn
from torchvision.models.video.mvit import MSBlockConfig, MultiscaleBlock, PositionalEncoding

from ferflow.core.checkpoint import load_state_dict_file
from ferflow.models.video import halve

__all__ = [
    "MVIT_S_DEPTHS",
    "MVIT_XS_DEPTHS",
    "MViTXS",
    "WeightLoadReport",
    "apply_key_map",
    "find_backbone",
    "load_mvit_v2_s_weights",
    "mvit_backbone",
    "mvit_block_configs",
]

_log = logging.getLogger(__name__)

MVIT_XS_DEPTHS: tuple[int, int, int, int] = (1, 2, 5, 2)
MVIT_S_DEPTHS: tuple[int, int, int, int] = (1, 2, 11, 2)
_DIMS = (96, 192, 384, 768)
_HEADS = (1, 2, 4, 8)
# Geometry the relative-position tables are sized for: a 16x224x224 clip embeds to 8x56x56 tokens. Other
# input sizes work because torchvision interpolates the tables at run time; keeping the tables at this size
# is what lets MViTv2-S weights load unchanged.
_REL_POS_GEOMETRY = (8, 56, 56)


def mvit_block_configs(depths: Sequence[int] = MVIT_XS_DEPTHS) -> list[MSBlockConfig]:
    """MViTv2 block settings for the given stage depths (MViTv2-S numbers: widths, heads, strides).

    The first block of stages 2-4 doubles the width and pools queries by (1, 2, 2); key/value pooling
    starts at (1, 8, 8) and shrinks with the queries so keys/values stay at 7x7 for a 224 input.

    Args:
        depths: Blocks per stage (four stages).

    Returns:
        One `MSBlockConfig` per block.
    """
    if len(depths) != 4 or min(depths) < 1:
        raise ValueError(f"depths must be four positive integers, got {depths}")
    configs = []
    for stage, depth in enumerate(depths):
        kv = 8 // 2**stage
        for i in range(depth):
            first = i == 0 and stage > 0
            configs.append(
                MSBlockConfig(
                    num_heads=_HEADS[stage],
                    input_channels=_DIMS[stage - 1] if first else _DIMS[stage],
                    output_channels=_DIMS[stage],
                    kernel_q=[3, 3, 3],
                    kernel_kv=[3, 3, 3],
                    stride_q=[1, 2, 2] if first else [1, 1, 1],
                    stride_kv=[1, kv, kv],
                )
            )
    return configs


class MViTXS(nn.Module):
    """Tubelet embedding + MViTv2 blocks with stage taps (MViT-XS by default).

    Input B x 3 x T x H x W; the embedding is MViTv2-S's `conv_proj` (Conv3d 3->96, kernel (3, 7, 7),
    stride (2, 4, 4)), optionally followed by AvgPool3d((2, 1, 1)) for 32-frame clips. Relative position
    embeddings, residual pooling, no absolute positions, a CLS token, LayerNorm(eps=1e-6).

    Args:
        depths: Blocks per stage; `MVIT_S_DEPTHS` rebuilds MViTv2-S's trunk (used in tests).
        temporal_pool: Average adjacent embedded time steps (the 32-frame MAFW setting).
        drop_path: Largest stochastic-depth rate, reached linearly at the last block.
        rel_pos_geometry: Token grid (T, H, W) the relative-position tables are sized for.
    """

    def __init__(
        self,
        depths: Sequence[int] = MVIT_XS_DEPTHS,
        temporal_pool: bool = False,
        drop_path: float = 0.2,
        rel_pos_geometry: Sequence[int] = _REL_POS_GEOMETRY,
    ) -> None:
        super().__init__()
        configs = mvit_block_configs(depths)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.conv_proj = nn.Conv3d(3, _DIMS[0], kernel_size=(3, 7, 7), stride=(2, 4, 4), padding=(1, 3, 3))
        self.temporal_pool = nn.AvgPool3d((2, 1, 1)) if temporal_pool else nn.Identity()
        geometry = list(rel_pos_geometry)
        self.pos_encoding = PositionalEncoding(
            embed_size=_DIMS[0],
            spatial_size=(geometry[1], geometry[2]),
            temporal_size=geometry[0],
            rel_pos_embed=True,
        )
        self.blocks = nn.ModuleList()
        for i, cnf in enumerate(configs):
            self.blocks.append(
                MultiscaleBlock(
                    input_size=geometry,
                    cnf=cnf,
                    residual_pool=True,
                    residual_with_cls_embed=False,
                    rel_pos_embed=True,
                    proj_after_attn=True,
                    dropout=0.0,
                    stochastic_depth_prob=drop_path * i / (len(configs) - 1.0),
                    norm_layer=norm_layer,
                )
            )
            geometry = [size // stride for size, stride in zip(geometry, cnf.stride_q, strict=True)]
        self.norm = norm_layer(_DIMS[-1])
        # Index of the last block of stage 3: its raw output is the fine pyramid tap.
        self.stage3_index = sum(depths[:3]) - 1
        self.stage3_dim = _DIMS[2]
        self.out_dim = _DIMS[3]
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's MViT initialisation (the relative-position tables are initialised by their blocks).
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pos_encoding.class_token, std=0.02)

    @staticmethod
    def _to_map(tokens: torch.Tensor, thw: tuple[int, int, int]) -> torch.Tensor:
        """B x (1 + T*H*W) x C tokens -> B x C x T x H x W map (CLS dropped)."""
        b, _, c = tokens.shape
        return tokens[:, 1:].reshape(b, *thw, c).permute(0, 4, 1, 2, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the trunk.

        Args:
            x: B x 3 x T x H x W clip.

        Returns:
            (stage-3 output, final normed output) as B x C x T' x h x w maps without the CLS token,
            e.g. B x 384 x 8 x 14 x 14 and B x 768 x 8 x 7 x 7 for 16 x 224 x 224 input.
        """
        x = self.temporal_pool(self.conv_proj(x))
        thw: tuple[int, int, int] = (x.shape[2], x.shape[3], x.shape[4])
        x = self.pos_encoding(x.flatten(2).transpose(1, 2))
        stage3: torch.Tensor | None = None
        for i, block in enumerate(self.blocks):
            x, thw = block(x, thw)
            if i == self.stage3_index:
                stage3 = self._to_map(x, thw)
        assert stage3 is not None
        return stage3, self._to_map(self.norm(x), thw)


# ---------------------------------------------------------------------------------------------------------
# Local weight loading
# ---------------------------------------------------------------------------------------------------------


@dataclass
class WeightLoadReport:
    """What a weight loader did.

    Attributes:
        loaded: (source key, model key) pairs copied into the model.
        unused_source: Source keys deliberately left out (e.g. MViT-S blocks 8-13, the Kinetics head).
        not_loaded: Model keys that keep their initialisation (modules new to the model).
        prefix: Where in the model the mapped module lives ("backbone." for IFDD and the baselines).
    """

    loaded: list[tuple[str, str]] = field(default_factory=list)
    unused_source: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    prefix: str = ""

    def summary(self) -> str:
        """One line for a log."""
        return (
            f"loaded {len(self.loaded)} tensors; {len(self.unused_source)} source tensors unused; "
            f"{len(self.not_loaded)} model tensors keep their initialisation"
        )


def find_backbone(model: nn.Module, cls: type[nn.Module]) -> tuple[nn.Module, str]:
    """`model` itself if it is a `cls`, else `model.backbone`, with its key prefix ("" or "backbone.")."""
    if isinstance(model, cls):
        return model, ""
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, cls):
        return backbone, "backbone."
    raise TypeError(f"expected a {cls.__name__} or a model whose `.backbone` is one, got {type(model)}")


def apply_key_map(
    model: nn.Module,
    target: nn.Module,
    prefix: str,
    state_dict: Mapping[str, torch.Tensor],
    key_map: Mapping[str, str],
    what: str,
) -> WeightLoadReport:
    """Copy `state_dict[src]` into `target[key_map[src]]` for every mapped key, checking shapes.

    Args:
        model: The whole model (for the list of keys that keep their initialisation).
        target: The submodule receiving the weights.
        prefix: `target`'s name inside `model` followed by a dot ("" when they are the same).
        state_dict: Source tensors.
        key_map: Source key -> target key for the keys to copy; other source keys are reported unused.
        what: Name of the expected source, for error messages.

    Raises:
        ValueError: A mapped source tensor's shape differs from its target.
    """
    target_state = target.state_dict()
    mapped = {}
    for src, dst in key_map.items():
        if dst not in target_state:
            raise ValueError(f"{what}: mapped key {src!r} -> {dst!r} has no counterpart in the model")
        if state_dict[src].shape != target_state[dst].shape:
            raise ValueError(
                f"{what}: shape mismatch for {src!r} -> {dst!r}: "
                f"{tuple(state_dict[src].shape)} vs {tuple(target_state[dst].shape)}"
            )
        mapped[dst] = state_dict[src]
    _, unexpected = target.load_state_dict(mapped, strict=False)
    assert not unexpected, unexpected
    loaded_dst = {prefix + k for k in mapped}
    report = WeightLoadReport(
        loaded=[(src, prefix + dst) for src, dst in key_map.items()],
        unused_source=sorted(set(state_dict) - set(key_map)),
        not_loaded=[k for k in model.state_dict() if k not in loaded_dst],
        prefix=prefix,
    )
    _log.info("%s weights: %s", what, report.summary())
    return report


def _mvit_s_key_map(state_dict: Mapping[str, torch.Tensor], num_blocks: int) -> dict[str, str]:
    """torchvision mvit_v2_s key -> MViT-XS key (S blocks 0-7 -> 0-7, 14 -> 8, 15 -> 9)."""
    block_map = {i: i for i in range(8)} | {14: 8, 15: 9}
    if num_blocks != 10:
        raise ValueError(f"the MViT-S -> MViT-XS mapping needs a 10-block backbone, got {num_blocks}")
    key_map = {}
    for key in state_dict:
        if key.startswith(("conv_proj.", "norm.")) or key == "pos_encoding.class_token":
            key_map[key] = key
        elif key.startswith("blocks."):
            index, rest = key[len("blocks.") :].split(".", 1)
            if int(index) in block_map:
                key_map[key] = f"blocks.{block_map[int(index)]}.{rest}"
    return key_map


_MVIT_S_SIGNATURE = (
    "conv_proj.weight",
    "pos_encoding.class_token",
    "blocks.15.attn.qkv.weight",
    "norm.weight",
)


def load_mvit_v2_s_weights(
    model: nn.Module, state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike[str]
) -> WeightLoadReport:
    """Initialise an MViT-XS trunk from torchvision MViTv2-S weights (a local file or a state dict).

    The embedding conv, CLS token and final norm are copied; S blocks 0-7 go to XS blocks 0-7 and S blocks
    14/15 to XS blocks 8/9. S blocks 8-13 and the Kinetics head are reported as unused; the pyramid, ISSM,
    LADM and head keep their initialisation and are reported as not loaded.

    Args:
        model: `ifdd_mvit`/`baseline_mvit` (anything with an `MViTXS` `.backbone`) or an `MViTXS`.
        state_dict_or_path: A `torchvision.models.video.mvit_v2_s().state_dict()` or a file holding one.

    Returns:
        A `WeightLoadReport`.

    Raises:
        ValueError: The weights are not an MViTv2-S state dict or their shapes do not fit.
        TypeError: The model has no MViT-XS backbone.
    """
    backbone, prefix = find_backbone(model, MViTXS)
    state_dict = load_state_dict_file(state_dict_or_path)
    absent = [k for k in _MVIT_S_SIGNATURE if k not in state_dict]
    if absent:
        raise ValueError(
            f"not a torchvision mvit_v2_s state dict: missing {absent} "
            f"(first keys present: {list(state_dict)[:5]})"
        )
    key_map = _mvit_s_key_map(state_dict, len(backbone.blocks))
    uncovered = sorted(set(backbone.state_dict()) - set(key_map.values()))
    if uncovered:
        raise ValueError(f"not a torchvision mvit_v2_s state dict: no source for {uncovered[:8]} ...")
    return apply_key_map(model, backbone, prefix, state_dict, key_map, "MViTv2-S")


def mvit_backbone(num_frames: int, img_size: int, drop_path: float) -> tuple[MViTXS, tuple[int, int]]:
    """The MViT-XS trunk for `num_frames` x `img_size`^2 clips and the spatial size of its final map."""
    if img_size < 32:
        raise ValueError(f"img_size must be at least 32, got {img_size}")
    stage4 = halve(halve(halve((img_size - 1) // 4 + 1)))
    return MViTXS(temporal_pool=num_frames == 32, drop_path=drop_path), (stage4, stage4)
