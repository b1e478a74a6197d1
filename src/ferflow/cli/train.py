"""Training: face-recognition pretraining, IFDD and DICE-FER (with their baselines and controls)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ferflow import paths
from ferflow.cli.options import Subcommands, add_params_options, device_name, params_of, positive
from ferflow.model_names import IMAGE_MODELS, VIDEO_MODELS


def _add_runtime_options(parser: argparse.ArgumentParser, section: str) -> None:
    """How a training job runs, overriding the parameters' values (Snakemake passes its threads and
    resources this way, so they never decide whether a job re-runs)."""
    parser.add_argument(
        "--threads", type=int, default=0, help=f"torch CPU threads (default: {section}; 0: half the cores)"
    )
    parser.add_argument("--workers", type=int, help=f"DataLoader workers (default: {section})")
    parser.add_argument("--device", type=device_name, help=f"auto, cpu, cuda or cuda:N (default: {section})")


def _runtime(section: Any, args: argparse.Namespace) -> Any:
    from ferflow.jobs import runtime_overrides

    return runtime_overrides(section, args.threads, args.workers, args.device)


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from ferflow.config import TrunkSpec, trunk_spec
    from ferflow.train.pretrain import pretrain

    params = params_of(args)
    p = params.pretrain
    p = p.model_copy(update={"train": _runtime(p.train, args)})
    spec = trunk_spec(params, args.trunk)
    spec = TrunkSpec(
        spec.trunk,
        spec.img_size if args.img_size is None else args.img_size,
        spec.width_mult if args.width_mult is None else args.width_mult,
    )
    faces = args.faces or paths.faceid_processed(params)
    out = args.out or paths.pretrained_trunk(args.trunk).parent
    v = pretrain(p, spec, faces, out)["verification"]
    verified = (
        f"verification {v['accuracy']:.1%} ± {v['accuracy_std']:.1%} on {v['pairs']} pairs, "
        f"TAR {v['tar']:.1%} at FAR <= {v['far']:g}"
        if v
        else "no verification pairs"
    )
    print(f"{args.trunk}: wrote {out / 'trunk.pt'}; {verified}")
    return 0


def add_pretrain(stages: Subcommands) -> None:
    pre = stages.add_parser(
        "pretrain",
        help="pretrain a trunk by face recognition (what init: faceid starts from)",
        description="Train DICE-FER's ResNet-18 or IFDD's MobileNetV2 trunk on face identities with a margin "
        "loss (the `pretrain` section), score it by face verification, and write trunk.pt (torchvision's key "
        "layout), the model card and the metrics. Re-running the same command resumes.",
    )
    add_params_options(pre)
    pre.add_argument("--trunk", choices=("resnet18", "mobilenetv2"), required=True)
    pre.add_argument(
        "--img-size", type=positive(int), help="input size (default: dicefer.img_size / ifdd.img_size)"
    )
    pre.add_argument(
        "--width-mult", type=positive(float), help="MobileNetV2 width (default: ifdd.model.width_mult)"
    )
    pre.add_argument("--faces", type=Path, help="prepare-faces output (default: data/faceid/<dataset>)")
    pre.add_argument(
        "--out", type=Path, help=f"job folder (default: {paths.PRETRAIN_JOB.format(trunk='<trunk>')})"
    )
    _add_runtime_options(pre, "pretrain.train")
    pre.set_defaults(func=_cmd_pretrain)


def _cmd_train_ifdd(args: argparse.Namespace) -> int:
    from ferflow.train.ifdd import train_ifdd

    params = params_of(args)
    p = params.ifdd
    p = p.model_copy(update={"train": _runtime(p.train, args)})
    fold = None if args.fold == 0 else args.fold
    result = train_ifdd(p, args.store, args.variant, fold, args.out)
    print(json.dumps(result, indent=2))
    return 0


def add_train_ifdd(stages: Subcommands) -> None:
    train = stages.add_parser(
        "train-ifdd",
        help="train IFDD or its baseline on one fold of a clip store",
        description="Train one model variant on one fold, with the `ifdd` section of the parameters. "
        "Re-running the same command resumes from the job folder's checkpoint.",
    )
    add_params_options(train)
    train.add_argument(
        "--store", type=Path, required=True, help="clip store (data/processed/<dataset>/clips)"
    )
    train.add_argument("--variant", required=True, choices=VIDEO_MODELS, help="the model to train")
    train.add_argument("--fold", type=int, default=0, help="fold to train (0: datasets with one fixed split)")
    train.add_argument("--out", type=Path, required=True, help="job folder for checkpoints and logs")
    _add_runtime_options(train, "ifdd.train")
    train.set_defaults(func=_cmd_train_ifdd)


def _cmd_train_dicefer(args: argparse.Namespace) -> int:
    from ferflow.train.dicefer import train_baseline, train_dicefer

    p = params_of(args).dicefer
    p = p.model_copy(update={"runtime": _runtime(p.runtime, args)})
    if args.model == "dicefer":
        summary = train_dicefer(p, args.store, args.out)
    else:
        summary = train_baseline(p, args.store, args.out, args.model)
    print(json.dumps(summary, indent=2))
    return 0


def add_train_dicefer(stages: Subcommands) -> None:
    train_d = stages.add_parser(
        "train-dicefer",
        help="train DICE-FER (three stages), its ResNet-18 baseline or an image control on an image store",
        description="Train with the `dicefer` section of the parameters on the store's train split. "
        "Re-running the same command resumes from the job folder's checkpoint.",
    )
    add_params_options(train_d)
    train_d.add_argument(
        "--model",
        choices=IMAGE_MODELS,
        required=True,
        help="dicefer, its ResNet-18 baseline, or an image control (docs/dicefer.md)",
    )
    train_d.add_argument(
        "--store", type=Path, required=True, help="image store (data/processed/<dataset>/images)"
    )
    train_d.add_argument("--out", type=Path, required=True, help="job folder for checkpoints and logs")
    _add_runtime_options(train_d, "dicefer.runtime")
    train_d.set_defaults(func=_cmd_train_dicefer)
