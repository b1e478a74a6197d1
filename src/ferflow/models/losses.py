"""The training objectives: IFDD's lifting loss and DICE-FER's four losses, as pure functions.

A model computes features; a trainer adds these up and steps its optimisers. Each DICE-FER loss returns
`LossTerms(loss, terms)`, the terms detached for logging. The specifications: `docs/ifdd.md` (L_Lift) and
`docs/dicefer.md` (stages 1 and 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ferflow.model_names import LiftingReduction
from ferflow.models.mine import Estimator, Marginal, local_mi, marginal_index, pair_mi
from ferflow.models.video import IFDDFeatures

# ------------------------------------------------------------------------------------------------ IFDD


def lifting_loss(
    features: IFDDFeatures, weight: float = 0.1, reduction: LiftingReduction = "mean"
) -> torch.Tensor:
    """Global-context Huber loss L_Lift between the fused features and the updated static stream.

    pool_a = mean over C and T/2 of (AvgPool_time,2(X) - Y_S), a B x h x w map;
    per-sample loss = mean over h x w of SmoothL1_beta=1(pool_a, 0); L_Lift = weight * reduce(per-sample).

    Args:
        features: Output of `forward_features`.
        weight: lambda (0.1 in the paper).
        reduction: "mean" over the batch (default: independent of batch size) or "sum", which reproduces
            the released code (effective weight lambda * B).

    Returns:
        Scalar loss; zero for features without a static stream (the baselines).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if features.y_s is None:
        return features.x.new_zeros(())
    paired = F.avg_pool3d(features.x, kernel_size=(2, 1, 1))
    pool_a = (paired - features.y_s).mean(dim=(1, 2))
    per_sample = (
        F.smooth_l1_loss(pool_a, torch.zeros_like(pool_a), beta=1.0, reduction="none").flatten(1).mean(1)
    )
    total = per_sample.sum() if reduction == "sum" else per_sample.mean()
    return weight * total


# -------------------------------------------------------------------------------------------- DICE-FER
class LossTerms(NamedTuple):
    """A loss to minimise and its parts, detached, for logging."""

    loss: Tensor
    terms: dict[str, Tensor]


def expression_loss(
    exp_stats: Mapping[str, nn.Module],
    map_m: Tensor,
    e_m: Tensor,
    map_n: Tensor,
    e_n: Tensor,
    *,
    mu: float = 0.5,
    nu: float = 1.0,
    delta: float = 0.1,
    estimator: Estimator = "dv",
    marginal: Marginal = "shuffle",
    l1_reduction: Literal["sum", "mean"] = "sum",
    generator: torch.Generator | None = None,
) -> LossTerms:
    """Stage 1: ``-(mu·Î_global + nu·Î_local) + delta·‖E_M - E_N‖₁`` over the cross-referenced pairs.

    Î_global and Î_local each sum both directions: (map of M, E_N) and (map of N, E_M).

    Args:
        exp_stats: Networks under keys ``global_mn``, ``local_mn``, ``global_nm``, ``local_nm``.
        map_m: Expression encoder's layer-4 map of M, ``(B, 512, h, w)``.
        e_m: Expression code of M, ``(B, d)``.
        map_n: Same for N (same expression as M).
        e_n: Expression code of N.
        mu: Weight of the global MI.
        nu: Weight of the local MI.
        delta: Weight of the L1 distance between E_M and E_N.
        estimator: ``"dv"`` (Donsker-Varadhan) or ``"jsd"`` (Jensen-Shannon).
        marginal: ``"shuffle"`` or ``"roll"`` the codes across the batch for marginal pairs.
        l1_reduction: ``"sum"`` over code dimensions (the L1 norm) or ``"mean"``; averaged over the batch.
        generator: Random generator for the shuffles.
    """
    opts = {"estimator": estimator, "marginal": marginal, "generator": generator}
    mi_global = pair_mi(exp_stats["global_mn"], map_m, e_n, **opts) + pair_mi(
        exp_stats["global_nm"], map_n, e_m, **opts
    )
    mi_local = local_mi(exp_stats["local_mn"], map_m, e_n, **opts) + local_mi(
        exp_stats["local_nm"], map_n, e_m, **opts
    )
    diff = (e_m - e_n).abs()
    if l1_reduction == "sum":
        l1 = diff.sum(dim=1).mean()
    elif l1_reduction == "mean":
        l1 = diff.mean()
    else:
        raise ValueError(f"l1_reduction must be 'sum' or 'mean', got {l1_reduction!r}")
    loss = -(mu * mi_global + nu * mi_local) + delta * l1
    return LossTerms(
        loss,
        {
            "loss": loss.detach(),
            "mi_global": mi_global.detach(),
            "mi_local": mi_local.detach(),
            "l1": l1.detach(),
        },
    )


