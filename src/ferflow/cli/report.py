"""The HTML and PDF report (`report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ferflow import paths
from ferflow.cli.options import Subcommands, add_params_options, params_of
from ferflow.errors import UserError


def _cmd_report(args: argparse.Namespace) -> int:
    from ferflow.report import build_report  # imported here: matplotlib and seaborn load slowly

    if not args.root.is_dir():
        raise UserError(
            f"--root {args.root}: no such folder; give the project folder "
            f"(the one with {paths.RESULTS.as_posix()}/)"
        )

    html, pdf = build_report(args.root, args.out, params_of(args))
    print(f"wrote {html} and {pdf}")
    return 0


def add_report(stages: Subcommands) -> None:
    report = stages.add_parser(
        "report",
        help="render the HTML and PDF result report (and its figures as PNG)",
        description="Gather the data-stage metrics, IFDD and DICE-FER results and benchmarks found under the "
        "project folder and render report.html (self-contained) and report.pdf.",
    )
    add_params_options(report)
    report.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    report.add_argument(
        "--out", type=Path, default=paths.REPORTS, help="output folder (default: %(default)s)"
    )
    report.set_defaults(func=_cmd_report)
