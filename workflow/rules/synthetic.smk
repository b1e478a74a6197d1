# The embedded benchmark: videos like DFEW, images like RAF-DB, with ground truth.
SYNTHETIC_ROOT = str(paths.synthetic_root(PARAMS))


rule synthesize:
    input:
        sources=ferflow_sources("synthesize"),
    output:
        directory(SYNTHETIC_ROOT),
    params:
        cli=FERFLOW,
        json=params_json("synthetic"),
    log:
        f"logs/synthesize_{PARAMS.synthetic.size}.log",
    benchmark:
        f"logs/benchmarks/synthesize_{PARAMS.synthetic.size}.tsv"
    threads: run_cores()
    shell:
        "{params.cli} synthesize --params-json {params.json:q} --out {output} --workers {threads} > {log} 2>&1"
