"""The SLURM profile on a real one-node SLURM (scripts/slurm-test-cluster.sh): README's commands as written,
the request each job makes, the check before anything is submitted, and every bad ending ending the run.

The cluster needs root (slurmd) and, where SLURM is missing, apt; elsewhere these tests are skipped with the
reason. Only one test cluster runs on a machine at a time (it owns /etc/slurm/slurm.conf)."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from test_workflow import TINY_PARAMS

from ferflow.cluster import parse_minutes
from ferflow.config import validate_params

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-test-cluster.sh"
PROFILE = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
# Room for the profile's biggest request (32000 MB) beside the bad endings' jobs; 4 CPUs run two of the
# pipeline's one-thread jobs beside them (the machine may have 2 cores).
ADVERTISED = {"cpus": 4, "mem": 48000, "gpus": 1}

pytestmark = pytest.mark.slurm

TINY = "synthetic: {size: tiny, seed: 1}\n" + TINY_PARAMS  # what tests/test_workflow.py runs on one machine

# Jobs that end badly, each in its own run of the profile (the profile's squeue status command and retries).
BAD_ENDINGS = """
rule fails:
    output: "fails.txt"
    resources: mem_mb=1000
    shell: "exit 3"

rule cancelled:
    output: "cancelled.txt"
    resources: mem_mb=1000
    shell: "sleep 3000 && touch {output}"

rule interrupted:
    output: "interrupted.txt"
    resources: mem_mb=1000
    shell: "sleep 3000 && touch {output}"

rule timeout:
    output: "timeout.txt"
    resources: mem_mb=1000, runtime=1
    shell: "sleep 600 && touch {output}"

rule out_of_memory:
    output: "out_of_memory.txt"
    resources: mem_mb=1000
    shell: "python3 -c 'import time; x = b\\"x\\" * 2_000_000_000; time.sleep(120)'"
"""


def readme_commands() -> list[str]:
    """The commands of README's "Clusters (SLURM)" section, in order, without their comments."""
    section = (REPO / "README.md").read_text().split("## Clusters (SLURM)")[1].split("\n## ")[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(".venv/bin/snakemake")]


