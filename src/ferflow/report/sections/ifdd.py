"""The IFDD section: each variant's UAR/WAR per fold, per-class recall, confusion, learning curves, ISSM's
frames against the true episode, and what the embedded benchmark allows (its bounds)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.paths import EVAL_METRICS, IFDD_RESULTS, ISSM_EPISODE_FILE, SUMMARY_FILE
from ferflow.report.figures import ifdd as figures
from ferflow.report.figures.confusion import confusion_grid
from ferflow.report.formatting import NA, not_run, pct, selection
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader

PROBE_VIEWS = ("one_frame", "frame_mean", "peak_change")  # the clip views of synthetic.measure.clip_views
PROBE_VIEW_TEXT = ("one frame", "mean over frames", "peak change from the clip's median")
CONTROL_TEXT = {
    "control_static": "static control (lower bound: no dynamics)",
    "control_dynamics": "dynamics control (a simple model with dynamics)",
}


def ifdd_section(
    reader: Reader, gallery: Gallery, variants: Sequence[str], folds: Sequence[int], measurements: Path
) -> dict[str, Any]:
    """The evaluations of `variants` (and any other in the summary) on `folds` (every fold found when
    empty); `measurements` is the embedded benchmark's ``measurements.json`` (relative to the project)."""
    runs, missing = _runs(reader, variants, folds)
    if not runs:
        reason = f"no IFDD evaluation found under {IFDD_RESULTS.as_posix()}/"
        return not_run(reason + (f" (expected: {', '.join(missing)})" if missing else ""))
    table, optimistic = _table(runs)
    result: dict[str, Any] = {
        "ran": True,
        "folds": sorted({r["fold"] for r in runs}),
        "table": table,
        "optimistic": optimistic,
        "missing": missing,
        "bars": gallery.figure("ifdd_uar_war", figures.uar_war_bars, runs, optimistic),
        "bounds": _bounds(reader, measurements, table),
    }
    with_metrics = [r for r in runs if r["metrics"]]
    if with_metrics:
        result |= _per_class(gallery, with_metrics)
    histories = [
        {"label": f"{r['variant']} fold {r['fold']}", "history": r["history"]} for r in runs if r["history"]
    ]
    if histories:
        result["learning"] = gallery.figure("ifdd_learning_curves", figures.learning_curves, histories)
    result["issm"] = _issm(gallery, runs)
    return result


