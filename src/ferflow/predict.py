"""Predict the expression of one video or one still image with a trained model.

A video goes to an IFDD model (or its video baseline) written by `ferflow train-ifdd`: it is decoded with
PyAV, its frames sampled uniformly, the face aligned with dlib exactly as the data stage did for training,
and the class probabilities returned (`predict_video`).

A still image goes to a DICE-FER model or its ResNet-18 baseline written by `ferflow train-dicefer`
(`predict_image`): it is read with the data stage's reader, its face aligned as `ferflow prepare` aligned
the image store the model was trained on (dlib detection, 68 landmarks and the weighted similarity warp to
the store's crop size, or only a resize where the store was built with backend `none`; both recorded in the
model file's ``data``), and turned into the model's grey ``img_size`` input by `ImageDataset`'s evaluation
path.

`predict` picks the path. The model file decides what it can take: image models carry ``kind``
(``dicefer`` or ``baseline``), video models ``kwargs.num_frames``. The media is an image when its suffix is
one of `IMAGE_EXTENSIONS` or, for any other suffix, when PIL identifies its contents as one of those
formats; everything else is read as a video. An image given to a video model, a video given to an image
model, or a file that is no model at all raises `ModelFileError` naming the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ferflow.core.checkpoint import Media, ModelFileError, load_checkpoint, model_media
from ferflow.core.runtime import setup_runtime
from ferflow.data.align import align_frames
from ferflow.data.datasets import ImageDataset, clip_tensor, eval_transform
from ferflow.data.frames.decoding import MediaError
from ferflow.data.frames.extraction import read_clip
from ferflow.data.frames.sampling import ClipSampler
from ferflow.data.records import IMAGE_EXTENSIONS
from ferflow.data.store import Store
from ferflow.errors import UserError
from ferflow.models import model_from_saved

__all__ = [
    "ModelFileError",
    "NoFaceError",
    "is_image",
    "model_media",
    "predict",
    "predict_image",
    "predict_video",
]

#: PIL's names of the `IMAGE_EXTENSIONS` formats: what a file with another suffix must be to be an image.
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF"})


class NoFaceError(ValueError, UserError):
    """The detector found no face in any sampled frame (or in the image)."""


def is_image(path: str | Path) -> bool:
    """Whether `path` is a still image: by suffix, or for another suffix by what PIL finds in the file."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    if not path.is_file():
        return False  # missing: the video reader says so
    try:
        with Image.open(path) as image:
            return image.format in IMAGE_FORMATS
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
        return False


def _load(
    model_path: Path, media: Path, wanted: Media, device: str
) -> tuple[torch.nn.Module, dict[str, Any], torch.device]:
    """The trained model for `media` on `device`, after checking the file holds a model of the right kind."""
    try:
        saved = load_checkpoint(model_path)
    except (FileNotFoundError, ValueError) as err:
        raise ModelFileError(str(err)) from None
    found = model_media(saved)
    if found is None:
        raise ModelFileError(
            f"{model_path}: not a trained model ferflow can predict with (neither `kind` dicefer/baseline "
            "nor `kwargs.num_frames`); give the model.pt written by train-ifdd or train-dicefer, not "
            "checkpoint.pt"
        )
    if found != wanted:
        if found == "video":
            held = f"an IFDD video model ({saved['variant']}, from train-ifdd)"
            hint = "give it a video, or give the image a DICE-FER or baseline model.pt from train-dicefer"
        else:
            held = f"a still-image model ({saved['kind']} {saved.get('variant')}, from train-dicefer)"
            hint = f"give it an image ({' '.join(sorted(IMAGE_EXTENSIONS))}) or the video an IFDD model.pt"
        media_kind = "a still image" if wanted == "image" else "not an image, so read as a video"
        raise ModelFileError(f"{media}: {media_kind}, but {model_path} holds {held}; {hint}")
    try:
        model = model_from_saved(saved)
    except ValueError as err:
        raise ModelFileError(f"{model_path}: {err}") from None
    dev = setup_runtime(device, amp=False).device
    return model.to(dev), saved, dev


