"""The image controls: shapes, the reference face, and a toy where only a model that can subtract the person's
face reads the expression — the reference control must beat the static one there."""

import json
from typing import get_args

import numpy as np
import pytest
import torch
from torchvision.transforms.v2.functional import rgb_to_grayscale

from ferflow.cli import main
from ferflow.config import ImageModel, validate_params
from ferflow.core.checkpoint import load_checkpoint
from ferflow.data.datasets import ImageDataset, identity_means
from ferflow.data.store import StoreError, open_store, write_store
from ferflow.evaluate.dicefer import evaluate_dicefer
from ferflow.jobs import dicefer_key
from ferflow.model_names import IMAGE_CONTROLS, IMAGE_MODELS
from ferflow.models import create_model, list_models
from ferflow.train.dicefer import train_baseline

SIZE = 32
CLASSES = 3


def test_image_control_names_match_the_registry_and_the_schema():
    assert set(IMAGE_CONTROLS) == {m for m in list_models() if m.startswith("control_image_")}
    assert get_args(ImageModel) == IMAGE_MODELS


@pytest.mark.parametrize(("name", "channels"), [("control_image_static", 1), ("control_image_reference", 2)])
def test_shapes(name, channels):
    model = create_model(name, num_classes=5).eval()
    x = torch.rand(4, channels, 64, 64)
    assert model.forward_features(x).shape == (4, 64)
    assert model(x).shape == (4, 5)
    assert model.needs_reference == (channels == 2)
    with pytest.raises(ValueError, match=rf"expected \(B, {channels}, H, W\)"):
        model(torch.rand(4, 3 - channels, 64, 64))


def test_the_reference_control_reads_the_image_minus_the_reference():
    model = create_model("control_image_reference").eval()
    first = model.cnn.features[0]
    x = torch.rand(2, 1, 16, 16)
    reference = torch.rand(2, 1, 16, 16)
    seen = {}

    def keep_input(module, inputs, output):
        seen["input"] = inputs[0]

    first.register_forward_hook(keep_input)
    model(torch.cat([x, reference], 1))
    torch.testing.assert_close(seen["input"], torch.cat([x, x - reference], 1))


def _blob(k: int) -> np.ndarray:
    """Class k's pattern: a bright square at the k-th of three places."""
    pattern = np.zeros((SIZE, SIZE), np.float32)
    top = 4 + 9 * k
    pattern[top : top + 7, 12:20] = 1.0
    return pattern


