"""The figure of a section that was not run (its file must exist all the same)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt

from ferflow.report.figures.style import png, style


def placeholder(title: str, reason: str) -> bytes:
    """A small figure that says a section was not run (for figure files that must always exist)."""
    with style():
        fig, ax = plt.subplots(figsize=(4, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.62, title, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(0.5, 0.25, textwrap.fill(f"not run: {reason}", 70), ha="center", va="center", fontsize=7)
        return png(fig)
