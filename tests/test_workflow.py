"""Snakemake runs the pipeline: dry run, a real run on the tiny benchmark, and parse-time validation."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def tiny_project(tmp_path) -> Path:
    (tmp_path / "params.yaml").write_text("synthetic:\n  size: tiny\n  seed: 1\n")
    return tmp_path


def test_dry_run_plans_the_benchmark(tiny_project):
    result = snakemake(tiny_project, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert "synthesize" in result.stdout
    assert not (tiny_project / "data").exists()


def test_run_generates_the_benchmark_then_has_nothing_to_do(tiny_project):
    result = snakemake(tiny_project, "--cores", "2")
    assert result.returncode == 0, result.stderr
    root = tiny_project / "data" / "raw" / "synthetic" / "tiny"
    measured = json.loads((root / "measurements.json").read_text())
    assert measured["params"]["seed"] == 1 and measured["workers"] == 2
    assert len(list((root / "DFEW" / "Clip" / "original").glob("*.mp4"))) == measured["clips"]
    assert (tiny_project / "logs" / "synthesize_tiny.log").is_file()
    assert (tiny_project / "logs" / "benchmarks" / "synthesize_tiny.tsv").is_file()

    again = snakemake(tiny_project, "-n", "--cores", "2")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # a changed benchmark parameter re-runs the rule
    (tiny_project / "params.yaml").write_text("synthetic:\n  size: tiny\n  seed: 2\n")
    changed = snakemake(tiny_project, "-n", "--cores", "2")
    assert changed.returncode == 0 and "synthesize" in changed.stdout


def test_bad_params_stop_snakemake_before_any_work(tiny_project):
    (tiny_project / "params.yaml").write_text("synthetic:\n  size: tiny\n  noise: 0.1\n")
    result = snakemake(tiny_project, "--cores", "1")
    assert result.returncode != 0
    assert "synthetic.noise: unknown key" in result.stderr
    assert not (tiny_project / "data").exists()
