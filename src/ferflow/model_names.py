"""Names of the registered models, importable without torch.

The parameter checks run when parameters load (Snakemake parses the workflow before any job; importing torch,
torchvision and timm to ask the registry takes seconds). A test keeps these equal to what
`ferflow.models.list_models` registers.
"""

#: Video models (IFDD, its static baselines, and the controls that bound a benchmark): what `ifdd.variants`
#: may name.
VIDEO_MODELS: tuple[str, ...] = (
    "ifdd_mvit",
    "ifdd_mobilenetv2",
    "baseline_mvit",
    "baseline_mobilenetv2",
    "control_static",
    "control_dynamics",
    "ifdd_smallcnn",
)

__all__ = ["VIDEO_MODELS"]
