"""The package files each Snakemake rule and DVC stage depends on, all derived from the import graph.

    python scripts/stage_sources.py            print which rules and DVC stages each package file marks stale
    python scripts/stage_sources.py --write    rewrite dvc.yaml's package deps and that table (`make deps`)
    python scripts/stage_sources.py --check    exit 1 when either is out of date (`make lint`, the tests)
    python scripts/stage_sources.py --rules    each rule's file, shell command and sources, as JSON

A rule's `sources` input is `ferflow_sources(<its commands>)` (workflow/rules/common.smk, ferflow.deps). A DVC
stage runs Snakemake on the rules of the rule files among its deps, so its package deps are the union of
those rules' sources; the rest of dvc.yaml (commands, params, outs, comments) is written by hand and kept.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path("src") / "ferflow"
DVC_YAML = Path("dvc.yaml")
TABLE = Path("docs") / "measurements" / "stage_sources.md"
DERIVED = "the package files its rules' commands import: derived (make deps), do not edit"


class Rule(NamedTuple):
    file: Path  # where it is defined, relative to the project folder
    shell: str  # its shell command, unformatted
    sources: list[str]  # its package sources, as its inputs list them


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
    stale = [p for p, text in expected.items() if not (root / p).is_file() or (root / p).read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path}: out of date with the import graph; run `make deps`, commit it", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        (root / path).write_text(expected[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