def _runs(
    reader: Reader, variants: Sequence[str], folds: Sequence[int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every (variant, fold) evaluated, from its metrics file or else the summary; and those missing."""
    summary = reader.json(IFDD_RESULTS / SUMMARY_FILE) or {}
    runs, missing = [], []
    for variant in dict.fromkeys([*variants, *summary]):
        summarised = (summary.get(variant) or {}).get("folds") or {}
        for fold in folds or _folds_found(reader.root / IFDD_RESULTS / variant, summarised):
            run_dir = IFDD_RESULTS / variant / f"fold_{fold}"
            metrics = reader.json(run_dir / EVAL_METRICS)
            from_summary = summarised.get(str(fold))
            if metrics is None and from_summary is None:
                missing.append(f"{variant} fold {fold}")
                continue
            optimistic = bool((summary.get(variant) or {}).get("optimistic"))
            runs.append(
                {
                    "variant": variant,
                    "fold": fold,
                    "metrics": metrics,
                    "war": (metrics or from_summary)["war"],
                    "uar": (metrics or from_summary)["uar"],
                    "selection": selection(metrics) if metrics else {"text": NA, "optimistic": optimistic},
                    "history": reader.json(run_dir / "history.json"),
                    "issm": reader.json(run_dir / "eval" / ISSM_EPISODE_FILE),
                }
            )
    return runs, missing


def _folds_found(folder: Path, summarised: dict[str, Any]) -> list[int]:
    """The folds a variant has a folder or a summary entry for."""
    on_disk = {int(d.name.removeprefix("fold_")) for d in folder.glob("fold_*") if d.name[5:].isdigit()}
    return sorted(on_disk | {int(k) for k in summarised if str(k).isdigit()})


def _table(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per variant (UAR/WAR per fold and their means), and the variants selected on the test fold."""
    folds = sorted({r["fold"] for r in runs})
    table, optimistic = [], []
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        is_optimistic = any(r["selection"]["optimistic"] for r in mine)
        if is_optimistic:
            optimistic.append(variant)
        by_fold = {r["fold"]: r for r in mine}
        table.append(
            {
                "variant": variant,
                "folds": [
                    {"uar": pct(by_fold[f]["uar"]), "war": pct(by_fold[f]["war"])}
                    if f in by_fold
                    else {"uar": NA, "war": NA}
                    for f in folds
                ],
                "mean_uar": pct(np.mean([r["uar"] for r in mine])),
                "mean_war": pct(np.mean([r["war"] for r in mine])),
                "n": len(mine),
                "selection": "; ".join(dict.fromkeys(r["selection"]["text"] for r in mine)),
                "optimistic": is_optimistic,
            }
        )
    return table, optimistic


def _per_class(gallery: Gallery, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-class recall (mean over folds) and the confusion summed over folds, per variant."""
    per_variant: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        per_variant.setdefault(r["variant"], []).append(r["metrics"])
    recall, panels = {}, []
    for variant, ms in per_variant.items():
        classes = ms[0]["classes"]
        recall[variant] = {c: float(np.mean([m["per_class_recall"][c] for m in ms])) for c in classes}
        raw = np.sum([np.asarray(m["confusion"]) for m in ms], axis=0)
        support = raw.sum(axis=1, keepdims=True)
        norm = np.divide(raw, support, out=np.zeros(raw.shape), where=support > 0)
        folds_text = ", ".join(str(m["fold"]) for m in ms)
        panels.append(
            {
                "title": f"{variant} (fold{'s' if len(ms) > 1 else ''} {folds_text})",
                "classes": classes,
                "confusion": raw,
                "confusion_normalised": norm,
            }
        )
    classes = list(dict.fromkeys(c for per in recall.values() for c in per))
    return {
        "recall": {
            "variants": list(recall),
            "rows": [{"class": c, "values": [pct(recall[v].get(c)) for v in recall]} for c in classes],
            "figure": gallery.figure("ifdd_per_class_recall", figures.per_class_recall, recall),
        },
        "confusion": gallery.figure("ifdd_confusion", confusion_grid, panels),
    }


def _issm(gallery: Gallery, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Where ISSM's frames fall against the true episode, for the runs that recorded it."""
    episodes = [r for r in runs if r["issm"] and r["issm"].get("per_clip")]
    if not episodes:
        return not_run(
            "no issm_episode.json with clips (written for ISSM variants evaluated on the embedded "
            "benchmark, whose ground truth knows each clip's episode)"
        )
    return {
        "ran": True,
        "rows": [
            {
                "variant": r["variant"],
                "fold": r["fold"],
                "clips": r["issm"].get("clips", len(r["issm"]["per_clip"])),
                "dynamic": pct(r["issm"]["dynamic_in_episode"], 1),
                "static": pct(r["issm"]["static_in_episode"], 1),
                "chance": pct(r["issm"]["episode_share"], 1),
            }
            for r in episodes
        ],
        "figure": gallery.figure(
            "issm_episode",
            figures.issm_episodes,
            [{"title": f"{r['variant']} fold {r['fold']}", **r["issm"]} for r in episodes],
        ),
    }


def _bounds(reader: Reader, measurements: Path, table: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What the embedded benchmark allows, beside the models: its landmark probes (ground truth, five
    folds of identities) and the two controls (`ferflow.models.controls`) as trained here."""
    views = ((reader.json(measurements) or {}).get("difficulty") or {}).get("views") or {}
    if not views:
        return []
    rows = [
        {"what": f"true landmarks, {text} (linear probe; 5 folds)", "uar": pct(views[key].get("uar"), 1)}
        for key, text in zip(PROBE_VIEWS, PROBE_VIEW_TEXT, strict=True)
        if key in views
    ]
    for row in table:
        what = CONTROL_TEXT.get(row["variant"], "model")
        rows.append({"what": f"{row['variant']}: {what}", "uar": row["mean_uar"]})
    return rows
