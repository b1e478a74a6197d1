"""The run summary: when and where the report was built, from which sources, libraries, data and
parameters."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

import ferflow
from ferflow import paths
from ferflow.config import Params
from ferflow.report.formatting import NA, selection
from ferflow.report.reader import read_json

LIBRARIES = (
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "opencv-python-headless",
    "av",
    "dlib-bin",
    "pandas",
    "pydantic",
    "matplotlib",
    "seaborn",
    "jinja2",
    "weasyprint",
    "snakemake",
    "dvc",
    "dvclive",
)


def summary_section(root: Path, params: Params) -> dict[str, Any]:
    """The summary of the run under project folder `root` with `params` (shown whole in the appendix)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    datasets = []
    for branch, section, kind in (
        ("video (IFDD)", params.data.video, "clips"),
        ("image (DICE-FER)", params.data.image, "images"),
    ):
        metrics = read_json(root / f"{paths.processed(params, kind)}_metrics.json") or {}
        datasets.append(
            {
                "branch": branch,
                "dataset": section.dataset,
                "root": str(section.root) if section.root else str(paths.synthetic_root(params)),
                "samples": metrics.get("samples", NA),
            }
        )
    return {
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "ferflow": ferflow.__version__,
        "git": _source_commit(root),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "libraries": [{"name": n, "version": _version(n)} for n in LIBRARIES],
        "datasets": datasets,
        "params": yaml.safe_dump(
            params.model_dump(mode="json"), sort_keys=False, width=60, default_flow_style=None
        ),
        "selection": selection({"selection": params.ifdd.train.selection}),
    }


def _source_commit(root: Path) -> str:
    """The git commit of the ferflow sources (a src-layout checkout), else of the project folder."""
    package = Path(ferflow.__file__).resolve().parent
    checkout = package.parents[1] if package.parent.name == "src" else None  # not an installed copy
    for folder in (checkout, root):
        if folder is not None and folder.is_dir() and (commit := _git_commit(folder)):
            return commit
    return "unknown (not a git checkout)"


def _git_commit(folder: Path) -> str | None:
    """The commit of the git work tree holding `folder`, with "+ local changes" when it differs from it."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read only: never refresh the index
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, env=env
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = status.returncode == 0 and status.stdout.strip()
    return commit.stdout.strip() + (" + local changes" if dirty else "")


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
