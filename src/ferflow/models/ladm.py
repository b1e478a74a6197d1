"""LADM: the Lifting-based Aggregation-Disentanglement Module of IFDD (and an unlearned Haar alternative).

The lifting scheme turns a static/dynamic split into an update step (the static half absorbs global context
from the dynamic half) followed by a predict step (the dynamic half loses what the updated static half
explains). In LADM both operators are multi-head cross-attentions over all time x space tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Attention, DropPath, Mlp
from torch import nn

__all__ = ["LADM", "HaarLift", "LiftingAttention"]


class LiftingAttention(nn.Module):
    """One lifting operator: W_o(softmax(Q K^T / sqrt(d)) V + V), Q from one stream, K and V from the other.

    The extra "+ V" (a residual of the values) is in the released code and kept. Both streams must hold
    the same number of tokens.

    Args:
        dim: Token width.
        num_heads: Attention heads (head dim = dim / num_heads).
    """

    def __init__(self, dim: int, num_heads: int = 8) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """B x N x C query and context tokens -> B x N x C update."""
        b, n, c = query.shape
        if context.shape != query.shape:
            raise ValueError(f"query {tuple(query.shape)} and context {tuple(context.shape)} must match")
        q = self.q(query).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(context).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v) + v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class LADM(nn.Module):
    """Lifting-based aggregation (update) and disentanglement (predict), then self-attention and an MLP.

    With X_S, X_D the B x N x C static and dynamic tokens (N = T/2 * h * w):

        X_S, X_D = LN(X_S), LN(X_D)                # skipped when input_norm=False
        Y_S = X_S + U(X_S <- X_D)                  # updater first: static absorbs global context
        X_D = X_D - P(X_D <- Y_S)                  # predictor second: remove what Y_S explains
        X_D = X_D + DropPath(MHSA(LN(X_D)))
        X_D = DropPath(MLP(LN(X_D)))               # + X_D when mlp_residual=True

    Args:
        dim: Token width C.
        num_heads: Heads of the cross- and self-attentions.
        mlp_ratio: MLP hidden width / C.
        drop_path: Stochastic-depth rate of the last two branches.
        mlp_residual: Add the residual around the MLP (the released code has none).
        input_norm: LayerNorm both input streams (released). False passes the tokens on unnormalised, so
            each token keeps its magnitude (see the `ifdd_mobilenetv2` notes in docs/ifdd.md).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.2,
        mlp_residual: bool = False,
        input_norm: bool = True,
    ) -> None:
        super().__init__()
        self.mlp_residual = mlp_residual
        self.norm_s = nn.LayerNorm(dim) if input_norm else nn.Identity()
        self.norm_d = nn.LayerNorm(dim) if input_norm else nn.Identity()
        self.update = LiftingAttention(dim, num_heads)
        self.predict = LiftingAttention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x_s: torch.Tensor, x_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B x N x C static and dynamic tokens -> (Y_S, dynamic tokens), both B x N x C."""
        x_s = self.norm_s(x_s)
        x_d = self.norm_d(x_d)
        y_s = x_s + self.update(x_s, x_d)
        x_d = x_d - self.predict(x_d, y_s)
        x_d = x_d + self.drop_path(self.attn(self.norm1(x_d)))
        mlp = self.drop_path(self.mlp(self.norm2(x_d)))
        return y_s, x_d + mlp if self.mlp_residual else mlp


class HaarLift(nn.Module):
    """Unlearned lifting used when LADM is switched off: the Haar wavelet's update and predict steps.

        Y_S = (X_S + X_D) / 2          # update with U = 1/2
        D   = LN(X_D - Y_S)            # predict with P = identity, then a LayerNorm for the head

    Args:
        dim: Token width C.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x_s: torch.Tensor, x_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B x N x C static and dynamic tokens -> (Y_S, dynamic tokens)."""
        y_s = 0.5 * (x_s + x_d)
        return y_s, self.norm(x_d - y_s)
