"""The parameter schema: every knob of `params.yaml`, grouped by stage, validated once on load.

Snakemake (at parse time) and the command line both load parameters through `load_params`, so a typo or an
impossible value fails before any work, naming the key's full path and what was expected.

The schema's defaults are the repository's `params.yaml`, value for value (tests/test_config.py holds them
equal): a key left out of a parameter file takes the value the shipped file shows, never another one. The
paper's values, where the CPU demo's differ, are in the comments here and in `params.yaml`, and in `recipes/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from ferflow import dataset_names
from ferflow.errors import UserError
from ferflow.model_names import (
    VARIANT_SETTINGS,
    VIDEO_MODELS,
    LiftingReduction,
    PoolInit,
    SamplingMode,
    VariantSettings,
)

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError, UserError):
    """A parameter file that cannot be used; the message lists every offending key."""


def check_device(device: str) -> str:
    """A device name as ferflow takes it: auto, cpu, cuda or cuda:N."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise ValueError("expected auto, cpu, cuda or cuda:N (N a GPU index)")
    return device


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Range(_Section):
    """A closed interval [low, high]."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"expected [low, high], got {len(value)} values")
            return {"low": value[0], "high": value[1]}
        return value

    @model_serializer
    def _to_pair(self) -> list[float]:
        return [self.low, self.high]

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


class FrameRange(_Range):
    low: Annotated[int, Field(ge=2)]
    high: Annotated[int, Field(ge=2)]


class IntensityRange(_Range):
    low: Fraction
    high: Fraction


class SyntheticParams(_Section):
    """The embedded benchmark (see `ferflow.data.synthetic`)."""

    size: Literal["tiny", "demo", "small", "large"] = "demo"
    seed: Annotated[int, Field(ge=0)] = 0
    identities: Annotated[int, Field(ge=5)] | None = None
    clips_per_class: Annotated[int, Field(ge=1)] | None = None
    images_per_class: Annotated[int, Field(ge=2)] | None = None
    frame_size: Annotated[int, Field(ge=96, le=512)] = 128
    fps: Annotated[int, Field(ge=5, le=60)] = 25
    crf: Annotated[int, Field(ge=0, le=51)] = 23
    keyframe_interval: Annotated[int, Field(ge=1)] = 12
    expression_scale: Annotated[float, Field(gt=0.0, le=4.0)] = 2.0  # size of every expression's deformation
    identity_bias: Annotated[float, Field(ge=0.0, le=1.5)] = 0.5
    episode_frames: FrameRange = FrameRange(low=8, high=16)
    apex_intensity: IntensityRange = IntensityRange(low=0.7, high=1.0)
    distractor_prob: Fraction = 0.3
    distractor_intensity: Fraction = 0.35
    talking_prob: Fraction = 0.5
    talking_amplitude: Fraction = 0.4
    blink_rate_hz: Annotated[float, Field(ge=0.0, le=2.0)] = 0.3
    pose_deg: Annotated[float, Field(ge=0.0, le=30.0)] = 10.0
    pose_shift: Annotated[float, Field(ge=0.0, le=0.15)] = 0.04
    pose_scale: Annotated[float, Field(ge=0.0, le=0.3)] = 0.08
    lighting_drift: Annotated[float, Field(ge=0.0, le=0.5)] = 0.15
    noise_std: Annotated[float, Field(ge=0.0, le=0.2)] = 0.02
    aligned_size: Annotated[int, Field(ge=64, le=256)] = 100
    image_test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    detection_upsample: Annotated[int, Field(ge=0, le=2)] = 1
    # The face-recognition corpus for pretraining (null = the size's preset): identities disjoint from the
    # benchmark's, images per identity, and held-out identities for the LFW-style verification pairs.
    faceid_identities: Annotated[int, Field(ge=4)] | None = None
    faceid_images: Annotated[int, Field(ge=2)] | None = None
    faceid_heldout: Annotated[int, Field(ge=20)] | None = None  # 10 LFW folds, 2+ each


class DatasetParams(_Section):
    """Which dataset feeds one branch of the pipeline, and where it lives."""

    synthetic_adapter: ClassVar[str]  # the embedded benchmark's adapter for this branch

    dataset: str
    root: Path | None = None  # the dataset's folder; the embedded benchmark needs none
    options: dict[str, str | int | float | bool] = {}  # the adapter's path options (see README)

    @field_validator("root")
    @classmethod
    def _root_exists(cls, root: Path | None) -> Path | None:
        if root is not None and not root.is_dir():
            where = "" if root.is_absolute() else f" (relative to {Path.cwd()})"
            raise ValueError(f"no such folder{where}: give the folder the dataset lives in")
        return root

    @model_validator(mode="after")
    def _root_given(self) -> DatasetParams:
        if self.dataset != "synthetic" and self.root is None:
            raise ValueError(f"root is required for dataset {self.dataset!r} (the folder it lives in)")
        return self

    def adapter(self) -> str:
        """The name of the adapter that reads this dataset."""
        return self.synthetic_adapter if self.dataset == "synthetic" else self.dataset


class VideoDatasetParams(DatasetParams):
    synthetic_adapter = "synthetic_video"
    dataset: Literal["synthetic", "dfew", "ferv39k", "mafw"] = "synthetic"


class ImageDatasetParams(DatasetParams):
    synthetic_adapter = "synthetic_image"
    dataset: Literal["synthetic", "rafdb"] = "synthetic"


class DataParams(_Section):
    """Datasets, frame sampling and face alignment: everything before the models."""

    video: VideoDatasetParams = VideoDatasetParams()
    image: ImageDatasetParams = ImageDatasetParams()
    max_skip_fraction: Fraction = 0.05  # fail a stage when more of its samples are unusable
    shards: Annotated[int, Field(ge=1, le=512)] = 2  # parallel jobs per data stage
    frames: Annotated[int, Field(ge=1, le=256)] = 16  # frames stored per clip
    sampling: Literal["uniform", "contiguous"] = "uniform"
    stride: Annotated[int, Field(ge=1)] = 1
    decode: Literal["auto", "seek", "sequential"] = "auto"
    align_backend: Literal["dlib", "none"] = "dlib"  # videos
    image_align_backend: Literal["dlib", "none"] = "dlib"
    clip_size: Annotated[int, Field(ge=32, le=512)] = 112
    image_size: Annotated[int, Field(ge=32, le=512)] = 112
    upsample: Annotated[int, Field(ge=0, le=3)] = 1  # dlib HOG upsampling (small faces need 1+)
    smooth_sigma: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0  # temporal landmark smoothing, frames


class AugmentParams(_Section):
    """Train-time clip augmentation, identical for every frame of a clip."""

    scale: IntensityRange = IntensityRange(low=1.0, high=1.0)  # RandomResizedCrop area range; paper: 0.5-1.0
    flip: Fraction = 0.5
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0  # brightness, contrast, saturation; paper: 0.4
    # loader: per clip in the DataLoader workers (CPU); device: batched on the training device (the GPU),
    # the same distributions, the loader then only reads and resizes (for when it cannot keep up)
    where: Literal["loader", "device"] = "loader"


class MixupParams(_Section):
    """Mixup/CutMix with label smoothing (timm); `enabled: false` trains with plain cross-entropy."""

    enabled: bool = False  # paper: true
    mixup_alpha: Annotated[float, Field(ge=0.0)] = 0.8
    cutmix_alpha: Annotated[float, Field(ge=0.0)] = 1.0
    prob: Fraction = 1.0
    switch_prob: Fraction = 0.5
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1


class RuntimeParams(_Section):
    """Where and how a training job runs."""

    seed: Annotated[int, Field(ge=0)] = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA
    compile: bool = False  # torch.compile the model
    num_workers: Annotated[int, Field(ge=0)] = 0
    threads: Annotated[int, Field(ge=0)] = 0  # torch CPU threads per job; 0 = half the cores (jobs.py)
    gpus: Annotated[int, Field(ge=0)] = 1  # GPUs per job when CUDA is present (>1 runs torchrun)

    @field_validator("device")
    @classmethod
    def _device_name(cls, device: str) -> str:
        return check_device(device)


class OptimParams(RuntimeParams):
    """AdamW with linear warm-up and cosine decay, plus the runtime settings."""

    epochs: Annotated[int, Field(ge=1)] = 8  # paper (IFDD): 100
    batch_size: Annotated[int, Field(ge=2)] = 8  # paper: 16
    lr: Annotated[float, Field(gt=0.0)] = 1e-3  # paper: 5e-5 (from pretrained weights)
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-3
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 1  # paper: 10
    min_lr_ratio: Fraction = 0.01  # cosine decays to this share of lr


class TrainParams(OptimParams):
    """IFDD's optimisation, schedule and model selection, plus the runtime settings."""

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
_TYPE_BRANCHES = frozenset({"one value", "per family", "[key]"})
VARIANT_SETTING_KEYS = tuple(f.name for f in fields(VariantSettings))
#: Factory arguments the `ifdd` section sets itself: `ifdd.model` holds only the others (e.g. width_mult).
SECTION_MODEL_ARGUMENTS = frozenset(
    {"num_classes", "num_frames", "img_size", "drop_path", "dropout", "split", "use_ladm", "backbone_weights"}
    | set(VARIANT_SETTING_KEYS)
)

