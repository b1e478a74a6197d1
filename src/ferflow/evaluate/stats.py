"""Statistics of a study: spread per model, paired differences with intervals and tests, verdicts, power.

Every compared pair of models is paired by (fold, seed) cell: both models of a cell saw the same training
data order seed and are tested on the same fold's samples. For each metric of each pair:

- the mean of the per-cell differences (first model minus second);
- a 95 % **bootstrap** interval (`paired_bootstrap`): each draw resamples every fold's test samples with
  replacement, the same samples for both models and for all of the fold's cells, recomputes each cell's
  UAR/WAR difference, and averages over cells; with ``study.bootstrap.cells`` (the default) each draw also
  resamples the cells. `scipy.stats.bootstrap` cannot do this (it resamples one level, not samples shared
  across cells); the percentile interval of the draws is used;
- a 95 % **t-interval** over the paired cells (`scipy.stats.t`);
- for the per-sample metrics, the 95 % **t-interval widened by the test samples' noise**
  (`t_samples_interval`: the cells' variance of the mean plus the variance of a bootstrap over test samples
  alone);
- a **Wilcoxon signed-rank** p-value over the paired cells (`scipy.stats.wilcoxon`), with a note when it
  is undefined (fewer than two cells, every difference zero) or cannot reach 0.05 with so few cells.

Which interval decides (`VERDICT_RULE`, `interval_choice`) was settled by simulation
(`ferflow.evaluate.coverage`, docs/study.md): at the study shapes the project runs, from 1 fold x 3 seeds to
5 folds x 3 seeds, only the widened t-interval held the true difference in at least 94 % of simulated
studies in every scenario. The bootstrap over samples and cells is too narrow with few cells (the percentile
interval of a mean of 3 resampled cells knows nothing of t's heavy tails); the t-interval over cells alone
misses the test-sample noise that a fold's cells share; samples alone ignore the seed-to-seed spread.

MIG and the identity probe are statistics of a whole test set (histogram mutual information; a
cross-validated classifier), not means over samples: resampling samples with replacement would put copies of
one image on both sides of the probe's folds and inflate the histograms' information, so their interval is
the t-interval over cells (seeds).

Power (`power`): from the spread of the paired UAR differences across cells, the smallest difference a study
of this size detects with 80 % power at alpha 0.05 (paired t-test, `statsmodels`' `TTestPower`), and how
many cells would detect a 3-point difference.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ferflow.config import CHANCE, Params
from ferflow.core.atomic import write_json
from ferflow.study import Cell, cells, shared_settings, study_folds

ALPHA = 0.05
CONFIDENCE = 0.95  # 1 - ALPHA
POWER = 0.8
TARGET_UAR_DIFFERENCE = 0.03  # "would the study detect a 3-point UAR difference?"

#: Study shapes (folds, seeds per fold) at which `ferflow.evaluate.coverage` simulates every interval method:
#: DICE-FER's one split x 3 seeds, 5 seeds, one seed on each of 5 folds, and IFDD's 5 folds x 3 seeds.
SIMULATED_SHAPES = ((1, 3), (1, 5), (5, 1), (5, 3))
MIN_COVERAGE = 0.94  # what an interval must reach in every simulated scenario to decide a verdict

#: The verdict rule, fixed before the stored studies were re-summarised: used by `verdict` and printed with
#: every verdict.
VERDICT_RULE = (
    "A model is called better only when the 95 % interval of its paired difference from the other model "
    "excludes zero. For the per-sample metrics (UAR, WAR, accuracy) that interval is the t-interval over the "
    "(fold, seed) cells widened by the test samples' noise: mean ± t(cells - 1) x √(SD² / cells + the "
    "variance of a bootstrap over test samples), the one method that held the true difference in at least "
    "94 % of simulated studies in every scenario at each shape the project runs (1 fold x 3 or 5 seeds, "
    "5 folds x 1 or 3 seeds; docs/study.md). For MIG and the identity probe, statistics of a whole test set, "
    "it is the t-interval over cells. Otherwise: no detectable difference (± half the interval's width)."
)
#: How a verdict names each interval.
INTERVAL_NAMES = {
    "t_samples": "t (cells and test samples)",
    "t": "t over cells",
    "bootstrap": "bootstrap (test samples and cells)",
}


@dataclass(frozen=True)
class Metric:
    """A compared metric: where it is read from, which way is better, and whether it is per-sample."""

    key: str
    label: str
    higher_is_better: bool = True
    per_sample: bool = True  # a mean over test samples (bootstrap applies)
    scale: float = 100.0  # shown in points (x100); MIG as it is
    unit: str = "points"


UAR = Metric("uar", "UAR")
IFDD_METRICS = (UAR, Metric("war", "WAR"))
DICEFER_METRICS = (
    Metric("war", "accuracy"),
    UAR,
    # DICE-FER's identity-from-E probe; the baseline's counterpart reads identity from its embedding
    Metric("identity_leakage", "identity leakage probe", higher_is_better=False, per_sample=False),
    Metric("mig", "MIG", per_sample=False, scale=1.0, unit=""),
)
LEAKAGE_PROBES = ("identity_from_E", "identity_from_embedding")  # DICE-FER's E; the baseline's embedding


# --------------------------------------------------------------------------------------------- statistics
def uar_rows(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """UAR of each row of ``(rows, n)`` labels and hits: mean recall over the classes present in the row
    (`ferflow.evaluate.metrics.uar`, vectorised over bootstrap draws)."""
    rows, k = labels.shape[0], int(labels.max()) + 1
    bins = (np.arange(rows)[:, None] * k + labels).ravel()
    support = np.bincount(bins, minlength=rows * k).reshape(rows, k)
    hits = np.bincount(bins, weights=correct.ravel().astype(float), minlength=rows * k).reshape(rows, k)
    recall = np.divide(hits, support, out=np.zeros(support.shape), where=support > 0)
    return recall.sum(1) / (support > 0).sum(1)


@dataclass
class PairedCell:
    """Two models' hits on one cell's test samples (same samples, same order)."""

    fold: int
    seed: int
    labels: np.ndarray  # (n,) class indices
    correct_a: np.ndarray  # (n,) bool hits, or each sample's expected hit (the chance reference)
    correct_b: np.ndarray


def paired_bootstrap(
    pairs: list[PairedCell], resamples: int, seed: int, resample_cells: bool
) -> dict[str, np.ndarray]:
    """Bootstrap draws of the mean paired UAR and WAR difference (see the module doc), ``{metric: (B,)}``."""
    rng = np.random.default_rng(seed)
    per_cell = {key: np.empty((len(pairs), resamples)) for key in ("uar", "war")}
    for fold in sorted({p.fold for p in pairs}):
        members = [i for i, p in enumerate(pairs) if p.fold == fold]
        n = len(pairs[members[0]].labels)
        idx = rng.integers(0, n, (resamples, n))  # the same test samples for every cell of the fold
        for i in members:
            p = pairs[i]
            if len(p.labels) != n:
                raise ValueError(f"fold {fold}: cells differ in their test samples ({len(p.labels)} vs {n})")
            y, a, b = p.labels[idx], p.correct_a[idx], p.correct_b[idx]
            per_cell["uar"][i] = uar_rows(y, a) - uar_rows(y, b)
            per_cell["war"][i] = a.mean(1) - b.mean(1)
    if not resample_cells:
        return {key: values.mean(0) for key, values in per_cell.items()}
    pick = rng.integers(0, len(pairs), (resamples, len(pairs)))
    draw = np.arange(resamples)[:, None]
    return {key: values[pick, draw].mean(1) for key, values in per_cell.items()}


def percentile_interval(draws: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def t_interval(differences: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The t-interval of the mean over cells; None with fewer than 2 cells."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2:
        return None
    mean, sem = float(d.mean()), float(stats.sem(d))
    if sem == 0:
        return mean, mean
    low, high = stats.t.interval(confidence, len(d) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def t_samples_interval(
    differences: np.ndarray, sample_variance: float, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """The t-interval over cells widened by the test samples' noise: mean ± t(cells - 1) x sqrt(s^2 / cells
    + `sample_variance`), the variance of the mean difference under resampling test samples alone (the
    variance of `paired_bootstrap`'s samples-only draws). The t-interval alone misses the noise of the test
    samples a fold's cells share; a bootstrap misses how few cells carry the seed-to-seed spread. The sum
    counts each cell's own sample noise twice, so it errs wide. None with fewer than 2 cells."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2:
        return None
    se = math.sqrt(float(np.var(d, ddof=1)) / len(d) + sample_variance)
    half = float(stats.t.ppf(1 - (1 - confidence) / 2, len(d) - 1)) * se
    return float(d.mean() - half), float(d.mean() + half)


def interval_choice(metric: Metric, folds: int, cells: int, has_samples: bool) -> tuple[str, str]:
    """Which interval decides `metric` at a study of `cells` cells over `folds` folds, and why
    (`VERDICT_RULE`)."""
    if not metric.per_sample:
        return "t", "not per-sample (a whole test set's statistic): t-interval over cells"
    if not has_samples:
        return "t", (
            "no per-sample predictions found: t-interval over cells (it can be narrow when a fold's cells "
            "share test samples)"
        )
    seeds, uneven = divmod(cells, max(folds, 1))
    shape = f"{folds} fold(s) x {seeds} seed(s)"
    held = f"held the true difference in ≥ {MIN_COVERAGE * 100:.0f} % of simulated studies"
    if not uneven and (folds, seeds) in SIMULATED_SHAPES:
        where = f"at {shape} it {held}"
    else:
        where = f"it {held} at every simulated shape; {cells} cells over {folds} fold(s) were not simulated"
    return "t_samples", f"t over the {cells} cells widened by the test samples' bootstrap variance: {where}"


def wilcoxon(differences: np.ndarray) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank p-value over the cells, or None and why not."""
    d = np.asarray(differences, dtype=float)
    nonzero = int(np.count_nonzero(d))
    if len(d) < 2:
        return {"p": None, "note": f"undefined: {len(d)} paired cell(s); it needs at least 2"}
    if nonzero == 0:
        return {"p": None, "note": "undefined: every paired difference is zero"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = float(stats.wilcoxon(d).pvalue)
    notes = [str(w.message).split("\n")[0] for w in caught]
    floor = 2 * 0.5**nonzero  # the exact test's smallest two-sided p-value
    if floor > ALPHA:
        notes.append(f"with {nonzero} non-zero differences no p-value can fall below {floor:.3g}")
    return {"p": p, "note": "; ".join(notes)}


def power(differences: np.ndarray, folds: int, draws: np.ndarray | None = None) -> dict[str, Any]:
    """What this study can detect: the smallest mean UAR difference found with 80 % power at alpha 0.05 by a
    paired t-test over its cells (from the cells' SD of differences), and the cells (and seeds, at this many
    folds) that would detect a 3-point difference; from the bootstrap, the normal approximation
    (z_0.975 + z_0.8) x the draws' SD."""
    from statsmodels.stats.power import TTestPower  # imported here: statsmodels loads slowly

    d = np.asarray(differences, dtype=float)
    result: dict[str, Any] = {"cells": len(d), "folds": folds, "power": POWER, "alpha": ALPHA}
    if draws is not None:
        z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
        result["min_detectable_bootstrap"] = float(z * np.std(draws, ddof=1))
    if len(d) < 2:
        result["note"] = "the SD of the differences needs at least 2 paired cells"
        return result
    sd = float(np.std(d, ddof=1))
    result["sd_difference"] = sd
    if sd == 0:
        result["note"] = "every cell gives the same difference: no spread to size a study from"
        return result
    analysis = TTestPower()
    effect = analysis.solve_power(nobs=len(d), alpha=ALPHA, power=POWER, alternative="two-sided")
    target_effect = TARGET_UAR_DIFFERENCE / sd
    if analysis.power(target_effect, nobs=2, alpha=ALPHA, alternative="two-sided") >= POWER:
        cells_needed = 2  # the solver has no root below the smallest study; two cells already suffice
    else:
        needed = analysis.solve_power(
            effect_size=target_effect, alpha=ALPHA, power=POWER, alternative="two-sided"
        )
        cells_needed = math.ceil(float(np.squeeze(needed)))
    result |= {
        "min_detectable_t": float(np.squeeze(effect)) * sd,
        "target": TARGET_UAR_DIFFERENCE,
        "cells_for_target": cells_needed,
        "seeds_for_target": math.ceil(cells_needed / max(folds, 1)),
    }
    return result


# ------------------------------------------------------------------------------------------------ verdict
def _fmt(metric: Metric, value: float, sign: bool = False) -> str:
    digits = 1 if metric.scale == 100 else 3
    return f"{value * metric.scale:{'+' if sign else ''}.{digits}f}"


def verdict(
    a: str, b: str, metric: Metric, mean: float, interval: tuple[float, float] | None, kind: str
) -> dict[str, Any]:
    """Apply `VERDICT_RULE` to the difference ``a - b`` and its 95 % interval (`kind`: a key of
    `INTERVAL_NAMES`)."""
    unit = f" {metric.unit}" if metric.unit else ""
    name = INTERVAL_NAMES.get(kind, kind)
    if interval is None:
        text = f"{metric.label}, {a} vs {b}: no detectable difference (no {name} interval: too few cells)"
        return {"better": None, "half_width": None, "text": text}
    low, high = interval
    half = (high - low) / 2
    span = f"95 % {name} interval of {a} - {b}: {_fmt(metric, low, True)} to {_fmt(metric, high, True)}"
    if low > 0 or high < 0:
        better = a if (low > 0) == metric.higher_is_better else b
        worse = b if better == a else a
        text = (
            f"{metric.label}, {a} vs {b}: {better} better than {worse} by {_fmt(metric, abs(mean))}{unit} "
            f"({span})"
        )
        return {"better": better, "half_width": half, "text": text}
    text = (
        f"{metric.label}, {a} vs {b}: no detectable difference (± {_fmt(metric, half)}{unit}; mean "
        f"difference {_fmt(metric, mean, True)}, {span})"
    )
    return {"better": None, "half_width": half, "text": text}


# ---------------------------------------------------------------------------------------------- the study
@dataclass
class CellResult:
    """What the summary needs of one evaluated cell."""

    cell: Cell
    values: dict[str, float] = field(default_factory=dict)
    sample_ids: np.ndarray | None = None  # sorted
    labels: np.ndarray | None = None  # class indices, in sample_ids' order
    correct: np.ndarray | None = None  # bool hits; the chance reference holds each sample's 1/K
    num_classes: int | None = None


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
    for name in LEAKAGE_PROBES:
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
    return result


def describe(results: list[CellResult], metrics: tuple[Metric, ...]) -> dict[str, Any]:
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


def _paired_cells(pairs: list[tuple[CellResult, CellResult]]) -> list[PairedCell] | None:
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
        paired.append(PairedCell(ra.cell.fold, ra.cell.seed, ra.labels, ra.correct, rb.correct))
    return paired


def compare(
    a: str,
    b: str,
    results_a: list[CellResult],
    results_b: list[CellResult],
    metrics: tuple[Metric, ...],
    bootstrap: dict[str, Any],
    folds: int,
) -> list[dict[str, Any]]:
    """Every metric's paired comparison of model `a` with model `b` (difference a - b)."""
    pairs = _paired(results_a, results_b)
    hits = _paired_cells(pairs) if pairs else None
    draws = samples = None
    if hits:
        resamples, seed = bootstrap["resamples"], bootstrap["seed"]
        draws = paired_bootstrap(hits, resamples, seed, bootstrap["cells"])
        samples = draws if not bootstrap["cells"] else paired_bootstrap(hits, resamples, seed, False)
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
            "bootstrap": percentile_interval(draws[metric.key]) if per_sample else None,
            "t": t_interval(d),
            "t_samples": t_samples_interval(d, float(np.var(samples[metric.key], ddof=1)))
            if per_sample
            else None,
        }
        kind, why = interval_choice(metric, len({r["fold"] for r in rows}), len(rows), per_sample)
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
            "wilcoxon": wilcoxon(d),
            "interval": kind,
            "verdict_interval": intervals[kind],
            "why": why,
            "verdict": decide(a, b, metric, float(d.mean()), intervals, kind, why),
        }
        if metric.key == "mig" and b.startswith("baseline"):
            entry["note"] = (
                "the baseline's MIG is over its 512-d embedding, DICE-FER's over [E, I]: a reference, "
                "not the same experiment (ferflow.evaluate.dicefer)"
            )
        if metric.key == "uar":
            entry["power"] = power(d, folds, draws["uar"] if draws is not None else None)
        found.append(entry)
    return found


