# Data stages: records -> sampled frames (PyAV) -> aligned faces (dlib) -> packed stores, in shards.
DATA_SOURCES = package_sources("config.py", "paths.py", "cli.py", "data")


def dataset_input(wildcards):
    """The dataset folder a branch reads: generated for the embedded benchmark, given otherwise."""
    section = PARAMS.data.video if wildcards.kind == "clips" else PARAMS.data.image
    return SYNTHETIC_ROOT if section.dataset == "synthetic" else str(section.root)


def store_path(kind, name=""):
    return str(paths.processed(PARAMS, kind) / name) if name else str(paths.processed(PARAMS, kind))


rule prepare_shard:
    input:
        sources=DATA_SOURCES,
        dataset=dataset_input,
    output:
        directory("data/interim/{dataset}/{kind}/shard_{shard}"),
    wildcard_constraints:
        kind="clips|images",
        shard=r"\d+",
    params:
        cli=FERFLOW,
        json=params_json("synthetic", "data"),
    log:
        "logs/prepare_{dataset}_{kind}_{shard}.log",
    benchmark:
        "logs/benchmarks/prepare_{dataset}_{kind}_{shard}.tsv"
    shell:
        "{params.cli} prepare --params-json {params.json:q} --kind {wildcards.kind} "
        "--shard {wildcards.shard} --synthetic-root {SYNTHETIC_ROOT} --out {output} > {log} 2>&1"


def shard_dirs(kind):
    return [str(paths.interim(PARAMS, kind) / f"shard_{k}") for k in range(PARAMS.data.shards)]


for _kind in ("clips", "images"):

    rule:
        name:
            f"pack_{_kind}"
        input:
            shard_dirs(_kind),
        output:
            store=directory(store_path(_kind)),
            metrics=str(paths.processed(PARAMS, _kind)) + "_metrics.json",
            manifest=str(paths.processed(PARAMS, _kind)) + "_manifest.csv",
        params:
            cli=FERFLOW,
            json=params_json("data"),
            kind=_kind,
        log:
            f"logs/pack_{_kind}.log",
        shell:
            "{params.cli} pack --params-json {params.json:q} --kind {params.kind} --shards {input} "
            "--out {output.store} --metrics {output.metrics} --manifest {output.manifest} > {log} 2>&1"
