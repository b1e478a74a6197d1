"""The GPU path: bf16 autocast, torch.compile, exact resumption, GPU slots, NCCL under torchrun, predict.

A test's CUDA case is marked `cuda` and skipped, with the reason, where `torch.cuda.is_available()` is false
(conftest.py); `pytest -m cuda` runs them on a GPU machine, as scripts/device-check.sh does. Where the same
check means something on the CPU, the same body also runs there (the `cpu` case, marked slow: `make
test-all`, and `scripts/device-check.sh --cpu-smoke` in CI), so its logic is exercised without a GPU.
"""

import copy
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from interrupt import run_interrupted
from PIL import Image
from test_evaluate_ifdd import PARAMS as TINY
from test_train_dicefer import _rows
from test_train_dicefer import params as dicefer_params
from test_train_ifdd import params as ifdd_params
from test_train_ifdd import store  # noqa: F401 (a fixture)

from ferflow import gpu
from ferflow.cli import main
from ferflow.config import Params
from ferflow.core.checkpoint import load_checkpoint
from ferflow.core.runtime import Runtime
from ferflow.data.prepare import pack_shards, prepare_shard
from ferflow.data.store import write_store
from ferflow.model_names import IMAGE_CONTROLS
from ferflow.models import create_model, list_models, model_arguments
from ferflow.models.losses import lifting_loss
from ferflow.predict import predict_image, predict_video
from ferflow.train import common as train_common
from ferflow.train import dicefer as dicefer_trainer
from ferflow.train import ifdd as ifdd_trainer
from ferflow.train.stages import StepContext

CUDA = pytest.param("cuda", marks=pytest.mark.cuda)
DEVICES = [pytest.param("cpu", marks=pytest.mark.slow), CUDA]
#: A bf16 step against an fp32 step from the same weights and batch: |loss difference| at most this share of
#: max(1, |fp32 loss|). Measured on the CPU: at most 1.1 % for every model and DICE-FER stage.
BF16_LOSS_TOLERANCE = 0.05
#: Compiled against eager training (other kernels, the same arithmetic): the same rule for the epoch's loss.
COMPILE_LOSS_TOLERANCE = 0.05
#: Class probabilities of `ferflow predict` on CUDA (TF32 convolutions) against the CPU's.
PREDICT_ATOL = 0.01


def _close(value: float, reference: float, tolerance: float) -> bool:
    return math.isfinite(value) and abs(value - reference) <= tolerance * max(1.0, abs(reference))


def _finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


@pytest.fixture
def deterministic():
    """Deterministic kernels (cuBLAS's workspace is configured in conftest.py, before CUDA starts)."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.fixture(scope="module")
def tiny_clips(tiny_benchmark, tmp_path_factory):
    """The tiny embedded benchmark's videos, aligned (dlib) into a clip store."""
    work = tmp_path_factory.mktemp("tiny_clips")
    prepare_shard(TINY, "clips", 0, work / "shard", tiny_benchmark)
    pack_shards(TINY, "clips", [work / "shard"], work / "clips", work / "m.json", work / "s.csv")
    return work / "clips"


def _image_store(root: Path, align_backend: str | None = None) -> Path:
    images = np.random.default_rng(0).integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
    meta = {"classes": ["a", "b", "c"]} | ({"align_backend": align_backend} if align_backend else {})
    return write_store(root, [(images, _rows(24))], meta)


def _with_runtime(p, **update):
    """DICE-FER parameters with runtime settings changed."""
    return p.model_copy(update={"runtime": p.runtime.model_copy(update=update)})


# ----------------------------------------------------------------------------------- bf16 against fp32
def _small(name: str) -> tuple[dict, torch.Tensor]:
    """Factory arguments of a small version of a registered model, without dropout (so that both steps see
    the same network), and an input batch for it."""
    accepted = model_arguments(name)
    kwargs = {
        k: v for k, v in {"dropout": 0.0, "drop_path": 0.0, "width_mult": 0.35}.items() if k in accepted
    }
    if "num_frames" in accepted:  # a video model
        return kwargs | {"num_frames": 8, "img_size": 32}, torch.rand(2, 3, 8, 32, 32)
    kwargs |= {k: v for k, v in {"code_dim": 16, "input_size": 32}.items() if k in accepted}
    channels = 2 if name in IMAGE_CONTROLS and create_model(name).needs_reference else 1  # image + reference
    return kwargs, torch.rand(4, channels, 32, 32)


