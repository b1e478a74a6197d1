"""Throughput benchmarks (`bench data|models|dicefer|feed`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ferflow.cli.options import Subcommands, add_params_options, device_name, params_of
from ferflow.errors import UserError
from ferflow.model_names import VIDEO_MODELS


def _model_kwargs(text: str | None) -> dict[str, Any]:
    """`--model-kwargs`: a JSON object of factory arguments."""
    example = "e.g. '{\"width_mult\": 0.5}'"
    try:
        kwargs = json.loads(text) if text else {}
    except json.JSONDecodeError as err:
        raise UserError(f"--model-kwargs: not valid JSON ({err}); {example}") from None
    if not isinstance(kwargs, dict):
        raise UserError(f"--model-kwargs: expected a JSON object of factory arguments; {example}")
    return kwargs


def _cmd_bench(args: argparse.Namespace) -> int:
    import tempfile

    if args.what == "data":
        from ferflow.bench.data import bench_data

        workers = 2 if args.workers is None else args.workers
        with tempfile.TemporaryDirectory(prefix="ferflow-bench-") as work:
            result = bench_data(args.out, Path(args.workdir or work), quick=args.quick, workers=workers)
    elif args.what == "feed":
        from ferflow.bench.feed import bench_feed

        result = bench_feed(
            args.out,
            variant=args.variant,
            batch=args.batch,
            num_frames=args.num_frames,
            img_size=args.img_size,
            workers=args.workers,
            store_clips=4 * args.batch if args.quick else 128,
            epochs=1 if args.quick else 2,
            steps=2 if args.quick else 4,
            repeats=2 if args.quick else 3,
            device=args.device,
            compile=args.compile,
            model_kwargs=_model_kwargs(args.model_kwargs),
            workdir=args.workdir,
        )
    elif args.what == "dicefer":
        from ferflow.bench.dicefer import bench_dicefer

        p = params_of(args).dicefer
        runtime = p.runtime.model_copy(update={"device": args.device})
        result = bench_dicefer(
            args.out,
            p.model_copy(update={"runtime": runtime}),
            batch=args.batch,
            steps=2 if args.quick else 5,
            repeats=2 if args.quick else 3,
        )
    else:
        from ferflow.bench.models import bench_models

        result = bench_models(
            args.out,
            families=args.families,
            batch=args.batch,
            img_size=args.img_size,
            num_frames=args.num_frames,
            steps=2 if args.quick else 4,
            repeats=2 if args.quick else 3,
            device=args.device,
            compile=args.compile,
            model_kwargs=_model_kwargs(args.model_kwargs),
            phases=args.phases,
        )
    print(json.dumps(result, indent=2))
    return 0


def add_bench(stages: Subcommands) -> None:
    bench = stages.add_parser(
        "bench",
        help="measure throughput (data stages or models) and write the figures to JSON",
        description="data: extraction vs naive decoding, alignment frames/s, DataLoader clips/s. models: "
        "training and inference clips/s of IFDD and its backbone alone, interleaved. dicefer: training "
        "pairs/s (stage 1) and images/s (stages 2-3, baseline), inference images/s, at the `dicefer` "
        "parameters' image size. feed: the DataLoader's clips/s against one model's training clips/s, with "
        "the augmentation in the loader and on the device (ifdd.augment.where).",
    )
    add_params_options(bench)
    bench.add_argument("what", choices=("data", "models", "dicefer", "feed"))
    bench.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    bench.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    bench.add_argument(
        "--workers", type=int, help="DataLoader workers (data: default 2; feed: default every usable core)"
    )
    bench.add_argument(
        "--workdir", type=Path, help="data, feed: folder for generated data (default: temporary)"
    )
    bench.add_argument(
        "--variant",
        default="ifdd_mvit",
        choices=VIDEO_MODELS,
        help="feed: the model trained (default: %(default)s)",
    )
    bench.add_argument("--compile", action="store_true", help="models, feed: torch.compile the models")
    bench.add_argument(
        "--phases", nargs="+", default=["train", "inference"], choices=("train", "inference"), help="models"
    )
    bench.add_argument("--families", nargs="+", default=["mobilenetv2"], choices=("mobilenetv2", "mvit"))
    bench.add_argument("--batch", type=int, default=8)
    bench.add_argument("--img-size", type=int, default=112)
    bench.add_argument("--num-frames", type=int, default=16)
    bench.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda or cuda:N")
    bench.add_argument(
        "--model-kwargs", help="models, feed: JSON factory arguments, e.g. '{\"width_mult\": 0.5}'"
    )
    bench.set_defaults(func=_cmd_bench)
