"""The `ifdd` section: IFDD, its static baseline and the controls on the video branch."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ferflow.config.runtime import OptimParams
from ferflow.config.section import Fraction, IntensityRange, Section
from ferflow.config.trunks import INIT_CHOICES, check_init, variant_family
from ferflow.model_names import (
    VARIANT_SETTINGS,
    VIDEO_MODELS,
    LiftingReduction,
    PoolInit,
    SamplingMode,
    VariantSettings,
)


class AugmentParams(Section):
    """Train-time clip augmentation, identical for every frame of a clip."""

    scale: IntensityRange = IntensityRange(low=1.0, high=1.0)  # RandomResizedCrop area range; paper: 0.5-1.0
    flip: Fraction = 0.5
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0  # brightness, contrast, saturation; paper: 0.4
    # loader: per clip in the DataLoader workers (CPU); device: batched on the training device (the GPU),
    # the same distributions, the loader then only reads and resizes (for when it cannot keep up)
    where: Literal["loader", "device"] = "loader"


class MixupParams(Section):
    """Mixup/CutMix with label smoothing (timm); `enabled: false` trains with plain cross-entropy."""

    enabled: bool = False  # paper: true
    mixup_alpha: Annotated[float, Field(ge=0.0)] = 0.8
    cutmix_alpha: Annotated[float, Field(ge=0.0)] = 1.0
    prob: Fraction = 1.0
    switch_prob: Fraction = 0.5
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1


class TrainParams(OptimParams):
    """IFDD's optimisation, schedule and model selection, plus the runtime settings."""

    epochs: Annotated[int, Field(ge=1)] = 16  # paper: 100; the demo's, chosen on validation (docs/ifdd.md)
    threads: Annotated[int, Field(ge=0)] = 1  # one per job: two jobs share a 2-core machine
    selection: Literal["last", "val", "test"] = "last"  # "test" is optimistic: labelled so in reports
    val_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.15
    # The null control: training labels shuffled across the training clips (evaluation labels untouched);
    # a model trained so must score chance, or something other than the clips tells the labels
    permute_labels: bool = False


Value = TypeVar("Value")


def _value_or_per_family(value: Any) -> str:
    return "per family" if isinstance(value, dict) else "one value"


#: An IFDD setting that may differ by variant: None (each variant's own), one value, or one per trunk family.
#: The discriminator tries only the form given, so an error names that form's problem alone.
PerVariant = Annotated[
    Annotated[Value | None, Tag("one value")]
    | Annotated[dict[Literal["mobilenetv2", "mvit"], Value], Tag("per family")],
    Discriminator(_value_or_per_family),
]
#: Parts of a validation error's location that name a branch of a type, not a key.
TYPE_BRANCHES = frozenset({"one value", "per family", "[key]"})
VARIANT_SETTING_KEYS = tuple(f.name for f in fields(VariantSettings))
#: Factory arguments the `ifdd` section sets itself: `ifdd.model` holds only the others (e.g. width_mult).
SECTION_MODEL_ARGUMENTS = frozenset(
    {"num_classes", "num_frames", "img_size", "drop_path", "dropout", "split", "use_ladm", "backbone_weights"}
    | set(VARIANT_SETTING_KEYS)
)


