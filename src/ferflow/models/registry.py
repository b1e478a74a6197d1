"""A name -> factory registry in the manner of timm: `create_model("ifdd_mvit", num_classes=7)`."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from ferflow.core.checkpoint import ModelFileError, load_state_dict_file

# Modules whose factories register themselves on import.
_MODEL_MODULES = (
    "ferflow.models.ifdd",
    "ferflow.models.video_baseline",
    "ferflow.models.controls",
    "ferflow.models.dicefer",
    "ferflow.models.resnet18",
    "ferflow.models.controls_image",
)

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(factory: F) -> F:
    """Register a factory under its function name."""
    name = factory.__name__
    if name in _REGISTRY and _REGISTRY[name] is not factory:
        raise ValueError(f"model {name!r} is registered twice")
    _REGISTRY[name] = factory
    return factory


def _load_all() -> None:
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def list_models() -> list[str]:
    """Names of every registered model."""
    _load_all()
    return sorted(_REGISTRY)


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build a registered model by name; unknown names list the known ones."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name](**kwargs)


def resolved_arguments(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`kwargs` over the factory's named defaults: what a model file records, so that a later change of a
    default cannot rebuild a different model from it."""
    _load_all()
    defaults = {
        k: p.default
        for k, p in inspect.signature(_REGISTRY[name]).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return defaults | dict(kwargs)


def model_from_saved(saved: Mapping[str, Any]) -> nn.Module:
    """Rebuild a trained model, in eval mode, from a loaded model file (`variant`, `kwargs`, `model`)."""
    model = create_model(saved["variant"], **saved["kwargs"])
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as err:
        raise ModelFileError(
            f"the model file's weights do not fit {saved['variant']} as this ferflow builds it (a file from "
            f"another ferflow version? retrain it): {err}"
        ) from None
    return model.eval()


def copy_backbone(model: nn.Module, model_file: str | os.PathLike[str]) -> int:
    """Start `model`'s backbone from the backbone of a trained ferflow model file; returns tensors copied.

    E.g. IFDD from a trained static baseline with the same trunk. Everything outside `backbone.` keeps its
    fresh initialisation.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a weight file, or its backbone is not this model's (other trunk, width or family).
    """
    prefix = "backbone."
    source = {k: v for k, v in load_state_dict_file(model_file).items() if k.startswith(prefix)}
    target = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    misfit = sorted(
        k
        for k in target.keys() | source.keys()
        if k not in source or k not in target or source[k].shape != target[k].shape
    )
    if not target or misfit:
        raise ModelFileError(
            f"{os.fspath(model_file)}: its backbone does not fit this model ({len(misfit)} backbone tensors "
            f"missing, extra or of another shape, e.g. {misfit[:3]})"
        )
    model.load_state_dict(source, strict=False)
    return len(target)


def model_arguments(name: str) -> set[str]:
    """Keyword arguments a registered factory accepts."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return set(inspect.signature(_REGISTRY[name]).parameters)
