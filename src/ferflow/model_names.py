"""Names of the registered models, importable without torch.

The parameter checks run when parameters load (Snakemake parses the workflow before any job; importing torch,
torchvision and timm to ask the registry takes seconds). A test keeps these equal to what
`ferflow.models.list_models` registers.
"""

#: Video models (IFDD and its static baselines): what `ifdd.variants` may name.
VIDEO_MODELS: tuple[str, ...] = ("ifdd_mvit", "ifdd_mobilenetv2", "baseline_mvit", "baseline_mobilenetv2")
#: Image controls (ferflow.models.controls_image), trained by `train-dicefer --model <name>`.
IMAGE_CONTROLS: tuple[str, ...] = ("control_image_static", "control_image_reference")
#: What `train-dicefer --model` and a study's `dicefer.models` may name.
IMAGE_MODELS: tuple[str, ...] = ("dicefer", "baseline", *IMAGE_CONTROLS)

__all__ = ["IMAGE_CONTROLS", "IMAGE_MODELS", "VIDEO_MODELS"]
