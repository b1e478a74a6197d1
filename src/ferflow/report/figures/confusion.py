"""Confusion matrices as heatmaps (IFDD and DICE-FER): raw counts beside row-normalised percentages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ferflow.report.figures.style import png, short, style


def _heatmap(ax, matrix: np.ndarray, classes: Sequence[str], normalised: bool, title: str) -> None:
    labels = [short(c, 14) for c in classes]
    sns.heatmap(
        np.asarray(matrix, dtype=float) * (100 if normalised else 1),
        annot=True,
        fmt=".0f",
        cmap="Blues",
        vmin=0,
        vmax=100 if normalised else None,
        cbar=False,
        square=True,
        xticklabels=labels,
        yticklabels=labels,
        annot_kws={"fontsize": 6},
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)


def confusion_grid(panels: Sequence[Mapping[str, Any]]) -> bytes:
    """Raw counts and row-normalised (%) confusion matrices, one row of two heatmaps per model.

    Args:
        panels: ``title``, ``classes``, ``confusion`` (counts) and ``confusion_normalised`` (rows sum to 1).
    """
    n = len(panels)
    k = max(len(p["classes"]) for p in panels)
    side = max(2.6, 0.36 * k + 1.0)
    with style():
        fig, axes = plt.subplots(n, 2, figsize=(2 * side, side * n), squeeze=False)
        for row, panel in zip(axes, panels, strict=True):
            title = short(panel["title"], 40)
            _heatmap(row[0], panel["confusion"], panel["classes"], False, f"{title}: counts")
            _heatmap(
                row[1], panel["confusion_normalised"], panel["classes"], True, f"{title}: % of true class"
            )
        fig.tight_layout()
        return png(fig)
