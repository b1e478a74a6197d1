"""The device check's summary (scripts/device-check.sh): its steps, the CUDA tests and the benchmarks' key
figures beside the issue's targets, on one screen and as `summary.json` in the check's folder.

    python -m ferflow.bench.summary OUTDIR
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from ferflow.bench.feed import TRAIN_TARGET_CLIPS_PER_S
from ferflow.core.atomic import write_json

#: The issue's target for IFDD's training-time overhead over baseline_mvit (time ratio; recorded only).
MAX_IFDD_OVERHEAD = 1.15
#: The issue's limit for the whole check on one H100, install included (seconds).
CHECK_LIMIT_S = 8 * 60
STEPS = "steps.tsv"
TESTS = "cuda-tests.xml"
BENCHES = {
    "models": "bench-models.json",
    "models_compiled": "bench-models-compile.json",
    "dicefer": "bench-dicefer.json",
    "feed": "bench-feed.json",
}


def _tests(path: Path) -> dict[str, Any] | None:
    """Counts, failed tests and skip reasons from pytest's JUnit XML."""
    if not path.is_file():
        return None
    cases = ET.parse(path).getroot().iter("testcase")
    outcome: Counter[str] = Counter()
    failed, skipped = [], Counter()
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        if (bad := case.find("failure")) is not None or (bad := case.find("error")) is not None:
            outcome["failed"] += 1
            failed.append({"test": name, "message": (bad.get("message") or "")[:300]})
        elif (skip := case.find("skipped")) is not None:
            outcome["skipped"] += 1
            skipped[skip.get("message") or ""] += 1
        else:
            outcome["passed"] += 1
    return {
        "passed": outcome["passed"],
        "failed": outcome["failed"],
        "skipped": outcome["skipped"],
        "failures": failed,
        "skip_reasons": dict(skipped),
    }


def _steps(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open() as f:
        return [
            {"step": s, "exit": int(rc), "seconds": int(sec)} for s, rc, sec in csv.reader(f, delimiter="\t")
        ]


def summarize(folder: Path) -> dict[str, Any]:
    """Gather what a device check wrote into `folder`."""
    folder = Path(folder)
    benches = {
        name: json.loads((folder / file).read_text()) if (folder / file).is_file() else None
        for name, file in BENCHES.items()
    }
    steps = _steps(folder / STEPS)
    return {
        "steps": steps,
        "seconds": sum(s["seconds"] for s in steps),
        "ok": bool(steps) and all(s["exit"] == 0 for s in steps),
        "tests": _tests(folder / TESTS),
        "benchmarks": benches,
        "targets": {
            "ifdd_mvit_train_clips_per_s": TRAIN_TARGET_CLIPS_PER_S,
            "max_ifdd_overhead": MAX_IFDD_OVERHEAD,
            "check_seconds": CHECK_LIMIT_S,
            "where": "one H100, ifdd_mvit vs baseline_mvit, batch 16, 16x224^2, bf16",
        },
    }


def _models_lines(label: str, figures: dict[str, Any] | None) -> list[str]:
    if figures is None:
        return [f"{label}: not measured"]
    s = figures["settings"]
    head = (
        f"{label}: {s['batch']} x {s['num_frames']}x{s['img_size']}^2 on {s['device']} "
        f"({figures['machine'].get('gpu', 'CPU')}), amp {s['amp']}, compile {s.get('compile', False)}"
    )
    lines = [head]
    for family, phases in figures.items():
        if family in ("settings", "machine"):
            continue
        for phase, f in phases.items():
            rates = ", ".join(
                f"{k.removesuffix('_clips_per_s')} {v:.1f}" for k, v in f.items() if k.endswith("_s")
            )
            lines.append(f"  {family} {phase:<9} clips/s: {rates}; IFDD overhead x{f['ifdd_overhead']:.3f}")
    return lines


def render(summary: dict[str, Any]) -> str:
    """The one-screen text."""
    t = summary["targets"]
    lines = [
        "device check",
        "steps: "
        + ", ".join(
            f"{s['step']} {s['seconds']}s" + ("" if s["exit"] == 0 else f" FAILED ({s['exit']})")
            for s in summary["steps"]
        ),
    ]
    lines.append(
        f"total {summary['seconds']} s (limit on one H100, install included: {t['check_seconds']} s)"
    )
    tests = summary["tests"]
    if tests is None:
        lines.append("cuda-tests: not run")
    else:
        lines.append(
            f"cuda-tests: {tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped"
        )
        lines += [f"  FAILED {f['test']}: {f['message'][:120]}" for f in tests["failures"]]
        lines += [f"  skipped {n}: {reason[:170]}" for reason, n in tests["skip_reasons"].items()]
    b = summary["benchmarks"]
    lines += _models_lines("models", b["models"])
    lines += _models_lines("models, compiled", b["models_compiled"])
    if (d := b["dicefer"]) is None:
        lines.append("dicefer: not measured")
    else:
        rates = ", ".join(f"{k} {next(iter(v.values())):.1f}" for k, v in d["results"].items())
        size, batch = d["settings"]["img_size"], d["settings"]["batch"]
        lines.append(f"dicefer {size}^2, batch {batch} on {d['device']}, pairs or images/s: {rates}")
    if (f := b["feed"]) is None:
        lines.append("feed: not measured")
    else:
        s = f["settings"]
        lines.append(
            f"feed: {s['variant']} {s['batch']} x {s['num_frames']}x{s['img_size']}^2 on {s['device']}, "
            f"{s['workers']} loader workers"
        )
        for where in ("loader", "device"):
            loader, training = f["loader_clips_per_s"][where], f["training_clips_per_s"][where]
            verdict = "keeps up" if f["loader_keeps_up"][where] else "starves training"
            lines.append(
                f"  augment in {where:<6}: loader {loader:.1f} clips/s, training {training:.1f} clips/s, "
                f"ratio {f['loader_over_training'][where]:.2f} ({verdict})"
            )
    lines.append(
        f"targets ({t['where']}; not yet measured on a GPU): ifdd_mvit training >= "
        f"{t['ifdd_mvit_train_clips_per_s']:.0f} clips/s, IFDD overhead <= x{t['max_ifdd_overhead']}"
    )
    lines.append("result: " + ("every step passed" if summary["ok"] else "FAILED"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the summary of the check in folder argv[0] and write its summary.json; 1 when a step failed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ferflow.bench.summary OUTDIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    summary = summarize(folder)
    write_json(folder / "summary.json", summary)
    print(render(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
