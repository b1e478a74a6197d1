"""What every subcommand shares: the one-line argument errors, the parameter options and argument types."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NoReturn

from ferflow.config import DEFAULT_PARAMS, Params, ParamsError, check_device, load_params, validate_params

#: The type of `add_subparsers()`: where each group module declares its subcommands (argparse names it
#: privately only).
Subcommands = argparse._SubParsersAction


class Parser(argparse.ArgumentParser):
    """Argument errors as one line, `ferflow: <command>: <error>; see ... --help`, like every user error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("ferflow").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"ferflow: {where}{message}; see `{self.prog} --help`\n")


def add_params_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--params",
        type=Path,
        default=DEFAULT_PARAMS,
        metavar="FILE",
        help="parameter file (default: %(default)s)",
    )
    group.add_argument(
        "--params-json", metavar="JSON", help="parameters as JSON (how the Snakemake rules pass them)"
    )


def params_of(args: argparse.Namespace) -> Params:
    if args.params_json is not None:
        try:
            raw = json.loads(args.params_json)
        except json.JSONDecodeError as err:
            raise ParamsError(f"--params-json: not valid JSON: {err}") from None
        return validate_params(raw, "--params-json")
    return load_params(args.params)


def device_name(text: str) -> str:
    try:
        return check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive(kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse
