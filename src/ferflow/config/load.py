"""Reading and validating a parameter file: every bad key named by its full path, in one message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ferflow import dataset_names
from ferflow.config.dicefer import DiceFerParams
from ferflow.config.ifdd import TYPE_BRANCHES, IFDDParams
from ferflow.config.params import Params
from ferflow.config.study import merge_overrides
from ferflow.errors import UserError

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError, UserError):
    """A parameter file that cannot be used; the message lists every offending key."""


#: Keys a study sets itself, per section: a study override must not.
STUDY_OWNS = {
    "ifdd": {"variants": "study.ifdd.variants", "folds": "study.folds", "train.seed": "study.seeds"},
    "dicefer": {"runtime.seed": "study.seeds"},
}


def _study_problems(p: Params) -> list[str]:
    """Each study override checked against its section's schema, named by its full path in `study`."""
    study = p.study.ifdd
    checks = [("study.ifdd.overrides", IFDDParams, p.ifdd, study.overrides, "ifdd")]
    checks += [
        (f"study.ifdd.settings.{name}", IFDDParams, p.ifdd, study.changes_of(name), "ifdd")
        for name in study.settings
    ]
    checks += [
        (f"study.dicefer.settings.{name}", DiceFerParams, p.dicefer, changes, "dicefer")
        for name, changes in p.study.dicefer.settings.items()
    ]
    problems = []
    for where, schema, base, changes, section in checks:
        for key, owner in STUDY_OWNS[section].items():
            head, _, tail = key.partition(".")
            if head in changes and (not tail or (isinstance(changes[head], dict) and tail in changes[head])):
                problems.append(f"{where}.{key}: set by the study ({owner}), not by an override")
        raw = merge_overrides(base.model_dump(mode="json"), changes)
        if section == "ifdd":
            raw["variants"] = sorted({study.model_of(v) for v in study.variants})
        try:
            schema.model_validate(raw)
        except ValidationError as err:
            problems += [_describe(e, where) for e in err.errors()]
    return problems


def _cross_section_problems(params: Params) -> list[tuple[str, str]]:
    """(key, message) for values that only make sense with another: adapter options (they depend on the
    dataset) and IFDD's folds (on the video dataset's)."""
    problems = []
    for branch, dataset in (("video", params.data.video), ("image", params.data.image)):
        problems += [
            (f"data.{branch}.options.{key}", message)
            for key, message in dataset_names.option_problems(dataset.adapter(), dataset.options)
        ]
    video = params.data.video.adapter()
    folds = dataset_names.NUM_FOLDS.get(video)
    wanted = params.ifdd.folds
    if wanted is not None and folds is None:
        problems.append(
            ("ifdd.folds", f"{video} has one fixed train/test split, no folds: set ifdd.folds to null")
        )
    elif wanted is not None and folds is not None and max(wanted, default=1) > folds:
        problems.append(("ifdd.folds", f"{video} has folds 1..{folds}, got {wanted}"))
    return problems


def _describe(error: dict[str, Any], prefix: str = "") -> str:
    parts = (prefix, *(p for p in error["loc"] if p not in TYPE_BRANCHES))
    key = ".".join(str(part) for part in parts if part != "")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    return f"{key}: {message}" if isinstance(given, dict) else f"{key}: {message} (got {given!r})"


def validate_params(raw: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate a parameter mapping; raise `ParamsError` naming each bad key by its full path."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        errors = [(".".join(str(part) for part in e["loc"]), _describe(e)) for e in err.errors()]
    else:
        errors = [(key, f"{key}: {message}") for key, message in _cross_section_problems(params)]
        errors += [(line.split(":", 1)[0], line) for line in _study_problems(params)]
        if not errors:
            return params
    sections = list(dict.fromkeys(key.split(".")[0] for key, _ in errors))
    lines = "\n".join(f"  {line}" for _, line in errors)
    raise ParamsError(f"{source}: invalid parameters (sections: {', '.join(sections)})\n{lines}")


def read_params_file(path: str | Path = DEFAULT_PARAMS) -> Any:
    """The YAML of a parameter file, unvalidated; a syntax error names the line and column."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameter file not found; run from the project folder or pass --params")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        raise ParamsError(f"{path}{where}: not valid YAML ({problem}); fix the file there") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML ({err}); fix the file") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate a YAML parameter file."""
    return validate_params(read_params_file(path), str(Path(path)))
