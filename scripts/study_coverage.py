"""Simulated coverage of the study's interval methods at the study shapes the project runs
(`ferflow.evaluate.coverage`): the table behind the verdict rule's choice of interval and docs/study.md.

    .venv/bin/python scripts/study_coverage.py --studies 1000 --resamples 500 \\
        --out docs/measurements/study_coverage.json
    .venv/bin/python scripts/study_coverage.py --table docs/measurements/study_coverage.json   # Markdown
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ferflow.core.atomic import write_json
from ferflow.evaluate.coverage import METHODS, coverage_table

HEADERS = {
    "bootstrap": "bootstrap, samples and cells",
    "bootstrap_samples": "bootstrap, samples only",
    "t": "t over cells",
    "t_samples": "t, cells and samples",
}


def markdown(table: dict[str, Any]) -> str:
    """Coverage % (mean width in points) per shape, scenario and method, then each method's lowest."""
    lines = [
        "| folds x seeds | scenario | " + " | ".join(HEADERS[m] for m in METHODS) + " |",
        "|---|---|" + "---|" * len(METHODS),
    ]
    for row in table["rows"]:
        cells = []
        for m in METHODS:
            c = row["methods"][m]
            cells.append(
                "-" if c["coverage"] is None else f"{100 * c['coverage']:.1f} ({100 * c['mean_width']:.0f})"
            )
        lines.append(f"| {row['folds']} x {row['seeds']} | {row['scenario']} | " + " | ".join(cells) + " |")
    for shape, lowest in table["lowest_coverage"].items():
        folds, seeds = shape.split("x")
        values = " | ".join("-" if lowest[m] is None else f"**{100 * lowest[m]:.1f}**" for m in METHODS)
        lines.append(f"| {folds} x {seeds} | lowest | {values} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--studies", type=int, default=1000, help="simulated studies per shape and scenario")
    parser.add_argument("--resamples", type=int, default=500, help="bootstrap draws per interval")
    parser.add_argument("--clips", type=int, default=60, help="test clips per fold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", type=Path, help="print a stored table as Markdown instead")
    args = parser.parse_args()
    if args.table is not None:
        print(markdown(json.loads(args.table.read_text())))
        return
    if args.out is None:
        parser.error("--out is required (or --table)")
    started = time.perf_counter()
    table = coverage_table(args.studies, args.resamples, args.clips, args.seed)
    table["command"] = (
        f"scripts/study_coverage.py --studies {args.studies} --resamples {args.resamples} "
        f"--clips {args.clips} --seed {args.seed} --out {args.out}"
    )
    table["seconds"] = round(time.perf_counter() - started, 1)
    table["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(args.out, table)
    for shape, methods in table["lowest_coverage"].items():
        print(shape, {m: c for m, c in methods.items()})


if __name__ == "__main__":
    main()
