"""The benchmarks' figures: the data stage's and the models' throughput."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import seaborn as sns

from ferflow.report.figures.style import PALETTE, png, style


def _barh(
    ax,
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    xlabel: str,
    colors: Sequence | None = None,
) -> None:
    colors = colors or sns.color_palette(PALETTE, len(labels))
    bars = ax.barh(range(len(labels)), values, color=colors)
    ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=2)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, 1.25 * max([1e-9, *values]))


def bench_data(result: Mapping[str, Any]) -> bytes:
    """The data benchmark (`ferflow.bench.data`): extraction clips/s, alignment frames/s, loader clips/s."""
    extraction = result.get("extraction") or {}
    palette = sns.color_palette(PALETTE, 3)
    labels, values, colors = [], [], []
    for length, figures in extraction.items():
        if "full_decode" in figures:
            labels.append(f"{length} clips: decode all frames")
            values.append(figures["full_decode"]["clips_per_s"])
            colors.append(palette[2])
        for mode in ("uniform", "contiguous"):
            if mode in figures:
                labels += [f"{length} {mode}: ferflow", f"{length} {mode}: decode up to last"]
                values += [figures[mode]["ferflow_clips_per_s"], figures[mode]["up_to_last_clips_per_s"]]
                colors += [palette[0], palette[1]]
    align = (result.get("alignment") or {}).get("frames_per_s") or {}
    loader = result.get("loader") or {}
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), gridspec_kw={"width_ratios": [1.6, 1, 1]})
        _barh(axes[0], labels, values, "frame extraction", "clips/s", colors)
        _barh(axes[1], [f"{k} px" for k in align], list(align.values()), "face alignment (dlib)", "frames/s")
        _barh(
            axes[2],
            [f"{k} px, {v.get('num_workers', '?')} workers" for k, v in loader.items()],
            [v["clips_per_s"] for v in loader.values()],
            "DataLoader",
            "clips/s",
        )
        target = ((result.get("targets") or {}).get("loader_min_clips_per_s") or {}).values()
        for t in target:
            axes[2].axvline(t, color="black", ls="--", lw=0.8)
        fig.tight_layout()
        return png(fig)


def bench_models(result: Mapping[str, Any]) -> bytes:
    """The model benchmark (`ferflow.bench.models`): training and inference clips/s, IFDD vs baseline."""
    families = [k for k, v in result.items() if isinstance(v, dict) and ("train" in v or "inference" in v)]
    with style():
        fig, axes = plt.subplots(
            1, max(1, len(families)), figsize=(4 * max(1, len(families)), 2.6), squeeze=False
        )
        for ax, family in zip(axes[0], families, strict=False):
            labels, values = [], []
            for phase in ("train", "inference"):
                for key, value in (result[family].get(phase) or {}).items():
                    if key.endswith("_clips_per_s"):
                        labels.append(f"{phase}: {key.removesuffix('_clips_per_s')}")
                        values.append(value)
            settings = result.get("settings") or {}
            _barh(
                ax,
                labels,
                values,
                f"{family} ({settings.get('device', '?')}, batch {settings.get('batch', '?')}, "
                f"{settings.get('img_size', '?')} px)",
                "clips/s",
            )
        fig.tight_layout()
        return png(fig)
