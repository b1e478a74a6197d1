"""The parameter schema: every knob of `params.yaml`, grouped by stage, validated once on load.

Snakemake (at parse time) and the command line both load parameters through `load_params`, so a typo or an
impossible value fails before any work, naming the key's full path and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from ferflow.data import adapters
from ferflow.errors import UserError
from ferflow.model_names import VIDEO_MODELS

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

    scale: IntensityRange = IntensityRange(low=0.5, high=1.0)  # RandomResizedCrop area range
    flip: Fraction = 0.5
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = 0.4  # brightness, contrast and saturation


class MixupParams(_Section):
    """Mixup/CutMix with label smoothing (timm); `enabled: false` trains with plain cross-entropy."""

    enabled: bool = True
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
    num_workers: Annotated[int, Field(ge=0)] = 2
    threads: Annotated[int, Field(ge=0)] = 0  # torch CPU threads per job; 0 = torch's default
    gpus: Annotated[int, Field(ge=0)] = 1  # GPUs per job when CUDA is present (>1 runs torchrun)

    @field_validator("device")
    @classmethod
    def _device_name(cls, device: str) -> str:
        return check_device(device)


class TrainParams(RuntimeParams):
    """IFDD's optimisation, schedule and model selection, plus the runtime settings."""

    epochs: Annotated[int, Field(ge=1)] = 100
    batch_size: Annotated[int, Field(ge=2)] = 16
    lr: Annotated[float, Field(gt=0.0)] = 5e-5
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-3
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 10
    min_lr_ratio: Fraction = 0.01  # cosine decays to this share of lr
    selection: Literal["last", "val", "test"] = "last"  # "test" is optimistic: labelled so in reports
    val_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.15


class IFDDParams(_Section):
    """IFDD and its static baseline on the video branch."""

    variants: list[str] = ["ifdd_mobilenetv2", "baseline_mobilenetv2"]
    folds: list[Annotated[int, Field(ge=1, le=10)]] | None = None  # None = every fold of the dataset
    num_frames: Annotated[int, Field(ge=4)] = 16
    img_size: Annotated[int, Field(ge=32)] = 224
    model: dict[str, str | int | float | bool] = {}  # extra factory arguments, e.g. {width_mult: 0.5}
    backbone_weights: Path | None = None  # local pretrained weights (never downloaded)
    # variant -> a trained ferflow model file ("{fold}" is filled in) whose backbone starts that variant,
    # e.g. {ifdd_mobilenetv2: 'results/ifdd/baseline_mobilenetv2/fold_{fold}/model.pt'}
    init_backbone_from: dict[str, str] = {}
    drop_path: Fraction = 0.2
    dropout: Fraction = 0.5
    split: Literal["issm", "fixed"] = "issm"  # ablation: fixed even/odd frames instead of ISSM
    use_ladm: bool = True  # ablation: no LADM
    issm_sampling: Literal["shifted", "exact"] = "exact"
    mlp_residual: bool = False
    lifting_weight: Annotated[float, Field(ge=0.0)] = 0.1  # 0 = ablation without the lifting loss
    lifting_reduction: Literal["mean", "sum"] = "mean"  # "sum" reproduces the released code
    augment: AugmentParams = AugmentParams()
    mixup: MixupParams = MixupParams()
    train: TrainParams = TrainParams()

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


class DiceFerParams(_Section):
    """DICE-FER and its plain ResNet-18 baseline on the image branch. Unverified details of the paper are
    parameters with the stated defaults (docs/dicefer.md)."""

    img_size: Annotated[int, Field(ge=32)] = 112
    code_dim: Annotated[int, Field(ge=2)] = 64
    mi_estimator: Literal["dv", "jsd"] = "dv"
    marginal: Literal["shuffle", "roll"] = "shuffle"
    global_pool: Literal["flatten", "avg"] = "flatten"
    mu: Annotated[float, Field(ge=0.0)] = 0.5  # global MI weight
    nu: Annotated[float, Field(ge=0.0)] = 1.0  # local MI weight
    delta: Annotated[float, Field(ge=0.0)] = 0.1  # L1 between the pair's expression codes
    # Stage-1 epochs over which delta ramps linearly up from 0 (0: the paper's constant delta). From random
    # init the L1 term collapses E before the cross-MI takes off (docs/dicefer.md); a ramp lets MI lead.
    delta_warmup_epochs: Annotated[int, Field(ge=0)] = 0
    l1_reduction: Literal["sum", "mean"] = "sum"
    zeta_adv: Annotated[float, Field(ge=0.0)] = 0.025  # adversarial weight (seed report; unverified)
    adversarial: Literal["flip", "minimax"] = "flip"
    classifier_hidden: list[Annotated[int, Field(ge=1)]] = [256, 128]
    classifier_input_norm: bool = True  # BatchNorm1d on E before the classifier (L1 shrinks E's scale)
    expression_weights: Path | None = None  # local ResNet-18 state dict (e.g. face recognition)
    identity_weights: Path | None = None
    lr: Annotated[float, Field(gt=0.0)] = 1e-4  # Adam, fixed
    batch_size: Annotated[int, Field(ge=2)] = 64
    stage_epochs: list[Annotated[int, Field(ge=0)]] = [20, 20, 20]  # stages 1 (expression), 2 (identity), 3
    baseline_epochs: Annotated[int, Field(ge=0)] = 20
    probe_folds: Annotated[int, Field(ge=2)] = 5  # cross-validation folds of the leakage probes
    runtime: RuntimeParams = RuntimeParams()

    @model_validator(mode="after")
    def _three_stages(self) -> DiceFerParams:
        if len(self.stage_epochs) != 3:
            raise ValueError(f"stage_epochs: expected 3 numbers (stages 1, 2, 3), got {self.stage_epochs}")
        return self


class Params(_Section):
    """All of `params.yaml`."""

    synthetic: SyntheticParams = SyntheticParams()
    data: DataParams = DataParams()
    ifdd: IFDDParams = IFDDParams()
    dicefer: DiceFerParams = DiceFerParams()


def _cross_section_problems(params: Params) -> list[tuple[str, str]]:
    """(key, message) for values that only make sense with another: adapter options (they depend on the
    dataset) and IFDD's folds (on the video dataset's)."""
    problems = []
    for branch, dataset in (("video", params.data.video), ("image", params.data.image)):
        problems += [
            (f"data.{branch}.options.{key}", message)
            for key, message in adapters.option_problems(dataset.adapter(), dataset.options)
        ]
    video = params.data.video.adapter()
    folds = adapters.NUM_FOLDS.get(video)
    wanted = params.ifdd.folds
    if wanted is not None and folds is None:
        problems.append(
            ("ifdd.folds", f"{video} has one fixed train/test split, no folds: set ifdd.folds to null")
        )
    elif wanted is not None and folds is not None and max(wanted, default=1) > folds:
        problems.append(("ifdd.folds", f"{video} has folds 1..{folds}, got {wanted}"))
    return problems


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
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
