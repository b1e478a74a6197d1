# Helpers shared by every rule file.
import json
import os
import sys
from pathlib import Path

from ferflow import jobs, paths

# Paths that Snakemake records (inputs, params) are relative to the working directory, so that a moved or
# re-cloned project (with its .venv inside) finds its results up to date.
# Run the CLI with the interpreter that runs Snakemake, so rules work without an activated environment.
FERFLOW = f"{os.path.relpath(sys.executable)} -m ferflow"
PACKAGE = Path(os.path.relpath(Path(workflow.basedir) / "src" / "ferflow"))


def package_sources(*parts):
    """Python sources under src/ferflow that a rule's output depends on (Snakemake can't see imports)."""
    files = []
    for part in parts:
        path = PACKAGE / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [str(f) for f in files]


def params_json(*sections):
    """The validated parameter sections a rule uses, as JSON for `--params-json`."""
    return PARAMS.model_dump_json(include=set(sections))


def job_json(key):
    """A job's key (ferflow.jobs: the values its result depends on) as JSON for `--params-json`."""
    return json.dumps(key, sort_keys=True)


def dataset_input(wildcards):
    """The dataset folder a branch reads: generated for the embedded benchmark, given otherwise."""
    section = PARAMS.data.video if wildcards.kind == "clips" else PARAMS.data.image
    return SYNTHETIC_ROOT if section.dataset == "synthetic" else str(section.root)


def synthetic_option(wildcards):
    """`--synthetic-root` for a branch that reads the embedded benchmark (none for a real dataset)."""
    section = PARAMS.data.video if wildcards.kind == "clips" else PARAMS.data.image
    return f"--synthetic-root {SYNTHETIC_ROOT}" if section.dataset == "synthetic" else ""


def store_path(kind):
    """A branch's packed store folder."""
    return str(paths.processed(PARAMS, kind))


def shard_dirs(kind):
    """A branch's shard store folders."""
    return [str(paths.interim(PARAMS, kind) / f"shard_{k}") for k in range(PARAMS.data.shards)]


def init_backbone_input(wildcards):
    """The trained model an IFDD variant's backbone starts from (ifdd.init_backbone_from): built first."""
    template = PARAMS.ifdd.init_backbone_from.get(wildcards.variant)
    return [template.format(fold=wildcards.fold)] if template else []
