"""The data stages: the embedded benchmark and face corpus, shards, packed stores, the data check."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ferflow import paths
from ferflow.cli.options import Subcommands, add_params_options, params_of
from ferflow.errors import UserError


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from ferflow.data.synthetic.generate import generate  # imported here: keeps --help fast

    params = params_of(args)
    out = args.out or paths.synthetic_root(params)
    m = generate(params.synthetic, out, workers=args.workers)
    det = m["detection"]
    print(
        f"wrote {m['clips']} clips ({m['frames']} frames) and {m['images']} images to {out} in "
        f"{m['generation_seconds']} s; face detection rate {det['frame_rate']:.1%} of frames, "
        f"{det['image_rate']:.1%} of images"
    )
    return 0


def add_synthesize(stages: Subcommands) -> None:
    synth = stages.add_parser(
        "synthesize",
        help="generate the embedded benchmark (videos like DFEW, images like RAF-DB)",
        description="Generate the embedded synthetic benchmark from the `synthetic` section of the "
        "parameters: H.264 videos in DFEW's layout, images in RAF-DB basic's layout, ground-truth sidecars, "
        "and measurements.json (face detection rate, generation time).",
    )
    add_params_options(synth)
    synth.add_argument("--out", type=Path, help="output folder (default: data/raw/synthetic/<size>)")
    synth.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: all cores, %(default)s)",
    )
    synth.set_defaults(func=_cmd_synthesize)


def _cmd_synthesize_faceid(args: argparse.Namespace) -> int:
    from ferflow.data.synthetic.faceid import generate_faceid

    params = params_of(args)
    out = args.out or paths.faceid_synthetic_root(params)
    m = generate_faceid(params.synthetic, out, workers=args.workers)
    counts = m["counts"]
    print(
        f"wrote {m['images']} aligned faces of {counts['identities']} training and {counts['heldout']} "
        f"held-out identities and {m['pairs']} verification pairs to {out} in {m['generation_seconds']} s"
    )
    return 0


def add_synthesize_faceid(stages: Subcommands) -> None:
    synth_faces = stages.add_parser(
        "synthesize-faceid",
        help="generate the embedded face-recognition corpus (CASIA-WebFace and LFW layouts)",
        description="Generate the pretraining corpus from the `synthetic` section: aligned faces of "
        "identities disjoint from the benchmark's, one folder per identity like CASIA-WebFace, and "
        "held-out identities like LFW with a pairs.txt in LFW's format.",
    )
    add_params_options(synth_faces)
    synth_faces.add_argument(
        "--out", type=Path, help="output folder (default: data/raw/synthetic/<size>-faceid)"
    )
    synth_faces.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    synth_faces.set_defaults(func=_cmd_synthesize_faceid)


def _cmd_prepare_faces(args: argparse.Namespace) -> int:
    from ferflow.data.prepare_faces import prepare_faces

    params = params_of(args)
    synthetic = args.synthetic_root or paths.faceid_synthetic_root(params)
    out = args.out or paths.faceid_processed(params)
    print(json.dumps(prepare_faces(params, out, synthetic, workers=args.workers), indent=2))
    return 0


def add_prepare_faces(stages: Subcommands) -> None:
    faces = stages.add_parser(
        "prepare-faces",
        help="align the pretraining identities and verification pairs into stores",
        description="Read the face-identity dataset and the verification pairs named in the `pretrain` "
        "section, align the faces (dlib, or none for pre-aligned sets) and write the train/ and verify/ "
        "stores, verify_pairs.csv, the manifest of skipped images and the stage's metrics.",
    )
    add_params_options(faces)
    faces.add_argument("--out", type=Path, help="output folder (default: data/faceid/<dataset>)")
    faces.add_argument(
        "--synthetic-root", type=Path, help="the embedded corpus (default: data/raw/synthetic/<size>-faceid)"
    )
    faces.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    faces.set_defaults(func=_cmd_prepare_faces)


def _cmd_prepare(args: argparse.Namespace) -> int:
    from ferflow.data.prepare import prepare_shard  # imported here: keeps --help fast

    params = params_of(args)
    synthetic = args.synthetic_root or paths.synthetic_root(params)
    stats = prepare_shard(params, args.kind, args.shard, args.out, synthetic)
    print(
        f"shard {args.shard}: {stats.samples} {args.kind} aligned, {stats.frames_detected}/{stats.frames} "
        f"frames with a detected face, {stats.frames_borrowed} borrowed"
    )
    return 0


def add_prepare(stages: Subcommands) -> None:
    prepare = stages.add_parser(
        "prepare",
        help="decode, sample and align one shard of a dataset into a shard store",
        description="Read every N-th record of the video (clips) or image dataset named in the `data` "
        "section, sample and decode its frames with PyAV, align the faces (dlib) and write a "
        "shard store; unusable samples are recorded with the reason.",
    )
    add_params_options(prepare)
    prepare.add_argument("--kind", choices=("clips", "images"), required=True)
    prepare.add_argument("--shard", type=int, required=True, help="0 .. data.shards-1")
    prepare.add_argument("--out", type=Path, required=True, help="shard store folder")
    prepare.add_argument(
        "--synthetic-root",
        type=Path,
        help="the embedded benchmark's folder (default: data/raw/synthetic/<size>)",
    )
    prepare.set_defaults(func=_cmd_prepare)


def _cmd_pack(args: argparse.Namespace) -> int:
    from ferflow.data.prepare import pack_shards

    result = pack_shards(params_of(args), args.kind, args.shards, args.out, args.metrics, args.manifest)
    print(json.dumps(result, indent=2))
    return 0


def add_pack(stages: Subcommands) -> None:
    pack = stages.add_parser(
        "pack",
        help="join shard stores into one store with its manifest and metrics",
        description="Join shard stores into one memory-mapped store; write the manifest of skipped samples "
        "and the stage's metrics (detection rate, NME on the embedded benchmark). Fails with a "
        "summary when more than data.max_skip_fraction of the samples were unusable.",
    )
    add_params_options(pack)
    pack.add_argument("--kind", choices=("clips", "images"), required=True)
    pack.add_argument("--shards", type=Path, nargs="+", required=True)
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--metrics", type=Path, required=True)
    pack.add_argument("--manifest", type=Path, required=True)
    pack.set_defaults(func=_cmd_pack)


def _cmd_data_check(args: argparse.Namespace) -> int:
    from ferflow.core.atomic import write_json
    from ferflow.data.check import check_data, check_summary, format_check

    params = params_of(args)
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


def add_data(stages: Subcommands) -> None:
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
    add_params_options(data_check)
    data_check.add_argument("--kind", choices=("clips", "images"), action="append", help="one branch only")
    data_check.add_argument(
        "--synthetic-root",
        type=Path,
        help="the embedded benchmark's folder (default: data/raw/synthetic/<size>)",
    )
    data_check.add_argument("--out", type=Path, help="also write the report as JSON")
    data_check.set_defaults(func=_cmd_data_check)
