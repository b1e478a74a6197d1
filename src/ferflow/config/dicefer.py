"""The `dicefer` section: DICE-FER, its ResNet-18 baseline and the image controls on the image branch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ferflow.config.runtime import RuntimeParams
from ferflow.config.section import Section
from ferflow.config.trunks import check_init


class DiceFerParams(Section):
    """DICE-FER and its plain ResNet-18 baseline on the image branch. Unverified details of the paper are
    parameters with the stated defaults (docs/dicefer.md)."""

    img_size: Annotated[int, Field(ge=32)] = 64  # paper: 112
    code_dim: Annotated[int, Field(ge=2)] = 64
    mi_estimator: Literal["dv", "jsd"] = "dv"
    marginal: Literal["shuffle", "roll"] = "shuffle"
    global_pool: Literal["flatten", "avg"] = "flatten"
    mu: Annotated[float, Field(ge=0.0)] = 0.5  # global MI weight
    nu: Annotated[float, Field(ge=0.0)] = 1.0  # local MI weight
    delta: Annotated[float, Field(ge=0.0)] = 0.1  # L1 between the pair's codes; paper: 0.1 (docs/dicefer.md)
    # Stage-1 epochs over which delta ramps linearly up from 0 (0: the paper's constant delta). From random
    # init the L1 term collapses E before the cross-MI takes off (docs/dicefer.md); a ramp lets MI lead.
    delta_warmup_epochs: Annotated[int, Field(ge=0)] = 0
    l1_reduction: Literal["sum", "mean"] = "sum"
    zeta_adv: Annotated[float, Field(ge=0.0)] = 0.025  # adversarial weight (seed report; unverified)
    adversarial: Literal["flip", "minimax"] = "flip"
    classifier_hidden: list[Annotated[int, Field(ge=1)]] = [256, 128]
    classifier_input_norm: bool = True  # BatchNorm1d on E before the classifier (L1 shrinks E's scale)
    # Where both ResNet-18 encoders (and the baseline's trunk) start: faceid (the pretraining stage's trunk,
    # the paper's recipe), imagenet (torchvision ResNet18_Weights), none, or a local weights file.
    init: str = "faceid"
    lr: Annotated[float, Field(gt=0.0)] = 1e-4  # Adam, fixed
    batch_size: Annotated[int, Field(ge=2)] = 32
    # stages 1 (expression), 2 (identity), 3 (classifier), sized for the CPU demo
    stage_epochs: list[Annotated[int, Field(ge=0)]] = [8, 2, 20]
    baseline_epochs: Annotated[int, Field(ge=0)] = 5
    # The image controls (control_image_static, control_image_reference: a small CNN from random weights,
    # docs/dicefer.md): their own epochs and Adam learning rate, chosen on validation splits, and its
    # schedule: cosine to 0 (at a fixed rate BatchNorm's running statistics lag the moving weights and the
    # last epoch's test accuracy swings by tens of points) or fixed
    control_epochs: Annotated[int, Field(ge=0)] = 40
    control_lr: Annotated[float, Field(gt=0.0)] = 3e-3
    control_schedule: Literal["cosine", "fixed"] = "cosine"
    probe_folds: Annotated[int, Field(ge=2)] = 5  # cross-validation folds of the leakage probes
    runtime: RuntimeParams = RuntimeParams()

    @model_validator(mode="after")
    def _three_stages(self) -> DiceFerParams:
        if len(self.stage_epochs) != 3:
            raise ValueError(f"stage_epochs: expected 3 numbers (stages 1, 2, 3), got {self.stage_epochs}")
        return self

    @model_validator(mode="after")
    def _init_fits(self) -> DiceFerParams:
        check_init(self.init, "resnet18", "init")
        return self
