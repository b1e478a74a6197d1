"""Where and how a training job runs: device, distributed rank, seeding, mixed precision.

Distributed runs start under `torchrun --standalone` (or SLURM's srun); the rank and world size are read
from their environment. Only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.distributed as dist

from ferflow.errors import UserError


class DeviceError(RuntimeError, UserError):
    """A device that this machine does not have."""


@dataclass(frozen=True)
class Runtime:
    """The process's place in a (possibly distributed) run."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    amp_dtype: torch.dtype | None = None  # autocast dtype, None for full precision
    in_group: bool = False  # joined a process group (under torchrun, also as its only process)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.in_group

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def _env_int(*names: str, default: int) -> int:
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return default


def setup_runtime(device: str = "auto", amp: bool = True) -> Runtime:
    """Pick the device and join the process group when launched by torchrun.

    Args:
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        amp: bf16 autocast on CUDA (CPU runs stay in float32: bf16 on CPU is slower there).
    """
    world_size = _env_int("WORLD_SIZE", default=1)
    rank = _env_int("RANK", default=0)
    local_rank = _env_int("LOCAL_RANK", default=0)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device {device!r} asked for, but CUDA is not available on this machine; set the device "
            "(ifdd.train.device, dicefer.runtime.device or --device) to auto or cpu"
        )
    if device == "cuda":
        device = f"cuda:{local_rank}"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # torchrun sets both; a one-process torchrun run joins its group too (DDP, NCCL), as a larger one does.
    launched = "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ
    if (world_size > 1 or launched) and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world_size)
        if rank == 0:
            print(f"process group: {backend}, {world_size} process(es), rank 0 on {dev}", flush=True)
    amp_dtype = torch.bfloat16 if amp and dev.type == "cuda" else None
    return Runtime(dev, rank, world_size, amp_dtype, dist.is_available() and dist.is_initialized())


def setup_single_device(device: str, amp: bool, what: str, key: str) -> Runtime:
    """`setup_runtime` for trainers that use one device: several processes are refused (naming the parameter
    `key` to set to 1), and a one-process torchrun run leaves its group and runs as a plain one."""
    runtime = setup_runtime(device, amp)
    if runtime.distributed:
        teardown_runtime(runtime)
        if runtime.world_size > 1:
            raise RuntimeError(
                f"{what} on one device; set {key} to 1 "
                f"(this run was started as {runtime.world_size} processes)"
            )
        runtime = replace(runtime, in_group=False)
    return runtime


def teardown_runtime(runtime: Runtime) -> None:
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch (all devices); optionally ask for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def main_process_first(runtime: Runtime) -> Iterator[None]:
    """Let rank 0 do something (e.g. create folders) before the other ranks."""
    if runtime.distributed and not runtime.is_main:
        dist.barrier()
    yield
    if runtime.distributed and runtime.is_main:
        dist.barrier()
