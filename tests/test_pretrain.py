"""Face-recognition pretraining: it writes a trunk every downstream model loads with every key used, resumes
exactly, stops on NaN, and the named starts (faceid, torchvision's weights) resolve as documented."""

import json
import math
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision
from interrupt import run_interrupted

from ferflow.config import ParamsError, SyntheticParams, TrunkSpec, faceid_trunks, validate_params
from ferflow.core.checkpoint import load_checkpoint
from ferflow.data.prepare_faces import prepare_faces
from ferflow.data.synthetic.faceid import generate_faceid
from ferflow.models import create_model
from ferflow.models.mobilenetv2 import load_mobilenet_v2_weights
from ferflow.models.pretrained import WeightsUnavailableError, init_state_dict, torchvision_weights_file
from ferflow.train import common
from ferflow.train import pretrain as trainer
from ferflow.train.common import NonFiniteLossError, init_fingerprint

RESNET = TrunkSpec("resnet18", 32)
MOBILENET = TrunkSpec("mobilenetv2", 32, 0.35)


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pretrain")
    generate_faceid(SyntheticParams(size="tiny", seed=2), root / "corpus", workers=2)
    prepare_faces(
        validate_params({"synthetic": {"size": "tiny"}}), root / "faces", root / "corpus", workers=2
    )
    return root / "faces"


def params(epochs=2, **pretrain):
    return validate_params(
        {
            "pretrain": {
                "train": {"epochs": epochs, "batch_size": 16, "lr": 2e-3, "num_workers": 0, "threads": 1},
                **pretrain,
            }
        }
    ).pretrain


