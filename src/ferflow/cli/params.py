"""The parameters: print them resolved (`params`), switch them to a paper's recipe (`recipe`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ferflow.cli.options import Subcommands, add_params_options, params_of
from ferflow.config import DEFAULT_PARAMS
from ferflow.errors import UserError


def _cmd_params(args: argparse.Namespace) -> int:
    print(yaml.safe_dump(params_of(args).model_dump(mode="json"), sort_keys=False), end="")
    return 0


def add_params(stages: Subcommands) -> None:
    check = stages.add_parser(
        "params",
        help="validate the parameters and print every resolved value",
        description="Validate the parameters and print them with defaults filled in.",
    )
    add_params_options(check)
    check.set_defaults(func=_cmd_params)


def _cmd_recipe_list(args: argparse.Namespace) -> int:
    from ferflow.recipes import list_recipes

    recipes = list_recipes(args.folder)
    if not recipes:
        raise UserError(f"{args.folder}: no recipes (*.yaml) there; run from the project folder")
    for name, title in recipes.items():
        print(f"{name:<16} {title}")
    return 0


def _cmd_recipe_apply(args: argparse.Namespace) -> int:
    from ferflow.recipes import apply_recipe

    _, changes = apply_recipe(args.name, args.params, args.root, args.folder)
    print(f"{args.params}: recipe {args.name}, {len(changes)} value(s) changed")
    for line in changes:
        print(f"  {line}")
    print("then: dvc repro (or snakemake --cores all); dvc params diff lists the change")
    return 0


def add_recipe(stages: Subcommands) -> None:
    recipe = stages.add_parser(
        "recipe",
        help="switch params.yaml to a paper's settings for a dataset (recipes/*.yaml)",
        description="Paper recipes: partial parameter files under recipes/. `apply` writes one into "
        "params.yaml (comments kept, validated first), so DVC and git see every changed value.",
    )
    recipe_commands = recipe.add_subparsers(dest="recipe_command", required=True, metavar="COMMAND")
    recipe_list = recipe_commands.add_parser("list", help="the recipes and what each sets")
    recipe_list.set_defaults(func=_cmd_recipe_list)
    recipe_apply = recipe_commands.add_parser("apply", help="write a recipe into the parameter file")
    recipe_apply.add_argument("name", help="a recipe name (e.g. ifdd_dfew) or a recipe file")
    recipe_apply.add_argument("--root", type=Path, help="the dataset's folder (data.<branch>.root)")
    recipe_apply.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, metavar="FILE", help="default: %(default)s"
    )
    recipe_apply.set_defaults(func=_cmd_recipe_apply)
    for sub in (recipe_list, recipe_apply):
        sub.add_argument("--folder", type=Path, default=Path("recipes"), help="default: %(default)s")
