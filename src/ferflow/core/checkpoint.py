"""Model files: checkpoints written atomically every epoch, read back with `weights_only=True`; weight files.

A checkpoint holds everything a resumed run needs to continue exactly where it stopped: the model(s),
optimiser(s) and scheduler state, the epoch, the metric history, and the torch random generators. A
weight file (`load_state_dict_file`) is any state dict on disk, e.g. a pretrained backbone.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch

from ferflow.core.atomic import atomic_path
from ferflow.errors import UserError

Media = Literal["image", "video"]


class ModelFileError(ValueError, UserError):
    """A file that cannot serve as the model asked for: unreadable, not a model ferflow trained, or a
    model of the other kind (video for an image, image for a video)."""


def model_media(saved: dict[str, Any]) -> Media | None:
    """What a saved `model.pt` predicts from: ``image`` (DICE-FER or baseline, from `train-dicefer`),
    ``video`` (IFDD or its baseline, from `train-ifdd`), or None for anything else (a `checkpoint.pt`)."""
    if saved.get("kind") in ("dicefer", "baseline"):
        return "image"
    kwargs = saved.get("kwargs")
    if isinstance(kwargs, dict) and "num_frames" in kwargs and "variant" in saved:
        return "video"
    return None


@functools.cache
def source_fingerprint() -> str:
    """SHA-256 over the ferflow package's Python sources (relative paths and bytes).

    Part of every resume key: a checkpoint written by other code (an edited model, a newer ferflow) is not
    resumed, even when its tensors would happen to fit.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes: how a resume key sees an input file (e.g. where a backbone came from)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise ModelFileError(
            f"{path}: not a readable ferflow checkpoint ({type(err).__name__}: {err}); give a file that "
            "ferflow wrote"
        ) from None


def load_state_dict_file(state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike[str]) -> dict:
    """A state dict from a mapping or a local file (`torch.load(..., weights_only=True)`).

    Checkpoints that wrap the weights under "state_dict" or "model" are unwrapped.

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: The file holds no mapping of tensors.
    """
    if isinstance(state_dict_or_path, Mapping):
        obj: object = state_dict_or_path
        source = "the given mapping"
    else:
        path = os.fspath(state_dict_or_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"weight file not found: {path}")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors, zip errors, disallowed globals ... (torch's text: --debug)
            raise ValueError(f"{path} is not a loadable PyTorch weight file ({type(err).__name__})") from err
        source = path
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and wrapper in obj and isinstance(obj[wrapper], Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source} does not hold a state dict (a mapping of names to tensors)")
    return dict(obj)


def rng_state() -> dict[str, Any]:
    """The torch generators (CPU and every CUDA device)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
