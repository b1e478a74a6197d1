"""DICE-FER and baseline training: per-stage freezing, exact resumption mid-stage, NaN stops, model.pt."""

import copy
import json

import numpy as np
import pytest
import torch
from interrupt import run_interrupted

from ferflow.config import validate_params
from ferflow.core.checkpoint import load_checkpoint
from ferflow.data.store import write_store
from ferflow.models import create_model
from ferflow.train import dicefer as trainer
from ferflow.train import stages
from ferflow.train.common import NonFiniteLossError

# Steps per epoch: 24 training images in batches of 8.
STEPS = 3


def _rows(n: int, split: str = "train") -> list[dict[str, str]]:
    return [
        {
            "sample_id": f"s{i:03d}",
            "label": str(i % 3),
            "identity": f"p{i % 4}",
            "split": split,
            "fold": "",
            "frame_indices": "",
            "source": "",
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    images = np.random.default_rng(0).integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
    root = tmp_path_factory.mktemp("dicefer") / "images"
    write_store(root, [(images, _rows(24))], {"classes": ["a", "b", "c"]})
    return root


def params(stage_epochs=(1, 2, 1), baseline_epochs=2):
    return validate_params(
        {
            "dicefer": {
                "init": "none",  # no pretraining stage here
                "img_size": 32,
                "code_dim": 8,
                "classifier_hidden": [16, 16],
                "batch_size": 8,
                "stage_epochs": list(stage_epochs),
                "baseline_epochs": baseline_epochs,
                "runtime": {"num_workers": 0, "threads": 1, "seed": 0, "device": "cpu"},
            }
        }
    ).dicefer


def _without_timing(entry):
    return {k: v for k, v in entry.items() if k != "seconds" and not k.endswith("_per_second")}


def _assert_same_summary(a, b):
    """Equal last-epoch metrics of every stage, timings aside."""
    assert a.keys() == b.keys()
    for stage in a:
        assert _without_timing(a[stage]) == pytest.approx(_without_timing(b[stage]))


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


@pytest.fixture(scope="module")
def straight(store, tmp_path_factory):
    """An uninterrupted run, keeping a copy of the model weights of every checkpoint it writes."""
    out = tmp_path_factory.mktemp("straight")
    snapshots = {}
    real_save = stages.save_checkpoint

    def recording_save(path, state):
        if path.name == stages.CHECKPOINT:
            snapshots[(state["stage"] + 1, state["epoch"] + 1)] = copy.deepcopy(state["model"])
        return real_save(path, state)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stages, "save_checkpoint", recording_save)
        summary = trainer.train_dicefer(params(), store, out)
    return {"out": out, "summary": summary, "snapshots": snapshots}


def _part(state, prefix):
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def test_each_stage_trains_only_its_parts(straight):
    snaps = straight["snapshots"]
    assert sorted(snaps) == [(1, 1), (2, 1), (2, 2), (3, 1)]
    torch.manual_seed(0)  # the trainer's seed: the same initial weights
    init = create_model(trainer.DICEFER_MODEL, **trainer.dicefer_kwargs(params(), 3)).state_dict()
    after1, after2, after3 = snaps[(1, 1)], snaps[(2, 2)], snaps[(3, 1)]

    # Stage 1 moves the expression encoder (weights and BatchNorm statistics), not the identity encoder.
    _assert_same_weights(_part(after1, "identity_encoder."), _part(init, "identity_encoder."))
    weight = "expression_encoder.trunk.conv1.weight"
    running = "expression_encoder.trunk.bn1.running_mean"
    assert not torch.equal(after1[weight], init[weight]) and not torch.equal(after1[running], init[running])
    # Stage 2 leaves E exactly as stage 1 left it and trains the identity encoder and D.
    _assert_same_weights(_part(after2, "expression_encoder."), _part(after1, "expression_encoder."))
    for key in ("identity_encoder.trunk.conv1.weight", "identity_encoder.trunk.bn1.running_var"):
        assert not torch.equal(after2[key], after1[key]), key
    assert not torch.equal(after2["discriminator.net.0.weight"], after1["discriminator.net.0.weight"])
    # Stage 3 touches only the classifier.
    frozen = {k: v for k, v in after3.items() if not k.startswith("classifier.")}
    _assert_same_weights(frozen, {k: after2[k] for k in frozen})
    assert not torch.equal(after3["classifier.net.0.weight"], after2["classifier.net.0.weight"])


def test_resume_inside_stage_2_matches_an_uninterrupted_run(straight, store, tmp_path, monkeypatch):
    real_disc = trainer.discriminator_loss
    calls = {"n": 0}

    def interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > STEPS:  # stage 2, epoch 2, step 1
            raise KeyboardInterrupt
        return real_disc(*args, **kwargs)

    monkeypatch.setattr(trainer, "discriminator_loss", interrupt)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_dicefer(params(), store, tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["stage"], state["epoch"]) == (1, 0)  # stage 2's first epoch is done
    assert set(state["optimizers"]) == {"encoder", "statistics", "discriminator"}
    assert not (tmp_path / "model.pt").exists()

    monkeypatch.setattr(trainer, "discriminator_loss", real_disc)
    stage1_calls = {"n": 0}
    real_exp = trainer.expression_loss

    def counting(*args, **kwargs):
        stage1_calls["n"] += 1
        return real_exp(*args, **kwargs)

    monkeypatch.setattr(trainer, "expression_loss", counting)
    resumed = trainer.train_dicefer(params(), store, tmp_path)
    assert stage1_calls["n"] == 0  # resumed, not restarted

    _assert_same_summary(resumed, straight["summary"])
    _assert_same_weights(
        load_checkpoint(tmp_path / "model.pt")["model"],
        load_checkpoint(straight["out"] / "model.pt")["model"],
    )
    history = json.loads((tmp_path / "history.json").read_text())
    assert [(h["stage"], h["epoch"]) for h in history] == [(1, 1), (2, 1), (2, 2), (3, 1)]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(store, tmp_path, monkeypatch):
    real_adv = trainer.adversarial_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real_adv(*args, **kwargs)
        return out._replace(loss=out.loss * float("nan")) if calls["n"] > STEPS else out

    monkeypatch.setattr(trainer, "adversarial_loss", poisoned)
    with pytest.raises(
        NonFiniteLossError,
        match=r"stage 2 \(identity\), identity-encoder loss: loss is nan at epoch 2, step 1.*"
        r"last good checkpoint is kept",
    ):
        trainer.train_dicefer(params(), store, tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["stage"], state["epoch"]) == (1, 0)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "model.pt").exists()