class IFDDParams(Section):
    """IFDD and its static baseline on the video branch."""

    variants: list[str] = ["ifdd_smallcnn", "control_static", "control_dynamics"]
    folds: list[Annotated[int, Field(ge=1, le=10)]] | None = [1]  # None = every fold of the dataset
    num_frames: Annotated[int, Field(ge=4)] = 16
    img_size: Annotated[int, Field(ge=32)] = 48  # paper: 224
    # extra factory arguments; the CPU demo's small MobileNetV2 (paper-sized: {})
    model: dict[str, str | int | float | bool] = {"width_mult": 0.5, "embed_dim": 128}
    # Where the backbone starts: one choice for every variant, or one per trunk family, e.g.
    # {mobilenetv2: faceid, mvit: kinetics400}. See INIT_CHOICES.
    init: str | dict[Literal["mobilenetv2", "mvit"], str] = "faceid"
    # variant -> a trained ferflow model file ("{fold}" is filled in) whose backbone starts that variant,
    # e.g. {ifdd_mobilenetv2: 'results/ifdd/baseline_mobilenetv2/fold_{fold}/model.pt'}
    init_backbone_from: dict[str, str] = {}
    drop_path: Fraction = 0.0  # paper: 0.2
    dropout: Fraction = 0.1  # paper: 0.5
    split: Literal["issm", "fixed"] = "issm"  # ablation: fixed even/odd frames instead of ISSM
    use_ladm: bool = True  # ablation: no LADM
    lifting_weight: Annotated[float, Field(ge=0.0)] = 0.1  # 0 = ablation without the lifting loss
    # Where the released code and our MobileNetV2 variant differ (`model_names.VariantSettings`): None = each
    # variant's own (`VARIANT_SETTINGS`), a value = every IFDD variant's, {family: value} = per trunk family
    # (a family left out keeps its own). `settings_for` resolves them.
    issm_sampling: PerVariant[SamplingMode] = None
    lifting_reduction: PerVariant[LiftingReduction] = None
    pool_init: PerVariant[PoolInit] = None
    ladm_input_norm: PerVariant[bool] = None
    mlp_residual: PerVariant[bool] = {"mobilenetv2": True}  # the CPU demo's from-scratch model needs it
    augment: AugmentParams = AugmentParams()
    mixup: MixupParams = MixupParams()
    train: TrainParams = TrainParams()

    @field_validator("model")
    @classmethod
    def _extra_arguments_only(cls, model: dict[str, Any]) -> dict[str, Any]:
        owned = sorted(set(model) & SECTION_MODEL_ARGUMENTS)
        if owned:
            keys = ", ".join(f"ifdd.{k}" for k in owned)
            raise ValueError(f"{owned} set by the section itself ({keys}), not by model; move them there")
        return model

    @field_validator("variants")
    @classmethod
    def _video_models(cls, variants: list[str]) -> list[str]:
        unknown = [v for v in variants if v not in VIDEO_MODELS]
        if unknown:
            raise ValueError(f"not video models: {unknown}; known: {', '.join(VIDEO_MODELS)}")
        return variants

    @model_validator(mode="after")
    def _init_sources_name_variants(self) -> IFDDParams:
        unknown = sorted(set(self.init_backbone_from) - set(self.variants))
        if unknown:
            raise ValueError(f"init_backbone_from: {unknown} not in variants {self.variants}")
        return self

    @model_validator(mode="after")
    def _init_fits_variants(self) -> IFDDParams:
        for variant in self.variants:
            family = variant_family(variant)
            if family not in INIT_CHOICES:
                continue  # not a known trunk family: the model registry check names the variant
            choice = self.init_for(variant)
            check_init(choice, family, f"init ({variant})")
            if choice == "imagenet" and self.model.get("width_mult", 1.0) != 1.0:
                raise ValueError(
                    f"init: imagenet is torchvision's MobileNetV2 at width 1.0, but model.width_mult is "
                    f"{self.model['width_mult']}; use faceid (pretrained at the configured width) or none"
                )
        return self

    def settings_for(self, variant: str) -> VariantSettings | None:
        """The per-variant settings `variant` trains with (None for a baseline: it has none of them)."""
        own = VARIANT_SETTINGS.get(variant)
        if own is None:
            return None
        chosen = {}
        for key in VARIANT_SETTING_KEYS:
            value = getattr(self, key)
            if isinstance(value, dict):
                value = value.get(variant_family(variant))  # type: ignore[call-overload]
            if value is not None:
                chosen[key] = value
        return replace(own, **chosen)

    def init_for(self, variant: str) -> str:
        """The starting point of a variant's backbone (`init`, or its family's entry; none if absent).
        Trunks without a pretrained start (the controls' CNN, `ferflow.models.controls`) always start
        from none."""
        if variant_family(variant) not in INIT_CHOICES:
            return "none"
        if isinstance(self.init, str):
            return self.init
        return self.init.get(variant_family(variant), "none")  # type: ignore[call-overload]
