"""Image controls: what a small CNN reads from one still, without and with a reference face of the person.

The embedded benchmark gives every identity a resting-face bias that resembles an expression, so one image
mixes who someone is with what they show (shared/spec/synthetic.md). The two controls bound what the image
benchmark rewards, beside DICE-FER and its ResNet-18 baseline, and are trained and evaluated like that
baseline (`ferflow train-dicefer --model control_image_static`, `evaluate-dicefer`):

- ``control_image_static``: the CNN on the grey image alone — what a model that cannot tell the person's
  face from the expression does;
- ``control_image_reference``: the same CNN given the image and the person's *reference face*, the mean of
  that person's images, and reading [image, image - reference]: the difference cancels the face's geometry,
  colouring and resting bias, which is what disentangling identity is meant to buy.

The reference takes identity labels and no expression labels: it is the mean over the person's images *in
the same split* (`ferflow.data.datasets.identity_means`): in training their training images, at test time
their test images, unlabelled. That is the only such reference a held-out person has (none of their images
was seen in training), and it is what a deployed system with a few unlabelled photos of each user could
compute. It assumes a person's images are spread over the expressions, as the benchmark's splits are by
construction; a person shown only smiling would have the smile in their reference. So the reference control
uses information the other models do not get (who is in each test image, and their other test images): it is
a control, not a competitor.

Network (the issue-20 video controls' CNN, per image): three blocks of 3x3 convolution (16, 32, 64 channels),
BatchNorm, ReLU and 2x2 max-pooling, global average pooling (the embedding the probes and MIG read), a linear
head. Random initialisation: no pretrained trunk exists for it, and a control should not depend on one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ferflow.models.frame_cnn import FrameCNN
from ferflow.models.registry import register_model

__all__ = ["ImageControl", "control_image_reference", "control_image_static"]


class ImageControl(nn.Module):
    """A small CNN on grey images, optionally with the person's reference face.

    Args:
        num_classes: Expression classes.
        widths: Channels of the convolution blocks (each halves the resolution).
        reference: Take (B, 2, H, W) input — the image and the reference face — and read [image,
            image - reference]; otherwise (B, 1, H, W) images.
    """

    def __init__(self, num_classes: int = 7, widths: Sequence[int] = (16, 32, 64), reference: bool = False):
        super().__init__()
        self.needs_reference = reference
        self.cnn = FrameCNN(2 if reference else 1, tuple(widths))
        self.head = nn.Linear(self.cnn.out_dim, num_classes)
        self.embedding_dim = self.cnn.out_dim

    def _inputs(self, x: Tensor) -> Tensor:
        wanted = 2 if self.needs_reference else 1
        if x.ndim != 4 or x.shape[1] != wanted:
            what = "the image and the person's reference face" if self.needs_reference else "grey images"
            raise ValueError(f"expected (B, {wanted}, H, W): {what}; got {tuple(x.shape)}")
        if self.needs_reference:
            image = x[:, :1]
            return torch.cat([image, image - x[:, 1:]], dim=1)
        return x

    def forward_features(self, x: Tensor) -> Tensor:
        """The pooled embedding, (B, widths[-1])."""
        return self.cnn(self._inputs(x)).mean((2, 3))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def control_image_static(num_classes: int = 7, widths: Sequence[int] = (16, 32, 64)) -> ImageControl:
    """The image control without a reference: a small CNN on the grey image alone."""
    return ImageControl(num_classes, widths, reference=False)


@register_model
def control_image_reference(num_classes: int = 7, widths: Sequence[int] = (16, 32, 64)) -> ImageControl:
    """The image control with the person's reference face (the mean of their images in the same split)."""
    return ImageControl(num_classes, widths, reference=True)