#: Named starting points of a trunk, by trunk family; any other `init` value is a local weights file.
#: faceid: the pretraining stage's face-recognition trunk; imagenet / kinetics400: torchvision's weights.
INIT_CHOICES: dict[str, tuple[str, ...]] = {
    "mobilenetv2": ("faceid", "imagenet", "none"),
    "mvit": ("kinetics400", "none"),
    "resnet18": ("faceid", "imagenet", "none"),
}
INIT_NAMES = frozenset(name for names in INIT_CHOICES.values() for name in names)


def variant_family(variant: str) -> str:
    """The trunk family of an IFDD variant: `ifdd_mvit` -> `mvit`, `baseline_mobilenetv2` -> `mobilenetv2`."""
    return variant.rsplit("_", 1)[-1]


def check_init(choice: str, family: str, key: str) -> None:
    """Refuse a named start that does not fit the trunk family, or a weights file that does not exist."""
    if choice in INIT_NAMES:
        if choice not in INIT_CHOICES[family]:
            raise ValueError(
                f"{key}: {choice!r} does not start a {family} trunk; choose one of "
                f"{', '.join(INIT_CHOICES[family])} or a weights file"
            )
    elif not Path(choice).is_file():
        raise ValueError(
            f"{key}: {choice!r} is neither one of {', '.join(INIT_CHOICES[family])} "
            "nor an existing weights file"
        )


