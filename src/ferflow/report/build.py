"""Build the run report: `report.html` (self-contained) and `report.pdf` (WeasyPrint) from one template.

`build_report` reads the pipeline's result files under the project folder (locations from `ferflow.paths` and
the parameters), draws the figures (`ferflow.report.figures`), renders `templates/report.html.j2` with
autoescaping on, and writes, each atomically (temporary name, then rename):

- ``report.html``: figures embedded as ``data:`` URIs; no external stylesheet, script, font or image;
- ``report.pdf``: the same HTML rendered by WeasyPrint with a URL fetcher that allows ``data:`` URIs only;
- ``figures/<name>.png``: every figure of `FIGURES`, always (a small "not run" image when a section's inputs
  are absent), so that Snakemake can declare them as outputs for ``snakemake --report``.

A section whose inputs are missing says "not run" and why. Any other failure in a section (a file that exists
but cannot be read, a bug) shows as an error box in its place, the rest of the report is still written, and
then `build_report` raises: the failures, with their tracebacks, end the stage with a non-zero status.
Model selection on the test fold is labelled optimistic wherever shown.
"""

from __future__ import annotations

import base64
import csv
import importlib.metadata
import json
import logging
import os
import platform
import struct
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import roc_curve

import ferflow
from ferflow import paths
from ferflow.config import Params, faceid_trunks
from ferflow.core.atomic import write_bytes
from ferflow.report import figures as F

__all__ = ["FIGURES", "LITERATURE", "build_report", "collect", "render_html"]

LOG = logging.getLogger(__name__)

IFDD_RESULTS = Path("results") / "ifdd"
DICEFER_RESULTS = Path("results") / "dicefer"
PRETRAIN_RESULTS = Path("results") / "pretrain"
STUDY_SUMMARY = Path("results") / "study" / "summary.json"
BENCH = Path("reports") / "bench"
DICEFER_MODELS = {"dicefer": "DICE-FER", "baseline": "ResNet-18 baseline"}
#: Shown beside them when evaluated (`snakemake results/dicefer/<name>/eval/metrics.json`), never "not run".
IMAGE_CONTROL_MODELS = {
    "control_image_static": "image control (static CNN)",
    "control_image_reference": "image control (CNN with the person's mean face)",
}
MANIFEST_ROWS = 100  # skipped files listed in full; the rest are counted
NA = "\u2013"  # an en dash: what a table shows for a missing value
PROBE_VIEWS = ("one_frame", "frame_mean", "peak_change")  # the clip views of synthetic.measure.clip_views
PROBE_VIEW_TEXT = ("one frame", "mean over frames", "peak change from the clip's median")
CONTROL_TEXT = {
    "control_static": "static control (lower bound: no dynamics)",
    "control_dynamics": "dynamics control (a simple model with dynamics)",
}
TSNE_POINTS = 2000  # t-SNE on at most this many test images (a fixed random subset beyond)

#: Every figure file written under ``figures/``: name -> title (captions: ``workflow/report/<name>.rst``).
FIGURES: dict[str, str] = {
    "ifdd_uar_war": "IFDD vs baseline: UAR and WAR",
    "ifdd_per_class_recall": "IFDD: per-class recall",
    "ifdd_confusion": "IFDD: confusion matrices",
    "ifdd_learning_curves": "IFDD: learning curves",
    "issm_episode": "ISSM's static and dynamic frames against the true episode",
    "dicefer_confusion": "DICE-FER: confusion matrices",
    "dicefer_mig_leakage": "DICE-FER vs baseline: MIG and leakage probes",
    "dicefer_tsne": "DICE-FER: t-SNE of E and I",
    "dicefer_history": "DICE-FER: training curves",
    "pretrain_verification": "Pretraining: face verification on held-out identities",
    "samples_clips": "Aligned clips (sample)",
    "samples_images": "Aligned images (sample)",
    "bench_data": "Data-stage benchmark",
    "bench_models": "Model throughput benchmark",
    "study_forest": "Comparisons over folds and seeds: paired differences and intervals",
}

LIBRARIES = (
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "opencv-python-headless",
    "av",
    "dlib-bin",
    "pandas",
    "pydantic",
    "matplotlib",
    "seaborn",
    "jinja2",
    "weasyprint",
    "snakemake",
    "dvc",
    "dvclive",
)

