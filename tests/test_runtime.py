"""Where a training job runs: launched by torchrun, even as its only process, it joins the process group."""

import socket

import torch.distributed as dist
from test_train_dicefer import params as dicefer_params

from ferflow.core.runtime import setup_runtime, teardown_runtime
from ferflow.train import dicefer


def _torchrun_env(monkeypatch) -> None:
    """The variables `torchrun --standalone --nproc-per-node=1` sets."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")


def test_one_process_torchrun_joins_its_group(monkeypatch, capsys):
    _torchrun_env(monkeypatch)
    runtime = setup_runtime("cpu")
    try:
        assert runtime.distributed and runtime.world_size == 1 and runtime.is_main
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        assert "process group: gloo, 1 process(es), rank 0 on cpu" in capsys.readouterr().out
    finally:
        teardown_runtime(runtime)
    assert not dist.is_initialized()


def test_a_plain_run_joins_no_group(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    runtime = setup_runtime("cpu")
    assert not runtime.distributed and not dist.is_initialized()
    assert runtime.amp_dtype is None  # bf16 autocast only on CUDA


def test_dicefer_under_one_process_torchrun_trains_as_a_plain_run(monkeypatch):
    _torchrun_env(monkeypatch)
    runtime = dicefer._start(dicefer_params().runtime)
    assert not runtime.distributed and not dist.is_initialized()  # no DistributedSampler, one device
