"""Where a trunk starts (`ifdd.init`, `dicefer.init`): the pretraining stage, torchvision's weights, a file.

- ``faceid``: the face-recognition trunk `ferflow pretrain` wrote (`results/pretrain/<trunk>/trunk.pt`);
- ``imagenet`` / ``kinetics400``: torchvision's weights, loaded through its weights API, which reads
  `$TORCH_HOME/hub/checkpoints/<file>` and downloads only when the file is not there. Where no download is
  possible, the run stops at once with one line naming the file and the folder to put it in;
- ``none``: random initialisation;
- anything else: a local weights file.
Every form ends as a state dict in torchvision's key layout, which the models' loaders take.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision.models import MobileNet_V2_Weights, ResNet18_Weights, WeightsEnum
from torchvision.models.video import MViT_V2_S_Weights

from ferflow import paths
from ferflow.core.checkpoint import load_state_dict_file
from ferflow.errors import UserError

#: torchvision weights for the named starts, by (choice, trunk family).
TORCHVISION_WEIGHTS: dict[tuple[str, str], WeightsEnum] = {
    ("imagenet", "mobilenetv2"): MobileNet_V2_Weights.IMAGENET1K_V2,
    ("imagenet", "resnet18"): ResNet18_Weights.IMAGENET1K_V1,
    ("kinetics400", "mvit"): MViT_V2_S_Weights.KINETICS400_V1,
}


class WeightsUnavailableError(RuntimeError, UserError):
    """Pretrained weights neither on disk nor downloadable here; the message says where to put them."""


class InitFileError(ValueError, UserError):
    """An `init` weights file that holds no usable state dict (corrupt, or something else saved)."""


def torchvision_weights_file(weights: WeightsEnum) -> Path:
    """Where torchvision's weights API looks for (and would download) `weights`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def torchvision_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """`weights.get_state_dict()`, read with `weights_only=True`; a failed download becomes one clear line.

    Raises:
        WeightsUnavailableError: The file is not in the cache and could not be downloaded.
    """
    target = torchvision_weights_file(weights)
    try:
        return weights.get_state_dict(progress=False, weights_only=True, map_location="cpu")
    except OSError as err:  # URLError, socket and HTTP errors are all OSErrors
        raise WeightsUnavailableError(
            f"{type(weights).__name__}.{weights.name}: {target.name} is not in {target.parent} and could not "
            f"be downloaded ({type(err).__name__}); copy it there (from {weights.url}) or set TORCH_HOME"
        ) from None


def init_state_dict(choice: str, family: str) -> dict[str, torch.Tensor] | None:
    """The weights a trunk of `family` starts from, in torchvision's layout; None for `none`.

    Raises:
        FileNotFoundError: `faceid` before the pretraining stage ran, or a missing file.
        WeightsUnavailableError: torchvision weights that are not on disk and cannot be downloaded.
        InitFileError: A file that holds no state dict.
    """
    if choice == "none":
        return None
    if (choice, family) in TORCHVISION_WEIGHTS:
        return torchvision_state_dict(TORCHVISION_WEIGHTS[choice, family])
    path = paths.init_file(choice, family)
    if path is None:
        raise ValueError(f"init {choice!r} does not start a {family} trunk")
    if choice == "faceid" and not path.is_file():
        raise FileNotFoundError(
            f"init faceid: {path} not found; run the pretraining stage first "
            f"(snakemake {path} --cores all, or ferflow pretrain --trunk {family})"
        )
    try:
        return load_state_dict_file(path)
    except ValueError as err:
        raise InitFileError(
            f"init {choice}: {err}; give a file saved with torch.save(model.state_dict(), ...), or rerun "
            "the stage that wrote it"
        ) from None


def describe_init(choice: str, family: str) -> str:
    """One line for a training log: where a trunk starts."""
    if (choice, family) in TORCHVISION_WEIGHTS:
        return f"{choice} (torchvision {TORCHVISION_WEIGHTS[choice, family]})"
    path = paths.init_file(choice, family)
    return f"{choice} ({path})" if choice == "faceid" else str(path or "none (random initialisation)")
