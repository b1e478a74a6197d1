"""Where each stage reads and writes, relative to the project (working) directory."""

from __future__ import annotations

from pathlib import Path

from ferflow.config import INIT_NAMES, Params

DATA = Path("data")
RAW = DATA / "raw"
LOGS = Path("logs")
RESULTS = Path("results")
REPORTS = Path("reports")

# The results layout, written once: rules, the CLI's defaults, the report, the study and dvc.yaml take it
# from here. Templates are POSIX strings with Snakemake's wildcard names, so `.format(...)` fills them.
PRETRAIN_RESULTS = RESULTS / "pretrain"
IFDD_RESULTS = RESULTS / "ifdd"
DICEFER_RESULTS = RESULTS / "dicefer"
STUDY_RESULTS = RESULTS / "study"
BENCH_REPORTS = REPORTS / "bench"
PRETRAIN_JOB = f"{PRETRAIN_RESULTS.as_posix()}/{{trunk}}"
IFDD_JOB = f"{IFDD_RESULTS.as_posix()}/{{variant}}/fold_{{fold}}"
DICEFER_JOB = f"{DICEFER_RESULTS.as_posix()}/{{model}}"
STUDY_IFDD_CELL = f"{STUDY_RESULTS.as_posix()}/ifdd/{{variant}}/seed_{{seed}}/fold_{{fold}}"
STUDY_DICEFER_CELL = f"{STUDY_RESULTS.as_posix()}/dicefer/{{setting}}/{{model}}/seed_{{seed}}"
# Inside a job's folder: the trained model and its evaluation's metrics and predictions. In a phase's folder:
# its summary, and a study's table of one row per cell.
MODEL_FILE = "model.pt"
EVAL_METRICS = "eval/metrics.json"
EVAL_PREDICTIONS = "eval/predictions.csv"
ISSM_EPISODE_FILE = "issm_episode.json"  # beside an evaluation's metrics: ISSM's frames against the episode
SUMMARY_FILE = "summary.json"
CELLS_TABLE = "cells.tsv"


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


def faceid_synthetic_root(params: Params) -> Path:
    """The embedded face-recognition corpus's folder for the configured size."""
    return RAW / "synthetic" / f"{params.synthetic.size}-faceid"


def faceid_processed(params: Params) -> Path:
    """Folder of the pretraining stores (aligned identities and verification pairs). Not under
    data/processed, which the data stage owns as one DVC output."""
    return DATA / "faceid" / params.pretrain.data.dataset


def pretrained_trunk(trunk: str) -> Path:
    """The face-recognition trunk the pretraining stage writes (what `init: faceid` starts from)."""
    return PRETRAIN_RESULTS / trunk / "trunk.pt"


def init_file(choice: str, family: str) -> Path | None:
    """The file an `init` choice reads: the pretraining stage's trunk for faceid, the file itself for a
    path, nothing for the named torchvision starts and none."""
    if choice == "faceid":
        return pretrained_trunk(family)
    return None if choice in INIT_NAMES else Path(choice)
