"""What every report figure shares: its matplotlib settings, the PNG it becomes, shortened labels."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

DPI = 150
#: matplotlib settings of every figure: fixed local font, no mathtext, no external resources.
RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "text.parse_math": False,
    "svg.fonttype": "none",
    "figure.dpi": DPI,
}
PALETTE = "colorblind"


def style():
    """The context every figure is drawn in (seaborn's white grid plus `RC`)."""
    return plt.rc_context({**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **RC})


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def short(text: str, width: int = 28) -> str:
    return textwrap.shorten(str(text), width=width, placeholder="…")
