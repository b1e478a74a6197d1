"""DVC drives the phases through Snakemake: reproduce, re-run only what a parameter or a package file
touches, metrics, experiments, and the checkout recovery. Runs in a temporary git repository on the tiny
benchmark; the reproduction also records what each `ferflow` process imported."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_deps import rules, shell_commands

import ferflow
from ferflow.deps import command_sources

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


#: Loaded by every Python process (PYTHONPATH): a `python -m ferflow` process writes, at exit, its arguments
#: and the ferflow modules it imported.
IMPORT_TRACE = """
import atexit, json, os, sys

def _record():
    if sys.argv and sys.argv[0].endswith(os.path.join("ferflow", "__main__.py")):
        names = [n for n in sys.modules if n.split(".")[0] == "ferflow"]
        files = sorted(f for n in names if (f := getattr(sys.modules[n], "__file__", None)))
        with open(os.path.join(os.path.dirname(__file__), f"{os.getpid()}.json"), "w") as out:
            json.dump({"argv": sys.argv[1:], "files": files}, out)

atexit.register(_record)
"""


def run(cwd: Path, *cmd: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **extra_env}
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
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text() + "/.venv\n/.import-trace\n")
    (root / ".import-trace").mkdir()
    (root / ".import-trace" / "sitecustomize.py").write_text(IMPORT_TRACE)
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "ci@example.invalid")
    run(root, "git", "config", "user.name", "ci")
    run(root, str(BIN / "dvc"), "init", "-q")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "project")
    run(root, str(BIN / "dvc"), "repro", PYTHONPATH=str(root / ".import-trace"))
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "reproduced")
    return root


def snakemake_logs(root: Path) -> set[Path]:
    return set((root / ".snakemake" / "log").glob("*.snakemake.log"))


def test_repro_from_nothing_gives_metrics(project):
    summary = json.loads((project / "results" / "ifdd" / "summary.json").read_text())
    assert set(summary) == {"ifdd_smallcnn", "control_static", "control_dynamics"}  # the demo's models
    shown = run(project, str(BIN / "dvc"), "metrics", "show", "--json").stdout
    assert "mean_uar" in shown and "detection_rate" in shown and "macro_f1" in shown
    assert (project / "reports" / "report.pdf").is_file()
    assert json.loads((project / "results" / "study" / "summary.json").read_text())["comparisons"] == []
    assert "Data and pipelines are up to date" in run(project, str(BIN / "dvc"), "status").stdout


def test_each_command_imported_only_sources_its_rule_lists(project):
    """What a real run imports is among the derived sources: every `ferflow` process of the reproduction
    loaded only files of command_sources(its commands), and every command the rules run was seen."""
    package = Path(ferflow.__file__).parent  # the processes import the installed (editable) package
    seen = set()
    for trace in (project / ".import-trace").glob("*.json"):
        record = json.loads(trace.read_text())
        commands = shell_commands(record["argv"])
        seen.update(commands)
        loaded = {Path(f).relative_to(package) for f in record["files"]}
        listed = {p.relative_to(package) for p in command_sources(package, *commands)}
        assert loaded <= listed, f"{commands} imported {sorted(map(str, loaded - listed))}, not listed"
    words = (r["shell"].split() for r in rules().values())
    ran = {c for w in words if "{params.cli}" in w for c in shell_commands(w[w.index("{params.cli}") + 1 :])}
    assert ran <= seen and len(seen) >= 15, sorted(ran - seen)


def _jobs(dry_run: str) -> list[tuple[str, set[str], set[str]]]:
    """(rule, inputs, outputs) of each job a `snakemake -n` run lists."""
    found = []
    for block in re.split(r"\n(?:local)?rule ", dry_run)[1:]:
        fields = dict(re.findall(r"^ {4}(\w+): (.*)$", block, re.M))
        inputs, outputs = (set(fields.get(k, "").split(", ")) - {""} for k in ("input", "output"))
        found.append((block.split(":")[0], inputs, outputs))
    return found


def _snakemake_dry_run(project: Path, *args: str) -> str:
    return run(project, str(BIN / "snakemake"), "all", "study", "-n", "--cores", "1", *args).stdout


def _stale_after_editing(project: Path, file: str) -> tuple[set[str], set[str]]:
    """The rules Snakemake plans and the DVC stages `dvc status` calls changed once `file` is edited; the
    file is restored, with its time, afterwards."""
    path = project / file
    text, stat = path.read_bytes(), path.stat()
    path.write_bytes(text + b"\n# edited\n")
    try:
        planned = {rule for rule, _, _ in _jobs(_snakemake_dry_run(project))}
        status = json.loads(run(project, str(BIN / "dvc"), "status", "--json").stdout)
    finally:
        path.write_bytes(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return planned, set(status)


def _importers(project: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per rule and per DVC stage, the package files its commands import (ferflow.deps)."""
    package = project / "src" / "ferflow"
    by_rule, by_file = {}, {}
    for name, rule in rules().items():
        words = rule["shell"].split()
        if "{params.cli}" in words:
            commands = shell_commands(words[words.index("{params.cli}") + 1 :])
            by_rule[name] = {str(p.relative_to(project)) for p in command_sources(package, *commands)}
            by_file.setdefault(rule["file"], set()).update(by_rule[name])
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    by_stage = {
        name: set().union(*(by_file.get(d, set()) for d in stage["deps"])) for name, stage in stages.items()
    }
    return by_rule, by_stage


def _check_stale_marks(project: Path, files: list[str]) -> None:
    """Edit each file: Snakemake re-runs the jobs of the rules that import it and what follows them, and
    nothing else; DVC calls changed the stages whose rules import it, and no other."""
    by_rule, by_stage = _importers(project)
    jobs = _jobs(_snakemake_dry_run(project, "--forceall"))
    for file in files:
        importing = {r for r, found in by_rule.items() if file in found}
        stale = [(r, i, o) for r, i, o in jobs if file in i]  # the jobs Snakemake sees the file as input of
        assert {r for r, _, _ in stale} == importing & {r for r, _, _ in jobs}, file
        outputs = set().union(*(o for _, _, o in stale))
        while more := [(r, i, o) for r, i, o in jobs if (r, i, o) not in stale and i & outputs]:
            stale += more  # and the jobs that read their outputs, and so on
            outputs |= set().union(*(o for _, _, o in more))
        planned, stages = _stale_after_editing(project, file)
        assert planned == {r for r, _, _ in stale}, file
        assert stages == {s for s, found in by_stage.items() if file in found}, file
    assert "Data and pipelines are up to date" in run(project, str(BIN / "dvc"), "status").stdout


def test_an_edited_package_file_marks_stale_exactly_the_rules_and_stages_importing_it(project):
    """A representative few (the full sweep: the slow test below): one every command imports, the
    pretraining's model code (issue 19's example), the report's stylesheet, and a file no rule imports."""
    files = ["data/records.py", "models/dicefer.py", "report/templates/report.css", "predict.py"]
    _check_stale_marks(project, [f"src/ferflow/{f}" for f in files])


@pytest.mark.slow
def test_every_package_file_marks_stale_exactly_the_rules_and_stages_importing_it(project):
    package = project / "src" / "ferflow"
    files = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    _check_stale_marks(project, sorted(str(p.relative_to(project)) for p in files))


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
    assert "ifdd.train.lr" in header and "ifdd_smallcnn.mean_uar" in header, header
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