def test_model_file_rebuilds_dicefer(straight):
    out = straight["out"]
    saved = load_checkpoint(out / "model.pt")
    assert saved["kind"] == "dicefer" and saved["classes"] == ["a", "b", "c"] and saved["img_size"] == 32
    model = create_model(saved["variant"], **saved["kwargs"])
    model.load_state_dict(saved["model"])
    model.eval()
    with torch.no_grad():
        e, i = model.encode(torch.rand(2, 1, 32, 32))
        assert model(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    assert e.shape == i.shape == (2, 8)
    history = json.loads((out / "history.json").read_text())
    assert {"mi_global", "mi_local", "l1", "pairs_per_second"} <= set(history[0])
    assert {"mi_global", "discriminator_loss", "adversarial", "images_per_second"} <= set(history[1])
    assert {"loss", "accuracy"} <= set(history[3])
    logged = json.loads((out / "live" / "metrics.json").read_text())
    assert {"expression", "identity", "classifier"} <= set(logged)


def test_baseline_resumes_and_rebuilds(store, tmp_path, monkeypatch, capsys):
    p = params(baseline_epochs=2)
    straight = trainer.train_baseline(p, store, tmp_path / "straight")

    run_interrupted(monkeypatch, stages, lambda: trainer.train_baseline(p, store, tmp_path / "resumed"))
    # DICE-FER's own epochs and losses, the probes and the GPU count leave the baseline as it is (the thread
    # count would too, but on a CPU it moves the weights' last digits, and this compares them exactly).
    elsewhere = params(stage_epochs=(5, 5, 5), baseline_epochs=2).model_copy(
        update={"delta": 0.3, "probe_folds": 3, "runtime": p.runtime.model_copy(update={"gpus": 2})}
    )
    resumed = trainer.train_baseline(elsewhere, store, tmp_path / "resumed")
    assert "at stage 1, epoch 2" in capsys.readouterr().out
    _assert_same_summary(resumed, straight)

    saved = load_checkpoint(tmp_path / "resumed" / "model.pt")
    _assert_same_weights(saved["model"], load_checkpoint(tmp_path / "straight" / "model.pt")["model"])
    assert saved["kind"] == "baseline" and saved["classes"] == ["a", "b", "c"]
    model = create_model(saved["variant"], **saved["kwargs"])
    model.load_state_dict(saved["model"])
    assert model.eval()(torch.rand(2, 1, 32, 32)).shape == (2, 3)


def test_a_checkpoint_of_another_recipe_is_not_resumed(store, tmp_path, capsys):
    trainer.train_baseline(params(baseline_epochs=1), store, tmp_path)
    again = params(baseline_epochs=1).model_copy(update={"lr": 1e-3})
    trainer.train_baseline(again, store, tmp_path)
    assert "written with other parameters, data or code; starting afresh" in capsys.readouterr().out


def test_a_checkpoint_of_other_code_is_not_resumed(store, tmp_path, monkeypatch, capsys):
    trainer.train_baseline(params(baseline_epochs=1), store, tmp_path)
    monkeypatch.setattr(trainer, "source_fingerprint", lambda: "edited sources")
    trainer.train_baseline(params(baseline_epochs=1), store, tmp_path)
    assert "written with other parameters, data or code; starting afresh" in capsys.readouterr().out


def test_baseline_nan_names_the_baseline(store, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer.F, "cross_entropy", lambda logits, y: logits.sum() * float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"baseline ResNet-18, loss: loss is nan at epoch 1, step 1"):
        trainer.train_baseline(params(baseline_epochs=1), store, tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_clip_store_is_refused(tmp_path):
    clips = np.zeros((4, 2, 32, 32, 3), dtype=np.uint8)
    write_store(tmp_path / "clips", [(clips, _rows(4))], {"classes": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="image store"):
        trainer.train_dicefer(params(), tmp_path / "clips", tmp_path / "run")


def test_delta_warmup_ramps_the_l1_weight_per_stage_1_epoch(store, tmp_path, monkeypatch):
    seen = []
    real = trainer.expression_loss

    def recording(*args, delta, **kwargs):
        seen.append(delta)
        return real(*args, delta=delta, **kwargs)

    monkeypatch.setattr(trainer, "expression_loss", recording)
    p = params(stage_epochs=(4, 0, 1)).model_copy(update={"delta": 0.2, "delta_warmup_epochs": 2})
    trainer.train_dicefer(p, store, tmp_path / "run")
    per_epoch = [seen[i * STEPS] for i in range(4)]
    assert per_epoch == pytest.approx([0.0, 0.1, 0.2, 0.2])
    assert len(set(seen[:STEPS])) == 1  # constant within an epoch
    paper = params().model_copy(update={"delta": 0.1})
    assert trainer.delta_at(paper, 0) == pytest.approx(0.1)  # no ramp: the paper's constant delta


def test_a_control_decays_its_rate_by_a_cosine_and_resumes_on_it(store, tmp_path, monkeypatch):
    p = params().model_copy(update={"control_epochs": 3, "control_lr": 1e-2})
    rates = []
    real_step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    straight = trainer.train_baseline(p, store, tmp_path / "straight", "control_image_static")
    total = 3 * STEPS
    expected = [0.5e-2 * (1 + np.cos(np.pi * k / total)) for k in range(total)]
    assert rates == pytest.approx(expected)  # from control_lr towards 0, one value per step

    rates.clear()
    run_interrupted(
        monkeypatch,
        stages,
        lambda: trainer.train_baseline(p, store, tmp_path / "resumed", "control_image_static"),
        epoch=2,
    )
    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    rates.clear()
    resumed = trainer.train_baseline(p, store, tmp_path / "resumed", "control_image_static")
    assert rates == pytest.approx(expected[2 * STEPS :])  # the resumed epoch at its own rates
    _assert_same_summary(resumed, straight)
    _assert_same_weights(
        load_checkpoint(tmp_path / "resumed" / "model.pt")["model"],
        load_checkpoint(tmp_path / "straight" / "model.pt")["model"],
    )

    fixed = p.model_copy(update={"control_schedule": "fixed"})
    rates.clear()
    trainer.train_baseline(fixed, store, tmp_path / "fixed", "control_image_static")
    assert rates == [1e-2] * total
