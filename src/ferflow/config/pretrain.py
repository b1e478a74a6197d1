"""The `pretrain` section: face-recognition pretraining of the trunks `init: faceid` starts from."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ferflow.config.data import DatasetParams
from ferflow.config.runtime import OptimParams
from ferflow.config.section import Section


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


class PretrainParams(Section):
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
