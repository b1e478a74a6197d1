"""The report's figures: one function per figure, each returning PNG bytes (seaborn + matplotlib, Agg).

Every function takes plain Python/numpy data (already read from the result files by `ferflow.report.build`)
and never touches the file system. Text in figures comes from result files (class names, variant names), so
matplotlib's mathtext is off: a `$` in a class name is drawn as it is, never parsed.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = [
    "bench_data",
    "bench_models",
    "confusion_grid",
    "dicefer_history",
    "forest",
    "issm_episodes",
    "learning_curves",
    "mig_leakage",
    "per_class_recall",
    "placeholder",
    "pretrain_verification",
    "sample_grid",
    "tsne_embed",
    "tsne_grid",
    "uar_war_bars",
]

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


def _style():
    """The context every figure is drawn in (seaborn's white grid plus `RC`)."""
    return plt.rc_context({**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **RC})


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _short(text: str, width: int = 28) -> str:
    return textwrap.shorten(str(text), width=width, placeholder="…")


def placeholder(title: str, reason: str) -> bytes:
    """A small figure that says a section was not run (for figure files that must always exist)."""
    with _style():
        fig, ax = plt.subplots(figsize=(4, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.62, title, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(0.5, 0.25, textwrap.fill(f"not run: {reason}", 70), ha="center", va="center", fontsize=7)
        return _png(fig)


# ------------------------------------------------------------------------------------------------ IFDD
def uar_war_bars(runs: Sequence[Mapping[str, Any]], optimistic: Sequence[str] = ()) -> bytes:
    """Mean UAR and WAR per variant (bars) with each fold's value (dots).

    Args:
        runs: One mapping per (variant, fold): ``variant``, ``fold``, ``uar``, ``war`` (fractions).
        optimistic: Variants whose model was selected on the test fold (marked in the legend).
    """
    rows = [
        {"variant": _short(r["variant"]) + (" *" if r["variant"] in optimistic else ""), "metric": m.upper()}
        | {"value": 100 * float(r[m]), "fold": r["fold"]}
        for r in runs
        for m in ("uar", "war")
    ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    with _style():
        fig, ax = plt.subplots(figsize=(max(3.5, 1.4 * len(variants) + 1.5), 2.8))
        data = {"x": [r["variant"] for r in rows], "y": [r["value"] for r in rows]}
        hue = [r["metric"] for r in rows]
        sns.barplot(x=data["x"], y=data["y"], hue=hue, errorbar=None, palette=PALETTE, alpha=0.85, ax=ax)
        sns.stripplot(
            x=data["x"], y=data["y"], hue=hue, dodge=True, palette="dark:black", size=3, legend=False, ax=ax
        )
        for container in ax.containers:
            ax.bar_label(container, fmt="%.1f", fontsize=6, padding=1)
        ax.set_ylabel("% (bars: mean over folds; dots: folds)")
        ax.set_ylim(0, 100)
        ax.set_xlabel("")
        title = "IFDD vs baseline: UAR and WAR on the test folds"
        if optimistic:
            title += "\n* selected on the test fold: optimistic"
        ax.set_title(title)
        ax.legend(title=None, loc="upper right")
        return _png(fig)


def per_class_recall(recall: Mapping[str, Mapping[str, float]]) -> bytes:
    """Per-class recall of every variant (mean over folds): ``{variant: {class: recall}}``."""
    rows = [
        (_short(v, 24), _short(c, 20), 100 * float(r)) for v, per in recall.items() for c, r in per.items()
    ]
    classes = list(dict.fromkeys(r[1] for r in rows))
    with _style():
        fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(classes) + 1.5), 2.6))
        sns.barplot(
            x=[r[1] for r in rows], y=[r[2] for r in rows], hue=[r[0] for r in rows], palette=PALETTE, ax=ax
        )
        ax.set_ylabel("recall, %")
        ax.set_ylim(0, 100)
        ax.set_title("Per-class recall (mean over folds)")
        ax.legend(title=None, fontsize=6)
        ax.tick_params(axis="x", rotation=30)
        return _png(fig)


def _heatmap(ax, matrix: np.ndarray, classes: Sequence[str], normalised: bool, title: str) -> None:
    labels = [_short(c, 14) for c in classes]
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
    with _style():
        fig, axes = plt.subplots(n, 2, figsize=(2 * side, side * n), squeeze=False)
        for row, panel in zip(axes, panels, strict=True):
            title = _short(panel["title"], 40)
            _heatmap(row[0], panel["confusion"], panel["classes"], False, f"{title}: counts")
            _heatmap(
                row[1], panel["confusion_normalised"], panel["classes"], True, f"{title}: % of true class"
            )
        fig.tight_layout()
        return _png(fig)


def learning_curves(runs: Sequence[Mapping[str, Any]]) -> bytes:
    """Training loss and per-epoch test-fold UAR/WAR of every run (variant, fold).

    Args:
        runs: ``label`` and ``history`` (the list of per-epoch dicts from ``history.json``).
    """
    colors = sns.color_palette(PALETTE, max(1, len(runs)))
    with _style():
        fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(8, 2.8))
        for color, run in zip(colors, runs, strict=False):
            history = run["history"]
            epochs = [h["epoch"] for h in history]
            label = _short(run["label"], 36)
            loss_ax.plot(
                epochs, [h.get("train/loss", np.nan) for h in history], "-o", ms=2, color=color, label=label
            )
            for key, style in (("test/uar", "-"), ("test/war", ":"), ("val/uar", "--")):
                values = [h.get(key, np.nan) for h in history]
                if np.all(np.isnan(np.asarray(values, dtype=float))):
                    continue
                metric_ax.plot(
                    epochs, 100 * np.asarray(values, dtype=float), style, color=color, label=f"{label} {key}"
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
        return _png(fig)


def issm_episodes(panels: Sequence[Mapping[str, Any]], max_clips: int = 24) -> bytes:
    """Where ISSM's learned frames fall relative to the true emotion episode, clip by clip.

    Args:
        panels: One per (variant, fold): ``title`` and the contents of ``issm_episode.json`` (``per_clip``
            with ``sample_id``, ``episode`` [start, end), ``static`` and ``dynamic`` source-frame indices;
            ``dynamic_in_episode``, ``static_in_episode``, ``episode_share``).
        max_clips: Clips drawn per panel (the first ones; the summary numbers cover all clips).
    """
    heights = [min(max_clips, len(p["per_clip"])) for p in panels]
    with _style():
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
            ax.set_yticks(range(len(clips)), [_short(c["sample_id"], 12) for c in clips], fontsize=5)
            ax.invert_yaxis()
            ax.set_xlabel("frame of the source video")
            ax.set_title(
                f"{_short(panel['title'], 48)}: dynamic frames in episode "
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
        return _png(fig)


# -------------------------------------------------------------------------------------------- DICE-FER
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
    with _style():
        fig, (mig_ax, probe_ax) = plt.subplots(
            1, 2, figsize=(8, 2.9), gridspec_kw={"width_ratios": [1, max(2, len(probe_rows) / 2)]}
        )
        colors = dict(zip(models, sns.color_palette(PALETTE, len(models)), strict=True))
        if mig_rows:
            bars = mig_ax.bar(
                [_short(n, 20).replace(" ", "\n", 1) for n, _ in mig_rows],
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
                x, [_short(r[1], 30).replace(" from ", "\nfrom ") for r in probe_rows], fontsize=6
            )
        else:
            probe_ax.text(0.5, 0.5, "no probes", ha="center", transform=probe_ax.transAxes)
        probe_ax.set_ylim(0, 105)
        probe_ax.set_ylabel("probe accuracy, %")
        probe_ax.set_title("linear probes (dashed: chance, the majority class)")
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
        probe_ax.legend(handles, [_short(n, 20) for n in colors], fontsize=6, loc="upper right")
        fig.tight_layout()
        return _png(fig)


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
    with _style():
        fig, axes = plt.subplots(len(rows), 2, figsize=(7.5, 3.2 * len(rows)), squeeze=False)
        for (left, right), row in zip(axes, rows, strict=True):
            points = np.asarray(row["points"])
            for ax, factor in ((left, "expression"), (right, "identity")):
                names = [_short(v, 16) for v in row[factor]]
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
                ax.set_title(f"{_short(row['title'], 40)}, coloured by {factor}")
                ax.set_xticks([])
                ax.set_yticks([])
                if len(levels) <= 12:
                    ax.legend(fontsize=5, markerscale=0.7, loc="best", title=None)
                else:
                    ax.text(0.01, 0.01, f"{len(levels)} {factor} levels", fontsize=6, transform=ax.transAxes)
        fig.tight_layout()
        return _png(fig)


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
    with _style():
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
                    lines += ax.plot(epochs, values, "-o", ms=2, label=_short(key, 20))
            ax.set_title(_short(title, 34))
            ax.set_xlabel("epoch")
            ax.legend(lines, [line.get_label() for line in lines], fontsize=5)
        fig.tight_layout()
        return _png(fig)


# -------------------------------------------------------------------------------------------- pretrain
def pretrain_verification(
    curves: Mapping[str, Sequence[tuple[int, float]]], rocs: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> bytes:
    """Face verification of the pretrained trunks: accuracy per epoch, and the ROC of the final trunk.

    Args:
        curves: ``{trunk: [(epoch, 10-fold accuracy), ...]}``.
        rocs: ``{trunk: (false-accept rates, true-accept rates)}`` on the held-out pairs.
    """
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.8))
        for trunk, points in curves.items():
            epochs, accuracy = zip(*points, strict=True) if points else ((), ())
            left.plot(epochs, [100 * a for a in accuracy], "-o", ms=3, label=_short(trunk))
        left.set_xlabel("epoch")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_ylabel("verification accuracy, % (10-fold)")
        left.set_title("During pretraining (monitoring only)")
        for trunk, (far, tar) in rocs.items():
            right.plot(np.maximum(far, 1e-4), 100 * np.asarray(tar), label=_short(trunk))
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
        return _png(fig)


# ------------------------------------------------------------------------------------------------ data
def sample_grid(rows: Sequence[tuple[str, Sequence[np.ndarray]]]) -> bytes:
    """A grid of aligned faces: one row per label (e.g. class), images (H, W, 3 uint8) along it."""
    cols = max(len(images) for _, images in rows)
    with _style():
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
            ax_row[0].set_ylabel(_short(label, 14), rotation=0, ha="right", va="center", fontsize=7)
        fig.subplots_adjust(wspace=0.03, hspace=0.06)
        return _png(fig)


# ------------------------------------------------------------------------------------------ benchmarks
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
    with _style():
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
        return _png(fig)


def bench_models(result: Mapping[str, Any]) -> bytes:
    """The model benchmark (`ferflow.bench.models`): training and inference clips/s, IFDD vs baseline."""
    families = [k for k, v in result.items() if isinstance(v, dict) and ("train" in v or "inference" in v)]
    with _style():
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
        return _png(fig)


# ------------------------------------------------------------------------------------------------ study
def _pair_label(pair: str) -> str:
    """``"a - b"`` on two lines, each side shortened on its own, so that rows sharing a long first model
    stay distinguishable."""
    return "\n- ".join(_short(side, 36) for side in pair.split(" - ", 1))


def forest(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """One row per comparison and metric: the mean paired difference (dot), the interval the verdict uses
    (thick line) and the t-interval over cells (thin line, just below), a zero line; one panel per metric.

    Args:
        rows: ``label`` (the metric), ``pair`` (``"a - b"``), ``mean``, ``interval`` and ``t`` ((low, high)
            or None), ``kind`` (``t_samples`` or ``t``), ``scale`` (100 for points) and ``better`` (bool).
    """
    metrics = list(dict.fromkeys(r["label"] for r in rows))
    counts = [sum(r["label"] == m for r in rows) for m in metrics]
    with _style():
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
        return _png(fig)
