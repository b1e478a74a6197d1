"""IFDD's figures: UAR/WAR per variant, per-class recall, learning curves, ISSM's frames vs the episode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ferflow.report.figures.style import PALETTE, png, short, style


def uar_war_bars(runs: Sequence[Mapping[str, Any]], optimistic: Sequence[str] = ()) -> bytes:
    """Mean UAR and WAR per variant (bars) with each fold's value (dots).

    Args:
        runs: One mapping per (variant, fold): ``variant``, ``fold``, ``uar``, ``war`` (fractions).
        optimistic: Variants whose model was selected on the test fold (marked in the legend).
    """
    rows = [
        {"variant": short(r["variant"]) + (" *" if r["variant"] in optimistic else ""), "metric": m.upper()}
        | {"value": 100 * float(r[m]), "fold": r["fold"]}
        for r in runs
        for m in ("uar", "war")
    ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    with style():
        fig, ax = plt.subplots(figsize=(max(3.5, 1.4 * len(variants) + 1.5), 2.8))
        data = {"x": [r["variant"] for r in rows], "y": [r["value"] for r in rows]}
        hue = [r["metric"] for r in rows]
        sns.barplot(x=data["x"], y=data["y"], hue=hue, errorbar=None, palette=PALETTE, alpha=0.85, ax=ax)
        # a swarm places the folds' dots deterministically (a strip's jitter draws from the global RNG)
        sns.swarmplot(
            x=data["x"], y=data["y"], hue=hue, dodge=True, palette="dark:black", size=3, legend=False, ax=ax
        )
        for container in ax.containers:
            ax.bar_label(container, fmt="%.1f", fontsize=6, padding=1)
        ax.set_ylabel("% (bars: mean over folds; dots: folds)")
        ax.set_ylim(0, 100)
        ax.set_xlabel("")
        title = "Video models: UAR and WAR on the test folds"
        if optimistic:
            title += "\n* selected on the test fold: optimistic"
        ax.set_title(title)
        ax.legend(title=None, loc="upper right")
        return png(fig)


def per_class_recall(recall: Mapping[str, Mapping[str, float]]) -> bytes:
    """Per-class recall of every variant (mean over folds): ``{variant: {class: recall}}``."""
    rows = [(short(v, 24), short(c, 20), 100 * float(r)) for v, per in recall.items() for c, r in per.items()]
    classes = list(dict.fromkeys(r[1] for r in rows))
    with style():
        fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(classes) + 1.5), 2.6))
        sns.barplot(
            x=[r[1] for r in rows], y=[r[2] for r in rows], hue=[r[0] for r in rows], palette=PALETTE, ax=ax
        )
        ax.set_ylabel("recall, %")
        ax.set_ylim(0, 100)
        ax.set_title("Per-class recall (mean over folds)")
        ax.legend(title=None, fontsize=6)
        ax.tick_params(axis="x", rotation=30)
        return png(fig)


def learning_curves(runs: Sequence[Mapping[str, Any]]) -> bytes:
    """Training loss and per-epoch test-fold UAR/WAR of every run (variant, fold).

    Args:
        runs: ``label`` and ``history`` (the list of per-epoch dicts from ``history.json``).
    """
    colors = sns.color_palette(PALETTE, max(1, len(runs)))
    with style():
        fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(8, 2.8))
        for color, run in zip(colors, runs, strict=False):
            history = run["history"]
            epochs = [h["epoch"] for h in history]
            label = short(run["label"], 36)
            loss_ax.plot(
                epochs, [h.get("train/loss", np.nan) for h in history], "-o", ms=2, color=color, label=label
            )
            for key, line in (("test/uar", "-"), ("test/war", ":"), ("val/uar", "--")):
                values = [h.get(key, np.nan) for h in history]
                if np.all(np.isnan(np.asarray(values, dtype=float))):
                    continue
                metric_ax.plot(
                    epochs, 100 * np.asarray(values, dtype=float), line, color=color, label=f"{label} {key}"
                )
        loss_ax.set_title("training loss")
        loss_ax.set_xlabel("epoch")
        loss_ax.legend(fontsize=6)
        metric_ax.set_title("per-epoch UAR/WAR (test fold: monitoring only)")
        metric_ax.set_xlabel("epoch")
        metric_ax.set_ylabel("%")
        metric_ax.set_ylim(0, 100)
        metric_ax.legend(fontsize=5, ncol=1)
        fig.tight_layout()
        return png(fig)


def issm_episodes(panels: Sequence[Mapping[str, Any]], max_clips: int = 24) -> bytes:
    """Where ISSM's learned frames fall relative to the true emotion episode, clip by clip.

    Args:
        panels: One per (variant, fold): ``title`` and the contents of ``issm_episode.json`` (``per_clip``
            with ``sample_id``, ``episode`` [start, end), ``static`` and ``dynamic`` source-frame indices;
            ``dynamic_in_episode``, ``static_in_episode``, ``episode_share``).
        max_clips: Clips drawn per panel (the first ones; the summary numbers cover all clips).
    """
    heights = [min(max_clips, len(p["per_clip"])) for p in panels]
    with style():
        fig, axes = plt.subplots(
            len(panels),
            1,
            figsize=(7, sum(0.5 + 0.16 * h for h in heights) + 0.4),
            squeeze=False,
            gridspec_kw={"height_ratios": [max(h, 3) for h in heights]},
        )
        colors = sns.color_palette(PALETTE, 3)
        for ax, panel, height in zip(axes[:, 0], panels, heights, strict=True):
            clips = panel["per_clip"][:height]
            for y, clip in enumerate(clips):
                start, end = clip["episode"]
                ax.barh(y, end - start, left=start - 0.5, height=0.7, color=colors[2], alpha=0.3, lw=0)
                ax.plot(clip["dynamic"], [y] * len(clip["dynamic"]), "^", ms=3.5, color=colors[0])
                ax.plot(clip["static"], [y] * len(clip["static"]), "o", ms=3.5, mfc="none", color=colors[1])
            ax.set_yticks(range(len(clips)), [short(c["sample_id"], 12) for c in clips], fontsize=5)
            ax.invert_yaxis()
            ax.set_xlabel("frame of the source video")
            ax.set_title(
                f"{short(panel['title'], 48)}: dynamic frames in episode "
                f"{100 * panel['dynamic_in_episode']:.0f}%, static {100 * panel['static_in_episode']:.0f}%, "
                f"chance (episode share) {100 * panel['episode_share']:.0f}%"
                + (
                    f"; first {height} of {len(panel['per_clip'])} clips"
                    if height < len(panel["per_clip"])
                    else ""
                )
            )
        handles = [
            plt.Rectangle((0, 0), 1, 1, color=colors[2], alpha=0.3, lw=0),
            plt.Line2D([], [], ls="", marker="^", color=colors[0]),
            plt.Line2D([], [], ls="", marker="o", mfc="none", color=colors[1]),
        ]
        fig.legend(
            handles,
            ["true episode", "dynamic (ISSM)", "static (ISSM)"],
            loc="lower center",
            ncol=3,
            bbox_to_anchor=(0.5, -0.01),
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return png(fig)