class IFDDParams(_Section):
    """IFDD and its static baseline on the video branch."""

    variants: list[str] = ["ifdd_mobilenetv2", "baseline_mobilenetv2", "control_static", "control_dynamics"]
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


class DiceFerParams(_Section):
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


class FaceIdDatasetParams(DatasetParams):
    """A face-identity dataset for pretraining (one folder per identity)."""

    dataset: Literal["synthetic", "casia", "vggface2", "folder"] = "synthetic"
    # auto: none for the embedded corpus (it ships aligned faces, like insightface's CASIA-WebFace release),
    # dlib for the others (raw CASIA-WebFace, VGGFace2 and LFW images are not aligned)
    align_backend: Literal["auto", "dlib", "none"] = "auto"


class VerificationDatasetParams(DatasetParams):
    """Face-verification pairs in LFW's format (`pairs.txt`) on identities not used for pretraining."""

    dataset: Literal["synthetic", "lfw", "none"] = "synthetic"
    align_backend: Literal["auto", "dlib", "none"] = "auto"

    @model_validator(mode="after")
    def _root_given(self) -> DatasetParams:
        if self.dataset == "none":
            return self
        return super()._root_given()


class PretrainOptimParams(OptimParams):
    lr: Annotated[float, Field(gt=0.0)] = 1e-3
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 1
    weight_decay: Annotated[float, Field(ge=0.0)] = 5e-4
    batch_size: Annotated[int, Field(ge=2)] = 64
    epochs: Annotated[int, Field(ge=1)] = 4  # sized for the CPU demo


