"""Re-decide a stored study summary's verdicts by the current rule (`VERDICT_RULE`), without retraining.

    .venv/bin/python scripts/resummarize_study.py docs/measurements/demo_study_summary.json \\
        --out docs/measurements/revised/demo_study_summary.json

A stored summary (`summarize-study`'s or `compare_studies.py`'s JSON) holds each comparison's per-cell values
and its intervals, but not the per-sample predictions the widened t-interval's samples-only bootstrap needs.
In their place it uses the stored bootstrap over test samples and cells: resampling the cells as well only
adds variance, so its variance ((high - low) / (2 z_0.975))^2 bounds the samples-only variance from above,
and the interval errs wider than `summarize-study` would compute from the predictions. Each revised
comparison records the bound it used (`sample_variance_bound`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ferflow.core.atomic import write_json
from ferflow.evaluate.stats import (
    CONFIDENCE,
    DICEFER_METRICS,
    IFDD_METRICS,
    VERDICT_RULE,
    Metric,
    decide,
    interval_choice,
    t_interval,
    t_samples_interval,
)

PER_SAMPLE = {m.key: m.per_sample for m in (*IFDD_METRICS, *DICEFER_METRICS)}


def revise(c: dict[str, Any]) -> dict[str, Any]:
    """One stored comparison with the widened t-interval (from the bound) and the current rule's verdict."""
    metric = Metric(
        c["metric"], c["label"], c["higher_is_better"], PER_SAMPLE[c["metric"]], c["scale"], c["unit"]
    )
    d = np.array([r["difference"] for r in c["per_cell"]])
    boot = c.get("bootstrap")
    intervals: dict[str, tuple[float, float] | None] = {
        "bootstrap": boot,
        "t": t_interval(d),
        "t_samples": None,
    }
    bound = None
    if metric.per_sample and boot is not None:
        bound = ((boot[1] - boot[0]) / (2 * stats.norm.ppf(1 - (1 - CONFIDENCE) / 2))) ** 2
        intervals["t_samples"] = t_samples_interval(d, bound)
    folds = len({r["fold"] for r in c["per_cell"]})
    kind, why = interval_choice(metric, folds, len(d), has_samples=boot is not None)
    if bound is not None:
        why += " (samples' variance bounded by the stored bootstrap over samples and cells)"
    return c | {
        "t_interval": intervals["t"],
        "t_samples_interval": intervals["t_samples"],
        "sample_variance_bound": bound,
        "interval": kind,
        "verdict_interval": intervals[kind],
        "why": why,
        "verdict": decide(c["a"], c["b"], metric, float(d.mean()), intervals, kind, why),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("summary", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    stored = json.loads(args.summary.read_text())
    comparisons = [revise(c) for c in stored["comparisons"]]
    revised = stored | {
        "rule": VERDICT_RULE,
        "revised_from": str(args.summary),
        "previous_rule": stored.get("rule"),
        "comparisons": comparisons,
        "verdicts": [c["verdict"]["text"] for c in comparisons],
    }
    write_json(args.out, revised)
    print(f"Verdict rule: {VERDICT_RULE}")
    for c in comparisons:
        print(f"  {c['verdict']['text']}")


if __name__ == "__main__":
    main()
