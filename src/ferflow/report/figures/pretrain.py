"""The pretraining figure: face verification of the trunks during pretraining and at the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ferflow.report.figures.style import png, short, style


def pretrain_verification(
    curves: Mapping[str, Sequence[tuple[int, float]]], rocs: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> bytes:
    """Face verification of the pretrained trunks: accuracy per epoch, and the ROC of the final trunk.

    Args:
        curves: ``{trunk: [(epoch, 10-fold accuracy), ...]}``.
        rocs: ``{trunk: (false-accept rates, true-accept rates)}`` on the held-out pairs.
    """
    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.8))
        for trunk, points in curves.items():
            epochs, accuracy = zip(*points, strict=True) if points else ((), ())
            left.plot(epochs, [100 * a for a in accuracy], "-o", ms=3, label=short(trunk))
        left.set_xlabel("epoch")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_ylabel("verification accuracy, % (10-fold)")
        left.set_title("During pretraining (monitoring only)")
        for trunk, (far, tar) in rocs.items():
            right.plot(np.maximum(far, 1e-4), 100 * np.asarray(tar), label=short(trunk))
        right.axvline(1e-3, ls="--", color="grey", lw=0.8)
        right.set_xscale("log")
        right.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # no mathtext
        right.set_xlabel("false-accept rate (0 drawn at 1e-4)")
        right.set_ylabel("true-accept rate, %")
        right.set_title("Final trunk: ROC on held-out pairs")
        for ax in (left, right):
            if ax.lines:
                ax.legend()
        fig.tight_layout()
        return png(fig)
