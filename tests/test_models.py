"""Every registered model has the timm-style interface: `forward` is `forward_head(forward_features(x))`."""

import pytest
import torch

from ferflow.model_names import VIDEO_MODELS
from ferflow.models import create_model, list_models


def _small(name: str) -> tuple[dict[str, object], torch.Tensor]:
    """Small factory arguments and an input batch of the shape the model reads."""
    kwargs: dict[str, object] = {"num_classes": 3}
    if name in VIDEO_MODELS:
        kwargs |= {"num_frames": 8, "img_size": 32}
        if "mobilenetv2" in name:
            kwargs["width_mult"] = 0.35
        return kwargs, torch.rand(2, 3, 8, 32, 32)
    if name.startswith("dicefer"):
        kwargs |= {"input_size": 32, "code_dim": 8}
    channels = 2 if name == "control_image_reference" else 1
    return kwargs, torch.rand(2, channels, 32, 32)


@pytest.mark.parametrize("name", list_models())
def test_forward_is_head_of_features(name):
    torch.manual_seed(0)
    kwargs, x = _small(name)
    model = create_model(name, **kwargs).eval()
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (2, 3)
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), logits, rtol=0, atol=0)
