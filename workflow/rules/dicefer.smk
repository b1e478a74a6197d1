# DICE-FER and its plain ResNet-18 baseline on the image branch: train, then evaluate.
DICEFER_SOURCES = package_sources(
    "config.py", "cli.py", "gpu.py", "models", "train", "evaluate", "data/datasets.py", "data/store.py"
)


rule train_dicefer:
    input:
        store=store_path("images"),
        sources=DICEFER_SOURCES,
        init=dicefer_init_input,
    output:
        "results/dicefer/{model}/model.pt",
    wildcard_constraints:
        model="dicefer|baseline",
    params:
        cli=FERFLOW,
        json=params_json("dicefer"),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    resources:
        gpu=PARAMS.dicefer.runtime.gpus,
    threads: max(1, workflow.cores // 2)
    log:
        "logs/train_dicefer_{model}.log",
    benchmark:
        "logs/benchmarks/train_dicefer_{model}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- train-dicefer --params-json {params.json:q} "
        "--model {wildcards.model} --store {input.store} --out {params.folder} --threads {threads} > {log} 2>&1"


rule evaluate_dicefer:
    input:
        model="results/dicefer/{model}/model.pt",
        store=store_path("images"),
        sources=DICEFER_SOURCES,
    output:
        "results/dicefer/{model}/eval/metrics.json",
    params:
        cli=FERFLOW,
        json=params_json("dicefer"),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    log:
        "logs/evaluate_dicefer_{model}.log",
    shell:
        "{params.cli} evaluate-dicefer --params-json {params.json:q} --model {input.model} "
        "--store {input.store} --out {params.folder} > {log} 2>&1"
