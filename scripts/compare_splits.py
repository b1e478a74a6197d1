"""Compare the image models of two studies run on two splits of the same images (e.g. the embedded benchmark's
seen and unseen identities), seed by seed, by one rule: a difference is called real only when the 95 %
t-interval over the seeds of the paired per-seed differences excludes zero (`ferflow.evaluate.stats.verdict`).

    .venv/bin/python scripts/compare_splits.py SEEN/results/study/summary.json \\
        UNSEEN/results/study/summary.json --labels seen unseen --gap dicefer baseline \\
        --out docs/measurements/dicefer_seen_vs_unseen.json

Each summary is a study's `results/study/summary.json` (`ferflow summarize-study`) with one DICE-FER setting;
its per-cell values are read, nothing is retrained. Written: every model's mean and SD per split; within
each split, every pair of models on accuracy, UAR, the identity probe and MIG; across the splits, each model
(second minus first) on accuracy and UAR; and for each `--gap X Y`, the difference-in-differences
(X - Y on the second split) - (X - Y on the first), paired by seed. The identity probe and MIG are not
compared across splits: their chance levels differ with the number of test identities.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.evaluate.stats import DICEFER_METRICS, Metric, t_interval, verdict

RULE = (
    "A difference is called real only when the 95 % t-interval over the seeds of the paired per-seed "
    "differences excludes zero; otherwise: no detectable difference (± half the interval's width)."
)
ACROSS = tuple(m for m in DICEFER_METRICS if m.key in ("war", "uar"))
ORDER = ("dicefer", "baseline", "control_image_reference", "control_image_static")


def ordered(models: Any, order: list[str]) -> list[str]:
    """The models in `order` first (pairs are compared earlier minus later), then the others sorted."""
    return [m for m in order if m in models] + sorted(m for m in models if m not in order)


def per_seed(summary: dict[str, Any]) -> dict[str, dict[int, dict[str, float]]]:
    """model (setting stripped) -> seed -> metric values, from a study summary's cells."""
    found: dict[str, dict[int, dict[str, float]]] = {}
    settings = {c["model"].partition("[")[2] for c in summary["cells"]}
    if len(settings) != 1:
        raise SystemExit(f"expected a study with one DICE-FER setting, found {sorted(settings)}")
    for c in summary["cells"]:
        model = c["model"].partition("[")[0]
        found.setdefault(model, {})[c["seed"]] = {k: v for k, v in c.items() if isinstance(v, float)}
    return found


def compare(a: str, b: str, values_a: dict[int, dict], values_b: dict[int, dict], metric: Metric) -> dict:
    """The paired comparison of `a - b` on one metric over the seeds both hold."""
    seeds = sorted(
        s
        for s in values_a.keys() & values_b.keys()
        if metric.key in values_a[s] and metric.key in values_b[s]
    )
    d = np.array([values_a[s][metric.key] - values_b[s][metric.key] for s in seeds])
    interval = t_interval(d) if len(d) > 1 else None
    return {
        "a": a,
        "b": b,
        "metric": metric.key,
        "label": metric.label,
        "seeds": seeds,
        "per_seed": [
            {"seed": s, "a": values_a[s][metric.key], "b": values_b[s][metric.key], "difference": float(x)}
            for s, x in zip(seeds, d, strict=True)
        ],
        "mean": float(d.mean()) if len(d) else None,
        "sd": float(d.std(ddof=1)) if len(d) > 1 else None,
        "t_interval": interval,
        "verdict": verdict(a, b, metric, float(d.mean()) if len(d) else 0.0, interval, "t"),
    }


def describe(values: dict[int, dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": sorted(values)}
    for metric in DICEFER_METRICS:
        v = [x[metric.key] for x in values.values() if metric.key in x]
        if v:
            out[metric.key] = {
                "mean": float(np.mean(v)),
                "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            }
    return out


def gap(values: dict[str, dict[int, dict]], x: str, y: str) -> dict[int, dict[str, float]]:
    """Per seed, the difference x - y of every metric both models have."""
    return {
        s: {k: values[x][s][k] - values[y][s][k] for k in values[x][s].keys() & values[y][s].keys()}
        for s in values[x].keys() & values[y].keys()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("first", type=Path, help="summary.json of the first split's study")
    parser.add_argument("second", type=Path, help="summary.json of the second split's study")
    parser.add_argument("--labels", nargs=2, default=("first", "second"))
    parser.add_argument("--gap", nargs=2, action="append", default=[], metavar=("X", "Y"))
    parser.add_argument(
        "--order",
        nargs="+",
        default=list(ORDER),
        help="models in this order are compared earlier minus later",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    splits = dict(
        zip(
            args.labels, (per_seed(json.loads(p.read_text())) for p in (args.first, args.second)), strict=True
        )
    )
    first, second = args.labels
    within = [
        compare(f"{a}[{label}]", f"{b}[{label}]", values[a], values[b], metric)
        for label, values in splits.items()
        for a, b in itertools.combinations(ordered(values, args.order), 2)
        for metric in DICEFER_METRICS
    ]
    common = sorted(splits[first].keys() & splits[second].keys())
    across = [
        compare(f"{m}[{second}]", f"{m}[{first}]", splits[second][m], splits[first][m], metric)
        for m in common
        for metric in ACROSS
    ]
    gaps = [
        compare(
            f"({x} - {y})[{second}]",
            f"({x} - {y})[{first}]",
            gap(splits[second], x, y),
            gap(splits[first], x, y),
            metric,
        )
        for x, y in args.gap
        for metric in ACROSS
    ]
    result = {
        "rule": RULE,
        "sources": {label: str(p) for label, p in zip(args.labels, (args.first, args.second), strict=True)},
        "models": {label: {m: describe(v) for m, v in values.items()} for label, values in splits.items()},
        "within": within,
        "across": across,
        "gaps": gaps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"Rule: {RULE}")
    for entry in within + across + gaps:
        print(f"  {entry['verdict']['text']}")


if __name__ == "__main__":
    main()