#: Published numbers from `shared/spec/{ifdd,dicefer}.md`: other work, other data, shown for orientation only.
LITERATURE: dict[str, Any] = {
    "ifdd_peers": {
        "title": "DFEW, 5-fold mean (UAR/WAR %, parameters M, GFLOPs where known)",
        "columns": ["Method", "UAR %", "WAR %", "Params (M)", "GFLOPs"],
        "rows": [
            ["Former-DFER", "53.69", "65.70", "18", "9"],
            ["IAL", "55.71", "69.24", "19", "10"],
            ["M3DFEL", "56.10", "69.25", NA, "2"],
            ["DFER-CLIP", "59.61", "71.25", NA, NA],
            ["MAE-DFER", "63.41", "74.43", "85", "50"],
            ["S2D", "61.82", "76.03", NA, NA],
        ],
        "note": "IFDD's abstract claims up to 73.82% WAR on DFEW.",
    },
    "dicefer_per_class": {
        "title": "Seed report (a re-implementation of DICE-FER on RAF-DB): per-class accuracy, overall 82.5%",
        "columns": ["Class", "Accuracy"],
        "rows": [
            ["Happiness", "0.934"],
            ["Surprise", "0.818"],
            ["Neutral", "0.809"],
            ["Sadness", "0.757"],
            ["Anger", "0.753"],
            ["Fear", "0.554"],
            ["Disgust", "0.500"],
        ],
        "note": "",
    },
    "dicefer_mig": {
        "title": "MIG and accuracy reported for DICE-FER and peers (second-hand, unverified)",
        "columns": ["Dataset", "Source", "DICE-FER", "Peers"],
        "rows": [
            ["RAF-DB", "seed report", "MIG 0.450", "TDGAN 0.365, AGILE 0.400"],
            [
                "CK+",
                "reported for the paper",
                "MIG 0.592; accuracy 99.50%",
                "TDGAN 0.454, Cross-VAE 0.490, AGILE 0.588",
            ],
            ["RAF-DB", "reported for the paper", "accuracy 90.30% (one source), 85.5% (another)", NA],
        ],
        "note": "",
    },
}


# ------------------------------------------------------------------------------------------- reading
class _Unreadable(Exception):
    """A result file exists but cannot be used."""


def _read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist; `_Unreadable` when it exists but is not JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise _Unreadable(f"{path}: {err}") from None


def _read_csv(path: Path) -> list[dict[str, str]] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _not_run(reason: str) -> dict[str, Any]:
    return {"ran": False, "reason": reason}


def _pct(value: Any, digits: int = 2) -> str:
    return NA if value is None else f"{100 * float(value):.{digits}f}"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _diff(value: Any, scale: float) -> str:
    """A signed difference: points for rates (scale 100), as it is otherwise (MIG)."""
    return NA if value is None else f"{scale * float(value):+.{1 if scale == 100 else 3}f}"


def _mean_sd(spread: dict[str, Any] | None, key: str) -> str:
    """Mean ± SD over cells: percent for rates, as it is for MIG."""
    if not spread:
        return NA
    if key == "mig":
        return f"{_num(spread['mean'])} ± {_num(spread['sd'])}"
    return f"{_pct(spread['mean'], 1)} ± {_pct(spread['sd'], 1)}"


