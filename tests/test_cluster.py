"""ferflow.cluster: sinfo's partitions against each job's request, and whether job ends will be seen."""

import pytest

from ferflow import cluster
from ferflow.cluster import Node, Request, parse_gpus, parse_minutes, parse_sinfo, request_of

SINFO = """\
cpu*|up|1-00:00:00|64|256000|(null)
cpu*|up|1-00:00:00|32|128000|(null)
gpu|up|2:00:00|16|64000|gpu:a100:4(S:0-1)
down|down|infinite|8|8000|gpu:1
"""


def test_sinfo_lines_become_partitions():
    parts = parse_sinfo(SINFO)
    assert sorted(parts) == ["cpu", "down", "gpu"]
    assert parts["cpu"].default and not parts["gpu"].default
    assert parts["cpu"].max_minutes == 1440 and parts["gpu"].max_minutes == 120
    assert parts["down"].max_minutes is None and not parts["down"].up
    assert parts["cpu"].nodes == (Node(64, 256000, 0), Node(32, 128000, 0))
    assert parts["gpu"].nodes == (Node(16, 64000, 4),)
    with pytest.raises(cluster.ClusterError, match="unexpected line"):
        parse_sinfo("cpu|up|10\n")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("infinite", None), ("30", 30), ("30:01", 31), ("2:00:00", 120), ("1-12:00:00", 2160), ("2-0", 2880)],
)
def test_time_limits_in_minutes(text, minutes):
    assert parse_minutes(text) == minutes


@pytest.mark.parametrize(
    ("gres", "gpus"), [("(null)", 0), ("gpu:2", 2), ("gpu:a100:4(S:0-1)", 4), ("gpu:a:1,gpu:b:2,mps:100", 3)]
)
def test_gpus_per_node(gres, gpus):
    assert parse_gpus(gres) == gpus


def test_the_request_follows_the_plugins_rules():
    plain = request_of("a", 4, {"mem_mb": 8000, "runtime": 60})
    assert plain == Request("a", cpus=4, memory_mb=8000, gpus=0, minutes=60, partition=None)
    overridden = request_of("a", 4, {"cpus_per_task": 2, "mem_mb_per_cpu": 1000, "slurm_partition": "cpu"})
    assert (overridden.cpus, overridden.memory_mb, overridden.partition) == (2, 2000, "cpu")
    per_gpu = request_of("a", 1, {"gres": "gpu:a100:2", "cpus_per_gpu": 8})
    assert (per_gpu.cpus, per_gpu.gpus, per_gpu.memory_mb, per_gpu.minutes) == (16, 2, None, None)
    assert request_of("a", 4, {"cpus_per_task": -1}).cpus == 1  # no --cpus-per-task: SLURM gives one


def test_every_rule_that_cannot_fit_is_named_once():
    parts = parse_sinfo(SINFO)
    requests = [
        Request("fits", 64, 200000, 0, 600, None),
        Request("fits_gpu", 16, 64000, 4, 120, "gpu"),
        Request("too_many_cpus", 65, 1000, 0, 60, None),
        Request("too_many_cpus", 65, 1000, 0, 60, None),  # a second job of the rule: one line
        Request("gpu_on_cpu", 1, 1000, 1, 60, "cpu"),
        Request("too_long", 1, 1000, 1, 121, "gpu"),
        Request("too_much_memory", 1, 300000, 0, 60, None),
        Request("no_such", 1, 1000, 0, 60, "bigmem"),
        Request("down", 1, 1000, 0, 60, "down"),
        Request("not_together", 64, 256000, 0, 60, None),  # fits, on the first node
        Request("apart", 16, 64000, 4, 60, "gpu"),
    ]
    lines = cluster.unschedulable(requests, parts)
    named = [line.split(":")[0] for line in lines]
    assert named == ["too_many_cpus", "gpu_on_cpu", "too_long", "too_much_memory", "no_such", "down"]
    text = "\n".join(lines)
    assert "CPUs 65 > 64 on its largest node" in text
    assert "gpu_on_cpu: asks for 1 CPU, 1000 MB, 1 GPU, 60 min on partition 'cpu': GPUs 1 > 0 on" in text
    assert "minutes 121 > its time limit of 120" in text
    assert "no partition 'bigmem' (partitions: cpu, down, gpu)" in text
    assert "the partition is not up" in text
    mixed = parse_sinfo("p*|up|infinite|64|1000|(null)\np*|up|infinite|2|64000|(null)\n")
    assert cluster.unschedulable([Request("r", 8, 8000, 0, None, None)], mixed) == [
        "r: asks for 8 CPUs, 8000 MB on partition 'p': no single node offers all of it"
    ]


def test_a_status_command_that_would_never_see_a_job_end_is_refused(monkeypatch):
    monkeypatch.setattr(cluster.shutil, "which", lambda name: f"/usr/bin/{name}")
    none = {"MinJobAge": "300 sec", "AccountingStorageType": "accounting_storage/none"}
    dbd = {"MinJobAge": "300 sec", "AccountingStorageType": "accounting_storage/slurmdbd"}
    assert cluster.status_problem("squeue", 10, none) is None
    assert cluster.status_problem("sacct", 10, dbd) is None
    assert "without accounting storage" in cluster.status_problem("sacct", 10, none)
    # the plugin swaps squeue for sacct when MinJobAge < 3 x the first check's delay
    assert "without accounting storage" in cluster.status_problem("squeue", 120, none)
    short = {"MinJobAge": "60 sec", "AccountingStorageType": "accounting_storage/slurmdbd"}
    assert "MinJobAge=60 s" in cluster.status_problem("squeue", 10, short)
    assert cluster.status_problem("sacct", 10, short) is None


def test_check_names_the_rules_and_says_nothing_was_submitted(monkeypatch):
    monkeypatch.setattr(cluster, "partitions", lambda: parse_sinfo(SINFO))
    monkeypatch.setattr(cluster, "slurm_config", lambda: {"MinJobAge": "300"})
    cluster.check([Request("ok", 1, 1000, 0, 60, None)], "squeue", 10)
    with pytest.raises(cluster.ClusterError) as err:
        cluster.check([Request("big", 128, 1000, 0, 60, None)], "squeue", 10)
    message = str(err.value)
    assert "nothing was submitted" in message and "\n  big: asks for 128 CPUs" in message
