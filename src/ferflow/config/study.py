"""The `study` section: a grid of folds x seeds for every compared model, and the pairs it compares."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ferflow.config.section import Section
from ferflow.model_names import VIDEO_MODELS

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]  # a folder name in results/study/
ImageModel = Literal["dicefer", "baseline", "control_image_static", "control_image_reference"]


def _check_pairs(pairs: list[tuple[str, str]], names: list[str], key: str = "compare") -> None:
    for a, b in pairs:
        if a == b or {a, b} - set(names):
            raise ValueError(f"{key}: [{a}, {b}] must name two of {names}")


#: The reference a study compares a model with when no model is named: a uniform random guess (expected
#: UAR and WAR 1/K), for the null control.
CHANCE = "chance"


class StudyIFDDParams(Section):
    """The IFDD variants of a study, the changes to the `ifdd` section its cells train with, and the pairs
    it compares (first minus second; `chance` may be the second).

    A variant is a video model, or a name in `settings`: a model and changes merged into `ifdd` after
    `overrides`, e.g. the ablation {smallcnn_fixed_split: {model: ifdd_smallcnn, split: fixed}}."""

    # IFDD's modules on the controls' CNN (ifdd_smallcnn), which keeps the dynamics at the demo's size
    # (docs/ifdd.md), with IFDD's ablations and both controls; the null control (training labels shuffled);
    # and IFDD against its static baseline on the paper's MobileNetV2 trunk
    variants: list[Name] = [
        "ifdd_smallcnn",
        "control_static",
        "control_dynamics",
        "smallcnn_fixed_split",
        "smallcnn_no_ladm",
        "smallcnn_no_lift",
        "null_control",
        "ifdd_mobilenetv2",
        "baseline_mobilenetv2",
    ]
    settings: dict[Name, dict[str, Any]] = {
        "smallcnn_fixed_split": {"model": "ifdd_smallcnn", "split": "fixed"},
        "smallcnn_no_ladm": {"model": "ifdd_smallcnn", "use_ladm": False},
        "smallcnn_no_lift": {"model": "ifdd_smallcnn", "lifting_weight": 0.0},
        "null_control": {"model": "control_dynamics", "train": {"permute_labels": True}},
    }
    overrides: dict[str, Any] = {"train": {"epochs": 8}}  # merged into `ifdd`, e.g. {init: none}
    compare: list[tuple[Name, Name]] = [
        ("ifdd_smallcnn", "control_static"),  # the same CNN without IFDD's modules, mean over time
        ("ifdd_smallcnn", "control_dynamics"),  # the same CNN with a frame-difference channel
        ("control_dynamics", "control_static"),  # the benchmark rewards the dynamics at this budget
        ("ifdd_smallcnn", "smallcnn_fixed_split"),
        ("ifdd_smallcnn", "smallcnn_no_ladm"),
        ("ifdd_smallcnn", "smallcnn_no_lift"),
        ("null_control", CHANCE),
        ("ifdd_mobilenetv2", "baseline_mobilenetv2"),
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


class StudyDiceFerParams(Section):
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


class BootstrapParams(Section):
    """The bootstraps of a study's paired differences (`ferflow.evaluate.stats`): the reported interval, and
    the test samples' variance that widens the t-interval the verdicts use."""

    resamples: Annotated[int, Field(ge=100)] = 2000
    seed: Annotated[int, Field(ge=0)] = 0
    # the reported bootstrap also resamples the (fold, seed) cells; with few cells it is too narrow to decide
    # a verdict (docs/study.md), so it is shown beside the verdict's interval
    cells: bool = True


class StudyParams(Section):
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


def merge_overrides(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied: mappings merge key by key, any other value is replaced."""
    merged = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_overrides(merged[key], value) if both else value
    return merged
