"""The study's forest plot: paired differences over folds and seeds with their intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import seaborn as sns

from ferflow.report.figures.style import PALETTE, png, short, style


def _pair_label(pair: str) -> str:
    """``"a - b"`` on two lines, each side shortened on its own, so that rows sharing a long first model
    stay distinguishable."""
    return "\n- ".join(short(side, 36) for side in pair.split(" - ", 1))


def forest(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """One row per comparison and metric: the mean paired difference (dot), the interval the verdict uses
    (thick line) and the t-interval over cells (thin line, just below), a zero line; one panel per metric.

    Args:
        rows: ``label`` (the metric), ``pair`` (``"a - b"``), ``mean``, ``interval`` and ``t`` ((low, high)
            or None), ``kind`` (``t_samples`` or ``t``), ``scale`` (100 for points) and ``better`` (bool).
    """
    metrics = list(dict.fromkeys(r["label"] for r in rows))
    counts = [sum(r["label"] == m for r in rows) for m in metrics]
    with style():
        fig, axes = plt.subplots(
            len(metrics),
            1,
            figsize=(6.0, 0.9 + 0.5 * sum(counts) + 0.35 * len(metrics)),
            height_ratios=counts,
            squeeze=False,
        )
        colors = sns.color_palette(PALETTE, 2)
        for ax, metric in zip(axes[:, 0], metrics, strict=True):
            mine = [r for r in rows if r["label"] == metric]
            for y, r in enumerate(reversed(mine)):
                scale = r["scale"]
                color = colors[1] if r["better"] else colors[0]
                if r["interval"]:
                    ax.hlines(y, *(scale * v for v in r["interval"]), color=color, lw=3)
                if r["t"] and r["kind"] != "t":
                    ax.hlines(y - 0.22, *(scale * v for v in r["t"]), color="grey", lw=1)
                ax.plot(scale * r["mean"], y, "o", color="black", ms=4)
            ax.axvline(0, color="black", lw=0.8, ls="--")
            ax.set_yticks(range(len(mine)), [_pair_label(r["pair"]) for r in reversed(mine)])
            ax.set_ylim(-0.7, len(mine) - 0.4)
            unit = "points" if mine[0]["scale"] == 100 else "difference"
            ax.set_xlabel(f"{metric}: {unit} (first minus second)")
        axes[0, 0].set_title(
            "Paired differences, 95 % intervals (thick: the verdict's interval; thin: t over cells)"
        )
        fig.tight_layout()
        return png(fig)
