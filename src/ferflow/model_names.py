"""Names of the registered models, and the IFDD settings that differ by variant, importable without torch.

The parameter checks run when parameters load (Snakemake parses the workflow before any job; importing torch,
torchvision and timm to ask the registry takes seconds). A test keeps these equal to what
`ferflow.models.list_models` registers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

#: Video models (IFDD, its static baselines, and the controls that bound a benchmark): what `ifdd.variants`
#: may name.
VIDEO_MODELS: tuple[str, ...] = (
    "ifdd_mvit",
    "ifdd_mobilenetv2",
    "baseline_mvit",
    "baseline_mobilenetv2",
    "control_static",
    "control_dynamics",
    "ifdd_smallcnn",
)
#: Image controls (ferflow.models.controls_image), trained by `train-dicefer --model <name>`.
IMAGE_CONTROLS: tuple[str, ...] = ("control_image_static", "control_image_reference")
#: What `train-dicefer --model` and a study's `dicefer.models` may name.
IMAGE_MODELS: tuple[str, ...] = ("dicefer", "baseline", *IMAGE_CONTROLS)

SamplingMode = Literal["shifted", "exact"]
PoolInit = Literal["default", "mean"]
LiftingReduction = Literal["mean", "sum"]


@dataclass(frozen=True)
class VariantSettings:
    """The IFDD model and loss settings whose released value and our MobileNetV2 variant's choice differ
    (docs/ifdd.md, "Paper text, released code and ferflow")."""

    issm_sampling: SamplingMode  # shifted: the released code's positions; exact: the paper's text
    lifting_reduction: LiftingReduction  # sum over the batch (released) or mean
    pool_init: PoolInit  # the token pool's initial weights: PyTorch's Linear init (released) or 1/N
    ladm_input_norm: bool  # LayerNorm on LADM's two inputs (released)
    mlp_residual: bool  # a residual around LADM's last MLP (the released code has none)


#: `ifdd_mvit`: the released code, so that weights trained with the reference port unchanged.
RELEASED = VariantSettings(
    issm_sampling="shifted",
    lifting_reduction="sum",
    pool_init="default",
    ladm_input_norm=True,
    mlp_residual=False,
)
#: `ifdd_mobilenetv2`: our construction of the paper's unpublished CNN variant (docs/ifdd.md says why).
MOBILENETV2_OWN = VariantSettings(
    issm_sampling="exact",
    lifting_reduction="mean",
    pool_init="mean",
    ladm_input_norm=False,
    mlp_residual=False,
)
#: `ifdd_smallcnn` (a diagnosis: IFDD's modules on the controls' CNN): `ifdd_mobilenetv2`'s, but the released
#: token-pool init: over its 144 tokens the mean init passes the classifier almost nothing (docs/ifdd.md).
SMALLCNN_OWN = replace(MOBILENETV2_OWN, pool_init="default")
#: Each IFDD variant's own settings: what an `ifdd` key left null (or a family left out of its mapping) gives.
VARIANT_SETTINGS: dict[str, VariantSettings] = {
    "ifdd_mvit": RELEASED,
    "ifdd_mobilenetv2": MOBILENETV2_OWN,
    "ifdd_smallcnn": SMALLCNN_OWN,
}

__all__ = [
    "IMAGE_CONTROLS",
    "IMAGE_MODELS",
    "MOBILENETV2_OWN",
    "RELEASED",
    "SMALLCNN_OWN",
    "VARIANT_SETTINGS",
    "VIDEO_MODELS",
    "LiftingReduction",
    "PoolInit",
    "SamplingMode",
    "VariantSettings",
]
