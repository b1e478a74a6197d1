# DICE-FER, its plain ResNet-18 baseline and the image controls on the image branch: train, then evaluate.


rule train_dicefer:
    input:
        store=store_path("images"),
        sources=ferflow_sources("gpu-run", "train-dicefer"),
        init=dicefer_init_input,
    output:
        f"{paths.DICEFER_JOB}/{paths.MODEL_FILE}",
    wildcard_constraints:
        model=IMAGE_MODEL_PATTERN,
    params:
        cli=FERFLOW,
        # Only what this model's result depends on (ferflow.jobs): the other model's keys, the
        # evaluation's and the runtime settings change nothing here.
        json=lambda wildcards: job_json({"dicefer": jobs.dicefer_key(PARAMS.dicefer, wildcards.model)}),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    resources:
        gpu=lambda wildcards: gpus_for(PARAMS.dicefer.runtime),
        loader_workers=PARAMS.dicefer.runtime.num_workers,
        torch_device=PARAMS.dicefer.runtime.device,
    threads: job_threads(PARAMS.dicefer.runtime)
    log:
        "logs/train_dicefer_{model}.log",
    benchmark:
        "logs/benchmarks/train_dicefer_{model}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- train-dicefer --params-json {params.json:q} "
        "--model {wildcards.model} --store {input.store} --out {params.folder} --threads {threads} "
        "--workers {resources.loader_workers} --device {resources.torch_device} > {log} 2>&1"


rule evaluate_dicefer:
    input:
        model=f"{paths.DICEFER_JOB}/{paths.MODEL_FILE}",
        store=store_path("images"),
        sources=ferflow_sources("evaluate-dicefer"),
    output:
        f"{paths.DICEFER_JOB}/{paths.EVAL_METRICS}",
    params:
        cli=FERFLOW,
        json=job_json({"dicefer": jobs.dicefer_evaluation_key(PARAMS.dicefer)}),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    log:
        "logs/evaluate_dicefer_{model}.log",
    shell:
        "{params.cli} evaluate-dicefer --params-json {params.json:q} --model {input.model} "
        "--store {input.store} --out {params.folder} > {log} 2>&1"