class PretrainParams(_Section):
    """Face-recognition pretraining of the trunks DICE-FER and IFDD start from (`init: faceid`)."""

    data: FaceIdDatasetParams = FaceIdDatasetParams()
    verification: VerificationDatasetParams = VerificationDatasetParams()
    image_size: Annotated[int, Field(ge=32, le=512)] = 112  # stored aligned faces, pixels
    min_images: Annotated[int, Field(ge=1)] = 2  # identities with fewer images are skipped
    loss: Literal["arcface", "cosface"] = "arcface"  # pytorch-metric-learning's ArcFaceLoss / CosFaceLoss
    margin: Annotated[float, Field(ge=0.0, le=1.5)] | None = None  # radians (ArcFace) or cosine (CosFace);
    # None = the paper's value: ArcFace 0.5, CosFace 0.35
    scale: Annotated[float, Field(gt=0.0)] = 64.0
    embedding_dim: Annotated[int, Field(ge=8)] = 512
    margin_warmup_epochs: Annotated[int, Field(ge=0)] = 0  # epochs at margin 0 (normalised softmax) first
    # Augmentation: random rotations up to this angle in 5-degree steps (DICE-FER's set at 15) and flips.
    # 0 (flips only): aligned faces need no rotation, and +-15 degrees slowed learning (docs/pretrain.md).
    max_rotation: Annotated[int, Field(ge=0, le=45)] = 0
    train: PretrainOptimParams = PretrainOptimParams()


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]  # a folder name in results/study/
ImageModel = Literal["dicefer", "baseline", "control_image_static", "control_image_reference"]


def _check_pairs(pairs: list[tuple[str, str]], names: list[str], key: str = "compare") -> None:
    for a, b in pairs:
        if a == b or {a, b} - set(names):
            raise ValueError(f"{key}: [{a}, {b}] must name two of {names}")


#: The reference a study compares a model with when no model is named: a uniform random guess (expected
#: UAR and WAR 1/K), for the null control.
CHANCE = "chance"


class StudyIFDDParams(_Section):
    """The IFDD variants of a study, the changes to the `ifdd` section its cells train with, and the pairs
    it compares (first minus second; `chance` may be the second).

    A variant is a video model, or a name in `settings`: a model and changes merged into `ifdd` after
    `overrides`, e.g. the ablation {ifdd_fixed_split: {model: ifdd_mobilenetv2, split: fixed}}."""

    variants: list[Name] = [
        "ifdd_mobilenetv2",
        "baseline_mobilenetv2",
        "control_static",
        "control_dynamics",
        "ifdd_fixed_split",
        "ifdd_no_ladm",
        "ifdd_no_lift",
        "null_control",
    ]
    # IFDD's ablations and the null control (training labels shuffled)
    settings: dict[Name, dict[str, Any]] = {
        "ifdd_fixed_split": {"model": "ifdd_mobilenetv2", "split": "fixed"},
        "ifdd_no_ladm": {"model": "ifdd_mobilenetv2", "use_ladm": False},
        "ifdd_no_lift": {"model": "ifdd_mobilenetv2", "lifting_weight": 0.0},
        "null_control": {"model": "control_dynamics", "train": {"permute_labels": True}},
    }
    overrides: dict[str, Any] = {}  # merged into `ifdd`, e.g. {train: {epochs: 12}} or {init: none}
    compare: list[tuple[Name, Name]] = [
        ("ifdd_mobilenetv2", "baseline_mobilenetv2"),
        ("ifdd_mobilenetv2", "control_static"),  # below the static control: not using the dynamics
        ("control_dynamics", "control_static"),  # the benchmark rewards the dynamics at this budget
        ("ifdd_mobilenetv2", "ifdd_fixed_split"),
        ("ifdd_mobilenetv2", "ifdd_no_ladm"),
        ("ifdd_mobilenetv2", "ifdd_no_lift"),
        ("null_control", CHANCE),
    ]

    @model_validator(mode="after")
    def _variants_known(self) -> StudyIFDDParams:
        for name, setting in self.settings.items():
            if name in VIDEO_MODELS or name == CHANCE:
                raise ValueError(f"settings.{name}: a setting may not take a model's name or {CHANCE!r}")
            if setting.get("model") not in VIDEO_MODELS:
                raise ValueError(f"settings.{name}.model: give one of {', '.join(VIDEO_MODELS)}")
        unknown = [v for v in self.variants if v not in VIDEO_MODELS and v not in self.settings]
        if unknown:
            raise ValueError(f"variants: {unknown} are neither video models nor names in settings")
        return self

    @model_validator(mode="after")
    def _pairs_known(self) -> StudyIFDDParams:
        for a, b in self.compare:
            if a == b or a not in self.variants or b not in [*self.variants, CHANCE]:
                raise ValueError(f"compare: [{a}, {b}] must name two of {self.variants} ({CHANCE} second)")
        return self

    def model_of(self, variant: str) -> str:
        """The video model a study variant trains."""
        return self.settings[variant]["model"] if variant in self.settings else variant

    def changes_of(self, variant: str) -> dict[str, Any]:
        """What a study variant changes in `ifdd`: the overrides, then its setting's changes."""
        own = {k: v for k, v in self.settings.get(variant, {}).items() if k != "model"}
        return merge_overrides(self.overrides, own)


