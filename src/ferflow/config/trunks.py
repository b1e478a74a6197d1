"""The trunks the models start from: named starting points (`init`) and the trunk a model builds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class TrunkSpec:
    """A trunk to pretrain, at the size its downstream model uses (`trunk_spec`)."""

    trunk: str  # resnet18 (DICE-FER's encoders) | mobilenetv2 (IFDD's per-frame trunk)
    img_size: int
    width_mult: float = 1.0
