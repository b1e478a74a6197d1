# ferflow workflow. Parameters come from params.yaml, validated at parse time by the same schema as the CLI.
from ferflow.config import ParamsError, read_params_file, validate_params

try:  # read it first: a YAML syntax error then names its line and column (Snakemake's own message does not)
    read_params_file("params.yaml")
except ParamsError as err:
    raise WorkflowError(str(err)) from None


configfile: "params.yaml"


try:
    PARAMS = validate_params(config, "params.yaml")
except ParamsError as err:
    raise WorkflowError(str(err)) from None


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/ifdd.smk"
include: "workflow/rules/dicefer.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/study.smk"


rule all:
    default_target: True
    input:
        rules.pack_clips.output,
        rules.pack_images.output,
        rules.report.output,
