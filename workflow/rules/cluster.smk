# Running under SLURM (workflow/profiles/slurm): what each job asks for, and a check before anything is
# submitted. Every request derives from params.yaml and the profile's site settings, and a cluster job,
# which reads these rules again on its node, computes the same request as the run that submitted it.
from ferflow import cluster


def slurm_run():
    """Whether this Snakemake submits its jobs to SLURM (known once the run starts, not while parsing)."""
    plugin = workflow.executor_plugin
    return plugin is not None and plugin.name == "slurm"


def run_cores():
    """The cores of a rule that takes all of them: --cores on a local run. A cluster run has no --cores, and
    its jobs read the rules again with their node's every core, so both count 1 there (the profile's
    `set-threads` gives such a rule more)."""
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


onstart:
    if slurm_run():
        settings = workflow.executor_settings
        requests = [
            cluster.request_of(job.name, job.threads, job.resources) for job in workflow.dag.needrun_jobs()
        ]
        try:
            cluster.check(requests, settings.status_command, settings.init_seconds_before_status_checks)
        except cluster.ClusterError as err:
            raise WorkflowError(str(err)) from None
