"""DVC drives the phases through Snakemake: reproduce, re-run only what a parameter touches, metrics,
experiments, and the checkout recovery. Runs in a temporary git repository on the tiny benchmark."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = {
    "synthetic": {"size": "tiny"},
    "pretrain": {"train": {"epochs": 1, "batch_size": 16, "num_workers": 0}},
    "ifdd": {
        "folds": [1],
        "img_size": 64,
        "model": {"width_mult": 0.35, "embed_dim": 32},
        "train": {"epochs": 1, "batch_size": 4, "lr": 0.001, "warmup_epochs": 0.5, "num_workers": 0},
    },
    "dicefer": {"img_size": 32, "batch_size": 16, "stage_epochs": [1, 1, 1], "baseline_epochs": 1},
    # the stage's wiring only (tests/test_study.py runs a study): no cells, just the summary
    "study": {
        "seeds": [0],
        "folds": [1],
        "ifdd": {"variants": [], "compare": []},
        "dicefer": {"settings": {}, "compare": []},
    },
}


def run(cwd: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def stage_targets() -> dict[str, list[str]]:
    """The Snakemake targets each DVC stage builds (the words between `snakemake` and `--cores`)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: s["cmd"].split()[1 : s["cmd"].split().index("--cores")] for name, s in stages.items()}


def planned_rules(*targets: str) -> set[str]:
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-n", "--quiet", "rules", *targets]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return {
        line.split()[0] for line in out.stdout.splitlines() if line.strip() and line.split()[0].isidentifier()
    }


def test_dvc_stages_cover_the_snakemake_workflow():
    """dvc.yaml and the Snakefile must not drift: together the stages' targets build what `all` builds, and
    every rule file is a dependency of some stage."""
    targets = stage_targets()
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(targets) >= {"data", "pretrain", "ifdd", "dicefer", "report", "study"}
    deps = {d for s in stages.values() for d in s["deps"]}
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        assert str(rule_file.relative_to(REPO)) in deps, f"{rule_file.name} is no DVC dependency"
    everything = planned_rules("--forceall")
    covered = set().union(*(planned_rules("--forceall", *t) for t in targets.values()))
    assert everything - {"all", "rule", "job", "total"} <= covered


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dvcproject")
    for name in ("Snakefile", "dvc.yaml", "workflow", "src"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    (root / ".venv").symlink_to(BIN.parent)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section] = {**params.get(section, {}), **values}
    params["ifdd"]["train"] = {
        **yaml.safe_load((REPO / "params.yaml").read_text())["ifdd"]["train"],
        **TINY["ifdd"]["train"],
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text() + "/.venv\n")
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "ci@example.invalid")
    run(root, "git", "config", "user.name", "ci")
    run(root, str(BIN / "dvc"), "init", "-q")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "project")
    run(root, str(BIN / "dvc"), "repro")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "reproduced")
    return root


def snakemake_logs(root: Path) -> set[Path]:
    return set((root / ".snakemake" / "log").glob("*.snakemake.log"))


def test_repro_from_nothing_gives_metrics(project):
    summary = json.loads((project / "results" / "ifdd" / "summary.json").read_text())
    assert {"ifdd_mobilenetv2", "baseline_mobilenetv2"} <= set(summary)
    shown = run(project, str(BIN / "dvc"), "metrics", "show", "--json").stdout
    assert "mean_uar" in shown and "detection_rate" in shown and "macro_f1" in shown
    assert (project / "reports" / "report.pdf").is_file()
    assert json.loads((project / "results" / "study" / "summary.json").read_text())["comparisons"] == []
    assert "Data and pipelines are up to date" in run(project, str(BIN / "dvc"), "status").stdout


def test_changed_ifdd_param_reruns_only_ifdd(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["ifdd"]["train"]["lr"] = 0.002
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(project, str(BIN / "dvc"), "status", "--json").stdout
    # report depends on results/ifdd, so it follows later; the study's IFDD cells train with these params
    assert set(json.loads(status)) == {"ifdd", "study"}
    before = snakemake_logs(project)
    repro = run(project, str(BIN / "dvc"), "repro").stdout
    assert "Running stage 'ifdd'" in repro
    assert "Running stage 'data'" not in repro and "Running stage 'dicefer'" not in repro
    log = "".join(p.read_text() for p in snakemake_logs(project) - before)
    assert "rule train_ifdd" in log or "train_ifdd" in log
    assert "synthesize" not in log and "prepare_shard" not in log and "train_dicefer" not in log
    diff = run(project, str(BIN / "dvc"), "metrics", "diff", "--all", "--json").stdout
    assert "results/ifdd/summary.json" in diff
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "lr 0.002")


def test_changed_pretrain_param_marks_only_pretraining_stale(project):
    params = (project / "params.yaml").read_text()
    changed = yaml.safe_load(params)
    changed["pretrain"]["train"]["lr"] = 0.005
    (project / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    try:
        status = json.loads(run(project, str(BIN / "dvc"), "status", "--json").stdout)
        assert set(status) == {"pretrain"}  # its products then change, and the trainers follow
    finally:
        (project / "params.yaml").write_text(params)
    assert "Data and pipelines are up to date" in run(project, str(BIN / "dvc"), "status").stdout


def test_experiment_with_a_set_parameter(project):
    run(project, str(BIN / "dvc"), "exp", "run", "-S", "ifdd.train.lr=0.003")
    shown = run(project, str(BIN / "dvc"), "exp", "show", "--json").stdout
    assert "0.003" in shown
    # the README's readable views
    keep = "Experiment|ifdd.train.lr|.*mean_uar|.*mean_war"  # dvc matches at the start of a name
    table = run(project, str(BIN / "dvc"), "exp", "show", "--md", "--drop", ".*", "--keep", keep).stdout
    header = table.splitlines()[0]
    assert "ifdd.train.lr" in header and "ifdd_mobilenetv2.mean_uar" in header, header
    assert "detection_rate" not in header and "dicefer" not in header and "0.003" in table
    metrics = run(
        project, str(BIN / "dvc"), "metrics", "show", "--md", "--precision", "3", "results/ifdd/summary.json"
    )
    assert metrics.stdout.startswith("| Path") and "mean_uar" in metrics.stdout


def test_checkout_then_touch_leaves_nothing_to_do(project):
    run(project, str(BIN / "dvc"), "checkout", "--force")
    run(project, str(BIN / "snakemake"), "--touch", "--cores", "1")
    dry = run(project, str(BIN / "snakemake"), "-n", "--cores", "1")
    assert "Nothing to be done" in dry.stdout + dry.stderr