def predict(media: Path, model_path: Path, upsample: int = 1, device: str = "cpu") -> dict[str, Any]:
    """`predict_image` for a still image, `predict_video` otherwise."""
    path = Path(media)
    return (predict_image if is_image(path) else predict_video)(path, Path(model_path), upsample, device)


@torch.no_grad()
def predict_video(video: Path, model_path: Path, upsample: int = 1, device: str = "cpu") -> dict[str, Any]:
    """Class probabilities for one video, with how many sampled frames had a detected face and how many
    distinct source frames were sampled (fewer than sampled when the video is shorter than the model's
    window: its last frame repeats); the model runs on `device` ("cpu", "cuda", "cuda:N" or "auto")."""
    model, saved, dev = _load(Path(model_path), Path(video), "video", device)
    num_frames, img_size = saved["kwargs"]["num_frames"], saved["kwargs"]["img_size"]
    crop = saved["data"]["shape"][2]  # the aligned size the model was trained from (N x T x S x S x 3)
    backend = saved["data"]["align_backend"] or "dlib"
    clip = read_clip(video, "video", ClipSampler(num_frames, "uniform"))
    aligned = align_frames(clip.frames, crop, backend, upsample)
    if aligned.frames is None:
        raise NoFaceError(f"{video}: no face found in any of the {len(clip.frames)} sampled frames")
    x = clip_tensor(aligned.frames, eval_transform(img_size))[None]
    probs = torch.softmax(model(x.to(dev)).float(), dim=1)[0].tolist()
    result = _result(saved, probs, aligned.detected, backend)
    distinct = len(np.unique(clip.indices))
    return {
        "video": str(video),
        **result,
        "distinct_frames": distinct,
        "source_frames": clip.source_frames,
        "device": str(dev),
    }


@torch.no_grad()
def predict_image(image: Path, model_path: Path, upsample: int = 1, device: str = "cpu") -> dict[str, Any]:
    """Class probabilities for one still image (DICE-FER or baseline model), and whether a face was found;
    the model runs on `device`.

    Raises:
        ModelFileError: `model_path` is not a DICE-FER or baseline model.
        MediaError: the image is missing, empty, undecodable or truncated.
        NoFaceError: the detector found no face (dlib-aligned stores only).
    """
    image, model_path = Path(image), Path(model_path)
    model, saved, dev = _load(model_path, image, "image", device)
    frames = read_clip(image, "image").frames  # the data stage's reader: (1, H, W, 3) uint8 RGB
    _check_complete(image)
    crop = saved["data"]["shape"][1]  # the aligned size the model was trained from (N x S x S x 3)
    backend = saved["data"]["align_backend"] or "dlib"
    aligned = align_frames(frames, crop, backend, upsample)
    if aligned.frames is None:
        raise NoFaceError(f"{image}: no face found in the image")
    # The aligned face goes through ImageDataset's evaluation path (grey, resized to img_size, [0, 1]), the
    # same code that fed the model in training and evaluation, over a one-image in-memory store.
    store = Store(image, aligned.frames, [{"label": "0", "identity": ""}], {})
    x = ImageDataset(store, np.zeros(1, np.int64), saved["img_size"]).image(0)[None]
    probs = torch.softmax(model(x.to(dev)).float(), dim=1)[0].tolist()
    return {"image": str(image), **_result(saved, probs, aligned.detected, backend), "device": str(dev)}


def _check_complete(image: Path) -> None:
    """Refuse a truncated or damaged image that OpenCV decodes anyway (a cut JPEG comes back half grey)."""
    try:
        with Image.open(image) as decoded:
            decoded.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return  # a format PIL does not know, or too large for it, that OpenCV read: nothing to compare
    except (OSError, SyntaxError, ValueError) as err:
        raise MediaError(image, "undecodable", f"damaged or truncated image ({err})") from None


def _result(saved: dict[str, Any], probs: list[float], detected: np.ndarray, backend: str) -> dict[str, Any]:
    """The fields every prediction shares, after the media path."""
    classes = saved["classes"]
    return {
        "model": saved["variant"],
        "predicted": classes[max(range(len(probs)), key=probs.__getitem__)],
        "probabilities": dict(zip(classes, probs, strict=True)),
        "frames_with_face": int(detected.sum()),
        "frames": len(detected),
        "align_backend": backend,
    }
