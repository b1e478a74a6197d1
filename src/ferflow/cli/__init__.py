"""The `ferflow` command line: one subcommand per stage, each a thin wrapper around a library function.

Snakemake rules pass the validated parameter sections as JSON (`--params-json`), so a rule runs with exactly
the values Snakemake compared when deciding what to re-run; people usually pass `--params params.yaml`.

A user's mistake (any `ferflow.errors.UserError`, or a missing file) ends every subcommand with one line,
`ferflow: <what>, <which file or key>, <what to do>`, and a non-zero status (2 for bad parameters, 1 for
the rest); `--debug` or FERFLOW_DEBUG=1 shows the traceback instead. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from ferflow import __version__
from ferflow.cli import bench, data, evaluate, params, report, study, tools, train
from ferflow.cli.options import Parser
from ferflow.config import ParamsError
from ferflow.errors import UserError

#: Each subcommand's declaration (its group module declares its arguments beside its handler), in the order
#: `ferflow --help` lists them.
COMMANDS = (
    params.add_params,
    data.add_synthesize,
    data.add_synthesize_faceid,
    data.add_prepare_faces,
    train.add_pretrain,
    data.add_prepare,
    data.add_pack,
    train.add_train_ifdd,
    evaluate.add_evaluate_ifdd,
    evaluate.add_summarize_pretrain,
    evaluate.add_summarize_ifdd,
    study.add_summarize_study,
    train.add_train_dicefer,
    evaluate.add_evaluate_dicefer,
    report.add_report,
    evaluate.add_predict,
    data.add_data,
    params.add_recipe,
    bench.add_bench,
    tools.add_gpu_run,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ferflow",
        description="Facial expression recognition pipeline: IFDD (video) and DICE-FER (images).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of a user error (also: FERFLOW_DEBUG=1)"
    )
    stages = parser.add_subparsers(dest="command", required=True, metavar="STAGE")
    for add in COMMANDS:
        add(stages)
    return parser


def _user_message(err: Exception) -> str:
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return f"{err.filename}: no such file or folder; check the path, or run the stage that writes it"
    return str(err)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, FileNotFoundError) as err:
        if args.debug or os.environ.get("FERFLOW_DEBUG", "") not in ("", "0"):
            raise
        print(f"ferflow: {_user_message(err)}", file=sys.stderr)
        return 2 if isinstance(err, ParamsError) else 1
