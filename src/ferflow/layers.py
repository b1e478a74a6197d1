"""The package's layers, bottom first: a module imports from its own layer and the ones below, never above.

`LAYERS` is the one place the order is written; tests/test_layers.py runs `upward_imports` over
`src/ferflow` and fails naming each import that points up. A module belongs to the layer that lists the
longest dotted prefix of its name (relative to the package; `__init__` is the package's own `__init__.py`),
so `evaluate.metrics` sits in `metrics` while the rest of `evaluate` sits in `evaluate`. A module no layer
lists is an error too: a new top-level module or package must be placed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # what every stage stands on: atomic files, checkpoints, devices, errors, the version
    ("core", ("__init__", "core", "errors", "parallel")),
    # the names the parameters are checked against: models; datasets' classes, folds and adapter options
    ("names", ("model_names", "dataset_names")),
    # the parameters and what follows from them alone: paths, job keys, recipes, the study's cells
    ("config", ("config", "paths", "jobs", "recipes", "study")),
    ("data", ("data",)),
    ("models", ("models",)),
    # the measures a trainer selects by and an evaluation reports
    ("metrics", ("evaluate.metrics", "evaluate.verification")),
    ("train", ("train",)),
    ("evaluate", ("evaluate", "predict", "bench")),
    ("report", ("report",)),
    ("cli", ("cli", "__main__", "deps", "gpu", "cluster", "layers")),
)


def layer_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> int | None:
    """Index into `layers` of `module` (dotted, relative to the package), or None when no layer lists it."""
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(layers)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def _module_name(parts: tuple[str, ...]) -> str:
    """`data.frames.decoding` for data/frames/decoding.py, `data` for data/__init__.py, `__init__` for the
    root's."""
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imported(
    node: ast.Import | ast.ImportFrom, package: list[str], name: str, modules: set[str]
) -> list[str]:
    """The package modules an import names (dotted, relative to the package `name`); others are left out.

    `package` is the importing module's own package (relative parts), against which `from . import x`
    resolves.
    """
    if isinstance(node, ast.Import):
        targets = [alias.name.split(".") for alias in node.names]
    elif node.level:
        base = package[: len(package) - node.level + 1]
        targets = [[name, *base, *(node.module.split(".") if node.module else [])]]
    else:
        targets = [(node.module or "").split(".")]
    found = []
    for target in targets:
        if target[0] != name:
            continue
        module = ".".join(target[1:]) or "__init__"
        if isinstance(node, ast.ImportFrom):  # `from pkg import sub` names the submodule where there is one
            subs = [f"{module}.{alias.name}".removeprefix("__init__.") for alias in node.names]
            found += [sub if sub in modules else module for sub in subs]
        else:
            found.append(module)
    return found


def upward_imports(root: Path, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> list[str]:
    """Every import in the package at `root` that points to a higher layer, and every module in no layer.

    Each problem is one line, ``file:line: import <module> (<layer>) from <module> (<layer>)``.
    """
    root = Path(root)
    files = {path: path.relative_to(root).with_suffix("").parts for path in sorted(root.rglob("*.py"))}
    modules = {_module_name(parts) for parts in files.values()}
    problems = []
    for path, parts in files.items():
        module = _module_name(parts)
        own = layer_of(module, layers)
        if own is None:
            problems.append(f"{path}: module {module} is in no layer; place it in ferflow.layers.LAYERS")
            continue
        package = list(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(node, package, root.name, modules):
                there = layer_of(target, layers)
                if there is not None and there > own:
                    problems.append(
                        f"{path}:{node.lineno}: import {target} ({layers[there][0]}) "
                        f"from {module} ({layers[own][0]})"
                    )
    return problems
