"""Mutual-information estimators (MINE) and the statistics networks that feed them.

A statistics network U scores pairs (x, y). Scores on pairs drawn together ("joint") and on pairs whose
second member was shuffled or rolled across the batch ("marginal", a sample of the product of marginals)
give a lower bound on the mutual information I(x; y):

- Donsker-Varadhan (``"dv"``): ``E_joint[U] - log E_marginal[exp U]``, in nats; the log-mean-exp is
  computed as ``logsumexp - log N`` so huge scores cannot overflow.
- Jensen-Shannon (``"jsd"``): ``E_joint[-softplus(-U)] - E_marginal[softplus(U)]``; not in nats, but its
  gradients are better behaved (the base method's alternative).

Networks here: `MLPStatNet` (vector ⊕ vector), `GlobalStatNet` (feature map ⊕ code) and `LocalStatNet`
(code tiled over the map's grid, one score per location).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Estimator = Literal["dv", "jsd"]
Marginal = Literal["shuffle", "roll"]

ESTIMATORS: tuple[str, ...] = ("dv", "jsd")
MARGINALS: tuple[str, ...] = ("shuffle", "roll")


def log_mean_exp(x: Tensor, dim: int | None = None) -> Tensor:
    """``log(mean(exp(x)))`` computed stably as ``logsumexp(x) - log(N)``.

    Args:
        x: Scores.
        dim: Dimension to reduce; all elements when None.

    Returns:
        The reduced tensor (a scalar when ``dim`` is None).
    """
    if dim is None:
        x, dim = x.reshape(-1), 0
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


def dv_bound(joint: Tensor, marginal: Tensor, dim: int | None = None) -> Tensor:
    """Donsker-Varadhan lower bound ``E_joint[U] - log E_marginal[exp U]`` (nats)."""
    if dim is None:
        return joint.mean() - log_mean_exp(marginal)
    return joint.mean(dim) - log_mean_exp(marginal, dim)


def jsd_bound(joint: Tensor, marginal: Tensor, dim: int | None = None) -> Tensor:
    """Jensen-Shannon MI estimator ``E_joint[-softplus(-U)] - E_marginal[softplus(U)]``."""
    if dim is None:
        return (-F.softplus(-joint)).mean() - F.softplus(marginal).mean()
    return (-F.softplus(-joint)).mean(dim) - F.softplus(marginal).mean(dim)


def mi_lower_bound(
    joint: Tensor, marginal: Tensor, estimator: Estimator = "dv", dim: int | None = None
) -> Tensor:
    """MI estimate from joint and marginal scores with the chosen estimator (``"dv"`` or ``"jsd"``)."""
    if estimator == "dv":
        return dv_bound(joint, marginal, dim)
    if estimator == "jsd":
        return jsd_bound(joint, marginal, dim)
    raise ValueError(f"mi_estimator must be one of {ESTIMATORS}, got {estimator!r}")


def marginal_index(
    batch_size: int,
    mode: Marginal = "shuffle",
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Indices that pair each sample with another sample's partner, approximating the product of marginals.

    Args:
        batch_size: Number of samples (at least 2).
        mode: ``"shuffle"``: a random permutation (may keep a few pairs in place, as the estimator
            assumes); ``"roll"``: shift by one, so no sample is ever paired with itself.
        device: Device of the returned indices.
        generator: Random generator for ``"shuffle"`` (reproducible runs).

    Returns:
        A ``(batch_size,)`` long tensor.
    """
    if batch_size < 2:
        raise ValueError(f"marginal sampling needs a batch of at least 2 samples, got {batch_size}")
    if mode == "shuffle":
        perm = torch.randperm(
            batch_size, generator=generator, device=generator.device if generator is not None else "cpu"
        )
        return perm.to(device) if device is not None else perm
    if mode == "roll":
        return torch.roll(torch.arange(batch_size, device=device), shifts=1)
    raise ValueError(f"marginal must be one of {MARGINALS}, got {mode!r}")


