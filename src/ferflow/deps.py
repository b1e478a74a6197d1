"""Which package files a `ferflow` command imports: the sources a Snakemake rule or a DVC stage depends on.

Snakemake and DVC compare files, not imports, so each rule lists the package files its commands load; this
module derives that list from the import graph (an AST walk), so that no list is written by hand.

`python -m ferflow <command>` runs ``ferflow/__main__.py``, which loads the CLI package (every command's
module) and calls its `main`; `main` calls the command's function, which imports what the command needs
lazily. So a command depends on the modules `__main__` and the CLI modules load at import time, on the
imports inside `main` and the command's function (and inside the functions of its module they call), and on
every module those import, with all of that module's imports, at any depth in its file (an import inside a
function counts: it may run). Importing a module also runs its packages' ``__init__.py``. A string naming a
ferflow module (``importlib.import_module("ferflow.models.ifdd")``, ``PackageLoader("ferflow.report", ...)``)
counts as an import, and the files in a package's non-package folders (``report/templates``) belong to that
package.
"""

from __future__ import annotations

import argparse
import ast
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

PACKAGE = "ferflow"
_MODULE_NAME = re.compile(rf"{PACKAGE}(\.\w+)*")


def command_sources(package: Path, *commands: str) -> list[Path]:
    """The files under `package` (the ``ferflow`` folder) that ``python -m ferflow <command>`` may load.

    Args:
        package: The package folder whose files are read (a project's own ``src/ferflow``).
        commands: Subcommands, as typed after ``ferflow``: ``"train-ifdd"``, ``"data check"``.

    Returns:
        The files, sorted; relative when `package` is.
    """
    return import_closure(package, _entry_functions(commands))


def import_closure(package: Path, entries: dict[str, set[str]]) -> list[Path]:
    """The files under `package` that ``python -m ferflow`` may load when it runs the `entries`' functions
    (module name -> function names, e.g. ``{"ferflow.cli": {"main"}, "ferflow.cli.report": {"_cmd_report"}}``;
    a module listed with no function counts for its import-time imports only): see the module's docstring for
    what counts."""
    todo = [f"{PACKAGE}.__main__", *entries]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        functions = frozenset(entries[name]) if name in entries else None
        todo += _imports(package, name, functions)
    files = {path for name in seen if (path := _module_file(package, name))}
    return sorted({*files, *(data for name in seen for data in _package_data(package, name))})


def _entry_functions(commands: tuple[str, ...]) -> dict[str, set[str]]:
    """The CLI's `main` and the functions that run `commands` (each parser's ``func`` default), by module;
    every other command's module with none (the CLI loads them all, but runs none of their functions)."""
    from ferflow.cli import build_parser, main  # imported here: the CLI imports the configuration schema

    entries: dict[str, set[str]] = {main.__module__: {main.__name__}}
    entries |= {function.__module__: set() for function in _command_functions(build_parser())}
    for command in commands:
        parser = build_parser()
        for word in command.split():
            choices = _subcommands(parser)
            if word not in choices:
                raise ValueError(f"ferflow has no command {command!r}")
            parser = choices[word]
        function = parser.get_default("func")
        if function is None:
            raise ValueError(f"ferflow {command!r} is a group of commands; name one of them")
        entries.setdefault(function.__module__, set()).add(function.__name__)
    return entries


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands by name (argparse offers no public view of them)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(groups[0].choices) if groups else {}


def _command_functions(parser: argparse.ArgumentParser) -> list[Callable[..., int]]:
    """The function of every command under `parser`, nested groups included."""
    own = parser.get_default("func")
    nested = [f for sub in _subcommands(parser).values() for f in _command_functions(sub)]
    return [own, *nested] if own is not None else nested


def _module_file(package: Path, name: str) -> Path | None:
    """The file of module `name` (``ferflow.x.y``) under `package`, or None when there is none."""
    base = package.joinpath(*name.split(".")[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@functools.cache
def _imports(package: Path, name: str, functions: frozenset[str] | None) -> list[str]:
    """The ferflow modules module `name` imports: anywhere in its file, or, given `functions`, at import
    time and inside those functions and the module's functions they call."""
    path = _module_file(package, name)
    if path is None:
        return []
    tree = _tree(path.resolve())
    if functions is None:
        nodes: Iterable[ast.AST] = ast.walk(tree)
    else:
        nodes = [*_import_time_nodes(tree), *_function_nodes(tree, functions)]
    is_package = path.name == "__init__.py"
    found = [module for node in nodes for module in _named_modules(package, node, name, is_package)]
    return [*found, *_parents(name)]


def _import_time_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """The nodes that run when the module is imported: everything but the bodies of its functions."""
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            for part in [*statement.decorator_list, statement.args]:
                yield from ast.walk(part)
        else:
            yield from ast.walk(statement)


def _function_nodes(tree: ast.Module, functions: frozenset[str]) -> Iterator[ast.AST]:
    """The nodes of the module-level `functions` and of the module-level functions they call, transitively."""
    defined = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)}
    todo, seen = [f for f in functions if f in defined], set()
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        for node in ast.walk(defined[function]):
            yield node
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                todo.append(node.func.id)


def _named_modules(package: Path, node: ast.AST, importer: str, is_package: bool) -> list[str]:
    """The ferflow modules one node names: an import statement, or a string that is a module's name."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, importer, is_package)
        # `from ferflow import paths` imports the submodule; `from ferflow.config import X` the module only
        names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    elif isinstance(node, ast.Constant) and _MODULE_NAME.fullmatch(str(node.value)):
        names = [str(node.value)]
    else:
        return []
    return [n for n in names if n.split(".")[0] == PACKAGE and _module_file(package, n) is not None]


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name of a `from` import's module (relative imports resolved against `importer`)."""
    if level == 0:
        return module or ""
    parts = importer.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _parents(name: str) -> list[str]:
    """The packages whose ``__init__`` runs before module `name` does."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _package_data(package: Path, name: str) -> list[Path]:
    """The files a package reads as data: those in its folders that are no packages (no ``__init__.py``)."""
    path = _module_file(package, name)
    if path is None or path.name != "__init__.py":
        return []
    found = []
    for folder in path.parent.iterdir():
        if folder.is_dir() and folder.name != "__pycache__" and not (folder / "__init__.py").exists():
            found += [f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    return found
