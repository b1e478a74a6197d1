"""The package files each Snakemake rule and DVC stage depends on, all derived from the import graph.

    python scripts/stage_sources.py            print which rules and DVC stages each package file marks stale
    python scripts/stage_sources.py --write    rewrite dvc.yaml's package deps and that table (`make deps`)
    python scripts/stage_sources.py --check    exit 1 when either is out of date (`make lint`, the tests)
    python scripts/stage_sources.py --rules    each rule's file, shell command, sources and outputs, as JSON

A rule's `sources` input is `ferflow_sources(<its commands>)` (workflow/rules/common.smk, ferflow.deps). A DVC
stage runs Snakemake on the rules of the rule files among its deps, so its package deps are the union of
those rules' sources; the rest of dvc.yaml (commands, params, outs, comments) is written by hand and kept.
Its results paths are checked (--check and --write): each lies in a results folder of `ferflow.paths`, and
is a rule's output, a folder above one or a path inside one, so dvc.yaml follows the layout the rules take
from `ferflow.paths`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML

from ferflow import paths

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path("src") / "ferflow"
DVC_YAML = Path("dvc.yaml")
TABLE = Path("docs") / "measurements" / "stage_sources.md"
DERIVED = "the package files its rules' commands import: derived (make deps), do not edit"
#: The folders of the results layout (`ferflow.paths`) that dvc.yaml's results paths lie in.
LAYOUT = tuple(
    folder.as_posix()
    for folder in (
        paths.PRETRAIN_RESULTS,
        paths.IFDD_RESULTS,
        paths.DICEFER_RESULTS,
        paths.STUDY_RESULTS,
        paths.REPORTS,
    )
)


class Rule(NamedTuple):
    file: Path  # where it is defined, relative to the project folder
    shell: str  # its shell command, unformatted
    sources: list[str]  # its package sources, as its inputs list them
    outputs: list[str]  # its output files and folders, wildcards as {name}


def rule_sources(root: Path) -> dict[str, Rule]:
    """Every Snakemake rule of the project at `root`, by name."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings

    os.chdir(root)  # the rules record package paths relative to the working folder
    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(ResourceSettings(cores=1), snakefile=root / "Snakefile", workdir=root)
        rules = workflow._workflow.rules  # the parsed rules; Snakemake's API has no public view of them
        return {
            rule.name: Rule(
                Path(rule.snakefile).resolve().relative_to(root),
                rule.shellcmd or "",
                sorted(str(f) for f in rule.input if isinstance(f, str) and Path(f).is_relative_to(PACKAGE)),
                [str(f) for f in rule.output],
            )
            for rule in rules
        }


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 4096  # keep long commands on one line, as written
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def derived_dvc_yaml(root: Path, rules: dict[str, Rule]) -> str:
    """dvc.yaml with each stage's package deps replaced by the union of its rule files' rules' sources."""
    yaml = _yaml()
    document = yaml.load((root / DVC_YAML).read_text())
    for stage in document["stages"].values():
        deps = stage["deps"]
        files = {Path(d) for d in deps if str(d).endswith(".smk")}
        sources = sorted({s for rule in rules.values() if rule.file in files for s in rule.sources})
        kept = [d for d in deps if not Path(d).is_relative_to(PACKAGE)]
        deps.clear()
        deps.extend([*kept, *sources])
        if sources:
            deps.yaml_set_comment_before_after_key(len(kept), before=DERIVED, indent=6)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def dvc_results(document: Any) -> list[str]:
    """Every path in the results or reports folder that dvc.yaml names: in a stage's command (its Snakemake
    targets), deps or outs, and among its metrics and plots."""
    names = []
    for stage in document["stages"].values():
        names += [*stage["cmd"].split(), *stage.get("deps", []), *stage.get("outs", [])]
    names += [*document.get("metrics", []), *document.get("plots", [])]
    names = [str(next(iter(n))) if isinstance(n, dict) else str(n) for n in names]  # {path: options}
    tops = {paths.RESULTS.as_posix(), paths.REPORTS.as_posix()}
    return [n for n in dict.fromkeys(names) if n.split("/")[0] in tops]