def identity_mi_loss(
    id_stats: Mapping[str, nn.Module],
    feature_map: Tensor,
    e: Tensor,
    i: Tensor,
    *,
    mu: float = 0.5,
    nu: float = 1.0,
    estimator: Estimator = "dv",
    marginal: Marginal = "shuffle",
    generator: torch.Generator | None = None,
) -> LossTerms:
    """Stage 2: ``-(mu·Î_global + nu·Î_local)`` between a feature map of M and T_M = [E_M, I_M].

    Args:
        id_stats: Networks under keys ``global`` and ``local`` (code size 2·d).
        feature_map: Layer-4 map of M (the identity encoder's by default, see ``docs/dicefer.md``).
        e: E_M from the frozen expression encoder.
        i: I_M from the identity encoder.
        mu: Weight of the global MI.
        nu: Weight of the local MI.
        estimator: ``"dv"`` or ``"jsd"``.
        marginal: ``"shuffle"`` or ``"roll"``.
        generator: Random generator for the shuffles.
    """
    t = torch.cat([e, i], dim=1)
    opts = {"estimator": estimator, "marginal": marginal, "generator": generator}
    mi_global = pair_mi(id_stats["global"], feature_map, t, **opts)
    mi_local = local_mi(id_stats["local"], feature_map, t, **opts)
    loss = -(mu * mi_global + nu * mi_local)
    return LossTerms(
        loss, {"loss": loss.detach(), "mi_global": mi_global.detach(), "mi_local": mi_local.detach()}
    )


def _joint_and_shuffled(
    discriminator: nn.Module, e: Tensor, i: Tensor, marginal: Marginal, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    idx = marginal_index(i.shape[0], marginal, device=i.device, generator=generator)
    return discriminator(e, i), discriminator(e, i[idx])


def discriminator_loss(
    discriminator: nn.Module,
    e: Tensor,
    i: Tensor,
    *,
    marginal: Marginal = "shuffle",
    generator: torch.Generator | None = None,
) -> LossTerms:
    """Stage 2, D's loss: binary cross-entropy, joint (E, I) labelled 1, (E, I shuffled) labelled 0.

    E and I are detached here, so this loss trains D only.
    """
    joint, shuffled = _joint_and_shuffled(discriminator, e.detach(), i.detach(), marginal, generator)
    loss = F.binary_cross_entropy_with_logits(
        joint, torch.ones_like(joint)
    ) + F.binary_cross_entropy_with_logits(shuffled, torch.zeros_like(shuffled))
    accuracy = torch.cat([joint > 0, shuffled <= 0]).float().mean()
    return LossTerms(loss, {"loss": loss.detach(), "accuracy": accuracy})


def adversarial_loss(
    discriminator: nn.Module,
    e: Tensor,
    i: Tensor,
    *,
    zeta: float = 0.025,
    marginal: Marginal = "shuffle",
    mode: Literal["flip", "minimax"] = "flip",
    generator: torch.Generator | None = None,
) -> LossTerms:
    """Stage 2, the identity encoder's term: ``zeta ·`` (a loss that is low when D is fooled).

    Args:
        discriminator: D (step only the identity encoder's optimiser on this loss).
        e: E from the frozen expression encoder.
        i: I from the identity encoder (gradients flow into it).
        zeta: Weight ζ_adv.
        marginal: ``"shuffle"`` or ``"roll"``.
        mode: ``"flip"``: cross-entropy with the labels swapped (non-saturating); ``"minimax"``: minus D's
            cross-entropy.
        generator: Random generator for the shuffle.
    """
    joint, shuffled = _joint_and_shuffled(discriminator, e, i, marginal, generator)
    bce = F.binary_cross_entropy_with_logits
    if mode == "flip":
        fool = bce(joint, torch.zeros_like(joint)) + bce(shuffled, torch.ones_like(shuffled))
    elif mode == "minimax":
        fool = -(bce(joint, torch.ones_like(joint)) + bce(shuffled, torch.zeros_like(shuffled)))
    else:
        raise ValueError(f"adversarial mode must be 'flip' or 'minimax', got {mode!r}")
    loss = zeta * fool
    return LossTerms(loss, {"loss": loss.detach(), "fool": fool.detach()})
