"""The `data` section: which dataset feeds each branch, frame sampling and face alignment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ferflow.config.section import Fraction, Section


class DatasetParams(Section):
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


class DataParams(Section):
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