def decide(
    a: str,
    b: str,
    metric: Metric,
    mean: float,
    intervals: dict[str, tuple[float, float] | None],
    kind: str,
    why: str,
) -> dict[str, Any]:
    """The verdict by the chosen interval (`kind` of `intervals`), saying why that interval and what another
    computed interval would say where it differs."""
    decided = verdict(a, b, metric, mean, intervals[kind], kind)
    others = []
    for other, interval in intervals.items():
        if other == kind or interval is None:
            continue
        better = verdict(a, b, metric, mean, interval, other)["better"]
        if better != decided["better"]:
            says = f"call {better} better" if better else "find no detectable difference"
            span = f"{_fmt(metric, interval[0], True)} to {_fmt(metric, interval[1], True)}"
            others.append(f"the {INTERVAL_NAMES[other]} interval ({span}) would {says}")
    decided["text"] += f" [interval: {why}" + (f"; {'; '.join(others)}" if others else "") + "]"
    return decided


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
        for entry in compare(a, b, found.get(a, []), results_b, IFDD_METRICS, boot, len(folds)):
            comparisons.append({"family": "ifdd", **entry})
    shared = {model: shared_settings(params, model) for model in s.dicefer.models}
    dicefer_pairs = [
        (f"{a}[{shared[a][x]}]", f"{b}[{shared[b][x]}]")
        for x in s.dicefer.settings
        for a, b in s.dicefer.pairs
    ]
    dicefer_pairs += [(f"dicefer[{x}]", f"dicefer[{y}]") for x, y in s.dicefer.compare]
    for a, b in dict.fromkeys(dicefer_pairs):  # settings sharing both models' cells pair them once
        for entry in compare(a, b, found.get(a, []), found.get(b, []), DICEFER_METRICS, boot, 1):
            comparisons.append({"family": "dicefer", **entry})
    summary = {
        "rule": VERDICT_RULE,
        "confidence": CONFIDENCE,
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
                **describe(results, IFDD_METRICS if results[0].cell.family == "ifdd" else DICEFER_METRICS),
            }
            for name, results in found.items()
        },
        "comparisons": comparisons,
        "verdicts": [c["verdict"]["text"] for c in comparisons],
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
