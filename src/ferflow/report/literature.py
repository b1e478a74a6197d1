"""The published numbers the report shows beside ours, from ``resources/literature.yaml`` (data, not code)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator

SOURCE = "resources/literature.yaml"


class Table(BaseModel):
    """One table of other work's numbers: every row has one text cell per column."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""

    @model_validator(mode="after")
    def _rows_fit_columns(self) -> Table:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row} has {len(row)} cells for {len(self.columns)} columns")
        return self


def parse(text: str, source: str = SOURCE) -> dict[str, dict[str, Any]]:
    """The tables in YAML `text` by name, in the file's order (the report's), as plain dicts; a ValueError
    naming `source` when the file is malformed or holds no table."""
    try:
        tables = TypeAdapter(dict[str, Table]).validate_python(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as err:
        raise ValueError(f"{source}: {err}") from None
    if not tables:
        raise ValueError(f"{source}: no table")
    return {name: table.model_dump() for name, table in tables.items()}


def literature() -> dict[str, dict[str, Any]]:
    """The packaged tables."""
    return parse((files("ferflow.report") / SOURCE).read_text(encoding="utf-8"))