class StudyDiceFerParams(_Section):
    """Named DICE-FER settings (changes merged into the `dicefer` section), each run for every model of
    `models`, whose `pairs` are compared within each setting, and pairs of settings compared with each other
    (DICE-FER)."""

    # the demo's grid: start (faceid | none) x delta (paper 0.1 | 0)
    settings: dict[Name, dict[str, Any]] = {
        "faceid_paper": {"init": "faceid", "delta": 0.1},
        "faceid_no_l1": {"init": "faceid", "delta": 0.0},
        "none_paper": {"init": "none", "delta": 0.1},
        "none_no_l1": {"init": "none", "delta": 0.0},
    }
    compare: list[tuple[Name, Name]] = [
        ("faceid_paper", "none_paper"),
        ("faceid_no_l1", "none_no_l1"),
        ("faceid_paper", "faceid_no_l1"),
    ]
    # dicefer, baseline and the image controls (control_image_static, control_image_reference)
    models: Annotated[list[ImageModel], Field(min_length=1)] = ["dicefer", "baseline"]
    pairs: list[tuple[ImageModel, ImageModel]] = [("dicefer", "baseline")]  # first minus second

    @model_validator(mode="after")
    def _pairs_known(self) -> StudyDiceFerParams:
        _check_pairs(self.compare, list(self.settings))
        _check_pairs(self.pairs, list(self.models), "pairs")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models: {self.models} repeats a model")
        if self.compare and "dicefer" not in self.models:
            raise ValueError("compare: settings are compared on DICE-FER, which models does not list")
        return self


class BootstrapParams(_Section):
    """The bootstraps of a study's paired differences (`ferflow.evaluate.stats`): the reported interval, and
    the test samples' variance that widens the t-interval the verdicts use."""

    resamples: Annotated[int, Field(ge=100)] = 2000
    seed: Annotated[int, Field(ge=0)] = 0
    # the reported bootstrap also resamples the (fold, seed) cells; with few cells it is too narrow to decide
    # a verdict (docs/study.md), so it is shown beside the verdict's interval
    cells: bool = True


class StudyParams(_Section):
    """A grid of folds x seeds for every compared model (`snakemake study`)."""

    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = [0, 1, 2]
    folds: list[Annotated[int, Field(ge=1, le=10)]] | None = None  # None = every fold of the video dataset
    ifdd: StudyIFDDParams = StudyIFDDParams()
    dicefer: StudyDiceFerParams = StudyDiceFerParams()
    bootstrap: BootstrapParams = BootstrapParams()

    @field_validator("seeds", "folds")
    @classmethod
    def _distinct(cls, values: list[int] | None) -> list[int] | None:
        if values and len(set(values)) != len(values):
            raise ValueError("repeats a value")
        return values


class Params(_Section):
    """All of `params.yaml`."""

    synthetic: SyntheticParams = SyntheticParams()
    data: DataParams = DataParams()
    pretrain: PretrainParams = PretrainParams()
    ifdd: IFDDParams = IFDDParams()
    dicefer: DiceFerParams = DiceFerParams()
    study: StudyParams = StudyParams()


@dataclass(frozen=True)
class TrunkSpec:
    """A trunk to pretrain, at the size its downstream model uses (`trunk_spec`)."""

    trunk: str  # resnet18 (DICE-FER's encoders) | mobilenetv2 (IFDD's per-frame trunk)
    img_size: int
    width_mult: float = 1.0


def trunk_spec(params: Params, trunk: str) -> TrunkSpec:
    """The trunk as the `dicefer` (ResNet-18) or `ifdd` (MobileNetV2) section builds it."""
    if trunk == "resnet18":
        return TrunkSpec("resnet18", params.dicefer.img_size)
    if trunk == "mobilenetv2":
        return TrunkSpec("mobilenetv2", params.ifdd.img_size, float(params.ifdd.model.get("width_mult", 1.0)))
    raise ValueError(f"unknown trunk {trunk!r}; known: resnet18 (DICE-FER), mobilenetv2 (IFDD)")


