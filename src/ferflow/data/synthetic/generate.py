"""Lay out the embedded benchmark: a video set like DFEW and an image set like RAF-DB basic.

Everything is drawn from one seed: identities and the plan of clips and images in the parent process, each
clip and image from its own spawned seed, so the result does not depend on the number of workers.
Ground truth lands in `ground_truth/`, which no training stage reads.

The image set comes in two splits of the same images, each in RAF-DB basic's layout: `RAF-DB/basic` splits
each identity's images per class (every test identity is also a training identity: *seen*), and
`RAF-DB-unseen/basic` holds out whole identities (`Plan.unseen_test_identities`: *unseen*), its files hard
links to the first layout's (copies where the file system has no links).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ferflow.config import SyntheticParams
from ferflow.data.synthetic.measure import detection_rate, difficulty
from ferflow.data.synthetic.plan import N_FOLDS, describe_identity, make_plan, resolved_counts
from ferflow.data.synthetic.render import render_clip, render_image
from ferflow.parallel import map_with_progress

# RAF-DB basic's class order (labels 1..7 in list_patition_label.txt), as benchmark expressions.
RAF_ORDER = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
#: The image set's two layouts (`data.image.options.test_identities`), relative to the benchmark's root.
RAFDB_DIRS = {"seen": Path("RAF-DB") / "basic", "unseen": Path("RAF-DB-unseen") / "basic"}


def write_csv(path: Path, rows: list[dict[str, object]], header: Iterable[str] | None = None) -> None:
    header = list(header or rows[0])
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_dfew_layout(root: Path, clips: list[dict[str, object]]) -> None:
    split_dir = root / "DFEW" / "EmoLabel_DataSplit"
    for split in ("train", "test"):
        (split_dir / f"{split}(single-labeled)").mkdir(parents=True, exist_ok=True)
    for k in range(1, N_FOLDS + 1):
        for split in ("train", "test"):
            rows = [
                {"video_name": c["video_name"], "label": int(c["label"]) + 1}
                for c in clips
                if (c["fold"] == k) == (split == "test")
            ]
            write_csv(split_dir / f"{split}(single-labeled)" / f"set_{k}.csv", rows, ["video_name", "label"])


def _write_rafdb_layout(basic: Path, images: list[dict[str, object]]) -> None:
    labels = basic / "EmoLabel" / "list_patition_label.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(images, key=lambda r: (r["split"] != "train", r["name"]))
    labels.write_text("".join(f"{r['name']} {RAF_ORDER.index(str(r['expression'])) + 1}\n" for r in ordered))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # no hard links on this file system
        shutil.copyfile(source, target)


def _write_unseen_layout(
    root: Path, images: list[dict[str, object]], test_identities: frozenset[int]
) -> list[dict[str, object]]:
    """The same images split by identity, in RAF-DB basic's layout under `RAF-DB-unseen/basic`; returns
    their rows (the seen rows renamed, with `seen_name`, the same image's name in `RAF-DB/basic`)."""
    seen, unseen = root / RAFDB_DIRS["seen"] / "Image", root / RAFDB_DIRS["unseen"] / "Image"
    for media in ("original", "aligned"):
        (unseen / media).mkdir(parents=True)
    numbers = {"train": 0, "test": 0}
    rows = []
    for r in images:  # in the plan's order, which reveals neither class nor identity
        split = "test" if r["identity"] in test_identities else "train"
        numbers[split] += 1
        name = f"train_{numbers['train']:05d}.jpg" if split == "train" else f"test_{numbers['test']:04d}.jpg"
        seen_stem, stem = str(r["name"]).removesuffix(".jpg"), name.removesuffix(".jpg")
        _link_or_copy(seen / "original" / str(r["name"]), unseen / "original" / name)
        _link_or_copy(
            seen / "aligned" / f"{seen_stem}_aligned.jpg", unseen / "aligned" / f"{stem}_aligned.jpg"
        )
        rows.append({**r, "name": name, "split": split, "seen_name": r["name"]})
    _write_rafdb_layout(root / RAFDB_DIRS["unseen"], rows)
    return rows


def generate(p: SyntheticParams, out: Path, workers: int = 1) -> dict[str, object]:
    """Generate the benchmark into `out` (replaced atomically) and return its measurements."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    video_dir = tmp / "DFEW" / "Clip" / "original"
    original_dir = tmp / RAFDB_DIRS["seen"] / "Image" / "original"
    aligned_dir = tmp / RAFDB_DIRS["seen"] / "Image" / "aligned"
    clip_truth = tmp / "ground_truth" / "clips"
    for d in (video_dir, original_dir, aligned_dir, clip_truth):
        d.mkdir(parents=True)

    started = time.perf_counter()
    plan = make_plan(p)
    clips = map_with_progress(
        render_clip,
        [(c, plan.identities[c.identity], p, video_dir, clip_truth) for c in plan.clips],
        workers,
        "render clips",
    )
    images = map_with_progress(
        render_image,
        [(s, plan.identities[s.identity], p, original_dir, aligned_dir) for s in plan.images],
        workers,
        "render images",
    )
    generation_seconds = time.perf_counter() - started

    _write_dfew_layout(tmp, clips)
    _write_rafdb_layout(tmp / RAFDB_DIRS["seen"], images)
    unseen = _write_unseen_layout(tmp, images, plan.unseen_test_identities)
    truth = tmp / "ground_truth"
    write_csv(truth / "clips.csv", clips)
    for suffix, rows in (("", images), ("_unseen", unseen)):
        write_csv(
            truth / f"images{suffix}.csv", [{k: v for k, v in r.items() if k != "landmarks"} for r in rows]
        )
        np.savez_compressed(
            truth / f"image_landmarks{suffix}.npz",
            names=np.array([r["name"] for r in rows]),
            landmarks=np.stack([r["landmarks"] for r in rows]),
        )
    identities = [
        {
            **describe_identity(i),
            "unseen_split": "test" if i.index in plan.unseen_test_identities else "train",
        }
        for i in plan.identities
    ]
    (truth / "identities.json").write_text(json.dumps(identities, indent=1))

    detection = detection_rate(tmp, upsample=p.detection_upsample, workers=workers)
    counts = resolved_counts(p)
    measurements = {
        "size": p.size,
        "seed": p.seed,
        "counts": asdict(counts),
        "clips": len(clips),
        "frames": int(sum(int(c["n_frames"]) for c in clips)),
        "images": len(images),
        "unseen_test_identities": sorted(plan.unseen_test_identities),
        "generation_seconds": round(generation_seconds, 2),
        "workers": workers,
        "detection": detection,
        "difficulty": difficulty(tmp),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "params": p.model_dump(mode="json"),
    }
    (tmp / "measurements.json").write_text(json.dumps(measurements, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return measurements
