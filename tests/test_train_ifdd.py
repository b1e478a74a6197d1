"""IFDD training: it learns, resumes exactly after an interruption, and stops cleanly on a NaN loss."""

import json

import numpy as np
import pytest
import torch
from interrupt import run_interrupted

from ferflow.config import ParamsError, validate_params
from ferflow.core.checkpoint import load_checkpoint
from ferflow.data.store import StoreError, open_store, write_store
from ferflow.train import common
from ferflow.train import ifdd as trainer
from ferflow.train.common import NonFiniteLossError


@pytest.fixture
def store(tmp_path):
    """24 clips of 8 frames whose label lives in the motion: class k brightens by 12k per frame."""
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 3
    base = rng.integers(40, 120, (24, 1, 32, 32, 3))
    ramp = np.arange(8)[None, :, None, None, None] * (labels[:, None, None, None, None] * 12)
    clips = np.clip(base + ramp + rng.integers(0, 10, (24, 8, 32, 32, 3)), 0, 255).astype(np.uint8)
    rows = [
        {
            "sample_id": f"{i:05d}",
            "label": str(labels[i]),
            "identity": str(i % 4),
            "split": "",
            "fold": str(i % 4 + 1),
            "frame_indices": "",
            "source": "",
        }
        for i in range(24)
    ]
    write_store(tmp_path / "clips", [(clips, rows)], {"classes": ["a", "b", "c"]})
    return tmp_path / "clips"


def params(epochs=2, **train):
    return validate_params(
        {
            "ifdd": {
                "variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2"],
                "init": "none",  # no pretraining stage here
                "num_frames": 8,
                "img_size": 32,
                "model": {"width_mult": 0.35, "embed_dim": 32},
                "mixup": {"enabled": True},
                "train": {
                    "epochs": epochs,
                    "batch_size": 6,
                    "lr": 2e-3,
                    "warmup_epochs": 0.5,
                    "num_workers": 0,
                    "threads": 1,
                    **train,
                },
            }
        }
    ).ifdd


def test_resume_after_interruption_matches_an_uninterrupted_run(store, tmp_path, monkeypatch):
    p = params()
    straight = trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "straight")

    run_interrupted(
        monkeypatch,
        common,
        lambda: trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "resumed"),
    )
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 0
    # Values this job's result does not depend on (ferflow.jobs) do not stop it from resuming.
    elsewhere = p.model_copy(
        update={
            "folds": [1, 2, 3],
            "variants": [*p.variants, "ifdd_mvit"],
            "train": p.train.model_copy(update={"device": "cpu", "gpus": 2}),
        }
    )
    resumed = trainer.train_ifdd(elsewhere, store, "ifdd_mobilenetv2", 1, tmp_path / "resumed")

    assert resumed == pytest.approx(straight | {"epoch_seconds": resumed["epoch_seconds"]})
    a = load_checkpoint(tmp_path / "straight" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "model.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


def test_a_checkpoint_of_other_code_is_not_resumed(store, tmp_path, monkeypatch, capsys):
    # Same parameters, edited ferflow: its tensors may no longer fit, or fit but mean something else.
    p = params(epochs=1)
    trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "run")
    monkeypatch.setattr(trainer, "source_fingerprint", lambda: "edited sources")
    trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "run")
    out = capsys.readouterr().out
    assert "written with other parameters, data or code; starting afresh" in out
    assert "resuming" not in out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(store, tmp_path, monkeypatch):
    p = params(epochs=3)
    real_lift = trainer.lifting_loss
    calls = {"n": 0}

    def poisoned(features, weight, reduction):
        calls["n"] += 1
        loss = real_lift(features, weight, reduction)
        return loss * float("nan") if calls["n"] > 3 else loss  # epoch 1 has 3 steps

    monkeypatch.setattr(trainer, "lifting_loss", poisoned)
    with pytest.raises(
        NonFiniteLossError, match=r"loss is nan at epoch 2, step 1.*last good checkpoint is kept"
    ):
        trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 1, tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 0
    assert not (tmp_path / "run" / "model.pt").exists()


def test_model_file_rebuilds_the_model(store, tmp_path):
    p = params(epochs=1, selection="val", val_fraction=0.25)
    trainer.train_ifdd(p, store, "baseline_mobilenetv2", 2, tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run" / "model.pt")
    assert saved["selection"] == "val" and saved["classes"] == ["a", "b", "c"] and saved["fold"] == 2
    model = trainer.create_model(saved["variant"], **saved["kwargs"])
    model.load_state_dict(saved["model"])
    assert model(torch.rand(2, 3, 8, 32, 32)).shape == (2, 3)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert {"val/uar", "test/uar", "train/loss"} <= set(history[0])
    assert (tmp_path / "run" / "live" / "metrics.json").is_file()


def _with(p, **update):
    return validate_params({"ifdd": p.model_dump(mode="json") | update}).ifdd


def test_backbone_starts_from_a_trained_baseline(store, tmp_path, capsys):
    source = tmp_path / "base" / "fold_2" / "model.pt"
    trainer.train_ifdd(params(epochs=1), store, "baseline_mobilenetv2", 2, source.parent)
    template = str(tmp_path / "base" / "fold_{fold}" / "model.pt")
    p = _with(params(epochs=1), init_backbone_from={"ifdd_mobilenetv2": template})

    torch.manual_seed(0)
    started = trainer.build_model(p, "ifdd_mobilenetv2", 3, fold=2).state_dict()
    torch.manual_seed(0)
    fresh = trainer.build_model(params(), "ifdd_mobilenetv2", 3, fold=2).state_dict()
    trained = load_checkpoint(source)["model"]
    backbone = [k for k in started if k.startswith("backbone.")]
    assert backbone and all(torch.equal(started[k], trained[k]) for k in backbone)
    assert not all(torch.equal(fresh[k], trained[k]) for k in backbone)
    assert all(torch.equal(started[k], fresh[k]) for k in started if k not in backbone)  # the rest: fresh

    # The source is part of the resume key: a retrained baseline restarts the run that started from it.
    trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 2, tmp_path / "ifdd")
    trainer.train_ifdd(params(epochs=1, seed=1), store, "baseline_mobilenetv2", 2, source.parent)
    capsys.readouterr()
    trainer.train_ifdd(p, store, "ifdd_mobilenetv2", 2, tmp_path / "ifdd")
    assert "starting afresh" in capsys.readouterr().out


