# Under the SLURM executor (workflow/profiles/slurm): before anything is submitted, compare every job's
# request (common.smk: run_cores, gpus_for) with what sinfo says the cluster has, and the status command with
# what would let Snakemake see jobs end (ferflow.cluster).
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
