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


def processed(params: Params, kind: str) -> Path:
    """Folder of a branch's packed store; named by dataset so switching datasets never mixes them."""
    section = params.data.video if kind == "clips" else params.data.image
    return DATA / "processed" / section.dataset / kind


def interim(params: Params, kind: str) -> Path:
    """Folder of a branch's shard stores."""
    section = params.data.video if kind == "clips" else params.data.image
    return DATA / "interim" / section.dataset / kind
