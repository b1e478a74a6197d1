# IFDD and its baseline: train and evaluate every variant on every fold, then summarise.
from ferflow.dataset_names import iter_folds

VIDEO_ADAPTER = "synthetic_video" if PARAMS.data.video.dataset == "synthetic" else PARAMS.data.video.dataset
IFDD_FOLDS = PARAMS.ifdd.folds or [fold or 0 for fold in iter_folds(VIDEO_ADAPTER)]
TRUTH = (
    f"--truth {SYNTHETIC_ROOT}/ground_truth/clips.csv" if PARAMS.data.video.dataset == "synthetic" else ""
)


rule train_ifdd:
    input:
        store=store_path("clips"),
        sources=ferflow_sources("gpu-run", "train-ifdd"),
        init=ifdd_init_input,
        init_backbone=init_backbone_input,
    output:
        f"{paths.IFDD_JOB}/{paths.MODEL_FILE}",
    params:
        cli=FERFLOW,
        # Only what this job's result depends on (ferflow.jobs): other variants, folds, the runtime
        # settings and other sections change nothing here.
        json=lambda wildcards: job_json({"ifdd": jobs.ifdd_key(PARAMS.ifdd, wildcards.variant)}),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    resources:
        gpu=lambda wildcards: gpus_for(PARAMS.ifdd.train),
        loader_workers=PARAMS.ifdd.train.num_workers,
        torch_device=PARAMS.ifdd.train.device,
    threads: job_threads(PARAMS.ifdd.train)
    log:
        "logs/train_ifdd_{variant}_fold{fold}.log",
    benchmark:
        "logs/benchmarks/train_ifdd_{variant}_fold{fold}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- train-ifdd --params-json {params.json:q} "
        "--store {input.store} --variant {wildcards.variant} --fold {wildcards.fold} --out {params.folder} "
        "--threads {threads} --workers {resources.loader_workers} --device {resources.torch_device} "
        "> {log} 2>&1"


rule evaluate_ifdd:
    input:
        model=f"{paths.IFDD_JOB}/{paths.MODEL_FILE}",
        store=store_path("clips"),
        sources=ferflow_sources("evaluate-ifdd"),
    output:
        f"{paths.IFDD_JOB}/{paths.EVAL_METRICS}",
    params:
        cli=FERFLOW,
        folder=lambda wildcards, output: os.path.dirname(output[0]),
        truth=TRUTH,
    log:
        "logs/evaluate_ifdd_{variant}_fold{fold}.log",
    shell:
        "{params.cli} evaluate-ifdd --model {input.model} --store {input.store} --out {params.folder} "
        "{params.truth} > {log} 2>&1"


rule summarize_ifdd:
    input:
        metrics=expand(
            f"{paths.IFDD_JOB}/{paths.EVAL_METRICS}", variant=PARAMS.ifdd.variants, fold=IFDD_FOLDS
        ),
        sources=ferflow_sources("summarize-ifdd"),
    output:
        summary=str(paths.IFDD_RESULTS / paths.SUMMARY_FILE),
        plots=directory(str(paths.IFDD_RESULTS / "plots")),
    params:
        cli=FERFLOW,
    log:
        "logs/summarize_ifdd.log",
    shell:
        "{params.cli} summarize-ifdd --metrics {input.metrics} --out {output.summary} > {log} 2>&1"
