"""Where each stage reads and writes, relative to the project (working) directory."""

from __future__ import annotations

from pathlib import Path

from ferflow.config import Params

DATA = Path("data")
RAW = DATA / "raw"
LOGS = Path("logs")


def synthetic_root(params: Params) -> Path:
    """The embedded benchmark's folder for the configured size."""
    return RAW / "synthetic" / params.synthetic.size
