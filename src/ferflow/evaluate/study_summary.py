"""Summarise a study: read every evaluated (model, fold, seed) cell, describe each model's spread, and
compare the pairs the study names, metric by metric, with the intervals, tests and verdicts of
`ferflow.evaluate.stats`.

`summarize_study` writes the summary (JSON: the rule, each model's mean and SD, every comparison with its
per-cell differences and verdict, the cells not evaluated yet) and a table of one row per cell (TSV).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.config import CHANCE, Params
from ferflow.core.atomic import write_json
from ferflow.evaluate import stats as S
from ferflow.paths import ISSM_EPISODE_FILE
from ferflow.study import Cell, cells, shared_settings, study_folds

_METRICS = {"ifdd": S.IFDD_METRICS, "dicefer": S.DICEFER_METRICS}


@dataclass
class CellResult:
    """What the summary needs of one evaluated cell."""

    cell: Cell
    values: dict[str, float] = field(default_factory=dict)
    sample_ids: np.ndarray | None = None  # sorted
    labels: np.ndarray | None = None  # class indices, in sample_ids' order
    correct: np.ndarray | None = None  # bool hits; the chance reference holds each sample's 1/K
    num_classes: int | None = None
    episode: dict[str, Any] | None = None  # an IFDD cell's `issm_episode.json` (the embedded benchmark)


def chance_results(results: list[CellResult]) -> list[CellResult]:
    """The chance reference beside each of a model's cells: a uniform random guess, whose expected hit on
    every sample is 1/K, so its UAR and WAR are 1/K on any resample of the test samples."""
    found = []
    for r in results:
        k = r.num_classes or (len(np.unique(r.labels)) if r.labels is not None else None)
        if k is None:
            continue
        cell = Cell(r.cell.family, CHANCE, "", r.cell.seed, r.cell.fold)
        hits = None if r.labels is None else np.full(len(r.labels), 1 / k)
        found.append(CellResult(cell, {"uar": 1 / k, "war": 1 / k}, r.sample_ids, r.labels, hits, k))
    return found


def _metric_values(m: dict[str, Any]) -> dict[str, float]:
    values = {key: float(m[key]) for key in ("uar", "war") if m.get(key) is not None}
    if isinstance(m.get("mig"), dict):
        values["mig"] = float(m["mig"]["value"])
    probes = m.get("probes") or {}
    for name in S.LEAKAGE_PROBES:
        if name in probes:
            values["identity_leakage"] = float(probes[name]["accuracy"])
    return values


def read_cell(root: Path, cell: Cell, classes: dict[str, int]) -> CellResult | None:
    """A cell's metrics and per-sample hits (sorted by sample id), or None when it has not been evaluated."""
    folder = Path(root) / cell.folder / "eval"
    if not (folder / "metrics.json").is_file():
        return None
    metrics = json.loads((folder / "metrics.json").read_text())
    result = CellResult(cell, _metric_values(metrics), num_classes=len(metrics.get("classes") or []) or None)
    predictions = folder / "predictions.csv"
    if predictions.is_file():
        with predictions.open(newline="") as f:
            rows = sorted(csv.DictReader(f), key=lambda r: r["sample_id"])
        result.sample_ids = np.array([r["sample_id"] for r in rows])
        result.labels = np.array([classes.setdefault(r["label"], len(classes)) for r in rows])
        result.correct = np.array([r["label"] == r["predicted"] for r in rows])
    episode = folder / ISSM_EPISODE_FILE
    if episode.is_file():
        result.episode = json.loads(episode.read_text()) or None
    return result