def start(folder: Path, *options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("a SLURM test cluster needs root (slurmd starts jobs as their users)")
    began = time.monotonic()
    done = subprocess.run(
        ["bash", str(SCRIPT), "start", str(folder), *options], capture_output=True, text=True, timeout=900
    )
    if done.returncode == 2:
        pytest.skip(f"no SLURM cluster here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("slurm-test-cluster:")]
    print(*said, f"(started in {time.monotonic() - began:.0f} s)", sep="\n", flush=True)


def stop(folder: Path) -> None:
    subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=True, timeout=180)


def project(folder: Path, params: str) -> Path:
    """A project folder laid out as the README assumes (the repository's files, this environment)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "src"):
        (folder / name).symlink_to(REPO / name)
    (folder / ".venv").symlink_to(Path(sys.prefix))
    (folder / "params.yaml").write_text(params)
    return folder


def shell(command: str, cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def submitted(output: str) -> dict[str, str]:
    """SLURM job id -> rule, from the plugin's lines in a run's output."""
    found = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", output)
    return dict(found)


def job_record(slurm_id: str) -> dict[str, str]:
    """`scontrol show job` as key -> value (the test cluster keeps finished jobs an hour: MinJobAge)."""
    text = subprocess.run(
        ["scontrol", "-o", "show", "job", slurm_id], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", text))


def expected_request(rule: str, params) -> dict[str, int]:
    """What the profile and params.yaml say a rule's sbatch request is (threads 0 -> 1 on a cluster)."""
    runtime = {
        "train_ifdd": params.ifdd.train,
        "train_dicefer": params.dicefer.runtime,
        "pretrain_faceid": params.pretrain.train,
    }.get(rule)
    site = {**PROFILE["default-resources"], **PROFILE["set-resources"].get(rule, {})}
    return {
        "minutes": site["runtime"],
        "memory_mb": site["mem_mb"],
        "cpus": (runtime.threads or 1) if runtime else 1,
        "gpus": runtime.gpus if runtime and runtime.device != "cpu" else 0,
    }


def observed_request(record: dict[str, str]) -> dict[str, int]:
    gpus = re.search(r"gpu:(\d+)", record.get("TresPerJob", ""))
    return {
        "minutes": parse_minutes(record["TimeLimit"]),
        "memory_mb": int(record["MinMemoryNode"].rstrip("M")),
        "cpus": int(record["NumCPUs"]),
        "gpus": int(gpus.group(1)) if gpus else 0,
    }


def _terminal_signals() -> None:
    """SIGINT as in a terminal's foreground job. A shell that starts a background command (`.ci/run &`)
    without job control hands it SIGINT ignored, every child inherits that, and Python then never raises
    KeyboardInterrupt: Ctrl-C would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Run:
    """A Snakemake run in the background, in its own session (as a terminal's foreground job), and the time
    it ended."""

    def __init__(self, command: list[str], folder: Path):
        self.log = folder / "run.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_terminal_signals,
            )
        self.ended: float | None = None
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def finish(self, timeout: float) -> tuple[int, str, float]:
        """Exit status, output, and when it ended."""
        self.process.wait(timeout=timeout)
        while self.ended is None:
            time.sleep(0.1)
        return self.process.returncode, self.log.read_text(), self.ended


def running_job(folder: Path, timeout: float) -> str:
    """The SLURM id of the job that the run in `folder` submitted, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-t", "running", "-o", "%i %Z"], capture_output=True, text=True
        )
        for line in queue.stdout.splitlines():
            if line.split()[1:] == [str(folder)]:
                return line.split()[0]
        time.sleep(1)
    raise AssertionError(f"no job of {folder} ran within {timeout} s")


@pytest.fixture(scope="class")
def advertised_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm-advertised")
    start(folder, *(arg for key, value in ADVERTISED.items() for arg in (f"--{key}", str(value))))
    yield folder
    stop(folder)


@pytest.fixture(scope="class")
def bad_endings(advertised_cluster, tmp_path_factory):
    """One run of the profile per rule of BAD_ENDINGS, started together before the pipeline's run, which
    they then share the cluster with. Once their jobs run, one run gets SIGINT (Ctrl-C in a terminal) and one
    job is cancelled (scancel). Yields rule -> (Run, the time its ending began)."""
    root = tmp_path_factory.mktemp("bad-endings")
    profile = str(REPO / "workflow" / "profiles" / "slurm")
    runs = {}
    try:
        for rule in re.findall(r"^rule (\w+):", BAD_ENDINGS, re.M):
            (root / rule).mkdir()
            (root / rule / "Snakefile").write_text(BAD_ENDINGS)
            command = [sys.executable, "-m", "snakemake", "--workflow-profile", profile, rule]
            runs[rule] = Run(command, root / rule)
        began = dict.fromkeys(runs, time.monotonic())
        running_job(root / "interrupted", timeout=300)
        os.killpg(runs["interrupted"].process.pid, signal.SIGINT)
        began["interrupted"] = time.monotonic()
        subprocess.run(["scancel", running_job(root / "cancelled", timeout=300)], check=True)
        began["cancelled"] = time.monotonic()
        yield {rule: (run, began[rule]) for rule, run in runs.items()}
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)


@pytest.fixture(scope="class")
def pipeline(advertised_cluster, bad_endings, tmp_path_factory):
    """README's commands, as written, on the tiny benchmark."""
    folder = project(tmp_path_factory.mktemp("project"), TINY)
    results = [shell(command, folder) for command in readme_commands()]
    return folder, results


@pytest.fixture(scope="class")
def real_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm-real")
    start(folder, "--no-accounting")
    yield folder
    stop(folder)


