"""scripts/record_demo.py: a demo run's figures, collected from the files the run wrote, into one JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_record_demo_collects_what_the_run_wrote(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    _write(
        tmp_path / "logs/benchmarks/synthesize_demo.tsv",
        HEADER + "116.2\t0:01:56\t812.5\t1\t1\t1\t0\t0\t98.1\t180.4\n",
    )
    _write(
        tmp_path / "logs/benchmarks/train_dicefer_dicefer.tsv",
        HEADER + "296.0\t0:04:56\t2048\t1\t1\t1\t0\t0\t99\t290\n",
    )
    _write(
        tmp_path / "logs/benchmarks/study/train_ifdd_x_seed0_fold1.tsv",
        HEADER + "1\t0:00:01\t1\t1\t1\t1\t0\t0\t1\t1\n",
    )
    _write(
        tmp_path / ".snakemake/log/2025-12-06T125813.snakemake.log",
        "Building DAG of jobs...\n[Sat Dec  6 12:58:13 2025]\nrule synthesize:\n"
        "[Sat Dec  6 13:13:23 2025]\nDone\n",
    )
    _write(
        tmp_path / "data/raw/synthetic/demo/measurements.json",
        json.dumps(
            {"size": "demo", "clips": 336, "generation_seconds": 110.5, "difficulty": {"views": {"x": 1}}}
        ),
    )
    _write(
        tmp_path / "results/pretrain/summary.json",
        json.dumps({"resnet18": {"accuracy": 0.865, "tar": 0.163}}),
    )
    _write(tmp_path / "results/pretrain/resnet18/model_card.json", json.dumps({"train_seconds": 194.0}))
    _write(tmp_path / "results/ifdd/summary.json", json.dumps({"ifdd_mobilenetv2": {"mean_uar": 0.333}}))
    metrics = {
        "war": 0.74,
        "uar": 0.73,
        "macro_f1": 0.721,
        "mig": {"value": 0.001},
        "probes": {"identity_from_E": {"accuracy": 0.146, "chance": 0.064, "folds": 5}},
    }
    _write(tmp_path / "results/dicefer/dicefer/eval/metrics.json", json.dumps(metrics))

    out = tmp_path / "demo_run.json"
    script = REPO / "scripts" / "record_demo.py"
    done = subprocess.run(
        [sys.executable, script, "--project", str(tmp_path), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "2 job benchmarks; missing: dicefer.baseline" in done.stdout
    found = json.loads(out.read_text())
    assert found["jobs"] == {
        "synthesize_demo": {"seconds": 116.2, "cpu_seconds": 180.4, "max_rss_mb": 812.5, "mean_load": 98.1},
        "train_dicefer_dicefer": {
            "seconds": 296.0,
            "cpu_seconds": 290.0,
            "max_rss_mb": 2048.0,
            "mean_load": 99.0,
        },
    }
    assert found["study_jobs"] == {
        "train_ifdd_x_seed0_fold1": {"seconds": 1.0, "cpu_seconds": 1.0, "max_rss_mb": 1.0, "mean_load": 1.0}
    }
    assert found["snakemake_run"]["seconds"] == 15 * 60 + 10
    assert found["benchmark"]["generation_seconds"] == 110.5 and found["benchmark"]["detection"] is None
    assert found["pretrain"] == {"resnet18": {"accuracy": 0.865, "tar": 0.163, "train_seconds": 194.0}}
    assert found["ifdd"] == {"ifdd_mobilenetv2": {"mean_uar": 0.333}}
    assert found["dicefer"]["dicefer"] == {
        "accuracy": 0.74,
        "uar": 0.73,
        "macro_f1": 0.721,
        "mig": 0.001,
        "probes": {"identity_from_E": {"accuracy": 0.146, "chance": 0.064}},
    }
    assert found["dicefer"]["baseline"] is None
    assert found["command"].startswith("scripts/record_demo.py --project")
