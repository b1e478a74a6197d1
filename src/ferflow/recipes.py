"""Paper recipes: switch `params.yaml` from the CPU demo to a paper's settings for a dataset in one step.

A recipe is a partial parameter file under `recipes/` (e.g. `recipes/ifdd_dfew.yaml`). Applying one writes
its values into `params.yaml` itself, so DVC sees every changed value (`dvc params diff`, and `dvc repro`
re-runs the stages they feed) and git records them; nothing is merged behind the file's back at load time.
Sections merge key by key; any other value (a list, a model's keyword mapping, dataset options) replaces
the old one whole. The file keeps its comments, and is written only when the result validates.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ferflow.config import Params, read_params_file, validate_params
from ferflow.core.atomic import write_text
from ferflow.errors import UserError

RECIPES = Path("recipes")
#: Which branch a dataset feeds, for `--root`.
BRANCH = {"dfew": "video", "ferv39k": "video", "mafw": "video", "rafdb": "image"}


def list_recipes(folder: Path = RECIPES) -> dict[str, str]:
    """Name -> first comment line of each recipe in `folder`."""
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        first = path.read_text().splitlines()[0] if path.stat().st_size else ""
        found[path.stem] = first.lstrip("# ").strip()
    return found


def _recipe(name: str, folder: Path) -> dict[str, Any]:
    path = Path(name) if name.endswith((".yaml", ".yml")) else folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_recipes(folder)) or "none"
        raise UserError(f"{path}: no such recipe; known in {folder}/: {known}")
    raw = read_params_file(path)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe is a mapping of parameter sections, got {type(raw).__name__}")
    return raw


def _flow(value: Any) -> Any:
    """Lists and mappings written inline (`[a, b]`, `{k: v}`), as params.yaml writes them."""
    if isinstance(value, list):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        mapping = CommentedMap((k, _flow(v)) for k, v in value.items())
        mapping.fa.set_flow_style()
        return mapping
    return value


def _float_text(value: float) -> str:
    """A float as YAML 1.1 readers (PyYAML, DVC) read it back as a float: `5.0e-05`, never `5e-05`."""
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text


def _round_trip() -> YAML:
    """A YAML reader/writer that keeps comments and layout, writes null as `null` and floats so that
    PyYAML reads them as floats, and never wraps lines."""
    rt = YAML()
    rt.width = 4096
    rt.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    rt.representer.add_representer(
        float, lambda r, v: r.represent_scalar("tag:yaml.org,2002:float", _float_text(v))
    )
    return rt


def _merge(
    target: CommentedMap, values: dict[str, Any], model: type[BaseModel], where: str, changes: list[str]
) -> None:
    """Set `values` into `target` (a section of the YAML document), recursing into sub-sections."""
    for key, value in values.items():
        field = model.model_fields.get(key)
        sub = field.annotation if field is not None else None
        path = f"{where}{key}"
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = CommentedMap()
            _merge(target[key], value, sub, f"{path}.", changes)
        elif target.get(key) != value:
            changes.append(f"{path}: {target.get(key)!r} -> {value!r}")
            target[key] = _flow(value)


def apply_recipe(
    name: str, params_file: Path, root: Path | None = None, folder: Path = RECIPES
) -> tuple[Params, list[str]]:
    """Write a recipe's values (and the dataset `root`) into `params_file`; returns the new parameters and
    one line per changed value.

    Raises:
        UserError: no such recipe; its dataset has no root (pass `root`); the result does not validate
            (a `ParamsError`; the file is left as it was).
    """
    recipe = _recipe(name, folder)
    for dataset, branch in BRANCH.items():
        section = recipe.get("data", {}).get(branch, {})
        if section.get("dataset") == dataset and root is not None:
            section["root"] = str(root)
    read_params_file(params_file)  # missing, or a syntax error with its line and column
    document_yaml = _round_trip()
    document = document_yaml.load(params_file.read_text()) or CommentedMap()
    changes: list[str] = []
    _merge(document, recipe, Params, "", changes)
    out = io.StringIO()
    document_yaml.dump(document, out)
    for branch in ("video", "image"):
        section = (yaml.safe_load(out.getvalue()) or {}).get("data", {}).get(branch, {})
        if section.get("dataset", "synthetic") != "synthetic" and not section.get("root"):
            raise UserError(
                f"recipe {name}: data.{branch}.root is not set; pass --root, the folder {section['dataset']} "
                "lives in"
            )
    params = validate_params(yaml.safe_load(out.getvalue()), f"{params_file} with recipe {name}")
    write_text(params_file, out.getvalue())
    return params, changes


__all__ = ["RECIPES", "apply_recipe", "list_recipes"]
