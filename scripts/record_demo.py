"""Collect what `make demo` measured into one JSON: Snakemake's per-job benchmarks and run times, the
benchmark's measurements, the pretraining, IFDD and DICE-FER results, the machine and the commit (and the
study's per-cell job benchmarks when `make study` has run). README's demo figures (stage timings,
pretraining table, results) come from this file.

    make demo && .venv/bin/python scripts/record_demo.py --out docs/measurements/demo_run.json

Run it in the project folder after the demo; `--project` points elsewhere. A result the demo did not
produce is recorded as missing, never guessed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from ferflow import paths
from ferflow.config import load_params
from ferflow.core.atomic import write_json

#: A Snakemake log's timestamp line, e.g. "[Sat Dec  6 12:58:13 2025]".
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.MULTILINE)


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def benchmarks(folder: Path) -> dict[str, dict[str, float]]:
    """Each job's Snakemake benchmark (`logs/benchmarks/<job>.tsv`, not the study's): wall seconds, CPU
    seconds, peak resident memory (MB) and mean load."""
    found = {}
    for path in sorted(folder.glob("*.tsv")):
        with path.open(newline="") as f:
            row = next(csv.DictReader(f, delimiter="\t"), None)
        if row is None:
            continue
        wanted = {
            "s": "seconds",
            "cpu_time": "cpu_seconds",
            "max_rss": "max_rss_mb",
            "mean_load": "mean_load",
        }
        found[path.stem] = {
            name: float(row[key]) for key, name in wanted.items() if row.get(key) not in (None, "", "-")
        }
    return found


def snakemake_run(folder: Path) -> dict[str, Any] | None:
    """The latest Snakemake log's first and last timestamps: the run's wall time."""
    logs = sorted(folder.glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    stamps = [
        datetime.strptime(" ".join(s.split()), "%a %b %d %H:%M:%S %Y")
        for s in STAMP.findall(logs[-1].read_text())
    ]
    if not stamps:
        return None
    return {
        "log": logs[-1].name,
        "first": stamps[0].isoformat(),
        "last": stamps[-1].isoformat(),
        "seconds": (stamps[-1] - stamps[0]).total_seconds(),
    }


def dicefer_results(root: Path) -> dict[str, Any]:
    """Accuracy, UAR, macro F1, MIG and the probes of DICE-FER and its baseline."""
    found: dict[str, Any] = {}
    for model in ("dicefer", "baseline"):
        m = _json(root / "dicefer" / model / "eval" / "metrics.json")
        if m is None:
            found[model] = None
            continue
        found[model] = {
            "accuracy": m.get("war"),
            "uar": m.get("uar"),
            "macro_f1": m.get("macro_f1"),
            "mig": (m.get("mig") or {}).get("value"),
            "probes": {
                k: {"accuracy": v["accuracy"], "chance": v["chance"]}
                for k, v in (m.get("probes") or {}).items()
            },
        }
    return found


def pretrain_results(root: Path) -> dict[str, Any] | None:
    """Each trunk's verification figures and training seconds (its model card)."""
    summary = _json(root / "pretrain" / "summary.json")
    if summary is None:
        return None
    for trunk, figures in summary.items():
        card = _json(root / "pretrain" / trunk / "model_card.json") or {}
        figures["train_seconds"] = card.get("train_seconds")
    return summary


def git_commit(project: Path) -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True)
    return done.stdout.strip() or None


def record(project: Path) -> dict[str, Any]:
    params_file = project / "params.yaml"
    params = load_params(params_file)
    results = project / paths.RESULTS
    measurements = _json(project / paths.synthetic_root(params) / "measurements.json") or {}
    return {
        "created": datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(project),
        "params_sha256": hashlib.sha256(params_file.read_bytes()).hexdigest(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_now": [round(x, 2) for x in os.getloadavg()],
        },
        "snakemake_run": snakemake_run(project / ".snakemake" / "log"),
        "jobs": benchmarks(project / paths.LOGS / "benchmarks"),
        "study_jobs": benchmarks(project / paths.LOGS / "benchmarks" / "study"),  # after `make study`
        "benchmark": {
            k: measurements.get(k)
            for k in ("size", "clips", "images", "generation_seconds", "detection", "difficulty")
        },
        "pretrain": pretrain_results(results),
        "ifdd": _json(results / "ifdd" / "summary.json"),
        "dicefer": dicefer_results(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    found = record(args.project)
    found["command"] = f"scripts/record_demo.py --project {args.project} --out {args.out}"
    write_json(args.out, found)
    missing = [k for k in ("snakemake_run", "pretrain", "ifdd") if found[k] is None]
    missing += [f"dicefer.{k}" for k, v in found["dicefer"].items() if v is None]
    print(
        f"{args.out}: {len(found['jobs'])} job benchmarks"
        + (f"; missing: {', '.join(missing)}" if missing else "")
    )


if __name__ == "__main__":
    main()
