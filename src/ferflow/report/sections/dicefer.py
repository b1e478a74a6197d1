"""The DICE-FER section: DICE-FER and its baseline (and the image controls where evaluated): accuracy,
per-class table, confusion, MIG and leakage probes, t-SNE of the codes, training curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferflow.paths import DICEFER_RESULTS, EVAL_METRICS
from ferflow.report.figures import dicefer as figures
from ferflow.report.figures.confusion import confusion_grid
from ferflow.report.formatting import NA, not_run, num, pct
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader

DICEFER_MODELS = {"dicefer": "DICE-FER", "baseline": "ResNet-18 baseline"}
#: Shown beside them when evaluated (`snakemake results/dicefer/<name>/eval/metrics.json`), never "not run".
IMAGE_CONTROL_MODELS = {
    "control_image_static": "image control (static CNN)",
    "control_image_reference": "image control (CNN with the person's mean face)",
}
TSNE_POINTS = 2000  # t-SNE on at most this many test images (a fixed random subset beyond)
PER_CLASS_COLUMNS = ("accuracy", "precision", "recall", "f1")


def dicefer_section(reader: Reader, gallery: Gallery) -> dict[str, Any]:
    """The image models' evaluations under ``results/dicefer/<model>/``."""
    models, histories, missing = _models(reader)
    if not models:
        return not_run(f"no DICE-FER or baseline evaluation found under {DICEFER_RESULTS.as_posix()}/")
    headline, tables, panels, probes, skipped = [], [], [], [], []
    for label, entry in models.items():
        m = entry["metrics"]
        headline.append(_headline(label, m))
        tables.append({"model": label, "rows": _class_table(m)})
        if m.get("confusion") is not None:
            panels.append(
                {
                    "title": label,
                    "classes": m["classes"],
                    "confusion": m["confusion"],
                    "confusion_normalised": m["confusion_normalised"],
                }
            )
        probes += _probes(label, m)
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
        result["confusion"] = gallery.figure("dicefer_confusion", confusion_grid, panels)
    if any(isinstance(e["metrics"].get("mig"), dict) or e["metrics"].get("probes") for e in models.values()):
        result["mig_leakage"] = gallery.figure(
            "dicefer_mig_leakage", figures.mig_leakage, {label: e["metrics"] for label, e in models.items()}
        )
    tsne_rows = _tsne_rows(reader, models)
    if tsne_rows:
        result["tsne"] = gallery.figure("dicefer_tsne", figures.tsne_grid, tsne_rows)
    else:
        result["tsne_reason"] = "no embeddings.npz next to the evaluations"
    if histories:
        result["history"] = gallery.figure("dicefer_history", figures.dicefer_history, histories)
    return result


def _models(reader: Reader) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[str]]:
    """The evaluated models by label (their folder's name and metrics), training histories by label, and
    the labels of DICE-FER and the baseline where not evaluated (the image controls are optional)."""
    models: dict[str, dict[str, Any]] = {}
    histories: dict[str, Any] = {}
    missing = []
    for key, label in (DICEFER_MODELS | IMAGE_CONTROL_MODELS).items():
        metrics = reader.json(DICEFER_RESULTS / key / EVAL_METRICS)
        if metrics is None and key in IMAGE_CONTROL_MODELS:
            continue
        history = reader.json(DICEFER_RESULTS / key / "history.json")
        if history:
            histories[label] = history
        if metrics is None:
            missing.append(label)
            continue
        models[label] = {"key": key, "metrics": metrics}
    return models, histories, missing


def _headline(label: str, m: dict[str, Any]) -> dict[str, Any]:
    """One model's row of the headline table: accuracy, macro averages, MIG."""
    mig = m.get("mig") if isinstance(m.get("mig"), dict) else None
    return {
        "model": label,
        "samples": m.get("samples", NA),
        "accuracy": pct(m.get("war")),
        "uar": pct(m.get("uar")),
        "precision": pct(m.get("macro_precision")),
        "recall": pct(m.get("macro_recall")),
        "f1": pct(m.get("macro_f1")),
        "mig": num(mig["value"]) if mig else NA,
        "mig_detail": (
            f"expression {num(mig.get('expression'))}, identity {num(mig.get('identity'))}; "
            f"latents {mig.get('latents', '?')} ({mig.get('dimensions', '?')} dims, "
            f"{mig.get('bins', '?')} bins)"
        )
        if mig
        else "",
    }


def _class_table(m: dict[str, Any]) -> list[dict[str, Any]]:
    """One model's per-class rows, then their macro average."""
    rows = m.get("per_class") or []
    table = [
        {"class": r["class"], **{c: num(r[c]) for c in PER_CLASS_COLUMNS}, "support": r["support"]}
        for r in rows
    ]
    if rows:
        table.append(
            {
                "class": "Macro avg",
                **{c: num(float(np.mean([r[c] for r in rows]))) for c in PER_CLASS_COLUMNS},
                "support": sum(int(r["support"]) for r in rows),
                "macro": True,
            }
        )
    return table


def _probes(label: str, m: dict[str, Any]) -> list[dict[str, Any]]:
    """One model's linear probes, each marked leakage (the factor its code should not hold) or reference."""
    probes = []
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
                "accuracy": pct(probe.get("accuracy"), 1),
                "chance": pct(probe.get("chance"), 1),
                "samples": probe.get("samples", NA),
                "classes": probe.get("classes", NA),
                "folds": probe.get("folds", NA),
            }
        )
    return probes


def _tsne_rows(reader: Reader, models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """t-SNE maps of each model's codes (E and I, or its one embedding), from its ``embeddings.npz``."""
    rows = []
    for label, entry in models.items():
        path = reader.path(DICEFER_RESULTS / entry["key"] / "eval" / "embeddings.npz")
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
                    "points": figures.tsne_embed(values[keep]),
                    "expression": expression,
                    "identity": identity,
                }
            )
    return rows
