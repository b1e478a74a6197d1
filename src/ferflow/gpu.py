"""GPU slots for concurrent Snakemake jobs.

Snakemake counts `resources: gpu=N` but never says which device a job should use. A job therefore starts
through `ferflow gpu-run`, which locks N free device ids (one lock file per device, `flock`: the kernel
releases it when the process dies, so a killed job frees its slot), sets `CUDA_VISIBLE_DEVICES`, and runs
the stage — under `torchrun --standalone` when it got more than one device. Under SLURM, which assigns
devices itself, the allocator stands aside.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_DIR = Path(os.environ.get("FERFLOW_GPU_LOCK_DIR", "/tmp/ferflow-gpu-locks"))


def _listed(value: str) -> list[str]:
    return [i.strip() for i in value.split(",") if i.strip()]


def available_gpus() -> list[str]:
    """Device ids this machine offers, as `CUDA_VISIBLE_DEVICES` entries: `FERFLOW_GPU_IDS` if set (e.g.
    "0,1"), else the entries of an inherited `CUDA_VISIBLE_DEVICES` (indices or UUIDs: a job must stay inside
    that set, so it gets the entry itself, not its position), else every device CUDA sees."""
    for name in ("FERFLOW_GPU_IDS", "CUDA_VISIBLE_DEVICES"):
        if name in os.environ:
            return _listed(os.environ[name])
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def under_slurm() -> bool:
    return "SLURM_JOB_ID" in os.environ and "CUDA_VISIBLE_DEVICES" in os.environ


@contextlib.contextmanager
def gpu_slots(
    count: int, lock_dir: Path = LOCK_DIR, timeout: float = 24 * 3600, poll: float = 2.0
) -> Iterator[list[str]]:
    """Hold `count` free device ids for the duration of the block (fewer when the machine has fewer).

    Yields the ids; an empty list means "run on the CPU". Under SLURM, yields the devices SLURM assigned.
    """
    if under_slurm():
        yield _listed(os.environ["CUDA_VISIBLE_DEVICES"])
        return
    ids = available_gpus()
    count = min(count, len(ids))
    if count == 0:
        yield []
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        held: list[tuple[str, int]] = []
        for gpu in ids:
            fd = os.open(lock_dir / f"gpu{gpu}.lock", os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((gpu, fd))
            if len(held) == count:
                break
        if len(held) == count:
            try:
                yield [gpu for gpu, _ in held]
            finally:
                for _, fd in held:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
            return
        for _, fd in held:  # not enough free: let go and wait, so two jobs can't each hold half
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {count} free GPU slot(s) among {ids} after {timeout:.0f} s ({lock_dir})")
        if not waiting:  # said once, so that a job's log shows why it has not started
            message = f"waiting for {count} free GPU slot(s) among {ids} ({lock_dir})"
            print(message, file=sys.stderr, flush=True)
            waiting = True
        time.sleep(poll)


def run_stage(count: int, stage_args: list[str]) -> int:
    """Run `ferflow <stage_args>` on `count` locked GPUs (torchrun when more than one); returns its status."""
    with gpu_slots(count, LOCK_DIR) as ids:
        env = dict(os.environ)
        if not under_slurm():
            env["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
        if len(ids) > 1:
            cmd = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc-per-node={len(ids)}",
                "-m",
                "ferflow",
                *stage_args,
            ]
        else:
            cmd = [sys.executable, "-m", "ferflow", *stage_args]
        print(f"gpu-run: devices [{env.get('CUDA_VISIBLE_DEVICES', '')}] -> {' '.join(cmd)}", flush=True)
        return subprocess.call(cmd, env=env)
