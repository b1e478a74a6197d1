"""The result files a report reads, each one it asks for recorded for the report's list of inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


class _Unreadable(Exception):
    """A result file exists but cannot be used."""


def read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist; `_Unreadable` when it exists but is not JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise _Unreadable(f"{path}: {err}") from None


def read_csv(path: Path) -> list[dict[str, str]] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


class Reader:
    """Files under the project folder `root`; `inputs` lists every path asked for and whether it existed
    (the report's appendix), in the order asked."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.inputs: list[dict[str, Any]] = []

    def path(self, relative: Path | str) -> Path:
        path = self.root / relative
        self.inputs.append({"path": str(relative), "found": path.exists()})
        return path

    def json(self, relative: Path | str) -> Any:
        """`read_json` of a recorded input."""
        return read_json(self.path(relative))

    def csv(self, relative: Path | str) -> list[dict[str, str]] | None:
        """`read_csv` of a recorded input."""
        return read_csv(self.path(relative))
