"""Running a stage on locked GPU slots (`gpu-run`)."""

from __future__ import annotations

import argparse

from ferflow.cli.options import Subcommands
from ferflow.errors import UserError


def _cmd_gpu_run(args: argparse.Namespace) -> int:
    from ferflow.gpu import run_stage

    stage = args.stage[1:] if args.stage[:1] == ["--"] else args.stage
    if not stage:
        raise UserError("gpu-run: no stage given; put it after --, e.g. gpu-run --gpus 1 -- train-ifdd ...")
    return run_stage(args.gpus, stage)


def add_gpu_run(stages: Subcommands) -> None:
    gpu_run = stages.add_parser(
        "gpu-run",
        help="run a stage on locked GPU slots (CUDA_VISIBLE_DEVICES; torchrun for several)",
        description="Lock N free GPUs, set CUDA_VISIBLE_DEVICES and run `ferflow STAGE ...` (under "
        "torchrun --standalone when N > 1). Without GPUs the stage runs on the CPU; under "
        "SLURM the devices SLURM assigned are used as they are.",
    )
    gpu_run.add_argument("--gpus", type=int, default=1)
    gpu_run.add_argument("stage", nargs=argparse.REMAINDER, help="-- STAGE [ARGS...]")
    gpu_run.set_defaults(func=_cmd_gpu_run)