def mlp(dims: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers with ReLU (and optional dropout) between them, nothing after the last.

    Args:
        dims: Input size, hidden sizes, output size.
        dropout: Dropout probability after each hidden activation.
    """
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(dims) - 2:
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPStatNet(nn.Module):
    """Statistics network on two vectors: ``MLP([x ⊕ y]) -> score``.

    Args:
        x_dim: Size of x.
        y_dim: Size of y.
        hidden: Hidden layer sizes.
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: Sequence[int] = (512, 512)) -> None:
        super().__init__()
        self.net = mlp([x_dim + y_dim, *hidden, 1])

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Scores of shape ``(B,)`` for pairs ``(x[b], y[b])``."""
        return self.net(torch.cat([x, y], dim=1)).squeeze(1)


class GlobalStatNet(nn.Module):
    """Global statistics network: ``MLP([flatten-or-pool(feature map) ⊕ code]) -> score``.

    Args:
        in_channels: Channels of the feature map.
        map_size: Side of the (square) feature map; used when ``pool="flatten"``.
        code_dim: Size of the code.
        hidden: Hidden layer sizes of the MLP.
        pool: ``"flatten"`` keeps the spatial layout (C·H·W inputs); ``"avg"`` averages over locations.
    """

    def __init__(
        self,
        in_channels: int = 512,
        map_size: int = 4,
        code_dim: int = 64,
        hidden: Sequence[int] = (512, 512),
        pool: Literal["flatten", "avg"] = "flatten",
    ) -> None:
        super().__init__()
        if pool not in ("flatten", "avg"):
            raise ValueError(f"global_pool must be 'flatten' or 'avg', got {pool!r}")
        self.pool = pool
        self.map_size = map_size
        map_dim = in_channels * map_size * map_size if pool == "flatten" else in_channels
        self.mlp = MLPStatNet(map_dim, code_dim, hidden)

    def forward(self, feature_map: Tensor, code: Tensor) -> Tensor:
        """Scores of shape ``(B,)`` for ``(feature_map[b], code[b])``."""
        if self.pool == "flatten":
            if feature_map.shape[-2:] != (self.map_size, self.map_size):
                raise ValueError(
                    f"GlobalStatNet was built for {self.map_size}x{self.map_size} maps, got "
                    f"{tuple(feature_map.shape[-2:])}; set input_size to match the images"
                )
            pooled = feature_map.flatten(1)
        else:
            pooled = feature_map.mean(dim=(2, 3))
        return self.mlp(pooled, code)


class LocalStatNet(nn.Module):
    """Local statistics network: the code tiled over the grid, concatenated, 1x1 convs -> score per location.

    Args:
        in_channels: Channels of the feature map.
        code_dim: Size of the code.
        hidden: Channels of the hidden 1x1 convolutions.
    """

    def __init__(
        self, in_channels: int = 512, code_dim: int = 64, hidden: Sequence[int] = (512, 512)
    ) -> None:
        super().__init__()
        dims = [in_channels + code_dim, *hidden, 1]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
            layers.append(nn.Conv2d(d_in, d_out, kernel_size=1))
            if i < len(dims) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    def forward(self, feature_map: Tensor, code: Tensor) -> Tensor:
        """Scores of shape ``(B, H, W)``, one for every location of ``feature_map[b]`` with ``code[b]``."""
        b, _, h, w = feature_map.shape
        tiled = code[:, :, None, None].expand(b, code.shape[1], h, w)
        return self.net(torch.cat([feature_map, tiled], dim=1)).squeeze(1)


def pair_mi(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    estimator: Estimator = "dv",
    marginal: Marginal = "shuffle",
    generator: torch.Generator | None = None,
) -> Tensor:
    """MI estimate between x and y scored by ``net(x, y) -> (B,)`` (MLPStatNet or GlobalStatNet).

    Joint pairs are ``(x[b], y[b])``; marginal pairs are ``(x[b], y[idx[b]])`` with `marginal_index`.
    """
    idx = marginal_index(x.shape[0], marginal, device=y.device, generator=generator)
    return mi_lower_bound(net(x, y), net(x, y[idx]), estimator)


def local_mi(
    net: nn.Module,
    feature_map: Tensor,
    code: Tensor,
    estimator: Estimator = "dv",
    marginal: Marginal = "shuffle",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Average over locations of the MI estimate between each local feature and the code.

    Each location gets its own estimate over the batch (joint and marginal scores at that location), and
    the estimates are averaged, as in Deep InfoMax's local objective.
    """
    idx = marginal_index(code.shape[0], marginal, device=code.device, generator=generator)
    joint = net(feature_map, code).flatten(1)  # (B, L)
    marg = net(feature_map, code[idx]).flatten(1)
    return mi_lower_bound(joint, marg, estimator, dim=0).mean()
