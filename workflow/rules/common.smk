# Helpers shared by every rule file.
import json
import os
import sys
from pathlib import Path

from ferflow import cluster, deps, jobs, paths
from ferflow import study as S
from ferflow.config import variant_family
from ferflow.model_names import IMAGE_CONTROLS, IMAGE_MODELS

# Paths that Snakemake records (inputs, params) are relative to the working directory, so that a moved or
# re-cloned project (with its .venv inside) finds its results up to date.
# Run the CLI with the interpreter that runs Snakemake, so rules work without an activated environment.
FERFLOW = f"{os.path.relpath(sys.executable)} -m ferflow"
PACKAGE = Path(os.path.relpath(Path(workflow.basedir) / "src" / "ferflow"))
# The `{model}` of an image job: dicefer, baseline or an image control.
IMAGE_MODEL_PATTERN = "|".join(IMAGE_MODELS)


def ferflow_sources(*commands):
    """The package files that the given `ferflow` commands import, e.g. ferflow_sources("gpu-run",
    "train-ifdd"); derived from the import graph (ferflow.deps), since Snakemake can't see imports."""
    return [str(path) for path in deps.command_sources(PACKAGE, *commands)]


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


def faceid_dataset_inputs(wildcards):
    """The folders the pretraining data stage reads: the generated corpus, or the configured datasets."""
    p = PARAMS.pretrain
    if p.data.dataset == "synthetic":
        return [str(paths.faceid_synthetic_root(PARAMS))]
    roots = [str(p.data.root)]
    if p.verification.dataset not in ("none", "synthetic"):
        roots.append(str(p.verification.root))
    return roots


def ifdd_init_input(wildcards):
    """The weights file an IFDD variant's backbone starts from (ifdd.init: faceid or a file): built first."""
    path = paths.init_file(PARAMS.ifdd.init_for(wildcards.variant), variant_family(wildcards.variant))
    return [str(path)] if path else []


def dicefer_init_input(wildcards):
    """The weights file DICE-FER's encoders and its baseline start from (dicefer.init: faceid or a file);
    none for the image controls (random init)."""
    if wildcards.model in IMAGE_CONTROLS:
        return []
    path = paths.init_file(PARAMS.dicefer.init, "resnet18")
    return [str(path)] if path else []


def study_cell(wildcards):
    """The study cell a job's wildcards name (ferflow.study)."""
    if "variant" in wildcards.keys():
        return S.Cell("ifdd", wildcards.variant, "", int(wildcards.seed), int(wildcards.fold))
    return S.Cell("dicefer", wildcards.model, wildcards.setting, int(wildcards.seed), 0)


def study_cell_section(wildcards):
    """A study cell's parameter section: its own section with the study's overrides and its seed."""
    cell = study_cell(wildcards)
    if cell.family == "ifdd":
        return S.ifdd_params(PARAMS, cell.model, cell.seed)
    return S.dicefer_params(PARAMS, cell.setting, cell.seed)


def study_runtime(wildcards):
    """A study cell's runtime settings (threads, GPUs, workers, device), the study's overrides included."""
    section = study_cell_section(wildcards)
    return section.train if study_cell(wildcards).family == "ifdd" else section.runtime


def job_threads(runtime):
    """A training job's torch threads: its runtime section's `threads`, 0 meaning half of `--cores` (1 on a
    cluster: run_cores; ferflow.jobs.torch_threads: the meaning a hand run gives it too)."""
    return jobs.torch_threads(runtime.threads, run_cores())


def study_threads(wildcards):
    """A study cell's torch threads, the study's overrides included."""
    return job_threads(study_runtime(wildcards))


def study_cell_json(wildcards):
    """A study cell's parameters as `--params-json`: that one section, nothing else of the study."""
    return S.cell_params_json(PARAMS, study_cell(wildcards))


def study_init_input(wildcards):
    """The files a study cell's trunk starts from, built first: its `init` (faceid's trunk or a file) and,
    for IFDD, its init_backbone_from entry."""
    section = study_cell_section(wildcards)
    if study_cell(wildcards).family == "dicefer":
        if wildcards.model in IMAGE_CONTROLS:
            return []
        path = paths.init_file(section.init, "resnet18")
        return [str(path)] if path else []
    model = PARAMS.study.ifdd.model_of(wildcards.variant)
    path = paths.init_file(section.init_for(model), variant_family(model))
    template = section.init_backbone_from.get(model)
    return ([str(path)] if path else []) + ([template.format(fold=wildcards.fold)] if template else [])


# Running under SLURM: every request derives from params.yaml and the profile's site settings, and a cluster
# job, which reads these rules again on its node, computes the same request as the run that submitted it.
def slurm_run():
    """Whether this Snakemake submits its jobs to SLURM (known once the run starts, not while parsing)."""
    plugin = workflow.executor_plugin
    return plugin is not None and plugin.name == "slurm"


def run_cores():
    """The cores given to a job that takes all of them (--cores on a local run). A cluster run has no
    --cores, and its jobs read the rules again with their node's every core, so both count 1 there (the
    profile's `set-threads` gives such a job more)."""
    if workflow.remote_exec or workflow.resource_settings.cores is None:
        return 1
    return workflow.cores


def gpus_for(runtime):
    """GPUs a training job asks for: none when it will run on the CPU (`device: cpu`, or a SLURM cluster
    without GPUs), so sbatch gets no --gpus a CPU partition would refuse. Inside a SLURM job, what its
    allocation holds (the request that started it)."""
    if runtime.device == "cpu":
        return 0
    if workflow.remote_exec and "SLURM_JOB_ID" in os.environ:
        return runtime.gpus if int(os.environ.get("SLURM_GPUS_ON_NODE") or 0) else 0
    if slurm_run():
        return runtime.gpus if cluster.has_gpus() else 0
    return runtime.gpus


# Under the SLURM executor: before anything is submitted, compare every job's request with what sinfo says
# the cluster has, and the status command with what lets Snakemake see jobs end (ferflow.cluster).
onstart:
    if slurm_run():
        settings = workflow.executor_settings
        requests = [
            cluster.request_of(job.name, job.threads, job.resources)
            for job in workflow.dag.needrun_jobs()
            if not job.is_local  # `all` and other local rules run here, not under sbatch
        ]
        try:
            cluster.check(requests, settings.status_command, settings.init_seconds_before_status_checks)
        except cluster.ClusterError as err:
            raise WorkflowError(str(err)) from None
