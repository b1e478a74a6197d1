"""Statistics of a study: paired differences with intervals and tests, verdicts, power.

The study's cells are read and compared by `ferflow.evaluate.study_summary`; this module holds the statistics
and the verdict rule they are judged by.

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

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

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
    effect = float(
        np.squeeze(analysis.solve_power(nobs=len(d), alpha=ALPHA, power=POWER, alternative="two-sided"))
    )
    cells_needed = _cells_for(analysis, TARGET_UAR_DIFFERENCE / sd)
    result |= {
        "min_detectable_t": effect * sd,
        "target": TARGET_UAR_DIFFERENCE,
        "cells_for_target": cells_needed,
        "seeds_for_target": math.ceil(cells_needed / max(folds, 1)),
    }
    return result


def _cells_for(analysis: Any, effect: float, direct_up_to: int = 50) -> int:
    """The fewest paired cells whose t-test reaches `POWER` against `effect` (difference / SD). Small studies
    are counted directly: for large effects statsmodels' solver does not converge and its one-degree-of-
    freedom power is NaN (numerically, not in truth), which counts as not enough here."""
    for cells in range(2, direct_up_to):
        achieved = analysis.power(effect, nobs=cells, alpha=ALPHA, alternative="two-sided")
        if np.isfinite(achieved) and achieved >= POWER:
            return cells
    needed = analysis.solve_power(effect_size=effect, alpha=ALPHA, power=POWER, alternative="two-sided")
    return math.ceil(float(np.squeeze(needed)))


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
