"""How often each interval method of a study holds the true difference, by simulation, at the study shapes
the project runs: the evidence for the interval the verdict rule uses at each shape
(`ferflow.evaluate.stats.interval_choice`).

A simulated study compares models A and B on folds x seeds cells, each fold with `n` test clips. Whether
model m gets clip i of fold f right in the cell of seed s is a probit:

    skill_m + fold_{f,m} + seed_{f,s,m} + difficulty_i + favour_{i,m} + noise_{i,s,m} > 0

with skill A 0.35 and B 0.20; what fold f's training data does for the model (SD `fold_sd`); a training
seed's shift (SD `seed_sd`); the clip's difficulty, shared by both models (SD 1); a clip x model effect that
all the model's seeds share (SD `favour_sd`: the clips a model gets right whatever its seed); and noise (SD
1). Class labels (4 classes) are drawn independently of all of it. The true difference is the expected UAR
difference over clips and seeds given the study's folds (a study answers for its folds, as DFEW's 5-fold
protocol does): the mean over folds of Phi(a_f / sd) - Phi(b_f / sd), sd = sqrt(2 + favour_sd^2 + seed_sd^2).

The methods, each a 95 % interval of the mean paired UAR difference:
- `bootstrap`: test samples resampled within folds (the same for both models and all of a fold's cells) and
  the (fold, seed) cells resampled (`study.bootstrap.cells: true`);
- `bootstrap_samples`: test samples only (`cells: false`);
- `t`: the t-interval over the cells' UAR differences;
- `t_samples`: that t-interval widened by the variance of the samples-only bootstrap's draws
  (`ferflow.evaluate.stats.t_samples_interval`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from ferflow.evaluate.stats import (
    SIMULATED_SHAPES,
    PairedCell,
    paired_bootstrap,
    percentile_interval,
    t_interval,
    t_samples_interval,
    uar_rows,
)

SKILL = (0.35, 0.20)  # probit skill of models A and B
CLASSES = 4
METHODS = ("bootstrap", "bootstrap_samples", "t", "t_samples")
SHAPES = SIMULATED_SHAPES  # (folds, seeds per fold)


@dataclass(frozen=True)
class Scenario:
    """The sizes of a simulated study's random effects (probit SDs; see the module doc)."""

    name: str
    seed_sd: float
    favour_sd: float
    fold_sd: float


#: From no seed effect to a large one (0.3 gives paired differences that spread about 10 UAR points from
#: seed to seed, as the demo's did), and one where clip effects shared across seeds dominate.
SCENARIOS = (
    Scenario("no seed effect", seed_sd=0.0, favour_sd=0.5, fold_sd=0.0),
    Scenario("seed SD 0.3", seed_sd=0.3, favour_sd=0.5, fold_sd=0.3),
    Scenario("seed SD 0.6", seed_sd=0.6, favour_sd=0.5, fold_sd=0.3),
    Scenario("seed SD 1.0", seed_sd=1.0, favour_sd=0.5, fold_sd=0.3),
    Scenario("clip effects dominate", seed_sd=0.1, favour_sd=1.0, fold_sd=0.0),
)


def simulate_study(
    rng: np.random.Generator, folds: int, seeds: int, scenario: Scenario, n: int
) -> tuple[list[PairedCell], float]:
    """One simulated study's paired cells and its true UAR difference (A - B)."""
    skill = np.array(SKILL)
    spread = np.sqrt(2 + scenario.favour_sd**2 + scenario.seed_sd**2)
    pairs, truth = [], 0.0
    for fold in range(folds):
        level = skill + rng.normal(0, scenario.fold_sd, 2)
        hit_rate = stats.norm.cdf(level / spread)  # over clips and seeds, given the fold
        truth += float(hit_rate[0] - hit_rate[1]) / folds
        labels = rng.integers(0, CLASSES, n)
        difficulty = rng.normal(0, 1, n)
        favour = rng.normal(0, scenario.favour_sd, (2, n))
        for seed in range(seeds):
            shift = rng.normal(0, scenario.seed_sd, 2)
            hit = (level + shift)[:, None] + difficulty + favour + rng.normal(0, 1, (2, n)) > 0
            pairs.append(PairedCell(fold, seed, labels, hit[0], hit[1]))
    return pairs, truth


def intervals(pairs: list[PairedCell], resamples: int, seed: int) -> dict[str, tuple[float, float] | None]:
    """Each method's 95 % interval of the mean paired UAR difference."""
    with_cells = paired_bootstrap(pairs, resamples, seed, resample_cells=True)["uar"]
    samples = paired_bootstrap(pairs, resamples, seed, resample_cells=False)["uar"]
    differences = np.array([_uar(p.labels, p.correct_a) - _uar(p.labels, p.correct_b) for p in pairs])
    return {
        "bootstrap": percentile_interval(with_cells),
        "bootstrap_samples": percentile_interval(samples),
        "t": t_interval(differences),
        "t_samples": t_samples_interval(differences, float(np.var(samples, ddof=1))),
    }


def _uar(labels: np.ndarray, correct: np.ndarray) -> float:
    return float(uar_rows(labels[None], correct[None])[0])


def coverage(
    folds: int, seeds: int, scenario: Scenario, studies: int, resamples: int, n: int, seed: int
) -> dict[str, dict[str, float | None]]:
    """Per method: the share of `studies` simulated studies whose interval holds the true difference, and
    the intervals' mean width (None where the method has no interval at this shape)."""
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(METHODS, 0)
    widths: dict[str, list[float]] = {m: [] for m in METHODS}
    for study in range(studies):
        pairs, truth = simulate_study(rng, folds, seeds, scenario, n)
        for method, interval in intervals(pairs, resamples, seed + study).items():
            if interval is not None:
                hits[method] += interval[0] <= truth <= interval[1]
                widths[method].append(interval[1] - interval[0])
    return {
        m: {
            "coverage": hits[m] / studies if widths[m] else None,
            "mean_width": float(np.mean(widths[m])) if widths[m] else None,
        }
        for m in METHODS
    }


def coverage_table(
    studies: int, resamples: int, n: int = 60, seed: int = 0, shapes: tuple[tuple[int, int], ...] = SHAPES
) -> dict[str, Any]:
    """Coverage and mean width of every method at every shape in every scenario, and per shape and method
    the lowest coverage over the scenarios (what the verdict rule is chosen by)."""
    rows = []
    for i, (folds, seeds) in enumerate(shapes):
        for j, scenario in enumerate(SCENARIOS):
            result = coverage(
                folds, seeds, scenario, studies, resamples, n, seed + 1000 * (len(SCENARIOS) * i + j)
            )
            rows.append({"folds": folds, "seeds": seeds, "scenario": scenario.name, "methods": result})
    worst = {
        f"{folds}x{seeds}": {
            m: min(
                (r["methods"][m]["coverage"] for r in rows if (r["folds"], r["seeds"]) == (folds, seeds)),
                key=lambda c: -1.0 if c is None else c,
            )
            for m in METHODS
        }
        for folds, seeds in shapes
    }
    return {
        "studies": studies,
        "resamples": resamples,
        "clips_per_fold": n,
        "seed": seed,
        "skill": list(SKILL),
        "scenarios": [asdict(s) for s in SCENARIOS],
        "rows": rows,
        "lowest_coverage": worst,
    }
