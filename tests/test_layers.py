"""Imports point down the layers of `ferflow.layers.LAYERS`, and the check that says so can fail."""

from __future__ import annotations

from pathlib import Path

import ferflow
from ferflow.layers import LAYERS, layer_of, upward_imports

SRC = Path(ferflow.__file__).parent

TOY_LAYERS = (("low", ("__init__", "low", "util")), ("high", ("high",)))


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "toy"
    for name, text in {"__init__.py": "", **files}.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_no_import_points_up_the_layers():
    assert upward_imports(SRC) == []


def test_every_layer_entry_names_a_module_or_package():
    """A misspelt or removed entry would silently place nothing."""
    for _, prefixes in LAYERS:
        for prefix in prefixes:
            stem = SRC.joinpath(*prefix.split("."))
            assert prefix == "__init__" or stem.with_suffix(".py").is_file() or stem.is_dir(), prefix


def test_longest_prefix_decides_the_layer():
    names = [name for name, _ in LAYERS]
    assert names[layer_of("data.synthetic.generate")] == "data"
    assert names[layer_of("evaluate.metrics")] == "metrics"
    assert names[layer_of("evaluate.ifdd")] == "evaluate"
    assert layer_of("nowhere") is None


def test_flags_an_upward_import_with_file_and_line(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "high.py": "from toy import low\n",
            "low.py": "import os\n\n\ndef f():\n    from toy.high import g\n",
        },
    )
    assert upward_imports(pkg, TOY_LAYERS) == [f"{pkg / 'low.py'}:5: import high (high) from low (low)"]


def test_flags_relative_and_submodule_imports(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "high/__init__.py": "",
            "high/deep.py": "from .. import util\n",  # down: fine
            "util.py": "from . import high\nfrom .high import deep\nimport toy.high.deep\n",
        },
    )
    util = pkg / "util.py"
    assert upward_imports(pkg, TOY_LAYERS) == [
        f"{util}:1: import high (high) from util (low)",
        f"{util}:2: import high.deep (high) from util (low)",
        f"{util}:3: import high.deep (high) from util (low)",
    ]


def test_flags_a_module_in_no_layer(tmp_path):
    pkg = _package(tmp_path, {"low.py": "", "stray.py": "from toy import low\n"})
    assert upward_imports(pkg, TOY_LAYERS) == [
        f"{pkg / 'stray.py'}: module stray is in no layer; place it in ferflow.layers.LAYERS"
    ]
