"""Aligned faces from the packed stores, one row per class."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ferflow.report.figures.style import png, short, style


def sample_grid(rows: Sequence[tuple[str, Sequence[np.ndarray]]]) -> bytes:
    """A grid of aligned faces: one row per label (e.g. class), images (H, W, 3 uint8) along it."""
    cols = max(len(images) for _, images in rows)
    with style():
        fig, axes = plt.subplots(
            len(rows), cols, figsize=(0.75 * cols + 1.0, 0.8 * len(rows) + 0.3), squeeze=False
        )
        for ax_row, (label, images) in zip(axes, rows, strict=True):
            for c, ax in enumerate(ax_row):
                ax.set_xticks([])
                ax.set_yticks([])
                for side in ax.spines.values():
                    side.set_visible(False)
                if c < len(images):
                    ax.imshow(np.asarray(images[c]), interpolation="nearest")
            ax_row[0].set_ylabel(short(label, 14), rotation=0, ha="right", va="center", fontsize=7)
        fig.subplots_adjust(wspace=0.03, hspace=0.06)
        return png(fig)
