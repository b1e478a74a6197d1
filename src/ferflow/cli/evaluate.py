"""Evaluation: a trained model on its test split, the summaries of several, and one prediction."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ferflow import paths
from ferflow.cli.options import Subcommands, add_params_options, device_name, params_of


def _cmd_evaluate_ifdd(args: argparse.Namespace) -> int:
    from ferflow.evaluate.ifdd import evaluate_ifdd

    result = evaluate_ifdd(args.model, args.store, args.out, args.truth, args.device)
    print(f"{result['variant']} fold {result['fold']}: WAR {result['war']:.4f}  UAR {result['uar']:.4f}")
    return 0


def add_evaluate_ifdd(stages: Subcommands) -> None:
    evaluate = stages.add_parser(
        "evaluate-ifdd",
        help="evaluate a trained IFDD model or baseline on its fold's test set",
        description="Write predictions.csv and metrics.json (WAR, UAR, per-class recall, confusion "
        "matrices); with --truth, also where ISSM's indices fall relative to the true episode.",
    )
    evaluate.add_argument("--model", type=Path, required=True, help="model.pt written by train-ifdd")
    evaluate.add_argument("--store", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, required=True)
    evaluate.add_argument("--truth", type=Path, help="the embedded benchmark's ground_truth/clips.csv")
    evaluate.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate.set_defaults(func=_cmd_evaluate_ifdd)


def _cmd_evaluate_dicefer(args: argparse.Namespace) -> int:
    from ferflow.evaluate.dicefer import evaluate_dicefer

    p = params_of(args).dicefer
    result = evaluate_dicefer(
        args.model, args.store, args.out, probe_folds=p.probe_folds, device=args.device, seed=p.runtime.seed
    )
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list | dict)}, indent=2))
    return 0


def add_evaluate_dicefer(stages: Subcommands) -> None:
    evaluate_d = stages.add_parser(
        "evaluate-dicefer",
        help="accuracy, per-class table, confusion, MIG and leakage of a DICE-FER model",
        description="Evaluate a trained DICE-FER model or baseline on the store's test split: metrics.json, "
        "per_class.md, predictions.csv and embeddings.npz (for t-SNE).",
    )
    add_params_options(evaluate_d)
    evaluate_d.add_argument("--model", type=Path, required=True, help="model.pt written by train-dicefer")
    evaluate_d.add_argument("--store", type=Path, required=True)
    evaluate_d.add_argument("--out", type=Path, required=True)
    evaluate_d.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate_d.set_defaults(func=_cmd_evaluate_dicefer)


def _cmd_summarize_pretrain(args: argparse.Namespace) -> int:
    from ferflow.train.pretrain import summarize_pretraining

    print(json.dumps(summarize_pretraining(args.metrics, args.out), indent=2))
    return 0


def add_summarize_pretrain(stages: Subcommands) -> None:
    summarize_pre = stages.add_parser(
        "summarize-pretrain", help="verification figures of every pretrained trunk"
    )
    summarize_pre.add_argument(
        "--metrics",
        type=Path,
        nargs="*",
        default=[],
        help=f"{paths.PRETRAIN_JOB.format(trunk='*')}/metrics.json",
    )
    summarize_pre.add_argument("--out", type=Path, required=True)
    summarize_pre.set_defaults(func=_cmd_summarize_pretrain)


def _cmd_summarize_ifdd(args: argparse.Namespace) -> int:
    from ferflow.evaluate.ifdd import summarize_ifdd

    print(json.dumps(summarize_ifdd(args.metrics, args.out), indent=2))
    return 0


def add_summarize_ifdd(stages: Subcommands) -> None:
    summarize = stages.add_parser("summarize-ifdd", help="per-fold and mean WAR/UAR of every variant")
    summarize.add_argument("--metrics", type=Path, nargs="+", required=True)
    summarize.add_argument("--out", type=Path, required=True)
    summarize.set_defaults(func=_cmd_summarize_ifdd)


def _cmd_predict(args: argparse.Namespace) -> int:
    from ferflow.predict import predict

    result = predict(args.media, args.checkpoint, args.upsample, args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if "video" in result:
        n, distinct = result["frames"], result["distinct_frames"]
        short = (
            f", {distinct} distinct frame{'' if distinct == 1 else 's'}: the video is shorter than the "
            f"model's {n}"
            if distinct < n
            else ""
        )
        print(
            f"{result['video']}: {result['predicted']} ({result['model']}; face in "
            f"{result['frames_with_face']}/{n} sampled frames{short})"
        )
    else:
        face = "face found" if result["align_backend"] == "dlib" else "pre-aligned image, no detection"
        print(f"{result['image']}: {result['predicted']} ({result['model']}; {face})")
    for name, p in sorted(result["probabilities"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<12} {p:6.1%}")
    return 0


def add_predict(stages: Subcommands) -> None:
    predict = stages.add_parser(
        "predict",
        help="class probabilities for one video (IFDD model) or image (DICE-FER or baseline model)",
        description="Read a video or a still image, align its face as the data stage does, and print the "
        "class probabilities of a trained model: a video needs an IFDD model.pt (train-ifdd), an image a "
        "DICE-FER or baseline model.pt (train-dicefer).",
    )
    predict.add_argument("media", type=Path, help="a video or image file")
    predict.add_argument(
        "--checkpoint", type=Path, required=True, help="model.pt written by train-ifdd or train-dicefer"
    )
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("--upsample", type=int, default=1, help="dlib HOG upsampling")
    predict.add_argument(
        "--device", type=device_name, default="cpu", help="cpu (default), cuda, cuda:N or auto"
    )
    predict.set_defaults(func=_cmd_predict)
