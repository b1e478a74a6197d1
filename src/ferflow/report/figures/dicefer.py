"""DICE-FER's figures: MIG and leakage probes, t-SNE of the codes, per-stage training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ferflow.report.figures.style import PALETTE, png, short, style


def mig_leakage(models: Mapping[str, Mapping[str, Any]]) -> bytes:
    """MIG and the leakage probes of DICE-FER and its baseline, probes against their chance level.

    Args:
        models: ``{model name: metrics.json contents}``; missing ``mig``/``probes`` entries are left out.
    """
    mig_rows = [(name, m["mig"]["value"]) for name, m in models.items() if isinstance(m.get("mig"), dict)]
    probe_rows = [
        (name, probe.replace("_from_", " from "), p["accuracy"], p["chance"])
        for name, m in models.items()
        for probe, p in (m.get("probes") or {}).items()
    ]
    with style():
        fig, (mig_ax, probe_ax) = plt.subplots(
            1, 2, figsize=(8, 2.9), gridspec_kw={"width_ratios": [1, max(2, len(probe_rows) / 2)]}
        )
        colors = dict(zip(models, sns.color_palette(PALETTE, len(models)), strict=True))
        if mig_rows:
            bars = mig_ax.bar(
                [short(n, 20).replace(" ", "\n", 1) for n, _ in mig_rows],
                [v for _, v in mig_rows],
                color=[colors[n] for n, _ in mig_rows],
            )
            mig_ax.bar_label(bars, fmt="%.3f", fontsize=6)
        else:
            mig_ax.text(0.5, 0.5, "MIG not computed", ha="center", transform=mig_ax.transAxes)
        mig_ax.set_title("MIG (higher: more disentangled)")
        mig_ax.set_ylim(0, max([0.1, *(1.2 * v for _, v in mig_rows)]))
        x = np.arange(len(probe_rows))
        if probe_rows:
            bars = probe_ax.bar(
                x, [100 * r[2] for r in probe_rows], color=[colors[r[0]] for r in probe_rows], width=0.7
            )
            probe_ax.bar_label(bars, fmt="%.0f", fontsize=6)
            probe_ax.hlines(
                [100 * r[3] for r in probe_rows], x - 0.4, x + 0.4, colors="black", linestyles="--", lw=1
            )
            probe_ax.set_xticks(
                x, [short(r[1], 30).replace(" from ", "\nfrom ") for r in probe_rows], fontsize=6
            )
        else:
            probe_ax.text(0.5, 0.5, "no probes", ha="center", transform=probe_ax.transAxes)
        probe_ax.set_ylim(0, 105)
        probe_ax.set_ylabel("probe accuracy, %")
        probe_ax.set_title("linear probes (dashed: chance, the majority class)")
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
        probe_ax.legend(handles, [short(n, 20) for n in colors], fontsize=6, loc="upper right")
        fig.tight_layout()
        return png(fig)


def tsne_embed(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of ``codes`` (N, D): scikit-learn, PCA initialisation, perplexity fitted to small N."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    codes = np.asarray(codes, dtype=np.float64)
    n = len(codes)
    if n < 3:
        return np.zeros((n, 2))
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    # One thread: deterministic, and OpenMP's spinning threads crawl on a machine shared with other jobs.
    with threadpool_limits(1):
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)


def tsne_grid(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """t-SNE maps: one row per code (e.g. E, I), coloured by expression (left) and identity (right).

    Args:
        rows: ``title``, ``points`` (N, 2), ``expression`` (N names) and ``identity`` (N names).
    """
    with style():
        fig, axes = plt.subplots(len(rows), 2, figsize=(7.5, 3.2 * len(rows)), squeeze=False)
        for (left, right), row in zip(axes, rows, strict=True):
            points = np.asarray(row["points"])
            for ax, factor in ((left, "expression"), (right, "identity")):
                names = [short(v, 16) for v in row[factor]]
                levels = list(dict.fromkeys(sorted(names)))
                palette = sns.color_palette("tab10" if len(levels) <= 10 else "husl", len(levels))
                sns.scatterplot(
                    x=points[:, 0],
                    y=points[:, 1],
                    hue=names,
                    hue_order=levels,
                    palette=palette,
                    s=10,
                    linewidth=0,
                    legend=len(levels) <= 12,
                    ax=ax,
                )
                ax.set_title(f"{short(row['title'], 40)}, coloured by {factor}")
                ax.set_xticks([])
                ax.set_yticks([])
                if len(levels) <= 12:
                    ax.legend(fontsize=5, markerscale=0.7, loc="best", title=None)
                else:
                    ax.text(0.01, 0.01, f"{len(levels)} {factor} levels", fontsize=6, transform=ax.transAxes)
        fig.tight_layout()
        return png(fig)


def dicefer_history(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Per-stage training curves of DICE-FER and its baseline (every loss/MI/accuracy term per epoch).

    Args:
        histories: ``{model: history.json entries}`` (each with ``name`` = stage, ``epoch`` and the terms).
    """
    skip = {"stage", "name", "epoch", "seconds"}
    stages: dict[str, list[Mapping[str, Any]]] = {}
    for model, history in histories.items():
        for entry in history:
            stages.setdefault(f"{model}: {entry.get('name', entry.get('stage'))}", []).append(entry)
    with style():
        fig, axes = plt.subplots(1, len(stages), figsize=(2.6 * len(stages) + 0.5, 2.6), squeeze=False)
        for ax, (title, entries) in zip(axes[0], stages.items(), strict=True):
            keys = [k for k in entries[0] if k not in skip and not k.endswith("_per_second")]
            epochs = [e["epoch"] for e in entries]
            lines = []
            for key in keys:
                values = [e.get(key) for e in entries]
                if not all(isinstance(v, int | float) for v in values):
                    continue
                if key == "l1":  # a code distance, tens of units: its own axis keeps the MI terms readable
                    twin = ax.twinx()
                    lines += twin.plot(epochs, values, "--", color="grey", lw=1, label="l1 (right axis)")
                    twin.tick_params(labelsize=6)
                    twin.grid(False)
                else:
                    lines += ax.plot(epochs, values, "-o", ms=2, label=short(key, 20))
            ax.set_title(short(title, 34))
            ax.set_xlabel("epoch")
            ax.legend(lines, [line.get_label() for line in lines], fontsize=5)
        fig.tight_layout()
        return png(fig)
