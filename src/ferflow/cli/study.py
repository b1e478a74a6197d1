"""A study's statistics and verdicts (`summarize-study`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ferflow import paths
from ferflow.cli.options import Subcommands, add_params_options, params_of


def _cmd_summarize_study(args: argparse.Namespace) -> int:
    from ferflow.evaluate.stats import VERDICT_RULE
    from ferflow.evaluate.study_summary import summarize_study

    summary = summarize_study(params_of(args), args.root, args.out, args.table)
    print(f"Verdict rule: {VERDICT_RULE}")
    for text in summary["verdicts"]:
        print(f"  {text}")
    if summary["missing"]:
        print(f"not evaluated yet ({len(summary['missing'])} cells), e.g. {summary['missing'][0]}")
    return 0


def add_summarize_study(stages: Subcommands) -> None:
    summarize_s = stages.add_parser(
        "summarize-study",
        help=f"statistics and verdicts of a folds x seeds study ({paths.STUDY_RESULTS.as_posix()})",
        description="Read every cell of the `study` section's grid under --root, and write per-model "
        "mean and SD, each compared pair's paired differences with bootstrap and t intervals, Wilcoxon "
        "p-values, verdicts (printed with their rule) and power to --out (JSON), and one row per cell to "
        "--table.",
    )
    add_params_options(summarize_s)
    summarize_s.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    summarize_s.add_argument("--out", type=Path, default=paths.STUDY_RESULTS / paths.SUMMARY_FILE)
    summarize_s.add_argument(
        "--table",
        type=Path,
        help=f"per-cell TSV (e.g. {(paths.STUDY_RESULTS / paths.CELLS_TABLE).as_posix()})",
    )
    summarize_s.set_defaults(func=_cmd_summarize_study)