@pytest.mark.timeout(2400)  # the first test's setup installs, starts, and runs the pipeline
class TestAdvertisedNode:
    """A node advertised large enough for the profile's biggest request, with one GPU and accounting."""

    def test_readme_commands_run_the_default_target(self, pipeline):
        folder, results = pipeline
        assert len(results) == 2 and "-n" in results[0].args.split()
        for result in results:
            assert result.returncode == 0, result.args + "\n" + result.stderr[-5000:]
        assert "synthesize" in results[0].stdout + results[0].stderr
        assert (folder / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
        jobs = submitted(results[1].stderr)
        assert {"synthesize", "train_ifdd", "train_dicefer", "pretrain_faceid", "report"} <= set(
            jobs.values()
        )
        sacct = ["sacct", "-X", "-n", "-P", "-o", "JobIDRaw,State", "-j", ",".join(jobs)]
        states = dict(line.split("|") for line in subprocess.check_output(sacct, text=True).split())
        assert states == dict.fromkeys(jobs, "COMPLETED")

    def test_each_sbatch_request_is_what_the_profile_and_params_say(self, pipeline):
        _, results = pipeline
        params = validate_params(yaml.safe_load(TINY), "params.yaml")
        seen = {}
        for slurm_id, rule in submitted(results[1].stderr).items():
            record = job_record(slurm_id)
            assert record["Comment"].startswith(f"rule_{rule}"), record
            seen[rule] = observed_request(record)
            assert seen[rule] == expected_request(rule, params), rule
        assert seen["train_ifdd"] == {"minutes": 1440, "memory_mb": 32000, "cpus": 1, "gpus": 1}
        print("sbatch requests (scontrol show job):", json.dumps(seen, sort_keys=True), flush=True)

    def test_a_second_run_submits_nothing(self, pipeline):
        folder, _ = pipeline
        again = shell(readme_commands()[1], folder)
        assert again.returncode == 0, again.stderr
        assert "Nothing to be done" in again.stdout + again.stderr
        assert "has been submitted" not in again.stdout + again.stderr

    def test_every_bad_ending_ends_the_run_with_its_reason(self, bad_endings):
        ended = {}
        for rule, (run, began) in bad_endings.items():
            status, output, at = run.finish(timeout=600)
            assert status != 0, f"{rule}:\n{output}"
            ended[rule] = at - began
            if rule != "interrupted":
                assert f"Error in rule {rule}:" in output, output
        for rule, state in (("fails", "FAILED"), ("cancelled", "CANCELLED"), ("timeout", "TIMEOUT")):
            assert f"SLURM status is: '{state}'" in bad_endings[rule][0].log.read_text()
        assert re.search(
            r"SLURM status is: '(OUT_OF_MEMORY|FAILED)'", bad_endings["out_of_memory"][0].log.read_text()
        )
        assert "Terminating processes on user request" in bad_endings["interrupted"][0].log.read_text()
        # Bounded: SLURM's verdict (a minute's limit: within 90 s), then a status check at most one interval
        # later (10 s, 10 s longer after each check where nothing ended) and the exit one more.
        assert ended["interrupted"] < 60 and ended["cancelled"] < 180, ended
        assert ended["timeout"] < 90 + 2 * 150, ended
        left = subprocess.check_output(["squeue", "-h", "-t", "pending,running", "-o", "%Z"], text=True)
        assert "bad-endings" not in left
        print(
            "seconds from start (fails, timeout, out_of_memory), SIGINT or scancel to the run's exit:",
            ended,
            flush=True,
        )


@pytest.mark.timeout(900)
class TestRealSizeNode:
    """The machine's own size (no GPU), without accounting: squeue only."""

    def test_rules_that_can_never_run_are_named_before_anything_is_submitted(self, real_cluster, tmp_path):
        cpus, memory = map(int, subprocess.check_output(["sinfo", "-h", "-o", "%c %m"], text=True).split())
        threads = f"0.5, num_workers: 0, threads: {cpus + 1}}}"
        folder = project(tmp_path, TINY.replace("0.5, num_workers: 0}", threads))
        result = shell(readme_commands()[1], folder)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "nothing was submitted" in output, output[-3000:]
        line = next(line for line in output.splitlines() if line.strip().startswith("train_ifdd:"))
        assert f"CPUs {cpus + 1} > {cpus} on its largest node" in line
        if memory < 32000:
            assert f"MB 32000 > {memory}" in line
        assert "has been submitted" not in output
        assert not subprocess.check_output(["squeue", "-h", "-t", "all"], text=True).strip()
        print(output[output.index("this cluster cannot") :].split("\nChange the request")[0], flush=True)

    def test_gpu_rules_ask_for_no_gpu_where_there_is_none(self, real_cluster, tmp_path):
        folder = project(tmp_path, TINY)
        target = "results/pretrain/mobilenetv2/trunk.pt"
        result = shell(f"{readme_commands()[1]} {shlex.quote(target)}", folder)
        assert result.returncode == 0, result.stderr[-5000:]
        assert (folder / target).is_file()
        jobs = submitted(result.stderr)
        assert sorted(jobs.values()) == ["prepare_faces", "pretrain_faceid", "synthesize_faceid"]
        for slurm_id in jobs:
            record = job_record(slurm_id)
            assert record["JobState"] == "COMPLETED", record
            assert observed_request(record)["gpus"] == 0, record