def test_a_backbone_that_does_not_fit_is_refused(store, tmp_path):
    other = tmp_path / "narrow" / "model.pt"
    narrow = _with(params(epochs=1), model={"width_mult": 0.5, "embed_dim": 32})
    trainer.train_ifdd(narrow, store, "baseline_mobilenetv2", 2, other.parent)
    p = _with(params(epochs=1), init_backbone_from={"ifdd_mobilenetv2": str(other)})
    with pytest.raises(ValueError, match=r"narrow/model.pt: its backbone does not fit this model"):
        trainer.build_model(p, "ifdd_mobilenetv2", 3, fold=2)
    missing = _with(params(epochs=1), init_backbone_from={"ifdd_mobilenetv2": str(tmp_path / "none.pt")})
    with pytest.raises(FileNotFoundError, match=r"none\.pt"):
        trainer.build_model(missing, "ifdd_mobilenetv2", 3, fold=2)
    with pytest.raises(ParamsError, match=r"ifdd: init_backbone_from: \['ifdd_mvit'\] not in variants"):
        _with(params(epochs=1), init_backbone_from={"ifdd_mvit": str(other)})


def test_two_process_run_under_torchrun(store, tmp_path, monkeypatch):
    """The multi-GPU path (gpu-run -> torchrun -> DDP), on the CPU with gloo and two fake device ids."""
    from ferflow import gpu
    from ferflow.config import Params

    monkeypatch.setenv("FERFLOW_GPU_IDS", "0,1")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr(gpu, "LOCK_DIR", tmp_path / "locks")
    p = Params(ifdd=params(epochs=2)).model_dump_json(include={"ifdd"})
    args = [
        "train-ifdd",
        "--params-json",
        p,
        "--store",
        str(store),
        "--variant",
        "baseline_mobilenetv2",
        "--fold",
        "1",
        "--out",
        str(tmp_path / "ddp"),
        "--threads",
        "1",
    ]
    assert gpu.run_stage(2, args) == 0
    history = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert load_checkpoint(tmp_path / "ddp" / "model.pt")["variant"] == "baseline_mobilenetv2"


def test_an_inner_fold_validates_on_training_identities_and_leaves_the_test_fold_unread(store, tmp_path):
    p = params(epochs=1)
    opened = open_store(store)
    rows = trainer.fold_rows(opened, 1, p, inner_fold=2)
    folds = {name: {opened.index[i]["fold"] for i in r} for name, r in rows.items()}
    assert folds == {"train": {"3", "4"}, "val": {"2"}}  # fold 1 (the test fold) nowhere
    trainer.train_ifdd(p, store, "control_dynamics", 1, tmp_path / "inner", inner_fold=2)
    history = json.loads((tmp_path / "inner" / "history.json").read_text())
    assert "val/uar" in history[0] and not any(key.startswith("test/") for key in history[0])
    with pytest.raises(StoreError, match="inner fold 1"):
        trainer.fold_rows(opened, 1, p, inner_fold=1)


def test_the_null_control_trains_on_shuffled_labels_and_is_tested_on_true_ones(store, tmp_path, monkeypatch):
    labels = np.arange(30) % 3
    shuffled = trainer.permuted_labels(labels, 0)
    assert sorted(shuffled) == sorted(labels) and (shuffled != labels).any()
    assert np.array_equal(shuffled, trainer.permuted_labels(labels, 0))
    assert not np.array_equal(shuffled, trainer.permuted_labels(labels, 1))

    loaders = {}
    real = trainer.make_loader

    def spy(dataset, batch_size, train, runtime, workers):
        loaders[train] = dataset
        return real(dataset, batch_size, train, runtime, workers)

    monkeypatch.setattr(trainer, "make_loader", spy)
    null = params(epochs=1, permute_labels=True, seed=3)
    trainer.train_ifdd(null, store, "control_static", 1, tmp_path / "null")
    opened = open_store(store)
    true_train = opened.labels[opened.rows("train", 1)]
    assert np.array_equal(loaders[True].labels, trainer.permuted_labels(true_train, 3))
    assert not np.array_equal(loaders[True].labels, true_train)
    assert np.array_equal(loaders[False].labels, opened.labels[opened.rows("test", 1)])
