# The HTML and PDF report, from every phase's results; its figures are also marked for `snakemake --report`.
# One caption per figure (tests check they match ferflow.report.FIGURES; importing that module here would
# load matplotlib on every Snakemake start).
FIGURES = sorted(p.stem for p in (Path(workflow.basedir) / "workflow" / "report").glob("*.rst"))


rule report:
    input:
        sources=ferflow_sources("report"),
        clips=rules.pack_clips.output,
        images=rules.pack_images.output,
        ifdd=rules.summarize_ifdd.output,
        dicefer=expand(rules.evaluate_dicefer.output, model=["dicefer", "baseline"]),
        pretrain=rules.pretrain.output,
    output:
        html=str(paths.REPORTS / "report.html"),
        pdf=str(paths.REPORTS / "report.pdf"),
        figures=[
            report(str(paths.REPORTS / "figures" / f"{name}.png"), caption=f"../report/{name}.rst", category="Figures")
            for name in FIGURES
        ],
    params:
        cli=FERFLOW,
        json=params_json("synthetic", "data", "pretrain", "ifdd", "dicefer"),
    log:
        "logs/report.log",
    shell:
        "{params.cli} report --params-json {params.json:q} --root . --out reports > {log} 2>&1"