def issm_hit_rates(found: dict[str, list[CellResult]]) -> dict[str, dict[str, Any]]:
    """Per IFDD variant: how often its dynamic frames (ISSM's; with `split: fixed` the odd steps, a
    reference at chance) fall in the true episode against a random frame's chance (the episode's share of
    the clip), cell by cell, with the t-interval over cells of the difference and its verdict (statistics
    of a whole test set: `VERDICT_RULE`'s t over cells)."""
    rates = {}
    for name, results in found.items():
        cells = [r for r in results if r.episode]
        if not cells:
            continue
        hit = np.array([r.episode["dynamic_in_episode"] for r in cells])
        share = np.array([r.episode["episode_share"] for r in cells])
        interval = S.t_interval(hit - share)
        if interval is None:
            text = f"{name}: dynamic frames vs chance: one cell, no interval"
        elif interval[0] > 0 or interval[1] < 0:
            side = "more" if interval[0] > 0 else "less"
            text = f"{name}: dynamic frames fall in the true episode {side} often than chance"
        else:
            text = f"{name}: dynamic frames vs chance: no detectable difference"
        rates[name] = {
            "cells": len(cells),
            "dynamic_in_episode": float(hit.mean()),
            "static_in_episode": float(np.mean([r.episode["static_in_episode"] for r in cells])),
            "episode_share": float(share.mean()),
            "difference": float((hit - share).mean()),
            "t_interval": interval,
            "verdict": text,
        }
    return rates


def describe(results: list[CellResult], metrics: tuple[S.Metric, ...]) -> dict[str, Any]:
    """Mean and SD (n - 1) of each metric over a model's cells."""
    out: dict[str, Any] = {"cells": len(results)}
    for metric in metrics:
        values = [r.values[metric.key] for r in results if metric.key in r.values]
        if values:
            sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
            out[metric.key] = {"mean": float(np.mean(values)), "sd": sd, "n": len(values)}
    return out


def _paired(a: list[CellResult], b: list[CellResult]) -> list[tuple[CellResult, CellResult]]:
    by_cell = {(r.cell.fold, r.cell.seed): r for r in b}
    return [(r, by_cell[(r.cell.fold, r.cell.seed)]) for r in a if (r.cell.fold, r.cell.seed) in by_cell]


def _paired_cells(pairs: list[tuple[CellResult, CellResult]]) -> list[S.PairedCell] | None:
    """The per-sample hits of every pair, checked to cover the same test samples; None if any lacks them."""
    reference: dict[int, np.ndarray] = {}
    paired = []
    for ra, rb in pairs:
        if ra.sample_ids is None or rb.sample_ids is None:
            return None
        ids = reference.setdefault(ra.cell.fold, ra.sample_ids)
        for r in (ra, rb):
            if not np.array_equal(r.sample_ids, ids):
                raise ValueError(f"{r.cell.folder}: its test samples differ from its fold's other cells'")
        paired.append(S.PairedCell(ra.cell.fold, ra.cell.seed, ra.labels, ra.correct, rb.correct))
    return paired


def compare(
    a: str,
    b: str,
    results_a: list[CellResult],
    results_b: list[CellResult],
    metrics: tuple[S.Metric, ...],
    bootstrap: dict[str, Any],
    folds: int,
) -> list[dict[str, Any]]:
    """Every metric's paired comparison of model `a` with model `b` (difference a - b)."""
    pairs = _paired(results_a, results_b)
    hits = _paired_cells(pairs) if pairs else None
    draws = samples = None
    if hits:
        resamples, seed = bootstrap["resamples"], bootstrap["seed"]
        draws = S.paired_bootstrap(hits, resamples, seed, bootstrap["cells"])
        samples = draws if not bootstrap["cells"] else S.paired_bootstrap(hits, resamples, seed, False)
    found = []
    for metric in metrics:
        usable = [(ra, rb) for ra, rb in pairs if metric.key in ra.values and metric.key in rb.values]
        rows = [
            {
                "fold": ra.cell.fold,
                "seed": ra.cell.seed,
                "a": ra.values[metric.key],
                "b": rb.values[metric.key],
                "difference": ra.values[metric.key] - rb.values[metric.key],
            }
            for ra, rb in usable
        ]
        if not rows:
            continue
        d = np.array([r["difference"] for r in rows])
        per_sample = metric.per_sample and draws is not None and samples is not None
        intervals = {
            "bootstrap": S.percentile_interval(draws[metric.key]) if per_sample else None,
            "t": S.t_interval(d),
            "t_samples": S.t_samples_interval(d, float(np.var(samples[metric.key], ddof=1)))
            if per_sample
            else None,
        }
        kind, why = S.interval_choice(metric, len({r["fold"] for r in rows}), len(rows), per_sample)
        entry = {
            "a": a,
            "b": b,
            "metric": metric.key,
            "label": metric.label,
            "higher_is_better": metric.higher_is_better,
            "scale": metric.scale,
            "unit": metric.unit,
            "cells": len(rows),
            "per_cell": rows,
            "mean": float(d.mean()),
            "sd": float(np.std(d, ddof=1)) if len(d) > 1 else None,
            "bootstrap": intervals["bootstrap"],
            "t_interval": intervals["t"],
            "t_samples_interval": intervals["t_samples"],
            "wilcoxon": S.wilcoxon(d),
            "interval": kind,
            "verdict_interval": intervals[kind],
            "why": why,
            "verdict": S.decide(a, b, metric, float(d.mean()), intervals, kind, why),
        }
        if metric.key == "mig" and b.startswith("baseline"):
            entry["note"] = (
                "the baseline's MIG is over its 512-d embedding, DICE-FER's over [E, I]: a reference, "
                "not the same experiment (ferflow.evaluate.dicefer)"
            )
        if metric.key == "uar":
            entry["power"] = S.power(d, folds, draws["uar"] if draws is not None else None)
        found.append(entry)
    return found


