# Face-recognition pretraining, the start of `init: faceid`: corpus -> aligned stores -> one trunk per model.
from ferflow.config import faceid_trunks, trunk_spec

FACEID_SYNTHETIC = str(paths.faceid_synthetic_root(PARAMS))
FACES = str(paths.faceid_processed(PARAMS))
FACEID_TRUNKS = faceid_trunks(PARAMS)


rule synthesize_faceid:
    input:
        sources=ferflow_sources("synthesize-faceid"),
    output:
        directory(FACEID_SYNTHETIC),
    params:
        cli=FERFLOW,
        json=params_json("synthetic"),
    log:
        f"logs/synthesize_faceid_{PARAMS.synthetic.size}.log",
    benchmark:
        f"logs/benchmarks/synthesize_faceid_{PARAMS.synthetic.size}.tsv"
    threads: run_cores()
    shell:
        "{params.cli} synthesize-faceid --params-json {params.json:q} --out {output} --workers {threads} "
        "> {log} 2>&1"


rule prepare_faces:
    input:
        sources=ferflow_sources("prepare-faces"),
        datasets=faceid_dataset_inputs,
    output:
        directory(FACES),
    params:
        cli=FERFLOW,
        json=job_json(jobs.faces_key(PARAMS)),
        synthetic=FACEID_SYNTHETIC,
    log:
        "logs/prepare_faces.log",
    benchmark:
        "logs/benchmarks/prepare_faces.tsv"
    threads: run_cores()
    shell:
        "{params.cli} prepare-faces --params-json {params.json:q} --synthetic-root {params.synthetic} "
        "--out {output} --workers {threads} > {log} 2>&1"


rule pretrain_faceid:
    input:
        faces=FACES,
        sources=ferflow_sources("gpu-run", "pretrain"),
    output:
        trunk=str(paths.pretrained_trunk("{trunk}")),
        metrics=f"{paths.PRETRAIN_JOB}/metrics.json",
        card=f"{paths.PRETRAIN_JOB}/model_card.json",
    wildcard_constraints:
        trunk="resnet18|mobilenetv2",
    params:
        cli=FERFLOW,
        json=job_json({"pretrain": jobs.pretrain_key(PARAMS.pretrain)}),
        size=lambda wildcards: trunk_spec(PARAMS, wildcards.trunk).img_size,
        width=lambda wildcards: trunk_spec(PARAMS, wildcards.trunk).width_mult,
        folder=lambda wildcards, output: os.path.dirname(output.trunk),
    resources:
        gpu=lambda wildcards: gpus_for(PARAMS.pretrain.train),
        loader_workers=PARAMS.pretrain.train.num_workers,
        torch_device=PARAMS.pretrain.train.device,
    threads: job_threads(PARAMS.pretrain.train)
    log:
        "logs/pretrain_{trunk}.log",
    benchmark:
        "logs/benchmarks/pretrain_{trunk}.tsv"
    shell:
        "{params.cli} gpu-run --gpus {resources.gpu} -- pretrain --params-json {params.json:q} "
        "--trunk {wildcards.trunk} --img-size {params.size} --width-mult {params.width} --faces {input.faces} "
        "--out {params.folder} --threads {threads} --workers {resources.loader_workers} "
        "--device {resources.torch_device} > {log} 2>&1"


rule pretrain:
    input:
        metrics=expand(rules.pretrain_faceid.output.metrics, trunk=FACEID_TRUNKS),
        sources=ferflow_sources("summarize-pretrain"),
    output:
        str(paths.PRETRAIN_RESULTS / paths.SUMMARY_FILE),
    params:
        cli=FERFLOW,
    log:
        "logs/summarize_pretrain.log",
    shell:
        "{params.cli} summarize-pretrain --metrics {input.metrics} --out {output} > {log} 2>&1"
