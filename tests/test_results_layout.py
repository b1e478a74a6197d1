"""The results layout is written once, in `ferflow.paths`: no other module and no Snakemake rule spells it.

A string in code (not a comment, not a docstring) that names the results folder, ``Path("results")`` or
any string with ``results/`` in it, fails here with its file and line; the rules, the CLI's defaults, the
study and the report build their paths from `ferflow.paths` instead. dvc.yaml's results paths are checked
against those folders and the rules' outputs by scripts/stage_sources.py (`--check`: `make lint`,
tests/test_deps.py; its rule is tested below).
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "ferflow"
SCRIPT = REPO / "scripts" / "stage_sources.py"
#: Where the layout is written.
LAYOUT = PACKAGE / "paths.py"
#: Files allowed to spell it, and why. The report takes its folders from `ferflow.paths` in its own change
#: (issue 21, report/): remove this entry then (the test fails on an entry that no longer spells it).
#: ``results/`` anywhere in a string, or the string ``results`` itself where it is a path (see `_as_path`)
SPELLS_RESULTS = re.compile(r"(^|[^\w.-])results/")
FOLDER = "results"


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the module's, classes' and functions' docstring nodes."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _as_path(tree: ast.AST) -> set[int]:
    """ids of the string constants used as a path: `Path("x")`, `"x" / y`, `y / "x"`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Path":
            found |= {id(arg) for arg in node.args}
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            found |= {id(node.left), id(node.right)}
    return found


def python_spellings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the strings in a Python file's code (not docstrings) that spell the results folder."""
    tree = ast.parse(path.read_text(), str(path))
    skip, paths = _docstrings(tree), _as_path(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        if SPELLS_RESULTS.search(node.value) or (node.value == FOLDER and id(node) in paths)
    )


def snakemake_spellings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the string tokens in a Snakemake file (Python's syntax, tokenwise; comments are no
    strings) that spell the results folder."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    strings = [(t.start[0], t.string) for t in tokens if t.type == tokenize.STRING]
    return [
        (line, text)
        for line, text in strings
        if SPELLS_RESULTS.search(text) or re.fullmatch(rf"\w*(['\"]){FOLDER}\1", text)
    ]


def spellings(path: Path) -> list[str]:
    """`file:line: text` for each string in `path` that spells the results folder."""
    found = python_spellings(path) if path.suffix == ".py" else snakemake_spellings(path)
    where = path.relative_to(REPO)
    return [f"{where}:{line}: {text!r}" for line, text in found]


def sources() -> list[Path]:
    rules = sorted((REPO / "workflow").rglob("*.smk"))
    return [*sorted(PACKAGE.rglob("*.py")), *rules, REPO / "Snakefile"]


def test_only_paths_spells_the_results_folder():
    found = [line for path in sources() if path != LAYOUT for line in spellings(path)]
    assert not found, "the results layout is spelled outside ferflow.paths; use its constants:\n" + "\n".join(
        found
    )


def test_a_spelled_results_path_is_found(tmp_path):
    rule = tmp_path / "x.smk"
    rule.write_text(
        '# results/ in a comment is fine\nrule a:\n    output:\n        "results/a/{b}.json",\n'
        '        f"{root}/results/c",\n        "the results_b",\n        "results",\n'
    )
    assert [line for line, _ in snakemake_spellings(rule)] == [4, 5, 7]
    module = tmp_path / "x.py"
    module.write_text(
        '"""results/ in a docstring is fine."""\nOUT = Path("results") / "a"\nB = root / "results"\n'
        'C = {"results": 1}\nD = "none found under results/ifdd/"\nE = "dicefer_results/x"\n'
    )
    assert [line for line, _ in python_spellings(module)] == [2, 3, 5]


def _stage_sources():
    spec = importlib.util.spec_from_file_location("stage_sources", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dvc_results_path_no_rule_writes_or_outside_the_layout_is_named():
    script = _stage_sources()
    rules = {
        "train": script.Rule(Path("x.smk"), "", [], ["results/ifdd/{variant}/fold_{fold}/model.pt"]),
        "plots": script.Rule(Path("x.smk"), "", [], ["results/ifdd/plots"]),
    }
    document = {
        "stages": {
            "ifdd": {
                "cmd": "snakemake results/ifdd/a/fold_1/model.pt results/ifdd/a/model.pt --cores all",
                "deps": ["data/processed", "results/ifdd"],
                "outs": [{"results/ifdd_old": {"persist": True}}],
            }
        },
        "plots": [{"results/ifdd/plots/learning": {"x": "epoch"}}],
    }
    assert script.results_problems(document, rules) == [
        "dvc.yaml: results/ifdd/a/model.pt: no rule writes it, nor anything in or above it",
        f"dvc.yaml: results/ifdd_old: in none of ferflow.paths' results folders ({', '.join(script.LAYOUT)})",
    ]