def _related(output: str, name: str) -> bool:
    """Whether `name` is the rule output `output` (a pattern), a folder above it or a path inside it."""
    parts, patterns = name.split("/"), output.split("/")
    return all(
        re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(pattern)), part)
        for pattern, part in zip(patterns, parts, strict=False)
    )


def results_problems(document: Any, rules: dict[str, Rule]) -> list[str]:
    """One line for each results path of dvc.yaml outside `ferflow.paths`'s folders or no rule writes."""
    outputs = [output for rule in rules.values() for output in rule.outputs]
    problems = []
    for name in dvc_results(document):
        if not any(name == folder or name.startswith(f"{folder}/") for folder in LAYOUT):
            problems.append(
                f"{DVC_YAML}: {name}: in none of ferflow.paths' results folders ({', '.join(LAYOUT)})"
            )
        elif not any(_related(output, name) for output in outputs):
            problems.append(f"{DVC_YAML}: {name}: no rule writes it, nor anything in or above it")
    return problems


def stage_table(root: Path, rules: dict[str, Rule], dvc_yaml: str) -> str:
    """Markdown: each package file, the rules whose inputs list it, the DVC stages whose deps do."""
    stages: dict[str, Any] = _yaml().load(dvc_yaml)["stages"]
    files = sorted(p.relative_to(root) for p in (root / PACKAGE).rglob("*") if _is_source(p))
    lines = [
        "<!-- written by `.venv/bin/python scripts/stage_sources.py --write` (it prints this table) -->",
        "# What each package file marks stale",
        "",
        "Touching a file re-runs the Snakemake rules whose `sources` input lists it (and, through their",
        "outputs, what follows them) and marks the DVC stages whose deps list it as changed. Both lists are",
        "derived from the import graph of each rule's `ferflow` commands (`ferflow.deps`).",
        "",
        "| package file | Snakemake rules | DVC stages |",
        "|---|---|---|",
    ]
    every_rule = [name for name, rule in rules.items() if rule.sources]
    for file in files:
        marked = [name for name, rule in rules.items() if str(file) in rule.sources]
        staged = [name for name, stage in stages.items() if str(file) in stage["deps"]]
        lines.append(
            f"| `{file.relative_to(PACKAGE)}` | {_listed(marked, every_rule, 'rule')} "
            f"| {_listed(staged, list(stages), 'stage')} |"
        )
    return "\n".join(lines) + "\n"


def _listed(names: list[str], every: list[str], kind: str) -> str:
    if names == every:
        return f"every {kind} ({len(names)})"
    return ", ".join(names) or "none"


def _is_source(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.name != "py.typed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite dvc.yaml's package deps and the table")
    mode.add_argument("--check", action="store_true", help="exit 1 when dvc.yaml or the table is out of date")
    mode.add_argument("--rules", action="store_true", help="print each rule's file, shell and sources (JSON)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    rules = rule_sources(root)
    if args.rules:
        print(json.dumps({name: {**rule._asdict(), "file": str(rule.file)} for name, rule in rules.items()}))
        return 0
    expected = {DVC_YAML: derived_dvc_yaml(root, rules)}
    expected[TABLE] = stage_table(root, rules, expected[DVC_YAML])
    if not (args.write or args.check):
        print(expected[TABLE], end="")
        return 0
    problems = results_problems(_yaml().load(expected[DVC_YAML]), rules)
    for line in problems:
        print(f"{line}; take the path from ferflow.paths' layout (the rules' outputs)", file=sys.stderr)
    stale = [p for p, text in expected.items() if not (root / p).is_file() or (root / p).read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path}: out of date with the import graph; run `make deps`, commit it", file=sys.stderr)
        return 1 if stale or problems else 0
    for path in stale:
        (root / path).write_text(expected[path])
        print(f"wrote {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
