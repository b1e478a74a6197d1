"""The `ferflow` command line: one subcommand per stage, each a thin wrapper around a library function.

Snakemake rules pass the validated parameter sections as JSON (`--params-json`), so a rule runs with exactly
the values Snakemake compared when deciding what to re-run; people usually pass `--params params.yaml`.

A user's mistake (any `ferflow.errors.UserError`, or a missing file) ends every subcommand with one line,
`ferflow: <what>, <which file or key>, <what to do>`, and a non-zero status (2 for bad parameters, 1 for
the rest); `--debug` or FERFLOW_DEBUG=1 shows the traceback instead. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml

from ferflow import __version__, paths
from ferflow.config import DEFAULT_PARAMS, Params, ParamsError, check_device, load_params, validate_params
from ferflow.errors import UserError
from ferflow.model_names import IMAGE_MODELS, VIDEO_MODELS


def _params(args: argparse.Namespace) -> Params:
    if args.params_json is not None:
        try:
            raw = json.loads(args.params_json)
        except json.JSONDecodeError as err:
            raise ParamsError(f"--params-json: not valid JSON: {err}") from None
        return validate_params(raw, "--params-json")
    return load_params(args.params)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, `ferflow: <command>: <error>; see ... --help`, like every user error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("ferflow").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"ferflow: {where}{message}; see `{self.prog} --help`\n")


def _device(text: str) -> str:
    try:
        return check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


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


def _add_runtime_options(parser: argparse.ArgumentParser, section: str) -> None:
    """How a training job runs, overriding the parameters' values (Snakemake passes its threads and
    resources this way, so they never decide whether a job re-runs)."""
    parser.add_argument(
        "--threads", type=int, default=0, help=f"torch CPU threads (default: {section}; 0: half the cores)"
    )
    parser.add_argument("--workers", type=int, help=f"DataLoader workers (default: {section})")
    parser.add_argument("--device", type=_device, help=f"auto, cpu, cuda or cuda:N (default: {section})")


def _runtime(section: Any, args: argparse.Namespace) -> Any:
    from ferflow.jobs import runtime_overrides

    return runtime_overrides(section, args.threads, args.workers, args.device)


def _add_params_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--params",
        type=Path,
        default=DEFAULT_PARAMS,
        metavar="FILE",
        help="parameter file (default: %(default)s)",
    )
    group.add_argument(
        "--params-json", metavar="JSON", help="parameters as JSON (how the Snakemake rules pass them)"
    )


def _cmd_params(args: argparse.Namespace) -> int:
    print(yaml.safe_dump(_params(args).model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from ferflow.data.synthetic.generate import generate  # imported here: keeps --help fast

    params = _params(args)
    out = args.out or paths.synthetic_root(params)
    m = generate(params.synthetic, out, workers=args.workers)
    det = m["detection"]
    print(
        f"wrote {m['clips']} clips ({m['frames']} frames) and {m['images']} images to {out} in "
        f"{m['generation_seconds']} s; face detection rate {det['frame_rate']:.1%} of frames, "
        f"{det['image_rate']:.1%} of images"
    )
    return 0


def _cmd_synthesize_faceid(args: argparse.Namespace) -> int:
    from ferflow.data.synthetic.faceid import generate_faceid

    params = _params(args)
    out = args.out or paths.faceid_synthetic_root(params)
    m = generate_faceid(params.synthetic, out, workers=args.workers)
    counts = m["counts"]
    print(
        f"wrote {m['images']} aligned faces of {counts['identities']} training and {counts['heldout']} "
        f"held-out identities and {m['pairs']} verification pairs to {out} in {m['generation_seconds']} s"
    )
    return 0


def _cmd_prepare_faces(args: argparse.Namespace) -> int:
    from ferflow.data.prepare_faces import prepare_faces

    params = _params(args)
    synthetic = args.synthetic_root or paths.faceid_synthetic_root(params)
    out = args.out or paths.faceid_processed(params)
    print(json.dumps(prepare_faces(params, out, synthetic, workers=args.workers), indent=2))
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from ferflow.config import TrunkSpec, trunk_spec
    from ferflow.train.pretrain import pretrain

    params = _params(args)
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


def _cmd_prepare(args: argparse.Namespace) -> int:
    from ferflow.data.prepare import prepare_shard  # imported here: keeps --help fast

    params = _params(args)
    synthetic = args.synthetic_root or paths.synthetic_root(params)
    stats = prepare_shard(params, args.kind, args.shard, args.out, synthetic)
    print(
        f"shard {args.shard}: {stats.samples} {args.kind} aligned, {stats.frames_detected}/{stats.frames} "
        f"frames with a detected face, {stats.frames_borrowed} borrowed"
    )
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    from ferflow.data.prepare import pack_shards

    result = pack_shards(_params(args), args.kind, args.shards, args.out, args.metrics, args.manifest)
    print(json.dumps(result, indent=2))
    return 0


def _cmd_train_ifdd(args: argparse.Namespace) -> int:
    from ferflow.train.ifdd import train_ifdd

    params = _params(args)
    p = params.ifdd
    p = p.model_copy(update={"train": _runtime(p.train, args)})
    fold = None if args.fold == 0 else args.fold
    result = train_ifdd(p, args.store, args.variant, fold, args.out)
    print(json.dumps(result, indent=2))
    return 0


def _cmd_evaluate_ifdd(args: argparse.Namespace) -> int:
    from ferflow.evaluate.ifdd import evaluate_ifdd

    result = evaluate_ifdd(args.model, args.store, args.out, args.truth, args.device)
    print(f"{result['variant']} fold {result['fold']}: WAR {result['war']:.4f}  UAR {result['uar']:.4f}")
    return 0


def _cmd_summarize_ifdd(args: argparse.Namespace) -> int:
    from ferflow.evaluate.ifdd import summarize_ifdd

    print(json.dumps(summarize_ifdd(args.metrics, args.out), indent=2))
    return 0


def _cmd_summarize_pretrain(args: argparse.Namespace) -> int:
    from ferflow.train.pretrain import summarize_pretraining

    print(json.dumps(summarize_pretraining(args.metrics, args.out), indent=2))
    return 0


def _cmd_summarize_study(args: argparse.Namespace) -> int:
    from ferflow.evaluate.stats import VERDICT_RULE
    from ferflow.evaluate.study_summary import summarize_study

    summary = summarize_study(_params(args), args.root, args.out, args.table)
    print(f"Verdict rule: {VERDICT_RULE}")
    for text in summary["verdicts"]:
        print(f"  {text}")
    if summary["missing"]:
        print(f"not evaluated yet ({len(summary['missing'])} cells), e.g. {summary['missing'][0]}")
    return 0


def _cmd_train_dicefer(args: argparse.Namespace) -> int:
    from ferflow.train.dicefer import train_baseline, train_dicefer

    p = _params(args).dicefer
    p = p.model_copy(update={"runtime": _runtime(p.runtime, args)})
    if args.model == "dicefer":
        summary = train_dicefer(p, args.store, args.out)
    else:
        summary = train_baseline(p, args.store, args.out, args.model)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_evaluate_dicefer(args: argparse.Namespace) -> int:
    from ferflow.evaluate.dicefer import evaluate_dicefer

    p = _params(args).dicefer
    result = evaluate_dicefer(
        args.model, args.store, args.out, probe_folds=p.probe_folds, device=args.device, seed=p.runtime.seed
    )
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list | dict)}, indent=2))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ferflow.report import build_report  # imported here: matplotlib and seaborn load slowly

    if not args.root.is_dir():
        raise UserError(
            f"--root {args.root}: no such folder; give the project folder (the one with results/)"
        )

    html, pdf = build_report(args.root, args.out, _params(args))
    print(f"wrote {html} and {pdf}")
    return 0


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


def _cmd_data_check(args: argparse.Namespace) -> int:
    from ferflow.core.atomic import write_json
    from ferflow.data.check import check_data, check_summary, format_check

    params = _params(args)
    kinds = tuple(args.kind or ("clips", "images"))
    reports = check_data(params, args.synthetic_root or paths.synthetic_root(params), kinds)
    print("\n\n".join(format_check(r) for r in reports))
    if args.out is not None:
        write_json(args.out, check_summary(reports))
    failed = [r for r in reports if r.problems]
    if failed:
        problems = sum(len(r.problems) for r in failed)
        where = ", ".join(f"{r.key} ({r.dataset} at {r.root})" for r in failed)
        raise UserError(
            f"data check found {problems} problem(s) in {where}; fix the files or options named above"
        )
    return 0


def _cmd_recipe_list(args: argparse.Namespace) -> int:
    from ferflow.recipes import list_recipes

    recipes = list_recipes(args.folder)
    if not recipes:
        raise UserError(f"{args.folder}: no recipes (*.yaml) there; run from the project folder")
    for name, title in recipes.items():
        print(f"{name:<16} {title}")
    return 0


def _cmd_recipe_apply(args: argparse.Namespace) -> int:
    from ferflow.recipes import apply_recipe

    _, changes = apply_recipe(args.name, args.params, args.root, args.folder)
    print(f"{args.params}: recipe {args.name}, {len(changes)} value(s) changed")
    for line in changes:
        print(f"  {line}")
    print("then: dvc repro (or snakemake --cores all); dvc params diff lists the change")
    return 0


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

        p = _params(args).dicefer
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


def _cmd_gpu_run(args: argparse.Namespace) -> int:
    from ferflow.gpu import run_stage

    stage = args.stage[1:] if args.stage[:1] == ["--"] else args.stage
    if not stage:
        raise UserError("gpu-run: no stage given; put it after --, e.g. gpu-run --gpus 1 -- train-ifdd ...")
    return run_stage(args.gpus, stage)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ferflow",
        description="Facial expression recognition pipeline: IFDD (video) and DICE-FER (images).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of a user error (also: FERFLOW_DEBUG=1)"
    )
    stages = parser.add_subparsers(dest="command", required=True, metavar="STAGE")

    check = stages.add_parser(
        "params",
        help="validate the parameters and print every resolved value",
        description="Validate the parameters and print them with defaults filled in.",
    )
    _add_params_options(check)
    check.set_defaults(func=_cmd_params)

    synth = stages.add_parser(
        "synthesize",
        help="generate the embedded benchmark (videos like DFEW, images like RAF-DB)",
        description="Generate the embedded synthetic benchmark from the `synthetic` section of the "
        "parameters: H.264 videos in DFEW's layout, images in RAF-DB basic's layout, ground-truth sidecars, "
        "and measurements.json (face detection rate, generation time).",
    )
    _add_params_options(synth)
    synth.add_argument("--out", type=Path, help="output folder (default: data/raw/synthetic/<size>)")
    synth.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: all cores, %(default)s)",
    )
    synth.set_defaults(func=_cmd_synthesize)

    synth_faces = stages.add_parser(
        "synthesize-faceid",
        help="generate the embedded face-recognition corpus (CASIA-WebFace and LFW layouts)",
        description="Generate the pretraining corpus from the `synthetic` section: aligned faces of "
        "identities disjoint from the benchmark's, one folder per identity like CASIA-WebFace, and "
        "held-out identities like LFW with a pairs.txt in LFW's format.",
    )
    _add_params_options(synth_faces)
    synth_faces.add_argument(
        "--out", type=Path, help="output folder (default: data/raw/synthetic/<size>-faceid)"
    )
    synth_faces.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    synth_faces.set_defaults(func=_cmd_synthesize_faceid)

    faces = stages.add_parser(
        "prepare-faces",
        help="align the pretraining identities and verification pairs into stores",
        description="Read the face-identity dataset and the verification pairs named in the `pretrain` "
        "section, align the faces (dlib, or none for pre-aligned sets) and write the train/ and verify/ "
        "stores, verify_pairs.csv, the manifest of skipped images and the stage's metrics.",
    )
    _add_params_options(faces)
    faces.add_argument("--out", type=Path, help="output folder (default: data/faceid/<dataset>)")
    faces.add_argument(
        "--synthetic-root", type=Path, help="the embedded corpus (default: data/raw/synthetic/<size>-faceid)"
    )
    faces.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    faces.set_defaults(func=_cmd_prepare_faces)

    pre = stages.add_parser(
        "pretrain",
        help="pretrain a trunk by face recognition (what init: faceid starts from)",
        description="Train DICE-FER's ResNet-18 or IFDD's MobileNetV2 trunk on face identities with a margin "
        "loss (the `pretrain` section), score it by face verification, and write trunk.pt (torchvision's key "
        "layout), the model card and the metrics. Re-running the same command resumes.",
    )
    _add_params_options(pre)
    pre.add_argument("--trunk", choices=("resnet18", "mobilenetv2"), required=True)
    pre.add_argument(
        "--img-size", type=_positive(int), help="input size (default: dicefer.img_size / ifdd.img_size)"
    )
    pre.add_argument(
        "--width-mult", type=_positive(float), help="MobileNetV2 width (default: ifdd.model.width_mult)"
    )
    pre.add_argument("--faces", type=Path, help="prepare-faces output (default: data/faceid/<dataset>)")
    pre.add_argument("--out", type=Path, help="job folder (default: results/pretrain/<trunk>)")
    _add_runtime_options(pre, "pretrain.train")
    pre.set_defaults(func=_cmd_pretrain)

    prepare = stages.add_parser(
        "prepare",
        help="decode, sample and align one shard of a dataset into a shard store",
        description="Read every N-th record of the video (clips) or image dataset named in the `data` "
        "section, sample and decode its frames with PyAV, align the faces (dlib) and write a "
        "shard store; unusable samples are recorded with the reason.",
    )
    _add_params_options(prepare)
    prepare.add_argument("--kind", choices=("clips", "images"), required=True)
    prepare.add_argument("--shard", type=int, required=True, help="0 .. data.shards-1")
    prepare.add_argument("--out", type=Path, required=True, help="shard store folder")
    prepare.add_argument(
        "--synthetic-root",
        type=Path,
        help="the embedded benchmark's folder (default: data/raw/synthetic/<size>)",
    )
    prepare.set_defaults(func=_cmd_prepare)

    pack = stages.add_parser(
        "pack",
        help="join shard stores into one store with its manifest and metrics",
        description="Join shard stores into one memory-mapped store; write the manifest of skipped samples "
        "and the stage's metrics (detection rate, NME on the embedded benchmark). Fails with a "
        "summary when more than data.max_skip_fraction of the samples were unusable.",
    )
    _add_params_options(pack)
    pack.add_argument("--kind", choices=("clips", "images"), required=True)
    pack.add_argument("--shards", type=Path, nargs="+", required=True)
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--metrics", type=Path, required=True)
    pack.add_argument("--manifest", type=Path, required=True)
    pack.set_defaults(func=_cmd_pack)

    train = stages.add_parser(
        "train-ifdd",
        help="train IFDD or its baseline on one fold of a clip store",
        description="Train one model variant on one fold, with the `ifdd` section of the parameters. "
        "Re-running the same command resumes from the job folder's checkpoint.",
    )
    _add_params_options(train)
    train.add_argument(
        "--store", type=Path, required=True, help="clip store (data/processed/<dataset>/clips)"
    )
    train.add_argument("--variant", required=True, choices=VIDEO_MODELS, help="the model to train")
    train.add_argument("--fold", type=int, default=0, help="fold to train (0: datasets with one fixed split)")
    train.add_argument("--out", type=Path, required=True, help="job folder for checkpoints and logs")
    _add_runtime_options(train, "ifdd.train")
    train.set_defaults(func=_cmd_train_ifdd)

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
    evaluate.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate.set_defaults(func=_cmd_evaluate_ifdd)

    summarize_pre = stages.add_parser(
        "summarize-pretrain", help="verification figures of every pretrained trunk"
    )
    summarize_pre.add_argument(
        "--metrics", type=Path, nargs="*", default=[], help="results/pretrain/*/metrics.json"
    )
    summarize_pre.add_argument("--out", type=Path, required=True)
    summarize_pre.set_defaults(func=_cmd_summarize_pretrain)

    summarize = stages.add_parser("summarize-ifdd", help="per-fold and mean WAR/UAR of every variant")
    summarize.add_argument("--metrics", type=Path, nargs="+", required=True)
    summarize.add_argument("--out", type=Path, required=True)
    summarize.set_defaults(func=_cmd_summarize_ifdd)

    summarize_s = stages.add_parser(
        "summarize-study",
        help="statistics and verdicts of a folds x seeds study (results/study)",
        description="Read every cell of the `study` section's grid under --root, and write per-model "
        "mean and SD, each compared pair's paired differences with bootstrap and t intervals, Wilcoxon "
        "p-values, verdicts (printed with their rule) and power to --out (JSON), and one row per cell to "
        "--table.",
    )
    _add_params_options(summarize_s)
    summarize_s.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    summarize_s.add_argument("--out", type=Path, default=Path("results/study/summary.json"))
    summarize_s.add_argument("--table", type=Path, help="per-cell TSV (e.g. results/study/cells.tsv)")
    summarize_s.set_defaults(func=_cmd_summarize_study)

    train_d = stages.add_parser(
        "train-dicefer",
        help="train DICE-FER (three stages), its ResNet-18 baseline or an image control on an image store",
        description="Train with the `dicefer` section of the parameters on the store's train split. "
        "Re-running the same command resumes from the job folder's checkpoint.",
    )
    _add_params_options(train_d)
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

    evaluate_d = stages.add_parser(
        "evaluate-dicefer",
        help="accuracy, per-class table, confusion, MIG and leakage of a DICE-FER model",
        description="Evaluate a trained DICE-FER model or baseline on the store's test split: metrics.json, "
        "per_class.md, predictions.csv and embeddings.npz (for t-SNE).",
    )
    _add_params_options(evaluate_d)
    evaluate_d.add_argument("--model", type=Path, required=True, help="model.pt written by train-dicefer")
    evaluate_d.add_argument("--store", type=Path, required=True)
    evaluate_d.add_argument("--out", type=Path, required=True)
    evaluate_d.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate_d.set_defaults(func=_cmd_evaluate_dicefer)

    report = stages.add_parser(
        "report",
        help="render the HTML and PDF result report (and its figures as PNG)",
        description="Gather the data-stage metrics, IFDD and DICE-FER results and benchmarks found under the "
        "project folder and render report.html (self-contained) and report.pdf.",
    )
    _add_params_options(report)
    report.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    report.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    report.set_defaults(func=_cmd_report)

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
    predict.add_argument("--device", type=_device, default="cpu", help="cpu (default), cuda, cuda:N or auto")
    predict.set_defaults(func=_cmd_predict)

    data = stages.add_parser(
        "data",
        help="inspect the datasets the `data` section names (check)",
        description="Inspect the datasets of the `data` section without decoding anything.",
    )
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    data_check = data_commands.add_parser(
        "check",
        help="records per fold, split and class, missing media, label anomalies; fails on problems",
        description="Load every fold and split of each branch's dataset (video: data.video, images: "
        "data.image) through its adapter, without decoding: print records per fold, split and class, "
        "unusable media, the label numbering of each file and dropped rows. Exits non-zero with a summary "
        "on problems: an unreadable split file, more unusable media than data.max_skip_fraction, a class "
        "without samples, files numbered differently, a sample in two folds' test sets.",
    )
    _add_params_options(data_check)
    data_check.add_argument("--kind", choices=("clips", "images"), action="append", help="one branch only")
    data_check.add_argument(
        "--synthetic-root",
        type=Path,
        help="the embedded benchmark's folder (default: data/raw/synthetic/<size>)",
    )
    data_check.add_argument("--out", type=Path, help="also write the report as JSON")
    data_check.set_defaults(func=_cmd_data_check)

    recipe = stages.add_parser(
        "recipe",
        help="switch params.yaml to a paper's settings for a dataset (recipes/*.yaml)",
        description="Paper recipes: partial parameter files under recipes/. `apply` writes one into "
        "params.yaml (comments kept, validated first), so DVC and git see every changed value.",
    )
    recipe_commands = recipe.add_subparsers(dest="recipe_command", required=True, metavar="COMMAND")
    recipe_list = recipe_commands.add_parser("list", help="the recipes and what each sets")
    recipe_list.set_defaults(func=_cmd_recipe_list)
    recipe_apply = recipe_commands.add_parser("apply", help="write a recipe into the parameter file")
    recipe_apply.add_argument("name", help="a recipe name (e.g. ifdd_dfew) or a recipe file")
    recipe_apply.add_argument("--root", type=Path, help="the dataset's folder (data.<branch>.root)")
    recipe_apply.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, metavar="FILE", help="default: %(default)s"
    )
    recipe_apply.set_defaults(func=_cmd_recipe_apply)
    for sub in (recipe_list, recipe_apply):
        sub.add_argument("--folder", type=Path, default=Path("recipes"), help="default: %(default)s")

    bench = stages.add_parser(
        "bench",
        help="measure throughput (data stages or models) and write the figures to JSON",
        description="data: extraction vs naive decoding, alignment frames/s, DataLoader clips/s. models: "
        "training and inference clips/s of IFDD and its backbone alone, interleaved. dicefer: training "
        "pairs/s (stage 1) and images/s (stages 2-3, baseline), inference images/s, at the `dicefer` "
        "parameters' image size. feed: the DataLoader's clips/s against one model's training clips/s, with "
        "the augmentation in the loader and on the device (ifdd.augment.where).",
    )
    _add_params_options(bench)
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
    bench.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N")
    bench.add_argument(
        "--model-kwargs", help="models, feed: JSON factory arguments, e.g. '{\"width_mult\": 0.5}'"
    )
    bench.set_defaults(func=_cmd_bench)

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
    return parser


def _user_message(err: Exception) -> str:
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return f"{err.filename}: no such file or folder; check the path, or run the stage that writes it"
    return str(err)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, FileNotFoundError) as err:
        if args.debug or os.environ.get("FERFLOW_DEBUG", "") not in ("", "0"):
            raise
        print(f"ferflow: {_user_message(err)}", file=sys.stderr)
        return 2 if isinstance(err, ParamsError) else 1
