# Data stages: records -> sampled frames (PyAV) -> aligned faces (dlib) -> packed stores, in shards.

rule check_data:
    input:
        sources=ferflow_sources("data check"),
        dataset=dataset_input,
    output:
        "data/interim/{dataset}/{kind}_check.json",
    wildcard_constraints:
        kind="clips|images",
    params:
        cli=FERFLOW,
        json=lambda wildcards: job_json(jobs.data_key(PARAMS, wildcards.kind, pack=True)),
        synthetic=synthetic_option,
    log:
        "logs/check_{dataset}_{kind}.log",
    shell:
        "{params.cli} data check --params-json {params.json:q} --kind {wildcards.kind} {params.synthetic} "
        "--out {output} > {log} 2>&1"


rule prepare_shard:
    input:
        sources=ferflow_sources("prepare"),
        dataset=dataset_input,
        check="data/interim/{dataset}/{kind}_check.json",  # checked first, in seconds
    output:
        directory("data/interim/{dataset}/{kind}/shard_{shard}"),
    wildcard_constraints:
        kind="clips|images",
        shard=r"\d+",
    params:
        cli=FERFLOW,
        json=lambda wildcards: job_json(jobs.data_key(PARAMS, wildcards.kind)),
        synthetic=synthetic_option,
    log:
        "logs/prepare_{dataset}_{kind}_{shard}.log",
    benchmark:
        "logs/benchmarks/prepare_{dataset}_{kind}_{shard}.tsv"
    shell:
        "{params.cli} prepare --params-json {params.json:q} --kind {wildcards.kind} "
        "--shard {wildcards.shard} {params.synthetic} --out {output} > {log} 2>&1"


for _kind in ("clips", "images"):

    rule:
        name:
            f"pack_{_kind}"
        input:
            shards=shard_dirs(_kind),
            sources=ferflow_sources("pack"),
        output:
            store=directory(store_path(_kind)),
            metrics=str(paths.processed(PARAMS, _kind)) + "_metrics.json",
            manifest=str(paths.processed(PARAMS, _kind)) + "_manifest.csv",
        params:
            cli=FERFLOW,
            json=job_json(jobs.data_key(PARAMS, _kind, pack=True)),
            kind=_kind,
        log:
            f"logs/pack_{_kind}.log",
        shell:
            "{params.cli} pack --params-json {params.json:q} --kind {params.kind} --shards {input.shards} "
            "--out {output.store} --metrics {output.metrics} --manifest {output.manifest} > {log} 2>&1"
