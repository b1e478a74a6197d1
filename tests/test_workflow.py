"""Snakemake runs the pipeline: dry run, a real run on the tiny benchmark, and parse-time validation."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


TINY_PARAMS = """
pretrain:
  train: {epochs: 1, batch_size: 16, num_workers: 0}
ifdd:
  variants: [ifdd_mobilenetv2, baseline_mobilenetv2, control_static, control_dynamics]
  folds: [1]
  img_size: 64
  init: {mobilenetv2: faceid}   # an MViT variant added below starts from none
  model: {width_mult: 0.35, embed_dim: 32}
  train: {epochs: 1, batch_size: 4, lr: 0.001, warmup_epochs: 0.5, num_workers: 0}
dicefer:
  img_size: 32
  init: faceid
  batch_size: 16
  stage_epochs: [1, 1, 1]
  baseline_epochs: 1
  runtime: {num_workers: 0}
"""


def write_params(project: Path, seed: int, extra: str = "") -> None:
    (project / "params.yaml").write_text(f"synthetic:\n  size: tiny\n  seed: {seed}\n{extra}{TINY_PARAMS}")


@pytest.fixture
def tiny_project(tmp_path) -> Path:
    write_params(tmp_path, seed=1)
    return tmp_path


def test_dry_run_plans_the_benchmark(tiny_project):
    result = snakemake(tiny_project, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert "synthesize" in result.stdout
    assert not (tiny_project / "data").exists()


def test_pipeline_runs_then_has_nothing_to_do(tiny_project):
    result = snakemake(tiny_project, "--cores", "2")
    assert result.returncode == 0, result.stderr
    root = tiny_project / "data" / "raw" / "synthetic" / "tiny"
    measured = json.loads((root / "measurements.json").read_text())
    assert measured["params"]["seed"] == 1 and measured["workers"] == 2
    assert len(list((root / "DFEW" / "Clip" / "original").glob("*.mp4"))) == measured["clips"]
    assert (tiny_project / "logs" / "synthesize_tiny.log").is_file()
    assert (tiny_project / "logs" / "benchmarks" / "synthesize_tiny.tsv").is_file()

    stores = tiny_project / "data" / "processed" / "synthetic"
    for kind, count in (("clips", measured["clips"]), ("images", measured["images"])):
        metrics = json.loads((stores / f"{kind}_metrics.json").read_text())
        assert metrics["samples"] + metrics["skipped"] == count and metrics["skipped"] <= 0.05 * count
    assert (tiny_project / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads(
        (tiny_project / "results" / "dicefer" / "dicefer" / "eval" / "metrics.json").read_text()
    )
    summary = json.loads((tiny_project / "results" / "ifdd" / "summary.json").read_text())
    # IFDD on the paper's trunk from faceid, its baseline and the two controls (the default variants run in
    # tests/test_dvc.py)
    assert set(summary) == {"ifdd_mobilenetv2", "baseline_mobilenetv2", "control_static", "control_dynamics"}
    assert set(summary["ifdd_mobilenetv2"]["folds"]) == {"1"}
    pretrained = json.loads((tiny_project / "results" / "pretrain" / "summary.json").read_text())
    assert set(pretrained) == {"resnet18", "mobilenetv2"} and pretrained["resnet18"]["pairs"] == 80
    for log in ("train_ifdd_ifdd_mobilenetv2_fold1", "train_dicefer_dicefer", "train_dicefer_baseline"):
        assert "from faceid (results/pretrain/" in (tiny_project / "logs" / f"{log}.log").read_text()

    archive = tiny_project / "snakemake-report.zip"
    assert snakemake(tiny_project, "--cores", "1", "--report", str(archive)).returncode == 0
    with zipfile.ZipFile(archive) as z:
        assert sum(name.endswith(".png") for name in z.namelist()) == len(
            list((REPO / "workflow/report").glob("*.rst"))
        )

    again = snakemake(tiny_project, "-n", "--cores", "2")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # Only what a job's result depends on re-runs it (ferflow.jobs).
    def planned_after(*replacements: tuple[str, str]) -> dict[str, int]:
        text = (tiny_project / "params.yaml").read_text()
        changed = text
        for old, new in replacements:
            assert old in changed, old
            changed = changed.replace(old, new)
        (tiny_project / "params.yaml").write_text(changed)
        try:
            result = snakemake(tiny_project, "-n", "--cores", "2", "--quiet", "rules")
        finally:
            (tiny_project / "params.yaml").write_text(text)
        assert result.returncode == 0, result.stderr
        rows = (line.split() for line in result.stdout.splitlines())
        return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[1].isdigit() and r[0] != "total"}

    runtime = ("num_workers: 0}", "num_workers: 1, threads: 1, device: cpu, gpus: 2}")
    assert set(planned_after(runtime)) == {"report", "all"}  # it lists every parameter; nothing retrains
    variants = ("control_static, control_dynamics]", "baseline_mvit]")
    grown = planned_after(("folds: [1]", "folds: [1, 2]"), variants)
    assert grown["train_ifdd"] == 4 and "train_dicefer" not in grown and "prepare_shard" not in grown
    assert planned_after(("baseline_epochs: 1", "baseline_epochs: 2"))["train_dicefer"] == 1
    dicefer = planned_after(("stage_epochs: [1, 1, 1]", "stage_epochs: [1, 1, 2]"))
    assert dicefer["train_dicefer"] == 1 and "train_ifdd" not in dicefer
    probes = planned_after(("baseline_epochs: 1", "baseline_epochs: 1\n  probe_folds: 3"))
    assert probes["evaluate_dicefer"] == 2 and "train_dicefer" not in probes
    clips = planned_after(("synthetic:\n", "data: {frames: 12}\nsynthetic:\n"))  # a key of the video branch
    assert clips["check_data"] == 1 and clips["prepare_shard"] == 2 and clips["train_ifdd"] == 4
    assert "pack_images" not in clips and "train_dicefer" not in clips

    # a changed IFDD parameter re-runs IFDD's jobs only
    write_params(tiny_project, seed=1, extra="data:\n  shards: 2\n")
    (tiny_project / "params.yaml").write_text(
        (tiny_project / "params.yaml").read_text().replace("lr: 0.001", "lr: 0.002")
    )
    changed = snakemake(tiny_project, "-n", "--cores", "2", "--quiet", "rules")
    assert changed.returncode == 0, changed.stderr
    planned = changed.stdout
    assert "train_ifdd" in planned and "summarize_ifdd" in planned
    assert "synthesize" not in planned and "prepare_shard" not in planned and "pretrain" not in planned

    # a changed pretraining parameter re-runs pretraining and both methods' training, not the data stages
    (tiny_project / "params.yaml").write_text(
        (tiny_project / "params.yaml").read_text().replace("batch_size: 16, num", "batch_size: 12, num")
    )
    changed = snakemake(tiny_project, "-n", "--cores", "2", "--quiet", "rules")
    assert changed.returncode == 0, changed.stderr
    planned = changed.stdout
    assert "pretrain_faceid" in planned and "train_dicefer" in planned and "train_ifdd" in planned
    assert "prepare_shard" not in planned and "synthesize_faceid" not in planned

    # a changed benchmark parameter re-runs everything downstream
    write_params(tiny_project, seed=2)
    changed = snakemake(tiny_project, "-n", "--cores", "2", "--quiet", "rules")
    assert changed.returncode == 0 and "synthesize" in changed.stdout and "prepare_shard" in changed.stdout


def test_a_backbone_source_is_trained_first(tiny_project):
    """ifdd.init_backbone_from makes the source model an input: asking for IFDD plans the baseline too."""
    target = "results/ifdd/ifdd_mobilenetv2/fold_1/model.pt"

    def planned_training_jobs() -> int:
        result = snakemake(tiny_project, target, "-n", "--cores", "2", "--quiet", "rules")
        assert result.returncode == 0, result.stderr
        row = next(line for line in result.stdout.splitlines() if line.startswith("train_ifdd"))
        return int(row.split()[1])

    assert planned_training_jobs() == 1
    source = "results/ifdd/baseline_mobilenetv2/fold_{fold}/model.pt"
    text = (tiny_project / "params.yaml").read_text()
    (tiny_project / "params.yaml").write_text(
        text.replace("ifdd:\n", f"ifdd:\n  init_backbone_from: {{ifdd_mobilenetv2: '{source}'}}\n")
    )
    assert planned_training_jobs() == 2


def test_a_yaml_error_and_unknown_names_stop_snakemake_at_parse_time(tiny_project):
    (tiny_project / "params.yaml").write_text("synthetic:\n  size: tiny\n data:\n  shards: 2\n")
    result = snakemake(tiny_project, "-n")
    assert result.returncode != 0
    assert "params.yaml, line 3, column 2: not valid YAML (" in result.stderr + result.stdout
    (tiny_project / "params.yaml").write_text("ifdd: {variants: [ifdd_resnet], folds: [6]}\n")
    result = snakemake(tiny_project, "-n")
    message = result.stderr + result.stdout
    assert "params.yaml: invalid parameters (sections: ifdd)" in message
    assert "ifdd.variants: not video models: ['ifdd_resnet']" in message


def test_bad_params_stop_snakemake_before_any_work(tiny_project):
    (tiny_project / "params.yaml").write_text("synthetic:\n  size: tiny\n  noise: 0.1\n")
    result = snakemake(tiny_project, "--cores", "1")
    assert result.returncode != 0
    assert "synthetic.noise: unknown key" in result.stderr
    assert not (tiny_project / "data").exists()


def test_lint_finds_nothing_serious(tiny_project):
    """The only lint left is the advice to pin a conda env or container per rule (we install a venv)."""
    result = snakemake(tiny_project, "--lint")
    output = result.stdout + result.stderr
    findings = [line.strip() for line in output.splitlines() if line.strip().startswith("* ")]
    assert findings, "expected the conda/container advice at least"
    assert all("conda environment or container" in f for f in findings), findings
    # `make lint` accepts that advice and nothing else
    lint = [sys.executable, str(REPO / "scripts" / "lint_workflow.py"), "-s", str(REPO / "Snakefile")]
    passed = subprocess.run([*lint, "-d", str(tiny_project)], capture_output=True, text=True, timeout=300)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "conda environment or container per rule (accepted); nothing else" in passed.stdout
    (tiny_project / "params.yaml").write_text("synthetic: {size: huge}\n")
    failed = subprocess.run([*lint, "-d", str(tiny_project)], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "synthetic.size" in failed.stdout


def test_slurm_profile_maps_gpus(tiny_project):
    """The profile gives time and memory; CPUs and GPUs come from params.yaml (device: cpu asks for none).
    tests/test_slurm.py runs the profile on a real SLURM."""
    profile = REPO / "workflow" / "profiles" / "slurm"

    def train_ifdd() -> str:
        result = snakemake(tiny_project, "--workflow-profile", str(profile), "-n")
        assert result.returncode == 0, result.stderr
        return result.stdout.split("rule train_ifdd")[1].split("\n\n")[0]

    train = train_ifdd()
    assert "gpu=1" in train and "runtime=1440" in train and "mem_mb=32000" in train
    assert "cpus_per_task" not in train  # the CPUs are the rule's threads
    text = (tiny_project / "params.yaml").read_text()
    (tiny_project / "params.yaml").write_text(text.replace("0.5, num_workers: 0}", "0.5, device: cpu}"))
    assert "gpu=0" in train_ifdd()


def test_a_moved_project_is_up_to_date(tmp_path):
    """Rules record sources and the interpreter by relative path: a copy of the project elsewhere (its own
    .venv inside, results copied with their times) has nothing to do."""
    from layouts import dfew_splits, dfew_videos, small_dfew_folds

    first = tmp_path / "first"
    first.mkdir()
    for name in ("Snakefile", "workflow", "src"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, first / name)
    (first / ".venv").symlink_to(Path(sys.prefix))
    folds = small_dfew_folds()
    dfew_splits(first / "DFEW", folds)
    dfew_videos(first / "DFEW", [n for n, _ in folds[1][0] + folds[1][1]], "parts")
    video = "{dataset: dfew, root: DFEW, options: {media: video}}"
    (first / "params.yaml").write_text(f"data:\n  video: {video}\n")
    target = "data/interim/dfew/clips_check.json"

    def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
        python = str(project / ".venv" / "bin" / "python")  # each copy's own interpreter path
        cmd = [python, "-m", "snakemake", target, "--cores", "1", *args]
        return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)

    assert run(first).returncode == 0
    assert json.loads((first / target).read_text())["ok"] is True
    moved = tmp_path / "elsewhere" / "moved"
    shutil.copytree(first, moved, symlinks=True)
    result = run(moved, "-n")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr, result.stdout