def _train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool) -> float:
    """One step as the trainers take it (cross-entropy on float logits, plus IFDD's lifting loss; AdamW)."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        if isinstance(out := model(x, return_features=True) if x.ndim == 5 else model(x), tuple):
            logits, features = out
            loss = F.cross_entropy(logits.float(), y) + lifting_loss(features)
        else:
            loss = F.cross_entropy(out.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    optimizer.step()
    return float(loss.detach())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list_models())
def test_bf16_training_step_matches_fp32(name, device):
    kwargs, x = _small(name)
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, **kwargs).to(device)
    x = x.to(device)
    y = torch.arange(len(x), device=device) % 7
    losses = {}
    for amp in (False, True):
        stepped = copy.deepcopy(model)
        losses[amp] = _train_step(stepped, x, y, amp)
        assert _finite(stepped), f"{name}: non-finite weights after the {'bf16' if amp else 'fp32'} step"
    assert _close(losses[True], losses[False], BF16_LOSS_TOLERANCE), losses


@pytest.mark.parametrize("device", DEVICES)
def test_dicefer_stages_in_bf16_match_fp32(device):
    p = dicefer_params()
    torch.manual_seed(0)
    model = create_model(dicefer_trainer.DICEFER_MODEL, **dicefer_trainer.dicefer_kwargs(p, 3)).to(device)

    def images() -> torch.Tensor:
        return torch.rand(8, 1, p.img_size, p.img_size, device=device)

    y = torch.arange(8, device=device) % 3
    batches = [[images(), images(), y], [images(), y], [images(), y]]  # pairs, then single images
    for index, batch in enumerate(batches):
        terms = {}
        for amp in (False, True):
            stepped = copy.deepcopy(model)
            runtime = Runtime(torch.device(device), amp_dtype=torch.bfloat16 if amp else None)
            stage = dicefer_trainer.dicefer_stages(stepped, p, None, None, runtime)[index]
            stage.prepare()
            optimizers = {name: torch.optim.Adam(group, lr=p.lr) for name, group in stage.groups.items()}
            torch.manual_seed(1)  # the same marginal samples (shuffles) in both
            context = StepContext(stage.label, 0, 0, Path("unused"), optimizers)
            terms[amp] = {k: float(v) for k, v in stage.step(batch, context).items()}  # stops on NaN
            assert _finite(stepped), f"{stage.label}: non-finite weights after a step"
        for key in ("loss", "discriminator_loss") if stage.name == "identity" else ("loss",):
            assert _close(terms[True][key], terms[False][key], BF16_LOSS_TOLERANCE), (stage.label, key, terms)


# ------------------------------------------------------------------------------------------- compile
@pytest.mark.parametrize("device", DEVICES)
def test_compiled_ifdd_training_matches_eager(device, store, tmp_path):  # noqa: F811
    results = {}
    for compiled in (False, True):
        p = ifdd_params(epochs=1, device=device, compile=compiled)
        results[compiled] = ifdd_trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / str(compiled))
    assert _close(results[True]["train/loss"], results[False]["train/loss"], COMPILE_LOSS_TOLERANCE), results
    eager, compiled = (load_checkpoint(tmp_path / str(c) / "model.pt")["model"] for c in (False, True))
    assert eager.keys() == compiled.keys()  # the plain model's weights are saved, not the compiled wrapper's


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_dicefer_training_matches_eager(device, tmp_path):
    images = _image_store(tmp_path / "images")
    summaries = {}
    for compiled in (False, True):
        p = _with_runtime(dicefer_params(stage_epochs=(1, 1, 1)), device=device, compile=compiled)
        summaries[compiled] = dicefer_trainer.train_dicefer(p, images, tmp_path / str(compiled))
    for stage in ("expression", "identity", "classifier"):
        eager, compiled = summaries[False][stage]["loss"], summaries[True][stage]["loss"]
        assert _close(compiled, eager, COMPILE_LOSS_TOLERANCE), (stage, eager, compiled)


# -------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("device", [CUDA])  # the CPU case: test_train_ifdd.py (bit-exact)
def test_resume_on_cuda_matches_an_uninterrupted_run(device, store, tmp_path, monkeypatch, deterministic):  # noqa: F811
    p = ifdd_params(device=device)
    straight = ifdd_trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "straight")
    run_interrupted(
        monkeypatch,
        train_common,
        lambda: ifdd_trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "resumed"),
    )
    resumed = ifdd_trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "resumed")

    assert resumed == pytest.approx(straight | {"epoch_seconds": resumed["epoch_seconds"]})
    a = load_checkpoint(tmp_path / "straight" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "model.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


# ----------------------------------------------------------------------------------------- GPU slots
@pytest.mark.parametrize("device", DEVICES)
def test_gpu_run_gives_a_second_job_another_device_or_makes_it_wait(device, tmp_path, monkeypatch):
    """A job holds one slot; `ferflow gpu-run` started beside it gets another real device where the
    machine has two or more, and otherwise waits until the slot is free. The CPU case has one fake id."""
    locks = tmp_path / "locks"
    monkeypatch.setenv("FERFLOW_GPU_LOCK_DIR", str(locks))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    if device == "cpu":
        monkeypatch.setenv("FERFLOW_GPU_IDS", "0")
    else:
        monkeypatch.delenv("FERFLOW_GPU_IDS", raising=False)  # the devices CUDA sees
    ids = gpu.available_gpus()
    assert ids, "no device ids"
    out, log = tmp_path / "bench.json", tmp_path / "job.log"
    stage = [
        *("bench", "models", "--quick", "--device", device, "--families", "mobilenetv2"),
        *("--batch", "2", "--img-size", "32", "--num-frames", "8", "--model-kwargs", '{"width_mult": 0.35}'),
        *("--out", str(out)),
    ]
    command = [sys.executable, "-m", "ferflow", "gpu-run", "--gpus", "1", "--", *stage]

    def devices_of_job() -> list[str] | None:
        found = re.search(r"gpu-run: devices \[([^\]]*)\]", log.read_text())
        return None if found is None else [i for i in found.group(1).split(",") if i]

    with gpu.gpu_slots(1, locks, poll=0.1) as held, log.open("w") as sink:
        job = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        if len(ids) > 1:
            assert job.wait(timeout=300) == 0, log.read_text()
            got = devices_of_job()
            assert got is not None and got != held and set(got) <= set(ids), (held, got)
        else:
            deadline = time.monotonic() + 300
            while "waiting for 1 free GPU slot(s)" not in log.read_text():  # gpu-run found the slot taken
                assert job.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert devices_of_job() is None, log.read_text()
    if len(ids) == 1:
        assert job.wait(timeout=300) == 0, log.read_text()
        assert devices_of_job() == held
    assert json.loads(out.read_text())["settings"]["device"] == device


# ----------------------------------------------------------------------------------------- torchrun
@pytest.mark.parametrize("device", DEVICES)
def test_one_process_torchrun_trains_an_ifdd_epoch(device, tiny_clips, tmp_path):
    p = TINY.ifdd.model_copy(update={"train": TINY.ifdd.train.model_copy(update={"device": device})})
    out = tmp_path / "run"
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1"),
        *("-m", "ferflow", "train-ifdd", "--params-json", Params(ifdd=p).model_dump_json(include={"ifdd"})),
        *("--store", str(tiny_clips), "--variant", "ifdd_mobilenetv2", "--fold", "1", "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    backend = "nccl" if device == "cuda" else "gloo"
    assert f"process group: {backend}, 1 process(es), rank 0 on {device}" in done.stdout, done.stdout
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1] and math.isfinite(history[0]["train/loss"])
    assert load_checkpoint(out / "model.pt")["variant"] == "ifdd_mobilenetv2"


# ------------------------------------------------------------------------------------------- predict
@pytest.mark.parametrize("device", [CUDA])  # against the CPU's answer
def test_predict_on_cuda_agrees_with_the_cpu(device, tiny_clips, tiny_benchmark, tmp_path, capsys):
    cpu_params = TINY.ifdd.model_copy(update={"train": TINY.ifdd.train.model_copy(update={"device": "cpu"})})
    ifdd_trainer.train_ifdd(cpu_params, tiny_clips, "ifdd_mobilenetv2", 1, tmp_path / "video")
    video_model = tmp_path / "video" / "model.pt"
    video = tiny_benchmark / "DFEW" / "Clip" / "original" / "00001.mp4"

    p = _with_runtime(dicefer_params(baseline_epochs=1), device="cpu")
    dicefer_trainer.train_baseline(p, _image_store(tmp_path / "images", "none"), tmp_path / "image")
    image_model, image = tmp_path / "image" / "model.pt", tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(image)

    for predict, media, model in ((predict_video, video, video_model), (predict_image, image, image_model)):
        on_cpu = predict(media, model, device="cpu")
        on_device = predict(media, model, device=device)
        assert on_device["device"].startswith("cuda") and on_cpu["device"] == "cpu"
        for name, prob in on_cpu["probabilities"].items():
            assert on_device["probabilities"][name] == pytest.approx(prob, abs=PREDICT_ATOL), name

    assert main(["predict", str(video), "--checkpoint", str(video_model), "--device", device, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["device"].startswith("cuda") and printed["frames_with_face"] >= 12