def _toy_store(root, identities: int = 12, per_class: int = 8, test_identities: int = 3):
    """Each identity's resting face shows one class's pattern as strongly as an expression does, so that one
    image (pattern of its resting class + pattern of its expression) cannot say which is which; the person's
    mean face can. Test identities are held out of training."""
    rng = np.random.default_rng(0)
    images, rows = [], []
    for person in range(identities):
        resting = person % CLASSES
        for label in range(CLASSES):
            for j in range(per_class):
                grey = 0.35 * (_blob(resting) + _blob(label)) + 0.1 + rng.normal(0, 0.03, (SIZE, SIZE))
                images.append(np.repeat((np.clip(grey, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2))
                rows.append(
                    {
                        "sample_id": f"p{person:02d}_{label}_{j}",
                        "label": str(label),
                        "identity": f"p{person:02d}",
                        "split": "test" if person < test_identities else "train",
                        "fold": "",
                        "frame_indices": "",
                        "source": "",
                    }
                )
    write_store(root, [(np.stack(images), rows)], {"classes": [f"c{k}" for k in range(CLASSES)]})
    return root


def _params(**changes):
    dicefer = {
        "img_size": SIZE,
        "batch_size": 16,
        "control_epochs": 12,
        "control_lr": 3e-3,
        "runtime": {"num_workers": 0, "threads": 1, "seed": 0, "device": "cpu"},
    }
    return validate_params({"dicefer": dicefer | changes}).dicefer


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    store = _toy_store(root / "images")
    results = {}
    for name in IMAGE_CONTROLS:
        train_baseline(_params(), store, root / name, name)
        results[name] = evaluate_dicefer(root / name / "model.pt", store, root / name / "eval", probe_folds=2)
    return {"root": root, "store": store, "results": results}


def test_the_reference_control_beats_the_static_one_on_the_toy(toy):
    static, reference = (toy["results"][name]["war"] for name in IMAGE_CONTROLS)
    # A static image is ambiguous whenever the resting class differs from the expression (2 of 3 images):
    # the best a static model can do is about 1/3 + 2/3 * 1/2 = 67 %.
    assert static < 0.8
    assert reference > 0.9 and reference > static + 0.15


def test_controls_are_trained_and_evaluated_like_the_baseline(toy):
    for name in IMAGE_CONTROLS:
        saved = load_checkpoint(toy["root"] / name / "model.pt")
        assert (saved["kind"], saved["variant"], saved["epochs"]) == ("control", name, [12])
        result = toy["results"][name]
        assert result["kind"] == "control" and result["samples"] == 3 * CLASSES * 8
        assert set(result["probes"]) == {"identity_from_embedding", "expression_from_embedding"}
        assert result["mig"]["dimensions"] == 64 and result["mig"]["latents"] == "embedding"
        history = json.loads((toy["root"] / name / "history.json").read_text())
        assert len(history) == 12 and history[-1]["loss"] < history[0]["loss"]


def test_the_controls_depend_on_their_own_keys_only():
    p = _params()
    for name in IMAGE_CONTROLS:
        key = dicefer_key(p, name)
        for other in ({"delta": 0.5}, {"baseline_epochs": 99}, {"init": "imagenet"}, {"lr": 0.5}):
            assert dicefer_key(_params(**other), name) == key, other
        assert dicefer_key(_params(control_epochs=3), name) != key
        assert dicefer_key(_params(control_lr=0.1), name) != key
    for model in ("dicefer", "baseline"):
        assert dicefer_key(_params(control_epochs=3), model) == dicefer_key(p, model)
    with pytest.raises(ValueError, match="unknown image model 'control_image_statc'"):
        dicefer_key(p, "control_image_statc")


def test_reference_faces_are_each_persons_mean_and_move_with_the_image(tmp_path):
    images = np.zeros((3, 8, 8, 3), np.uint8)
    images[0, :, :4] = 200  # person a: left half bright
    images[1, :, :4] = 100
    images[2, :, 4:] = 90  # person b: right half
    rows = [
        {
            "sample_id": f"s{i}",
            "label": "0",
            "identity": who,
            "split": "train",
            "fold": "",
            "frame_indices": "",
        }
        | {"source": ""}
        for i, who in enumerate("aab")
    ]
    store = open_store(write_store(tmp_path / "s", [(images, rows)], {"classes": ["x"]}))
    means = identity_means(store, np.arange(3))
    grey = rgb_to_grayscale(torch.from_numpy(images).permute(0, 3, 1, 2)).double()
    torch.testing.assert_close(means["a"], ((grey[0] + grey[1]) / 2).round().to(torch.uint8))
    torch.testing.assert_close(means["b"], grey[2].to(torch.uint8))
    assert means["a"][0, 0, 0] > 140 and means["a"][0, 0, 7] == 0
    data = ImageDataset(store, np.arange(3), 8, train=True, max_angle=0, reference=True)
    for _ in range(6):  # flipped or not, image and reference flip together
        x = data.image(2)
        assert x.shape == (2, 8, 8)
        torch.testing.assert_close(x[0], x[1])  # person b's only image is their mean face


def test_a_reference_needs_every_identity(tmp_path):
    rows = [
        {"sample_id": "s0", "label": "0", "identity": "", "split": "train", "fold": "", "frame_indices": ""}
        | {"source": ""}
    ]
    store = write_store(tmp_path / "s", [(np.zeros((1, 8, 8, 3), np.uint8), rows)], {"classes": ["x"]})
    with pytest.raises(StoreError, match="1 of 1 images have no identity"):
        ImageDataset(store, np.arange(1), 8, reference=True)


def test_cli_trains_a_control(toy, tmp_path, capsys):
    params = json.dumps({"dicefer": {"img_size": SIZE, "batch_size": 16, "control_epochs": 1}})
    store, out = str(toy["store"]), str(tmp_path / "out")
    args = ["--store", store, "--out", out, "--threads", "1", "--device", "cpu"]
    code = main(["train-dicefer", "--params-json", params, "--model", "control_image_static", *args])
    assert code == 0
    assert load_checkpoint(tmp_path / "out" / "model.pt")["variant"] == "control_image_static"
    assert '"baseline"' in capsys.readouterr().out  # the stage's last-epoch summary
