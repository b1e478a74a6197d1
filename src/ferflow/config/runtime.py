"""Where and how a training job runs, and the optimiser and schedule every trainer shares."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from ferflow.config.section import Fraction, Section


def check_device(device: str) -> str:
    """A device name as ferflow takes it: auto, cpu, cuda or cuda:N."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise ValueError("expected auto, cpu, cuda or cuda:N (N a GPU index)")
    return device


class RuntimeParams(Section):
    """Where and how a training job runs."""

    seed: Annotated[int, Field(ge=0)] = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA
    compile: bool = False  # torch.compile the model
    num_workers: Annotated[int, Field(ge=0)] = 0
    threads: Annotated[int, Field(ge=0)] = 0  # torch CPU threads per job; 0 = half the cores (jobs.py)
    gpus: Annotated[int, Field(ge=0)] = 1  # GPUs per job when CUDA is present (>1 runs torchrun)

    @field_validator("device")
    @classmethod
    def _device_name(cls, device: str) -> str:
        return check_device(device)


class OptimParams(RuntimeParams):
    """AdamW with linear warm-up and cosine decay, plus the runtime settings."""

    epochs: Annotated[int, Field(ge=1)] = 8  # paper (IFDD): 100
    batch_size: Annotated[int, Field(ge=2)] = 8  # paper: 16
    lr: Annotated[float, Field(gt=0.0)] = 1e-3  # paper: 5e-5 (from pretrained weights)
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-3
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 1  # paper: 10
    min_lr_ratio: Fraction = 0.01  # cosine decays to this share of lr
