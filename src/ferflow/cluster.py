"""What a SLURM cluster can run, checked before Snakemake submits anything.

Under the SLURM executor, workflow/rules/common.smk (`onstart`) compares every job's request (CPUs,
memory, GPUs, minutes, partition) with the partitions `sinfo` reports and stops the run, naming each rule
that no node could ever take: such a job would otherwise pend forever while Snakemake waits in silence. It
also checks that Snakemake will see jobs finish: the status command the SLURM plugin uses must find them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from ferflow.errors import UserError

SINFO_FORMAT = (
    "%P|%a|%l|%c|%m|%G"  # partition (* = default), up/down, time limit, CPUs, MB, generic resources
)
# The plugin (snakemake-executor-plugin-slurm 2.x) polls at most every 180 s; squeue forgets a finished job
# MinJobAge seconds after it ends. A shorter MinJobAge lets a job vanish between two polls, unseen.
MAX_POLL_SECONDS = 180


class ClusterError(UserError):
    """The cluster cannot run this workflow as requested (or cannot be asked)."""


@dataclass(frozen=True)
class Node:
    cpus: int
    memory_mb: int
    gpus: int


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    up: bool
    max_minutes: int | None  # None: no limit
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Request:
    """One job's sbatch request, as the SLURM plugin builds it from the job's threads and resources."""

    rule: str
    cpus: int
    memory_mb: int | None
    gpus: int
    minutes: int | None
    partition: str | None  # None: the cluster's default partition

    def describe(self) -> str:
        parts = [f"{self.cpus} CPU" + "s" * (self.cpus != 1)]
        if self.memory_mb is not None:
            parts.append(f"{self.memory_mb} MB")
        if self.gpus:
            parts.append(f"{self.gpus} GPU" + "s" * (self.gpus != 1))
        if self.minutes is not None:
            parts.append(f"{self.minutes} min")
        return ", ".join(parts)


def request_of(rule: str, threads: int, resources: Mapping[str, object]) -> Request:
    """The request the SLURM plugin (snakemake-executor-plugin-slurm 2.x) sends for a job: CPUs from
    `cpus_per_task` (negative: none sent, so SLURM's 1), else `cpus_per_gpu` per GPU, else the job's
    threads; memory from `mem_mb_per_cpu` or `mem_mb`; GPUs from `gpu` or a `gres` of gpus."""

    def number(key: str) -> int:
        return int(resources.get(key) or 0)

    gpus = number("gpu") or parse_gpus(str(resources.get("gres") or ""))
    cpus = number("cpus_per_task")
    if cpus < 0:
        cpus = 1
    elif cpus == 0:
        cpus = number("cpus_per_gpu") * gpus if gpus and number("cpus_per_gpu") > 0 else threads
    memory = number("mem_mb_per_cpu") * cpus or number("mem_mb") or None
    return Request(
        rule=rule,
        cpus=max(1, cpus),
        memory_mb=memory,
        gpus=gpus,
        minutes=number("runtime") or None,
        partition=str(resources.get("slurm_partition") or "") or None,
    )


def parse_minutes(text: str) -> int | None:
    """A SLURM time limit (`infinite`, `30`, `2:00:00`, `1-12:00:00`, `1-12`) in minutes (None: unlimited)."""
    text = text.strip()
    if text in ("infinite", "UNLIMITED", "n/a", "NONE", ""):
        return None
    days, _, clock = text.rpartition("-")
    fields = [int(f) for f in clock.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        fields += [0] * (3 - len(fields))
        hours, minutes, seconds = fields
        return int(days) * 1440 + hours * 60 + minutes + (seconds > 0)
    if len(fields) == 1:  # minutes
        return fields[0]
    if len(fields) == 2:  # minutes:seconds
        return fields[0] + (fields[1] > 0)
    hours, minutes, seconds = fields
    return hours * 60 + minutes + (seconds > 0)


def parse_gpus(gres: str) -> int:
    """GPUs per node in sinfo's GRES column: `gpu:2`, `gpu:a100:4(S:0-1)`, `(null)`, or several (commas)."""
    total = 0
    for entry in re.sub(r"\([^)]*\)", "", gres).split(","):
        fields = entry.strip().split(":")
        if fields[0] == "gpu" and len(fields) > 1 and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def parse_sinfo(text: str) -> dict[str, Partition]:
    """Partitions from `sinfo -h -o SINFO_FORMAT` (one line per group of alike nodes in a partition)."""
    groups: dict[str, dict] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 6:
            raise ClusterError(f"sinfo: unexpected line {line!r} (expected {SINFO_FORMAT})")
        name, state, limit, cpus, memory, gres = (f.strip() for f in fields)
        default = name.endswith("*")
        name = name.rstrip("*")
        group = groups.setdefault(
            name, {"default": default, "up": state == "up", "limit": parse_minutes(limit), "nodes": []}
        )
        # "+" marks a group whose nodes differ; the figure shown is the smallest, so the check stays safe
        group["nodes"].append(Node(int(cpus.rstrip("+")), int(memory.rstrip("+")), parse_gpus(gres)))
    return {
        name: Partition(name, g["default"], g["up"], g["limit"], tuple(g["nodes"]))
        for name, g in groups.items()
    }


def _run(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        raise ClusterError(f"{command[0]} not found: this machine is not a SLURM submit host")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"`{' '.join(command)}` did not answer within 60 s") from None
    if done.returncode != 0:
        raise ClusterError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return done.stdout


@cache
def partitions() -> dict[str, Partition]:
    """The cluster's partitions, asked once per process."""
    return parse_sinfo(_run(["sinfo", "-h", "-o", SINFO_FORMAT]))


def has_gpus() -> bool:
    """Whether any node of the cluster offers a GPU."""
    return any(node.gpus for partition in partitions().values() for node in partition.nodes)


def unschedulable(requests: Iterable[Request], known: Mapping[str, Partition]) -> list[str]:
    """One line per rule whose request no node of its partition could ever take (each rule named once)."""
    default = next((p for p in known.values() if p.default), None)
    lines: dict[str, str] = {}
    for request in requests:
        if request.rule in lines:
            continue
        partition = known.get(request.partition) if request.partition else default
        if partition is None:
            where = f"partition '{request.partition}'" if request.partition else "a default partition"
            names = ", ".join(sorted(known)) or "none"
            lines[request.rule] = f"{request.rule}: the cluster has no {where} (partitions: {names})"
            continue
        reasons = []
        if not partition.up:
            reasons.append("the partition is not up")
        if None not in (request.minutes, partition.max_minutes) and request.minutes > partition.max_minutes:
            reasons.append(f"minutes {request.minutes} > its time limit of {partition.max_minutes}")
        for need, have, unit in (
            (request.cpus, max(n.cpus for n in partition.nodes), "CPUs"),
            (request.memory_mb or 0, max(n.memory_mb for n in partition.nodes), "MB"),
            (request.gpus, max(n.gpus for n in partition.nodes), "GPUs"),
        ):
            if need > have:
                reasons.append(f"{unit} {need} > {have} on its largest node")
        if not reasons and not any(
            request.cpus <= n.cpus and (request.memory_mb or 0) <= n.memory_mb and request.gpus <= n.gpus
            for n in partition.nodes
        ):
            reasons.append("no single node offers all of it")
        if reasons:
            lines[request.rule] = (
                f"{request.rule}: asks for {request.describe()} on partition '{partition.name}': "
                + "; ".join(reasons)
            )
    return list(lines.values())


def status_problem(status_command: str, init_seconds: int, config: Mapping[str, str]) -> str | None:
    """Why Snakemake would never see a job finish with this status command on this cluster, or None.

    Mirrors snakemake-executor-plugin-slurm 2.x: `squeue` is replaced by `sacct` when MinJobAge is below
    three times the first check's delay; `sacct` knows no job without accounting storage.
    """
    min_age = int(re.match(r"\d+", config.get("MinJobAge", "300")).group())
    accounting = config.get("AccountingStorageType", "") not in ("", "accounting_storage/none", "(null)")
    effective = status_command
    if status_command == "squeue" and min_age < 3 * init_seconds and shutil.which("sacct"):
        effective = "sacct"
    if effective == "sacct" and not accounting:
        return (
            f"status command sacct on a cluster without accounting storage (AccountingStorageType="
            f"{config.get('AccountingStorageType')}): sacct would never report a job as finished. Use "
            "--slurm-status-command squeue with --slurm-init-seconds-before-status-checks at most "
            f"{min_age // 3}"
        )
    if effective == "squeue" and min_age <= MAX_POLL_SECONDS:
        return (
            f"status command squeue with MinJobAge={min_age} s: a job may leave squeue between two status "
            f"checks (up to {MAX_POLL_SECONDS} s apart) and never be seen finishing. Use "
            "--slurm-status-command sacct if the cluster keeps accounting, or ask for MinJobAge > "
            f"{MAX_POLL_SECONDS}"
        )
    return None


def slurm_config() -> dict[str, str]:
    """`scontrol show config` as key -> value."""
    config = {}
    for line in _run(["scontrol", "show", "config"]).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip()
    return config


def check(requests: Iterable[Request], status_command: str, init_seconds: int) -> None:
    """Raise ClusterError naming every rule the cluster could never run, and a status command that would
    never see jobs finish; nothing has been submitted when it raises."""
    problems = unschedulable(requests, partitions())
    status = status_problem(status_command, init_seconds, slurm_config())
    if status:
        problems.append(status)
    if problems:
        raise ClusterError(
            "this cluster cannot run the workflow as requested (nothing was submitted):\n  "
            + "\n  ".join(problems)
            + "\nChange the request (params.yaml: threads, gpus, device; workflow/profiles/slurm: mem_mb, "
            "runtime, slurm_partition, set-threads) or the partition (README: Clusters)."
        )
