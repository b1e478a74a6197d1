"""Rule and stage dependencies come from the import graph (ferflow.deps): the walk itself on a small package,
every rule's sources against the commands its shell runs, and dvc.yaml kept in step with them.
tests/test_dvc.py checks the same lists against what a real run imports and what Snakemake and DVC re-run."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ferflow.cli import build_parser
from ferflow.deps import command_sources, import_closure

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "ferflow"
SCRIPT = REPO / "scripts" / "stage_sources.py"

FAKE = {
    "__init__.py": "",
    "__main__.py": "from ferflow.cli import main\nmain()\n",
    "cli.py": """
from ferflow import shell

def main():
    _report_errors()

def _report_errors():
    from ferflow.errors import Failure

def build_parser():
    return {"a": _cmd_a, "b": _cmd_b}  # named, not called: not followed

def _cmd_a(args):
    from ferflow.a import run
    _shared()

def _shared():
    from . import common

def _cmd_b(args):
    from ferflow.pkg.b import run
""",
    "shell.py": "",
    "errors.py": "",
    "common.py": "",
    "a.py": 'MODULES = ("ferflow.dynamic",)\n\ndef run():\n    import ferflow.lazy\n',
    "lazy.py": "",
    "dynamic.py": "",
    "top.py": "",
    "unused.py": "import ferflow.a\n",
    "pkg/__init__.py": "",
    "pkg/b.py": "from .sibling import helper\nfrom .. import top\n",
    "pkg/sibling.py": "",
    "pkg/templates/page.html": "<p>",
}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    for name, text in FAKE.items():
        path = tmp_path / "ferflow" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "ferflow"


def _names(package: Path, files: list[Path]) -> set[str]:
    return {f.relative_to(package).as_posix() for f in files}


def test_the_walk_follows_imports_calls_strings_and_package_data(fake):
    shell = {"__init__.py", "__main__.py", "cli.py", "shell.py", "errors.py"}
    a = import_closure(fake, {"ferflow.cli": {"main", "_cmd_a"}})
    # a's function-level import and the module it names in a string count; b's package does not
    assert _names(fake, a) == shell | {"a.py", "lazy.py", "dynamic.py", "common.py"}
    b = import_closure(fake, {"ferflow.cli": {"main", "_cmd_b"}})
    package = {"pkg/__init__.py", "pkg/b.py", "pkg/sibling.py", "pkg/templates/page.html", "top.py"}
    assert _names(fake, b) == shell | package


def test_a_module_listed_without_functions_counts_for_its_import_time_imports_only(fake):
    # the CLI package loads every command's module, but runs only the chosen command's function
    shell = {"__init__.py", "__main__.py", "cli.py", "shell.py", "errors.py"}
    found = import_closure(fake, {"ferflow.cli": {"main"}, "ferflow.a": set()})
    assert _names(fake, found) == shell | {"a.py", "dynamic.py"}  # not run(): not lazy.py


def test_a_command_is_a_cli_subcommand(monkeypatch):
    monkeypatch.chdir(REPO)
    assert command_sources(Path("src/ferflow"), "data check")[0].parts[:2] == ("src", "ferflow")
    with pytest.raises(ValueError, match="ferflow has no command 'trian-ifdd'"):
        command_sources(PACKAGE, "trian-ifdd")
    with pytest.raises(ValueError, match="'data' is a group of commands"):
        command_sources(PACKAGE, "data")


def shell_commands(words: list[str]) -> list[str]:
    """The `ferflow` commands an argument list runs: its subcommand and, after `gpu-run ... --`, the stage."""
    parser, taken = build_parser(), []
    for word in words:
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not groups:
            break
        parser = groups[0].choices[word]
        taken.append(word)
    command = " ".join(taken)
    if command == "gpu-run":
        return [command, *shell_commands(words[words.index("--") + 1 :])]
    return [command]


def rules() -> dict[str, dict]:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--rules"], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_every_rule_lists_what_its_commands_import():
    """For every package file, the rules whose inputs list it are exactly those whose commands import it."""
    checked = 0
    for name, rule in rules().items():
        words = rule["shell"].split()
        if "{params.cli}" not in words:
            assert not rule["sources"], name
            continue
        commands = shell_commands(words[words.index("{params.cli}") + 1 :])
        expected = [str(p.relative_to(REPO)) for p in command_sources(PACKAGE, *commands)]
        assert rule["sources"] == expected, f"{name} runs {commands}"
        checked += 1
    assert checked >= 19


def test_dvc_yaml_and_the_table_are_derived_and_checked(tmp_path):
    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert check.returncode == 0, check.stderr
    # a new import in the report's code: --check fails, --write adds the file to that stage's deps only
    for name in ("Snakefile", "dvc.yaml", "params.yaml", "workflow", "src", "docs/measurements"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    report = tmp_path / "src" / "ferflow" / "report"
    (report / "styles.py").write_text('"""Colours."""\n')
    with (report / "build.py").open("a") as f:
        f.write("\nfrom ferflow.report import styles\n")
    script = [sys.executable, str(SCRIPT), "--root", str(tmp_path)]
    stale = subprocess.run([*script, "--check"], capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "dvc.yaml: out of date with the import graph" in stale.stderr
    before = (tmp_path / "dvc.yaml").read_text()
    assert subprocess.run([*script, "--write"], capture_output=True, timeout=300).returncode == 0
    after = (tmp_path / "dvc.yaml").read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ["      - src/ferflow/report/styles.py"]
    assert after.count("styles.py") == 1 and after.index("styles.py") > after.index("  report:")
    assert before.splitlines()[:6] == after.splitlines()[:6]  # the hand-written comments stay
    table = (tmp_path / "docs" / "measurements" / "stage_sources.md").read_text()
    assert "| `report/styles.py` | report | report |" in table
