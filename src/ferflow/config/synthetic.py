"""The `synthetic` section: the embedded benchmark and its face-recognition corpus."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ferflow.config.section import Fraction, FrameRange, IntensityRange, Section


class SyntheticParams(Section):
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