def faceid_trunks(params: Params) -> list[str]:
    """The trunks the pretraining stage must produce: those an `init: faceid` starts."""
    trunks = {variant_family(v) for v in params.ifdd.variants if params.ifdd.init_for(v) == "faceid"}
    if params.dicefer.init == "faceid":
        trunks.add("resnet18")
    return sorted(trunks)


def merge_overrides(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied: mappings merge key by key, any other value is replaced."""
    merged = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_overrides(merged[key], value) if both else value
    return merged


#: Keys a study sets itself, per section: a study override must not.
STUDY_OWNS = {
    "ifdd": {"variants": "study.ifdd.variants", "folds": "study.folds", "train.seed": "study.seeds"},
    "dicefer": {"runtime.seed": "study.seeds"},
}


def _study_problems(p: Params) -> list[str]:
    """Each study override checked against its section's schema, named by its full path in `study`."""
    study = p.study.ifdd
    checks = [("study.ifdd.overrides", IFDDParams, p.ifdd, study.overrides, "ifdd")]
    checks += [
        (f"study.ifdd.settings.{name}", IFDDParams, p.ifdd, study.changes_of(name), "ifdd")
        for name in study.settings
    ]
    checks += [
        (f"study.dicefer.settings.{name}", DiceFerParams, p.dicefer, changes, "dicefer")
        for name, changes in p.study.dicefer.settings.items()
    ]
    problems = []
    for where, schema, base, changes, section in checks:
        for key, owner in STUDY_OWNS[section].items():
            head, _, tail = key.partition(".")
            if head in changes and (not tail or (isinstance(changes[head], dict) and tail in changes[head])):
                problems.append(f"{where}.{key}: set by the study ({owner}), not by an override")
        raw = merge_overrides(base.model_dump(mode="json"), changes)
        if section == "ifdd":
            raw["variants"] = sorted({study.model_of(v) for v in study.variants})
        try:
            schema.model_validate(raw)
        except ValidationError as err:
            problems += [_describe(e, where) for e in err.errors()]
    return problems


def _cross_section_problems(params: Params) -> list[tuple[str, str]]:
    """(key, message) for values that only make sense with another: adapter options (they depend on the
    dataset) and IFDD's folds (on the video dataset's)."""
    problems = []
    for branch, dataset in (("video", params.data.video), ("image", params.data.image)):
        problems += [
            (f"data.{branch}.options.{key}", message)
            for key, message in dataset_names.option_problems(dataset.adapter(), dataset.options)
        ]
    video = params.data.video.adapter()
    folds = dataset_names.NUM_FOLDS.get(video)
    wanted = params.ifdd.folds
    if wanted is not None and folds is None:
        problems.append(
            ("ifdd.folds", f"{video} has one fixed train/test split, no folds: set ifdd.folds to null")
        )
    elif wanted is not None and folds is not None and max(wanted, default=1) > folds:
        problems.append(("ifdd.folds", f"{video} has folds 1..{folds}, got {wanted}"))
    return problems


def _describe(error: dict[str, Any], prefix: str = "") -> str:
    parts = (prefix, *(p for p in error["loc"] if p not in _TYPE_BRANCHES))
    key = ".".join(str(part) for part in parts if part != "")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    return f"{key}: {message}" if isinstance(given, dict) else f"{key}: {message} (got {given!r})"


def validate_params(raw: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate a parameter mapping; raise `ParamsError` naming each bad key by its full path."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        errors = [(".".join(str(part) for part in e["loc"]), _describe(e)) for e in err.errors()]
    else:
        errors = [(key, f"{key}: {message}") for key, message in _cross_section_problems(params)]
        errors += [(line.split(":", 1)[0], line) for line in _study_problems(params)]
        if not errors:
            return params
    sections = list(dict.fromkeys(key.split(".")[0] for key, _ in errors))
    lines = "\n".join(f"  {line}" for _, line in errors)
    raise ParamsError(f"{source}: invalid parameters (sections: {', '.join(sections)})\n{lines}")


def read_params_file(path: str | Path = DEFAULT_PARAMS) -> Any:
    """The YAML of a parameter file, unvalidated; a syntax error names the line and column."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameter file not found; run from the project folder or pass --params")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        raise ParamsError(f"{path}{where}: not valid YAML ({problem}); fix the file there") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML ({err}); fix the file") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate a YAML parameter file."""
    return validate_params(read_params_file(path), str(Path(path)))
