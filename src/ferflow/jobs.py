"""What each job's result depends on: the parameter values Snakemake compares before re-running a job, and
the parameters in a training checkpoint's resume key.

A job's key is its parameter section minus the keys listed here as not changing that job's result: how and
where it runs (`RUNTIME`), which other jobs exist (`ifdd.variants`, `ifdd.folds`), and keys only another
job reads. Everything else counts, so a key added to a section re-runs the jobs of that section until it is
listed here. Each key is also a valid parameter mapping: the rule passes it as the job's `--params-json`
and the job computes its resume key from what it was given, the same values Snakemake compared.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Literal

from ferflow.config import VARIANT_SETTING_KEYS, DiceFerParams, IFDDParams, Params, PretrainParams
from ferflow.model_names import IMAGE_MODELS

#: Where and how fast a job runs, never what it computes (rules pass them as threads and resources).
RUNTIME = frozenset({"threads", "num_workers", "device", "gpus"})
#: IFDD keys that say which jobs exist, not what one computes (a job's variant and fold are its wildcards).
IFDD_JOB_SET = frozenset({"variants", "folds"})
#: DICE-FER keys only the evaluation reads.
DICEFER_EVALUATION = frozenset({"probe_folds"})
#: DICE-FER keys only its three stages read: changing them leaves the ResNet-18 baseline as it is.
DICEFER_ONLY = frozenset(
    {
        "code_dim",
        "mi_estimator",
        "marginal",
        "global_pool",
        "mu",
        "nu",
        "delta",
        "delta_warmup_epochs",
        "l1_reduction",
        "zeta_adv",
        "adversarial",
        "classifier_hidden",
        "classifier_input_norm",
        "stage_epochs",
    }
)
#: DICE-FER keys only the baseline reads.
BASELINE_ONLY = frozenset({"baseline_epochs"})
#: DICE-FER keys only the image controls read.
CONTROL_ONLY = frozenset({"control_epochs", "control_lr", "control_schedule"})
#: Keys the image controls ignore besides the other models' own: they start from random weights at their
#: own learning rate.
CONTROL_IGNORES = DICEFER_ONLY | BASELINE_ONLY | frozenset({"init", "lr"})
#: `data` keys only one branch reads (videos: sampling, decoding and temporal smoothing of clips).
DATA_ONLY = {
    "clips": frozenset(
        {"video", "frames", "sampling", "stride", "decode", "align_backend", "clip_size", "smooth_sigma"}
    ),
    "images": frozenset({"image", "image_align_backend", "image_size"}),
}
#: `data` keys only the pack stage reads.
DATA_PACK = frozenset({"max_skip_fraction"})
#: `pretrain` keys only the face data stage reads (the trainer reads the stores it wrote).
PRETRAIN_DATA = frozenset({"data", "verification", "image_size", "min_images"})

DiceFerModel = str  # "dicefer", "baseline" or an image control (ferflow.model_names.IMAGE_MODELS)
Kind = Literal["clips", "images"]


def ifdd_key(p: IFDDParams, variant: str) -> dict[str, Any]:
    """The `ifdd` values one variant's training depends on (any fold: the fold is the job's own)."""
    key = p.model_dump(
        mode="json", exclude={**dict.fromkeys(IFDD_JOB_SET | {"init_backbone_from"}, True), "train": RUNTIME}
    )
    source = p.init_backbone_from.get(variant)
    settings = p.settings_for(variant)  # this variant's values only (a baseline has none)
    return {
        **key,
        **(asdict(settings) if settings is not None else dict.fromkeys(VARIANT_SETTING_KEYS)),
        "variants": [variant],
        "init": p.init_for(variant),  # this variant's start only, not the other families'
        "init_backbone_from": {variant: source} if source else {},
    }


def dicefer_key(p: DiceFerParams, model: DiceFerModel) -> dict[str, Any]:
    """The `dicefer` values the training of DICE-FER, of its baseline or of an image control depends on."""
    if model not in IMAGE_MODELS:
        raise ValueError(f"unknown image model {model!r}; known: {', '.join(IMAGE_MODELS)}")
    other = {
        "dicefer": BASELINE_ONLY | CONTROL_ONLY,
        "baseline": DICEFER_ONLY | CONTROL_ONLY,
    }.get(model, CONTROL_IGNORES)
    return p.model_dump(
        mode="json", exclude={**dict.fromkeys(other | DICEFER_EVALUATION, True), "runtime": RUNTIME}
    )


def dicefer_evaluation_key(p: DiceFerParams) -> dict[str, Any]:
    """The `dicefer` values the evaluation reads besides the model file: the probes' folds and seed."""
    return {"probe_folds": p.probe_folds, "runtime": {"seed": p.runtime.seed}}


def data_key(params: Params, kind: Kind, *, pack: bool = False) -> dict[str, Any]:
    """The values one branch's data stage depends on: its `data` keys (with `max_skip_fraction` for the
    pack stage) and, for the embedded benchmark, the `synthetic` section it is generated from."""
    other: Kind = "images" if kind == "clips" else "clips"
    exclude = DATA_ONLY[other] | (frozenset() if pack else DATA_PACK)
    key: dict[str, Any] = {"data": params.data.model_dump(mode="json", exclude=set(exclude))}
    branch = params.data.video if kind == "clips" else params.data.image
    if branch.dataset == "synthetic":
        key["synthetic"] = params.synthetic.model_dump(mode="json")
    return key


def faces_key(params: Params) -> dict[str, Any]:
    """The values the face data stage (`prepare-faces`) depends on: the datasets, the stored size, and the
    `data` keys of alignment and skipping. The embedded corpus's `synthetic` keys reach it as its input."""
    data = {"upsample": params.data.upsample, "max_skip_fraction": params.data.max_skip_fraction}
    return {"pretrain": params.pretrain.model_dump(mode="json", include=set(PRETRAIN_DATA)), "data": data}


def pretrain_key(p: PretrainParams) -> dict[str, Any]:
    """The `pretrain` values a trunk's training depends on (its size and width are the job's arguments)."""
    return p.model_dump(mode="json", exclude={**dict.fromkeys(PRETRAIN_DATA, True), "train": RUNTIME})


def torch_threads(threads: int, cores: int | None = None) -> int:
    """The torch CPU threads of a job whose runtime section says `threads`: 0 means half the cores, at
    least one. In a Snakemake rule the cores are its `--cores` (workflow/rules/common.smk); otherwise those
    this process may use, which is what `--cores all` counts, so a hand run and a rule run agree."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return threads or max(1, (cores or usable) // 2)


def runtime_overrides(section: Any, threads: int, workers: int | None, device: str | None) -> Any:
    """A training section (`ifdd.train` or `dicefer.runtime` holds the runtime keys) with the runtime
    values a job was started with; None or 0 keeps the section's own."""
    update: dict[str, Any] = {}
    if threads:
        update["threads"] = threads
    if workers is not None:
        update["num_workers"] = workers
    if device is not None:
        update["device"] = device
    return section.model_copy(update=update)