@pytest.fixture(scope="module")
def resnet_run(faces, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("resnet")
    trainer.pretrain(params(), RESNET, faces, out)
    return out


def test_writes_trunk_model_card_and_verification(resnet_run):
    card = json.loads((resnet_run / "model_card.json").read_text())
    assert card["trunk"] == "resnet18" and card["identities"] == 12 and card["images"] == 48
    assert card["dataset"] == "casia" and card["epochs"] == 2
    assert "28.65 degrees" in card["loss"] and "0.5 rad" in card["loss"]
    v = json.loads((resnet_run / "metrics.json").read_text())["verification"]
    assert 0.0 <= v["accuracy"] <= 1.0 and v["pairs"] == 80 and v["far_resolution"] == pytest.approx(1 / 40)
    scores = (resnet_run / "verification_scores.csv").read_text().splitlines()
    assert scores[0] == "fold,same,score" and len(scores) == 81
    history = json.loads((resnet_run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all("verify/accuracy" in h for h in history)
    assert "| verification |" in (resnet_run / "model_card.md").read_text()


def test_resnet_trunk_has_torchvision_layout_and_loads_into_dicefer_and_its_baseline(resnet_run):
    trunk = load_checkpoint(resnet_run / "trunk.pt")
    reference = torchvision.models.resnet18().state_dict()
    assert set(trunk) == {k for k in reference if not k.startswith("fc.")}
    missing, unexpected = torchvision.models.resnet18().load_state_dict(trunk, strict=False)
    assert not unexpected and all(k.startswith("fc.") for k in missing)

    path = resnet_run / "trunk.pt"
    dicefer = create_model("dicefer_resnet18", code_dim=8, expression_weights=path, identity_weights=path)
    baseline = create_model("resnet18_classifier", weights=path)
    for module in (dicefer.expression_encoder.trunk, dicefer.identity_encoder.trunk, baseline.trunk):
        state = module.state_dict()
        assert set(state) == set(trunk)  # every key used, none left at its initialisation
        for key in trunk:
            torch.testing.assert_close(state[key], trunk[key], msg=key)


@pytest.mark.parametrize("variant", ["ifdd_mobilenetv2", "baseline_mobilenetv2"])
def test_mobilenet_trunk_loads_into_ifdd_and_its_baseline(faces, tmp_path, variant):
    trainer.pretrain(params(epochs=1), MOBILENET, faces, tmp_path)
    trunk = load_checkpoint(tmp_path / "trunk.pt")
    reference = torchvision.models.mobilenet_v2(width_mult=0.35).state_dict()
    assert set(trunk) == {k for k in reference if k.startswith("features.")}
    model = create_model(
        variant, num_frames=8, img_size=32, width_mult=0.35, backbone_weights=tmp_path / "trunk.pt"
    )
    report = load_mobilenet_v2_weights(model, trunk)
    assert len(report.loaded) == len(trunk) and not report.unused_source
    assert not [k for k in report.not_loaded if k.startswith("backbone.")]
    state = model.state_dict()
    for key in trunk:
        torch.testing.assert_close(state[f"backbone.{key}"], trunk[key], msg=key)


def test_resume_after_interruption_matches_an_uninterrupted_run(faces, resnet_run, tmp_path, monkeypatch):
    run_interrupted(monkeypatch, common, lambda: trainer.pretrain(params(), RESNET, faces, tmp_path))
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 0
    trainer.pretrain(params(), RESNET, faces, tmp_path)
    a, b = load_checkpoint(resnet_run / "trunk.pt"), load_checkpoint(tmp_path / "trunk.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


def test_other_parameters_start_afresh(faces, tmp_path, capsys):
    trainer.pretrain(params(epochs=1), RESNET, faces, tmp_path)
    trainer.pretrain(params(epochs=1, loss="cosface"), RESNET, faces, tmp_path)
    assert "written with other parameters, data or code; starting afresh" in capsys.readouterr().out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(faces, tmp_path, monkeypatch):
    trainer.pretrain(params(epochs=1), RESNET, faces, tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    real_loss = trainer.margin_loss

    def poisoned(p, n):
        loss = real_loss(p, n)
        loss.forward = lambda embeddings, labels: embeddings.sum() * math.nan  # type: ignore[method-assign]
        return loss

    monkeypatch.setattr(trainer, "margin_loss", poisoned)
    with pytest.raises(NonFiniteLossError, match="loss is nan at epoch 1, step 1"):
        trainer.pretrain(params(epochs=2), MOBILENET, faces, tmp_path / "nan")
    assert not (tmp_path / "nan" / "trunk.pt").exists()
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_margins_are_the_papers_in_the_papers_units():
    arcface = trainer.margin_loss(params(), 10)
    assert arcface.margin == pytest.approx(0.5)  # pml takes degrees and keeps radians
    cosface = trainer.margin_loss(params(loss="cosface"), 10)
    assert cosface.margin == pytest.approx(0.35)
    assert trainer.margin_loss(params(margin=0.3), 10).margin == pytest.approx(0.3)


def test_margin_warmup_trains_with_margin_zero_first(faces, tmp_path, monkeypatch):
    seen = []
    real = trainer.set_margin
    monkeypatch.setattr(trainer, "set_margin", lambda loss, m: (seen.append(m), real(loss, m)))
    trainer.pretrain(params(epochs=3, margin_warmup_epochs=2), RESNET, faces, tmp_path)
    assert seen == [0.0, 0.0, pytest.approx(0.5)]


# -------------------------------------------------------------------------------------------- the starts
def test_faceid_start_reads_the_pretraining_output(resnet_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"results/pretrain/resnet18/trunk.pt not found; run"):
        init_state_dict("faceid", "resnet18")
    target = tmp_path / "results" / "pretrain" / "resnet18"
    target.mkdir(parents=True)
    (target / "trunk.pt").write_bytes((resnet_run / "trunk.pt").read_bytes())
    weights = init_state_dict("faceid", "resnet18")
    torch.testing.assert_close(
        weights["conv1.weight"], load_checkpoint(resnet_run / "trunk.pt")["conv1.weight"]
    )
    assert init_fingerprint("faceid", "resnet18") != init_fingerprint("none", "resnet18")
    assert init_state_dict("none", "resnet18") is None


@pytest.fixture
def offline_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("no network on this machine")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize(
    ("choice", "family", "file"),
    [
        ("imagenet", "resnet18", "resnet18-f37072fd.pth"),
        ("imagenet", "mobilenetv2", "mobilenet_v2-7ebf99e0.pth"),
        ("kinetics400", "mvit", "mvit_v2_s-ae3be167.pth"),
    ],
)
def test_torchvision_weights_offline_say_which_file_goes_where(offline_torch_home, choice, family, file):
    with pytest.raises(WeightsUnavailableError) as info:
        init_state_dict(choice, family)
    message = str(info.value)
    assert "\n" not in message and file in message and str(offline_torch_home) in message


def test_torchvision_weights_placed_in_torch_home_load_through_the_weights_api(offline_torch_home):
    from torchvision.models import ResNet18_Weights

    reference = torchvision.models.resnet18().state_dict()
    path = torchvision_weights_file(ResNet18_Weights.IMAGENET1K_V1)
    assert path == offline_torch_home / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    weights = init_state_dict("imagenet", "resnet18")
    model = create_model("dicefer_resnet18", code_dim=8, expression_weights=weights, identity_weights=weights)
    torch.testing.assert_close(
        model.expression_encoder.trunk.state_dict()["layer4.1.bn2.weight"], reference["layer4.1.bn2.weight"]
    )
    assert init_fingerprint("imagenet", "resnet18") == "ResNet18_Weights.IMAGENET1K_V1"


# --------------------------------------------------------------------------------------------- params
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"ifdd": {"variants": ["ifdd_mvit"], "init": "faceid"}}, "'faceid' does not start a mvit trunk"),
        ({"ifdd": {"init": "kinetics400"}}, "'kinetics400' does not start a mobilenetv2 trunk"),
        (
            {"ifdd": {"init": "imagenet", "model": {"width_mult": 0.5}}},
            "imagenet is torchvision's MobileNetV2 at width 1.0",
        ),
        ({"dicefer": {"init": "kinetics400"}}, "'kinetics400' does not start a resnet18 trunk"),
        (
            {"dicefer": {"init": "/no/such/weights.pt"}},
            "neither one of faceid, imagenet, none nor an existing weights file",
        ),
    ],
)
def test_init_choices_are_checked_when_params_load(raw, message):
    with pytest.raises(ParamsError, match=message):
        validate_params(raw)


def test_init_per_family_and_the_trunks_to_pretrain():
    both = {
        "variants": ["ifdd_mvit", "baseline_mobilenetv2"],
        "init": {"mvit": "kinetics400", "mobilenetv2": "faceid"},
    }
    p = validate_params({"ifdd": both, "dicefer": {"init": "faceid"}})
    assert (
        p.ifdd.init_for("ifdd_mvit") == "kinetics400" and p.ifdd.init_for("baseline_mobilenetv2") == "faceid"
    )
    assert faceid_trunks(p) == ["mobilenetv2", "resnet18"]
    assert faceid_trunks(validate_params({"ifdd": {"init": "none"}, "dicefer": {"init": "none"}})) == []
    # params.yaml's starts: DICE-FER from faceid; the demo's video models are small CNNs from random weights
    assert faceid_trunks(validate_params({})) == ["resnet18"]
    paper_trunk = validate_params({"ifdd": {"variants": ["ifdd_mobilenetv2"]}})
    assert faceid_trunks(paper_trunk) == ["mobilenetv2", "resnet18"]
