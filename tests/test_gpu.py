"""The GPU slot allocator, with fake device ids (no GPU needed)."""

import multiprocessing as mp
import os
import signal

import pytest

from ferflow import gpu


@pytest.fixture
def fake_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("FERFLOW_GPU_IDS", "0,1")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    return tmp_path / "locks"


def _hold(lock_dir, count, queue, release):
    """Hold `count` slots until `release` is set (or the process is killed)."""
    with gpu.gpu_slots(count, lock_dir, timeout=30, poll=0.05) as ids:
        queue.put(ids)
        release.wait(timeout=120)


def test_two_jobs_get_different_devices(fake_gpus):
    ctx = mp.get_context("fork")
    queue, release = ctx.Queue(), ctx.Event()
    jobs = [ctx.Process(target=_hold, args=(fake_gpus, 1, queue, release)) for _ in range(2)]
    for job in jobs:
        job.start()
    got = sorted(queue.get(timeout=60) for _ in jobs)  # both hold a slot at once: neither let go yet
    release.set()
    for job in jobs:
        job.join()
    assert got == [["0"], ["1"]]


def test_third_job_waits_until_a_slot_frees(fake_gpus, capfd):
    with gpu.gpu_slots(2, fake_gpus) as ids:
        assert ids == ["0", "1"]
        with (
            pytest.raises(TimeoutError, match="no 1 free GPU slot"),
            gpu.gpu_slots(1, fake_gpus, timeout=0.2, poll=0.05),
        ):
            pass
    # said once, however long it waits: the job's log shows why it has not started
    assert capfd.readouterr().err.count("waiting for 1 free GPU slot(s) among ['0', '1']") == 1
    with gpu.gpu_slots(1, fake_gpus, timeout=1) as ids:
        assert ids == ["0"]


def test_killed_job_frees_its_slot(fake_gpus):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    job = ctx.Process(target=_hold, args=(fake_gpus, 2, queue, ctx.Event()))  # never released: killed
    job.start()
    assert queue.get(timeout=20) == ["0", "1"]
    os.kill(job.pid, signal.SIGKILL)
    job.join()
    with gpu.gpu_slots(2, fake_gpus, timeout=5, poll=0.05) as ids:
        assert ids == ["0", "1"]


def test_no_gpu_means_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("FERFLOW_GPU_IDS", "")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with gpu.gpu_slots(1, tmp_path) as ids:
        assert ids == []


def test_stands_aside_under_slurm(tmp_path, monkeypatch):
    monkeypatch.setenv("FERFLOW_GPU_IDS", "0,1")
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with gpu.gpu_slots(1, tmp_path) as ids:
        assert ids == ["3"]
    assert not list(tmp_path.glob("*.lock"))


def test_an_inherited_device_set_is_kept(tmp_path, monkeypatch, capfd):
    """With CUDA_VISIBLE_DEVICES=2,GPU-abc set outside, jobs get those entries, never positions 0 and 1."""
    monkeypatch.delenv("FERFLOW_GPU_IDS", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-abc")
    with gpu.gpu_slots(2, tmp_path) as ids:
        assert ids == ["2", "GPU-abc"]
    monkeypatch.setattr(gpu, "LOCK_DIR", tmp_path)
    assert gpu.run_stage(1, ["--version"]) == 0
    assert "devices [2]" in capfd.readouterr().out


def test_run_stage_sets_visible_devices(fake_gpus, monkeypatch, capfd):
    monkeypatch.setattr(gpu, "LOCK_DIR", fake_gpus)
    status = gpu.run_stage(1, ["--version"])
    out = capfd.readouterr().out
    assert status == 0 and "devices [0]" in out and "ferflow 0.1.0" in out