def summarize_study(params: Params, root: Path, out: Path, table: Path | None = None) -> dict[str, Any]:
    """Read every cell of the study under `root`, compare the pairs the study names, write `out` (JSON) and
    `table` (one row per cell, TSV). Cells not evaluated yet are listed under ``missing``."""
    s = params.study
    classes: dict[str, int] = {}
    found: dict[str, list[CellResult]] = {}
    missing = []
    for cell in cells(params):
        result = read_cell(Path(root), cell, classes)
        if result is None:
            missing.append(cell.folder)
        else:
            found.setdefault(cell.name, []).append(result)
    boot = s.bootstrap.model_dump()
    folds = study_folds(params)
    comparisons: list[dict[str, Any]] = []
    for a, b in s.ifdd.compare:
        results_b = chance_results(found.get(a, [])) if b == CHANCE else found.get(b, [])
        for entry in compare(a, b, found.get(a, []), results_b, S.IFDD_METRICS, boot, len(folds)):
            comparisons.append({"family": "ifdd", **entry})
    shared = {model: shared_settings(params, model) for model in s.dicefer.models}
    dicefer_pairs = [
        (f"{a}[{shared[a][x]}]", f"{b}[{shared[b][x]}]")
        for x in s.dicefer.settings
        for a, b in s.dicefer.pairs
    ]
    dicefer_pairs += [(f"dicefer[{x}]", f"dicefer[{y}]") for x, y in s.dicefer.compare]
    for a, b in dict.fromkeys(dicefer_pairs):  # settings sharing both models' cells pair them once
        for entry in compare(a, b, found.get(a, []), found.get(b, []), S.DICEFER_METRICS, boot, 1):
            comparisons.append({"family": "dicefer", **entry})
    summary = {
        "rule": S.VERDICT_RULE,
        "confidence": S.CONFIDENCE,
        "bootstrap": boot,
        "seeds": list(s.seeds),
        "folds": folds,
        # a model's cells under one setting -> those it uses, trained under another listed first
        "shared_cells": {
            f"{m}[{x}]": f"{m}[{y}]" for m, by in shared.items() for x, y in by.items() if y != x
        },
        "models": {
            name: {
                "family": results[0].cell.family,
                **describe(results, _METRICS[results[0].cell.family]),
            }
            for name, results in found.items()
        },
        "comparisons": comparisons,
        "verdicts": [c["verdict"]["text"] for c in comparisons],
        "issm_episode": issm_hit_rates(found),
        "cells": [
            {"model": name, "fold": r.cell.fold, "seed": r.cell.seed, **r.values}
            for name, results in found.items()
            for r in results
        ],
        "missing": missing,
    }
    write_json(Path(out), summary)
    if table is not None:
        _write_table(Path(table), [r for results in found.values() for r in results])
    return summary


def _write_table(path: Path, results: list[CellResult]) -> None:
    keys = ("uar", "war", "identity_leakage", "mig")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["family", "setting", "model", "fold", "seed", *keys])
        for r in results:
            c = r.cell
            values = [f"{r.values[k]:.6f}" if k in r.values else "" for k in keys]
            writer.writerow([c.family, c.setting, c.model, c.fold, c.seed, *values])
    tmp.replace(path)