def _selection(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """How a run's model was selected, with the optimistic flag for selection on the test fold."""
    if not metrics:
        return {"text": NA, "optimistic": False}
    selection = metrics.get("selection", "last")
    epoch = metrics.get("selected_epoch")
    optimistic = bool(metrics.get("optimistic")) or selection == "test"
    text = {"last": "last epoch", "val": "best on validation split", "test": "best on the test fold"}.get(
        selection, str(selection)
    )
    if epoch is not None:
        text += f" (epoch {epoch})"
    return {"text": text, "optimistic": optimistic}


class _Builder:
    """Gathers the report's sections from the result files and draws their figures."""

    def __init__(self, root: Path, params: Params) -> None:
        self.root = Path(root)
        self.params = params
        self.figures: dict[str, bytes] = {}
        self.inputs: list[dict[str, Any]] = []
        self.errors: list[Exception] = []

    # -- helpers
    def path(self, relative: Path | str) -> Path:
        path = self.root / relative
        self.inputs.append({"path": str(relative), "found": path.exists()})
        return path

    def figure(self, name: str, draw: Callable[..., bytes], *args: Any, **kwargs: Any) -> dict[str, str]:
        png = draw(*args, **kwargs)
        self.figures[name] = png
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
        scale = 96 / F.DPI  # CSS pixels per image pixel: the figure at the size matplotlib drew it
        return {
            "name": name,
            "title": FIGURES[name],
            "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "width": round(width * scale),
            "height": round(height * scale),
        }

    def section(self, name: str, gather: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return gather()
        except Exception as err:  # recorded, raised once the rest of the report is written
            err.add_note(f"in the report's {name} section")
            self.errors.append(err)
            return {"ran": False, "error": f"{type(err).__name__}: {err}"}

    # -- sections
    def summary(self) -> dict[str, Any]:
        p = self.params
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        now = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
        datasets = []
        for branch, section, kind in (
            ("video (IFDD)", p.data.video, "clips"),
            ("image (DICE-FER)", p.data.image, "images"),
        ):
            metrics = _read_json(self.root / f"{paths.processed(p, kind)}_metrics.json") or {}
            datasets.append(
                {
                    "branch": branch,
                    "dataset": section.dataset,
                    "root": str(section.root) if section.root else str(paths.synthetic_root(p)),
                    "samples": metrics.get("samples", NA),
                }
            )
        return {
            "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
            "ferflow": ferflow.__version__,
            "git": _source_commit(self.root),
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "libraries": [{"name": n, "version": _version(n)} for n in LIBRARIES],
            "datasets": datasets,
            "params": yaml.safe_dump(
                p.model_dump(mode="json"), sort_keys=False, width=60, default_flow_style=None
            ),
            "selection": _selection({"selection": p.ifdd.train.selection}),
        }

    def ifdd(self) -> dict[str, Any]:
        p = self.params
        summary = _read_json(self.path(IFDD_RESULTS / "summary.json")) or {}
        variants = list(dict.fromkeys([*p.ifdd.variants, *summary]))
        runs, missing = [], []
        for variant in variants:
            folder = self.root / IFDD_RESULTS / variant
            folds = p.ifdd.folds or sorted(
                {int(d.name.removeprefix("fold_")) for d in folder.glob("fold_*") if d.name[5:].isdigit()}
                | {int(k) for k in (summary.get(variant) or {}).get("folds", {}) if str(k).isdigit()}
            )
            for fold in folds:
                run_dir = IFDD_RESULTS / variant / f"fold_{fold}"
                metrics = _read_json(self.path(run_dir / "eval" / "metrics.json"))
                from_summary = ((summary.get(variant) or {}).get("folds") or {}).get(str(fold))
                if metrics is None and from_summary is None:
                    missing.append(f"{variant} fold {fold}")
                    continue
                runs.append(
                    {
                        "variant": variant,
                        "fold": fold,
                        "metrics": metrics,
                        "war": (metrics or from_summary)["war"],
                        "uar": (metrics or from_summary)["uar"],
                        "selection": _selection(metrics)
                        if metrics
                        else {
                            "text": NA,
                            "optimistic": bool((summary.get(variant) or {}).get("optimistic")),
                        },
                        "history": _read_json(self.path(run_dir / "history.json")),
                        "issm": _read_json(self.path(run_dir / "eval" / "issm_episode.json")),
                    }
                )
        if not runs:
            reason = "no IFDD evaluation found under results/ifdd/"
            return _not_run(reason + (f" (expected: {', '.join(missing)})" if missing else ""))

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
                        {"uar": _pct(by_fold[f]["uar"]), "war": _pct(by_fold[f]["war"])}
                        if f in by_fold
                        else {"uar": NA, "war": NA}
                        for f in folds
                    ],
                    "mean_uar": _pct(np.mean([r["uar"] for r in mine])),
                    "mean_war": _pct(np.mean([r["war"] for r in mine])),
                    "n": len(mine),
                    "selection": "; ".join(dict.fromkeys(r["selection"]["text"] for r in mine)),
                    "optimistic": is_optimistic,
                }
            )
        result: dict[str, Any] = {
            "ran": True,
            "folds": folds,
            "table": table,
            "optimistic": optimistic,
            "missing": missing,
            "bars": self.figure("ifdd_uar_war", F.uar_war_bars, runs, optimistic),
            "bounds": self._bounds(table),
        }

        with_metrics = [r for r in runs if r["metrics"]]
        if with_metrics:
            per_variant: dict[str, list[dict[str, Any]]] = {}
            for r in with_metrics:
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
            result["recall"] = {
                "variants": list(recall),
                "rows": [{"class": c, "values": [_pct(recall[v].get(c)) for v in recall]} for c in classes],
                "figure": self.figure("ifdd_per_class_recall", F.per_class_recall, recall),
            }
            result["confusion"] = self.figure("ifdd_confusion", F.confusion_grid, panels)
        histories = [
            {"label": f"{r['variant']} fold {r['fold']}", "history": r["history"]}
            for r in runs
            if r["history"]
        ]
        if histories:
            result["learning"] = self.figure("ifdd_learning_curves", F.learning_curves, histories)

        episodes = [r for r in runs if r["issm"] and r["issm"].get("per_clip")]
        if episodes:
            result["issm"] = {
                "ran": True,
                "rows": [
                    {
                        "variant": r["variant"],
                        "fold": r["fold"],
                        "clips": r["issm"].get("clips", len(r["issm"]["per_clip"])),
                        "dynamic": _pct(r["issm"]["dynamic_in_episode"], 1),
                        "static": _pct(r["issm"]["static_in_episode"], 1),
                        "chance": _pct(r["issm"]["episode_share"], 1),
                    }
                    for r in episodes
                ],
                "figure": self.figure(
                    "issm_episode",
                    F.issm_episodes,
                    [{"title": f"{r['variant']} fold {r['fold']}", **r["issm"]} for r in episodes],
                ),
            }
        else:
            result["issm"] = _not_run(
                "no issm_episode.json with clips (written for ISSM variants evaluated on the embedded "
                "benchmark, whose ground truth knows each clip's episode)"
            )
        return result

    def dicefer(self) -> dict[str, Any]:
        models: dict[str, dict[str, Any]] = {}
        histories: dict[str, Any] = {}
        missing = []
        for key, label in (DICEFER_MODELS | IMAGE_CONTROL_MODELS).items():
            metrics = _read_json(self.path(DICEFER_RESULTS / key / "eval" / "metrics.json"))
            if metrics is None and key in IMAGE_CONTROL_MODELS:
                continue
            history = _read_json(self.path(DICEFER_RESULTS / key / "history.json"))
            if history:
                histories[label] = history
            if metrics is None:
                missing.append(label)
                continue
            models[label] = {"key": key, "metrics": metrics}
        if not models:
            return _not_run("no DICE-FER or baseline evaluation found under results/dicefer/")

        headline, tables, panels, probes, skipped = [], [], [], [], []
        for label, entry in models.items():
            m = entry["metrics"]
            mig = m.get("mig") if isinstance(m.get("mig"), dict) else None
            headline.append(
                {
                    "model": label,
                    "samples": m.get("samples", NA),
                    "accuracy": _pct(m.get("war")),
                    "uar": _pct(m.get("uar")),
                    "precision": _pct(m.get("macro_precision")),
                    "recall": _pct(m.get("macro_recall")),
                    "f1": _pct(m.get("macro_f1")),
                    "mig": _num(mig["value"]) if mig else NA,
                    "mig_detail": (
                        f"expression {_num(mig.get('expression'))}, identity {_num(mig.get('identity'))}; "
                        f"latents {mig.get('latents', '?')} ({mig.get('dimensions', '?')} dims, "
                        f"{mig.get('bins', '?')} bins)"
                    )
                    if mig
                    else "",
                }
            )
            rows = m.get("per_class") or []
            cols = ("accuracy", "precision", "recall", "f1")
            table = [
                {"class": r["class"], **{c: _num(r[c]) for c in cols}, "support": r["support"]} for r in rows
            ]
            if rows:
                table.append(
                    {
                        "class": "Macro avg",
                        **{c: _num(float(np.mean([r[c] for r in rows]))) for c in cols},
                        "support": sum(int(r["support"]) for r in rows),
                        "macro": True,
                    }
                )
            tables.append({"model": label, "rows": table})
            if m.get("confusion") is not None:
                panels.append(
                    {
                        "title": label,
                        "classes": m["classes"],
                        "confusion": m["confusion"],
                        "confusion_normalised": m["confusion_normalised"],
                    }
                )
            for name, probe in (m.get("probes") or {}).items():
                factor, _, source = name.partition("_from_")
                leakage = (factor == "identity" and source in ("E", "embedding")) or (
                    factor == "expression" and source == "I"
                )
                probes.append(
                    {
                        "model": label,
                        "probe": f"{factor} from {source}",
                        "role": "leakage" if leakage else "reference",
                        "accuracy": _pct(probe.get("accuracy"), 1),
                        "chance": _pct(probe.get("chance"), 1),
                        "samples": probe.get("samples", NA),
                        "classes": probe.get("classes", NA),
                        "folds": probe.get("folds", NA),
                    }
                )
            skipped += [{"model": label, "what": k, "why": v} for k, v in (m.get("skipped") or {}).items()]

        result: dict[str, Any] = {
            "ran": True,
            "missing": missing,
            "headline": headline,
            "tables": tables,
            "probes": probes,
            "skipped": skipped,
        }
        if panels:
            result["confusion"] = self.figure("dicefer_confusion", F.confusion_grid, panels)
        if any(
            isinstance(e["metrics"].get("mig"), dict) or e["metrics"].get("probes") for e in models.values()
        ):
            result["mig_leakage"] = self.figure(
                "dicefer_mig_leakage", F.mig_leakage, {label: e["metrics"] for label, e in models.items()}
            )
        tsne_rows = self._tsne_rows(models)
        if tsne_rows:
            result["tsne"] = self.figure("dicefer_tsne", F.tsne_grid, tsne_rows)
        else:
            result["tsne_reason"] = "no embeddings.npz next to the evaluations"
        if histories:
            result["history"] = self.figure("dicefer_history", F.dicefer_history, histories)
        return result

    def _tsne_rows(self, models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for label, entry in models.items():
            path = self.path(DICEFER_RESULTS / entry["key"] / "eval" / "embeddings.npz")
            if not path.is_file():
                continue
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            classes = [str(c) for c in arrays.get("classes", [])]
            labels = arrays["labels"].astype(int)
            keep = np.arange(len(labels))
            if len(keep) > TSNE_POINTS:
                keep = np.sort(np.random.default_rng(0).choice(len(keep), TSNE_POINTS, replace=False))
            expression = [classes[i] if i < len(classes) else str(i) for i in labels[keep]]
            identities = arrays.get("identities")
            identity = (
                [str(v) or "unknown" for v in identities[keep]]
                if identities is not None and len(identities) == len(labels)
                else ["unknown"] * len(keep)
            )
            codes = (
                [("E (expression code)", arrays["e"]), ("I (identity code)", arrays["i"])]
                if "e" in arrays and "i" in arrays
                else [("embedding", arrays["codes"])]
            )
            for name, values in codes:
                rows.append(
                    {
                        "title": f"{label} {name}",
                        "points": F.tsne_embed(values[keep]),
                        "expression": expression,
                        "identity": identity,
                    }
                )
        return rows

    def pretrain(self) -> dict[str, Any]:
        trunks = faceid_trunks(self.params)
        if not trunks:
            return _not_run("no model starts from init: faceid")
        rows, curves, rocs = [], {}, {}
        for trunk in trunks:
            folder = PRETRAIN_RESULTS / trunk
            card = _read_json(self.path(folder / "model_card.json"))
            if card is None:
                continue
            history = _read_json(self.path(folder / "history.json")) or []
            curves[trunk] = [(h["epoch"], h["verify/accuracy"]) for h in history if "verify/accuracy" in h]
            scores = _read_csv(self.path(folder / "verification_scores.csv"))
            if scores:
                same = np.array([r["same"] == "1" for r in scores])
                far, tar, _ = roc_curve(same, np.array([float(r["score"]) for r in scores]))
                rocs[trunk] = (far, tar)
            v = card.get("verification") or {}
            rows.append(
                {
                    "trunk": trunk,
                    "serves": "DICE-FER and baseline" if trunk == "resnet18" else "IFDD and baseline",
                    "input": card.get("input", NA),
                    "data": f"{card.get('dataset', NA)}: {card.get('identities', NA)} identities, "
                    f"{card.get('images', NA)} images",
                    "loss": card.get("loss", NA),
                    "epochs": card.get("epochs", NA),
                    "seconds": card.get("train_seconds", NA),
                    "accuracy": _pct(v.get("accuracy")),
                    "accuracy_std": _pct(v.get("accuracy_std")),
                    "tar": _pct(v.get("tar")),
                    "far": f"≤ {v['far']:g} (resolution {v['far_resolution']:.1e})" if v else NA,
                    "pairs": v.get("pairs", NA),
                }
            )
        if not rows:
            return _not_run(f"no {PRETRAIN_RESULTS}/<trunk>/model_card.json (run `snakemake pretrain`)")
        return {
            "ran": True,
            "rows": rows,
            "missing": sorted(set(trunks) - {r["trunk"] for r in rows}),
            "figure": self.figure("pretrain_verification", F.pretrain_verification, curves, rocs),
        }

    def study(self) -> dict[str, Any]:
        summary = _read_json(self.path(STUDY_SUMMARY))
        if summary is None:
            return _not_run(f"no {STUDY_SUMMARY} (`make study` runs every fold x seed and compares)")
        comparisons = summary.get("comparisons") or []

        def interval(c: dict[str, Any], key: str) -> str:
            found = c.get(key)
            return NA if not found else " to ".join(_diff(v, c["scale"]) for v in found)

        rows = [
            {
                "pair": f"{c['a']} - {c['b']}",
                "metric": c["label"],
                "cells": c["cells"],
                "mean": _diff(c["mean"], c["scale"]),
                "bootstrap": interval(c, "bootstrap"),
                "t": interval(c, "t_interval"),
                "t_samples": interval(c, "t_samples_interval"),
                "p": _num((c.get("wilcoxon") or {}).get("p")),
                "p_note": (c.get("wilcoxon") or {}).get("note", ""),
                "kind": c["interval"],
                "note": c.get("note", ""),
            }
            for c in comparisons
        ]
        keys = ("uar", "war", "identity_leakage", "mig")
        models = [
            {"model": name, "cells": m.get("cells"), **{k: _mean_sd(m.get(k), k) for k in keys}}
            for name, m in (summary.get("models") or {}).items()
        ]
        cells = [
            {
                "model": c["model"],
                "fold": c["fold"],
                "seed": c["seed"],
                **{k: (_num(c[k]) if k == "mig" else _pct(c[k], 1)) if k in c else NA for k in keys},
            }
            for c in summary.get("cells") or []
        ]
        power = []
        for c in comparisons:
            w = c.get("power") or {}
            if "min_detectable_t" in w:
                power.append(
                    {
                        "pair": f"{c['a']} - {c['b']}",
                        "cells": w["cells"],
                        "folds": w["folds"],
                        "sd": _pct(w["sd_difference"], 1),
                        "min_t": _pct(w["min_detectable_t"], 1),
                        "min_boot": _pct(w.get("min_detectable_bootstrap"), 1),
                        "target": _pct(w["target"], 0),
                        "cells_needed": w["cells_for_target"],
                        "seeds_needed": w["seeds_for_target"],
                        "too_small": w["min_detectable_t"] > w["target"],
                    }
                )
            elif w:
                power.append({"pair": f"{c['a']} - {c['b']}", "note": w.get("note", "")})
        result: dict[str, Any] = {
            "ran": True,
            "rule": summary.get("rule", ""),
            "verdicts": summary.get("verdicts") or [],
            "seeds": summary.get("seeds"),
            "folds": summary.get("folds"),
            "bootstrap": summary.get("bootstrap") or {},
            "rows": rows,
            "models": models,
            "cells": cells,
            "power": power,
            "missing": summary.get("missing") or [],
        }
        if comparisons:
            result["forest"] = self.figure(
                "study_forest",
                F.forest,
                [
                    {
                        "label": c["label"],
                        "pair": f"{c['a']} - {c['b']}",
                        "mean": c["mean"],
                        "interval": c["verdict_interval"],
                        "t": c["t_interval"],
                        "kind": c["interval"],
                        "scale": c["scale"],
                        "better": c["verdict"]["better"] is not None,
                    }
                    for c in comparisons
                ],
            )
        return result

    def _bounds(self, table: list[dict[str, Any]]) -> list[dict[str, str]]:
        """What the embedded benchmark allows, beside the models: its landmark probes (ground truth, five
        folds of identities) and the two controls (`ferflow.models.controls`) as trained here."""
        measurements = _read_json(self.path(paths.synthetic_root(self.params) / "measurements.json")) or {}
        views = (measurements.get("difficulty") or {}).get("views") or {}
        if not views:
            return []
        rows = [
            {"what": f"true landmarks, {text} (linear probe; 5 folds)", "uar": _pct(views[key].get("uar"), 1)}
            for key, text in zip(PROBE_VIEWS, PROBE_VIEW_TEXT, strict=True)
            if key in views
        ]
        for row in table:
            what = CONTROL_TEXT.get(row["variant"], "model")
            rows.append({"what": f"{row['variant']}: {what}", "uar": row["mean_uar"]})
        return rows

    def data(self) -> dict[str, Any]:
        p = self.params
        result: dict[str, Any] = {"ran": False, "kinds": []}
        measurements = _read_json(self.path(paths.synthetic_root(p) / "measurements.json"))
        if measurements:
            detection = measurements.get("detection") or {}
            result["benchmark"] = [
                ("size, seed", f"{measurements.get('size')}, {measurements.get('seed')}"),
                (
                    "clips / frames / images",
                    f"{measurements.get('clips')} / {measurements.get('frames')} / "
                    f"{measurements.get('images')}",
                ),
                (
                    "generation time",
                    f"{_num(measurements.get('generation_seconds'), 1)} s "
                    f"({measurements.get('workers', '?')} workers)",
                ),
                (
                    "face detector",
                    f"{detection.get('detector', '?')} (IoU ≥ {detection.get('iou_threshold', '?')} "
                    "with the true face)",
                ),
                ("detection rate, video frames", _pct(detection.get("frame_rate"), 2) + " %"),
                ("detection rate, images", _pct(detection.get("image_rate"), 2) + " %"),
                ("clips with missed frames", str(len(detection.get("clips_with_misses") or []))),
            ]
            views = (measurements.get("difficulty") or {}).get("views") or {}
            if views:
                result["benchmark"].append(
                    (
                        "expression from true landmarks, UAR (one frame / frame mean / peak change)",
                        " / ".join(_pct(views.get(k, {}).get("uar"), 1) + " %" for k in PROBE_VIEWS),
                    )
                )
            result["ran"] = True
        for kind, branch in (("clips", "videos → clips"), ("images", "images")):
            store = paths.processed(p, kind)
            metrics = _read_json(self.path(f"{store}_metrics.json"))
            manifest = _read_csv(self.path(f"{store}_manifest.csv"))
            if metrics is None and manifest is None:
                result["kinds"].append(
                    {"kind": kind, "branch": branch, **_not_run(f"no {store}_metrics.json")}
                )
                continue
            result["ran"] = True
            manifest = manifest or []
            labels = {
                "dataset": "adapter",
                "samples": "usable samples",
                "skipped": "skipped samples",
                "frames": "frames aligned",
                "align_backend": "alignment",
                "detection_rate": "face detection rate",
                "frames_borrowed": "frames borrowing neighbours' landmarks",
                "nme_mean": "landmark NME, mean",
                "nme_median": "landmark NME, median",
                "nme_frames": "frames with ground-truth landmarks",
                "pack_seconds": "packing time, s",
            }
            rows = [
                (labels.get(k, k), f"{_pct(v)} %" if k == "detection_rate" and v is not None else _num(v, 4))
                for k, v in (metrics or {}).items()
                if k != "kind"
            ]
            result["kinds"].append(
                {
                    "kind": kind,
                    "branch": branch,
                    "ran": True,
                    "metrics": rows,
                    "reasons": Counter(r.get("reason", "?") for r in manifest).most_common(),
                    "skipped": manifest[:MANIFEST_ROWS],
                    "more": max(0, len(manifest) - MANIFEST_ROWS),
                    "total_skipped": len(manifest),
                }
            )
        result["samples"] = []
        for kind in ("clips", "images"):
            grid = self._samples(kind)
            if grid is not None:
                result["samples"].append(grid)
                result["ran"] = True
        if not result["ran"]:
            return _not_run("no benchmark measurements, data metrics or stores found (run the data stages)")
        return result

    def _samples(self, kind: str) -> dict[str, str] | None:
        from ferflow.data.store import open_store

        folder = self.path(paths.processed(self.params, kind))
        if not folder.is_dir():
            return None
        store = open_store(folder)
        if not len(store.index):
            return None
        labels = store.labels
        rows = []
        if kind == "clips":
            frames = store.samples.shape[1]
            picks = np.unique(np.linspace(0, frames - 1, min(8, frames)).round().astype(int))
            for c, name in enumerate(store.classes):
                found = np.flatnonzero(labels == c)
                if len(found):
                    rows.append((name, [np.asarray(store.samples[found[0], t]) for t in picks]))
            description = f"one clip per class, {len(picks)} of its {frames} stored frames"
        else:
            identities = [r.get("identity", "") for r in store.index]
            for c, name in enumerate(store.classes):
                found, seen = [], set()
                for i in np.flatnonzero(labels == c):
                    if identities[i] not in seen:
                        seen.add(identities[i])
                        found.append(np.asarray(store.samples[i]))
                    if len(found) == 8:
                        break
                if found:
                    rows.append((name, found))
            description = "images of each class, one per identity (up to 8)"
        if not rows:
            return None
        name = f"samples_{kind}"
        return {"kind": kind, "description": description, **self.figure(name, F.sample_grid, rows)}

    def bench(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ran": False}
        data = _read_json(self.path(BENCH / "data.json"))
        if data:
            result["ran"] = True
            machine = data.get("machine") or {}
            result["data"] = {
                "figure": self.figure("bench_data", F.bench_data, data),
                "created": data.get("created", NA),
                "machine": f"{machine.get('processor', '?')}, {machine.get('cpus_usable', '?')} usable CPUs, "
                f"load {machine.get('load_average', '?')}",
                "quick": bool((data.get("settings") or {}).get("quick")),
                "targets": [
                    (k.replace("_", " "), ", ".join(f"{_num(x)} at {n} px" for n, x in v.items()))
                    if isinstance(v, dict)
                    else (k.replace("_", " "), _num(v))
                    for k, v in (data.get("targets") or {}).items()
                ],
            }
        models = _read_json(self.path(BENCH / "models.json"))
        if models:
            result["ran"] = True
            machine = models.get("machine") or {}
            settings = models.get("settings") or {}
            overhead = [
                (family, phase, _num(figures.get("ifdd_overhead"), 2))
                for family, v in models.items()
                if isinstance(v, dict) and family not in ("settings", "machine")
                for phase, figures in v.items()
                if isinstance(figures, dict)
            ]
            result["models"] = {
                "figure": self.figure("bench_models", F.bench_models, models),
                "settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
                "machine": machine.get("gpu") or machine.get("processor", "?"),
                "overhead": overhead,
            }
        if not result["ran"]:
            return _not_run("no reports/bench/data.json or models.json (run `ferflow bench data|models`)")
        return result


def _source_commit(root: Path) -> str:
    """The git commit of the ferflow sources (a src-layout checkout), else of the project folder."""
    package = Path(ferflow.__file__).resolve().parent
    checkout = package.parents[1] if package.parent.name == "src" else None  # not an installed copy
    for folder in (checkout, root):
        if folder is not None and folder.is_dir() and (commit := _git_commit(folder)):
            return commit
    return "unknown (not a git checkout)"


def _git_commit(folder: Path) -> str | None:
    """The commit of the git work tree holding `folder`, with "+ local changes" when it differs from it."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read only: never refresh the index
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, env=env
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = status.returncode == 0 and status.stdout.strip()
    return commit.stdout.strip() + (" + local changes" if dirty else "")


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ------------------------------------------------------------------------------------------ rendering
def collect(root: Path, params: Params) -> tuple[dict[str, Any], dict[str, bytes], list[Exception]]:
    """Read every input under `root` and draw the figures: the template's context, the PNGs by name, and
    the failures of the sections that could not be gathered (each shown as an error box in the context)."""
    builder = _Builder(Path(root), params)
    started = time.perf_counter()
    context = {
        "summary": builder.section("summary", builder.summary),
        "ifdd": builder.section("ifdd", builder.ifdd),
        "dicefer": builder.section("dicefer", builder.dicefer),
        "pretrain": builder.section("pretrain", builder.pretrain),
        "study": builder.section("study", builder.study),
        "data": builder.section("data", builder.data),
        "bench": builder.section("bench", builder.bench),
        "literature": LITERATURE,
        "inputs": builder.inputs,
    }
    LOG.info("report: gathered in %.1f s", time.perf_counter() - started)
    return context, builder.figures, builder.errors


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True, not select_autoescape: the template's name ends in .j2, not .html.
    env = Environment(
        loader=PackageLoader("ferflow.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env


def render_html(context: dict[str, Any]) -> str:
    """The report's HTML from a `collect` context (styles inlined from ``templates/report.css``)."""
    env = _environment()
    css = env.loader.get_source(env, "report.css")[0]
    return env.get_template("report.html.j2").render(css=css, **context)


def _fetcher():
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and refuses everything else (no network)."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint < 68: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"report: refusing to fetch {url}: the report must be self-contained")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols={"data"})


def write_pdf(html: str, path: Path) -> None:
    """Render `html` to a PDF at `path` (atomically), fetching nothing but ``data:`` URIs."""
    from weasyprint import HTML

    logging.getLogger("fontTools").setLevel(logging.WARNING)
    write_bytes(path, HTML(string=html, url_fetcher=_fetcher()).write_pdf())


def build_report(root: Path, out_dir: Path, params: Params) -> tuple[Path, Path]:
    """Render ``out_dir/report.html`` and ``out_dir/report.pdf`` from the result files under `root`.

    Also writes every figure of `FIGURES` as ``out_dir/figures/<name>.png`` (a "not run" image when its
    section's inputs are absent). Missing inputs give "not run" sections, never an error.

    Args:
        root: The project (working) folder the pipeline ran in: ``data/``, ``results/``, ``reports/bench/``.
        out_dir: Where the report goes.
        params: The validated parameters of the run (dataset names, variants, folds, ...).

    Returns:
        The paths of the HTML and PDF files.

    Raises:
        ExceptionGroup: A section failed for another reason than absent inputs (the files are written first,
            with an error box in that section's place).
    """
    out_dir = Path(out_dir)
    context, pngs, errors = collect(Path(root), params)
    html = render_html(context)
    for name, title in FIGURES.items():
        png = pngs.get(name) or F.placeholder(title, "its inputs were absent when the report was built")
        write_bytes(out_dir / "figures" / f"{name}.png", png)
    html_path, pdf_path = out_dir / "report.html", out_dir / "report.pdf"
    write_pdf(html, pdf_path)
    write_bytes(html_path, html.encode("utf-8"))
    if errors:
        raise ExceptionGroup(
            f"report: {len(errors)} section(s) failed; {html_path} and {pdf_path} were written with an error "
            "box in their place",
            errors,
        )
    return html_path, pdf_path
