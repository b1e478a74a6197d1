"""Predict the expression of one video with a trained IFDD model (or baseline).

The video is decoded with PyAV, its frames sampled uniformly, the face aligned with dlib exactly as the
data stage did for training, and the class probabilities returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ferflow.data.align import align_frames
from ferflow.data.datasets import clip_tensor, eval_transform
from ferflow.data.frames import ClipSampler, read_clip
from ferflow.evaluate.ifdd import load_trained


class NoFaceError(ValueError):
    """The detector found no face in any sampled frame."""


@torch.no_grad()
def predict_video(video: Path, model_path: Path, upsample: int = 1) -> dict[str, Any]:
    """Class probabilities for one video, with how many sampled frames had a detected face."""
    model, saved = load_trained(model_path)
    num_frames, img_size = saved["kwargs"]["num_frames"], saved["kwargs"]["img_size"]
    crop = saved["data"]["shape"][2]  # the aligned size the model was trained from
    clip = read_clip(video, "video", ClipSampler(num_frames, "uniform"))
    aligned = align_frames(clip.frames, crop, saved["data"]["align_backend"] or "dlib", upsample)
    if aligned.frames is None:
        raise NoFaceError(f"{video}: no face found in any of the {len(clip.frames)} sampled frames")
    x = clip_tensor(aligned.frames, eval_transform(img_size))[None]
    probs = torch.softmax(model(x), dim=1)[0].tolist()
    classes = saved["classes"]
    return {
        "video": str(video),
        "model": saved["variant"],
        "predicted": classes[max(range(len(probs)), key=probs.__getitem__)],
        "probabilities": dict(zip(classes, probs, strict=True)),
        "frames_with_face": int(aligned.detected.sum()),
        "frames": len(aligned.detected),
    }
