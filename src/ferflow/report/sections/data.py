"""The data section: the embedded benchmark's measurements, each packed store's metrics and skipped files,
and sample faces from the stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferflow.report.formatting import not_run, num, pct
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader
from ferflow.report.sections.ifdd import PROBE_VIEWS
from ferflow.report.sections.samples import store_samples

MANIFEST_ROWS = 100  # skipped files listed in full; the rest are counted
BRANCHES = {"clips": "videos → clips", "images": "images"}
#: How the data stage's metrics are named in the report.
METRIC_LABELS = {
    "dataset": "adapter",
    "samples": "usable samples",
    "skipped": "skipped samples",
    "frames": "frames aligned",
    "align_backend": "alignment",
    "detection_rate": "face detection rate",
    "frames_borrowed": "frames borrowing neighbours' landmarks",
    "nme_mean": "landmark NME, mean",
    "nme_median": "landmark NME, median",
    "nme_frames": "frames with ground-truth landmarks",
    "pack_seconds": "packing time, s",
}


def data_section(
    reader: Reader, gallery: Gallery, measurements: Path, stores: Mapping[str, Path]
) -> dict[str, Any]:
    """The benchmark's `measurements` file and the packed `stores` by kind (``clips``, ``images``), each
    path relative to the project."""
    result: dict[str, Any] = {"ran": False, "kinds": []}
    measured = reader.json(measurements)
    if measured:
        result["benchmark"] = _benchmark(measured)
        result["ran"] = True
    for kind, branch in BRANCHES.items():
        found = _store(reader, kind, branch, stores[kind])
        result["kinds"].append(found)
        result["ran"] = result["ran"] or found["ran"]
    result["samples"] = []
    for kind in BRANCHES:
        grid = store_samples(reader, gallery, kind, stores[kind])
        if grid is not None:
            result["samples"].append(grid)
            result["ran"] = True
    if not result["ran"]:
        return not_run("no benchmark measurements, data metrics or stores found (run the data stages)")
    return result


def _benchmark(measured: dict[str, Any]) -> list[tuple[str, str]]:
    """The embedded benchmark's size, detection rates and difficulty, as (what, value) rows."""
    detection = measured.get("detection") or {}
    rows = [
        ("size, seed", f"{measured.get('size')}, {measured.get('seed')}"),
        (
            "clips / frames / images",
            f"{measured.get('clips')} / {measured.get('frames')} / {measured.get('images')}",
        ),
        (
            "generation time",
            f"{num(measured.get('generation_seconds'), 1)} s ({measured.get('workers', '?')} workers)",
        ),
        (
            "face detector",
            f"{detection.get('detector', '?')} (IoU ≥ {detection.get('iou_threshold', '?')} "
            "with the true face)",
        ),
        ("detection rate, video frames", pct(detection.get("frame_rate"), 2) + " %"),
        ("detection rate, images", pct(detection.get("image_rate"), 2) + " %"),
        ("clips with missed frames", str(len(detection.get("clips_with_misses") or []))),
    ]
    views = (measured.get("difficulty") or {}).get("views") or {}
    if views:
        rows.append(
            (
                "expression from true landmarks, UAR (one frame / frame mean / peak change)",
                " / ".join(pct(views.get(k, {}).get("uar"), 1) + " %" for k in PROBE_VIEWS),
            )
        )
    return rows


def _store(reader: Reader, kind: str, branch: str, store: Path) -> dict[str, Any]:
    """A packed store's metrics and the files its stage skipped (the first `MANIFEST_ROWS`, and why)."""
    metrics = reader.json(f"{store}_metrics.json")
    manifest = reader.csv(f"{store}_manifest.csv")
    if metrics is None and manifest is None:
        return {"kind": kind, "branch": branch, **not_run(f"no {store}_metrics.json")}
    manifest = manifest or []
    rows = [
        (METRIC_LABELS.get(k, k), f"{pct(v)} %" if k == "detection_rate" and v is not None else num(v, 4))
        for k, v in (metrics or {}).items()
        if k != "kind"
    ]
    return {
        "kind": kind,
        "branch": branch,
        "ran": True,
        "metrics": rows,
        "reasons": Counter(r.get("reason", "?") for r in manifest).most_common(),
        "skipped": manifest[:MANIFEST_ROWS],
        "more": max(0, len(manifest) - MANIFEST_ROWS),
        "total_skipped": len(manifest),
    }
