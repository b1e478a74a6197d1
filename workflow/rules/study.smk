# A study (`snakemake study`): every compared model on every (fold, seed) cell, as ordinary train/evaluate
# jobs, then the statistics. A cell's params are its own section only (ferflow.study), so adding seeds,
# folds or settings reuses every finished cell; an interrupted cell resumes from its checkpoint.
STUDY_CELLS = S.cells(PARAMS)


rule study_train_ifdd:
    input:
        store=store_path("clips"),
        sources=ferflow_sources("gpu-run", "train-ifdd"),
        init=study_init_input,
    output:
        f"{paths.STUDY_IFDD_CELL}/{paths.MODEL_FILE}",
    wildcard_constraints:
        variant=r"[^/]+",
        seed=r"\d+",
        fold=r"\d+",
    params:
        cli=FERFLOW,
        json=study_cell_json,
        model=lambda wildcards: PARAMS.study.ifdd.model_of(wildcards.variant),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    resources:
        gpu=lambda wildcards: gpus_for(study_runtime(wildcards)),
        loader_workers=lambda wildcards: study_runtime(wildcards).num_workers,
        torch_device=lambda wildcards: study_runtime(wildcards).device,
    threads: study_threads
    log:
        "logs/study/train_ifdd_{variant}_seed{seed}_fold{fold}.log",
    benchmark:
        "logs/benchmarks/study/train_ifdd_{variant}_seed{seed}_fold{fold}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- train-ifdd --params-json {params.json:q} "
        "--store {input.store} --variant {params.model} --fold {wildcards.fold} "
        "--out {params.folder} --threads {threads} --workers {resources.loader_workers} "
        "--device {resources.torch_device} > {log} 2>&1"


rule study_evaluate_ifdd:
    input:
        model=f"{paths.STUDY_IFDD_CELL}/{paths.MODEL_FILE}",
        store=store_path("clips"),
        sources=ferflow_sources("evaluate-ifdd"),
    output:
        metrics=f"{paths.STUDY_IFDD_CELL}/{paths.EVAL_METRICS}",
        predictions=f"{paths.STUDY_IFDD_CELL}/{paths.EVAL_PREDICTIONS}",
    wildcard_constraints:
        variant=r"[^/]+",
        seed=r"\d+",
        fold=r"\d+",
    params:
        cli=FERFLOW,
        folder=lambda wildcards, output: os.path.dirname(output.metrics),
        truth=TRUTH,
    log:
        "logs/study/evaluate_ifdd_{variant}_seed{seed}_fold{fold}.log",
    shell:
        "{params.cli} evaluate-ifdd --model {input.model} --store {input.store} --out {params.folder} "
        "{params.truth} > {log} 2>&1"


rule study_train_dicefer:
    input:
        store=store_path("images"),
        sources=ferflow_sources("gpu-run", "train-dicefer"),
        init=study_init_input,
    output:
        f"{paths.STUDY_DICEFER_CELL}/{paths.MODEL_FILE}",
    wildcard_constraints:
        setting=r"[^/]+",
        model=IMAGE_MODEL_PATTERN,
        seed=r"\d+",
    params:
        cli=FERFLOW,
        json=study_cell_json,
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    resources:
        gpu=lambda wildcards: gpus_for(study_runtime(wildcards)),
        loader_workers=lambda wildcards: study_runtime(wildcards).num_workers,
        torch_device=lambda wildcards: study_runtime(wildcards).device,
    threads: study_threads
    log:
        "logs/study/train_dicefer_{setting}_{model}_seed{seed}.log",
    benchmark:
        "logs/benchmarks/study/train_dicefer_{setting}_{model}_seed{seed}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- train-dicefer --params-json {params.json:q} "
        "--model {wildcards.model} --store {input.store} --out {params.folder} --threads {threads} "
        "--workers {resources.loader_workers} --device {resources.torch_device} > {log} 2>&1"


rule study_evaluate_dicefer:
    input:
        model=f"{paths.STUDY_DICEFER_CELL}/{paths.MODEL_FILE}",
        store=store_path("images"),
        sources=ferflow_sources("evaluate-dicefer"),
    output:
        metrics=f"{paths.STUDY_DICEFER_CELL}/{paths.EVAL_METRICS}",
        predictions=f"{paths.STUDY_DICEFER_CELL}/{paths.EVAL_PREDICTIONS}",
    wildcard_constraints:
        setting=r"[^/]+",
        model=IMAGE_MODEL_PATTERN,
        seed=r"\d+",
    params:
        cli=FERFLOW,
        json=study_cell_json,
        folder=lambda wildcards, output: os.path.dirname(output.metrics),
    log:
        "logs/study/evaluate_dicefer_{setting}_{model}_seed{seed}.log",
    shell:
        "{params.cli} evaluate-dicefer --params-json {params.json:q} --model {input.model} "
        "--store {input.store} --out {params.folder} > {log} 2>&1"


rule study:
    input:
        metrics=[f"{cell.folder}/{paths.EVAL_METRICS}" for cell in STUDY_CELLS],
        predictions=[f"{cell.folder}/{paths.EVAL_PREDICTIONS}" for cell in STUDY_CELLS],
        sources=ferflow_sources("summarize-study"),
    output:
        summary=str(paths.STUDY_RESULTS / paths.SUMMARY_FILE),
        table=str(paths.STUDY_RESULTS / paths.CELLS_TABLE),
    params:
        cli=FERFLOW,
        json=params_json("study", "data"),
    log:
        "logs/study/summarize.log",
    shell:
        "{params.cli} summarize-study --params-json {params.json:q} --root . --out {output.summary} "
        "--table {output.table} > {log} 2>&1"
