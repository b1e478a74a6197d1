"""Models: IFDD (video) and DICE-FER (images), built by name through one registry."""

from ferflow.models.registry import (
    copy_backbone,
    create_model,
    list_models,
    model_arguments,
    model_from_saved,
    register_model,
    resolved_arguments,
)

__all__ = [
    "copy_backbone",
    "create_model",
    "list_models",
    "model_arguments",
    "model_from_saved",
    "register_model",
    "resolved_arguments",
]
