"""`ferflow predict` on one still image with a DICE-FER or baseline model trained on the tiny benchmark's
aligned images: the same input the model saw in training, and clear errors for no face, a damaged image and
a model of the wrong kind."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from test_train_dicefer import params

from ferflow.cli import main
from ferflow.config import validate_params
from ferflow.core.checkpoint import load_checkpoint, save_checkpoint
from ferflow.data.datasets import ImageDataset
from ferflow.data.frames.decoding import MediaError
from ferflow.data.prepare import pack_shards, prepare_shard
from ferflow.data.store import open_store
from ferflow.evaluate.dicefer import load_trained
from ferflow.predict import ModelFileError, NoFaceError, is_image, predict, predict_image, predict_video
from ferflow.train.dicefer import train_baseline, train_dicefer

DATA = validate_params({"synthetic": {"size": "tiny"}, "data": {"shards": 1, "image_size": 64}})


@pytest.fixture(scope="module")
def work(tiny_benchmark, tmp_path_factory):
    """The benchmark's images aligned with dlib into a 64-px store, and a tiny model of each kind on it."""
    work = tmp_path_factory.mktemp("predict_image")
    prepare_shard(DATA, "images", 0, work / "shard", tiny_benchmark)
    pack_shards(DATA, "images", [work / "shard"], work / "images", work / "m.json", work / "s.csv")
    p = params(stage_epochs=(1, 1, 1), baseline_epochs=1)
    train_dicefer(p, work / "images", work / "dicefer")
    train_baseline(p, work / "images", work / "baseline")
    return work


def _original(root, name="test_0001"):
    return root / "RAF-DB" / "basic" / "Image" / "original" / f"{name}.jpg"


def test_cli_predicts_an_unaligned_image(work, tiny_benchmark):
    image = _original(tiny_benchmark)
    model = work / "dicefer" / "model.pt"
    done = subprocess.run(
        [sys.executable, "-m", "ferflow", "predict", str(image), "--checkpoint", str(model), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    classes = list(open_store(work / "images").classes)
    assert list(result["probabilities"]) == classes
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert result["predicted"] == max(classes, key=result["probabilities"].__getitem__)
    assert result["image"] == str(image) and result["model"] == "dicefer_resnet18"
    assert result["frames_with_face"] == result["frames"] == 1 and result["align_backend"] == "dlib"


@pytest.mark.parametrize("kind", ["dicefer", "baseline"])
def test_the_model_sees_what_it_saw_in_training(work, tiny_benchmark, kind, capsys):
    """Predicting the original image gives the probabilities of the model on the data stage's aligned face."""
    image = _original(tiny_benchmark)
    result = predict(image, work / kind / "model.pt")
    store = open_store(work / "images")
    row = next(i for i, r in enumerate(store.index) if r["sample_id"] == "test_0001")
    model, saved = load_trained(work / kind / "model.pt")
    with torch.no_grad():
        expected = torch.softmax(model(ImageDataset(store, [row], saved["img_size"]).image(0)[None]), 1)[0]
    np.testing.assert_allclose(list(result["probabilities"].values()), expected.numpy(), atol=1e-5)
    assert main(["predict", str(image), "--checkpoint", str(work / kind / "model.pt")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{image}: {result['predicted']} ({saved['variant']}; face found)")
    assert len(out.splitlines()) == 1 + len(store.classes)


def test_pre_aligned_images_are_only_resized(work, tiny_benchmark, tmp_path):
    """A model trained on a store built with backend `none` takes the image as it is (no detection); a file
    without an image suffix is recognised by its contents."""
    saved = load_checkpoint(work / "baseline" / "model.pt")
    saved["data"] = {**saved["data"], "align_backend": "none"}
    model = save_checkpoint(tmp_path / "model.pt", saved)
    image = tmp_path / "face"  # no suffix: a JPEG by its contents
    image.write_bytes(
        (tiny_benchmark / "RAF-DB" / "basic" / "Image" / "aligned" / "test_0001_aligned.jpg").read_bytes()
    )
    assert is_image(image)
    result = predict(image, model)
    assert result["align_backend"] == "none" and result["image"] == str(image)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_an_image_without_a_face(work, tmp_path, capsys):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(grey)
    with pytest.raises(NoFaceError, match=re.escape(f"{grey}: no face found")):
        predict_image(grey, work / "dicefer" / "model.pt")
    assert main(["predict", str(grey), "--checkpoint", str(work / "dicefer" / "model.pt")]) == 1
    err = capsys.readouterr().err
    assert str(grey) in err and "no face found" in err


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_image(work, tiny_benchmark, tmp_path, damage, capsys):
    data = _original(tiny_benchmark).read_bytes()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(
        {"garbage": b"not an image" * 50, "truncated": data[: len(data) // 2], "empty": b""}[damage]
    )
    with pytest.raises(MediaError, match=re.escape(f"{bad}: ")):
        predict(bad, work / "dicefer" / "model.pt")
    assert main(["predict", str(bad), "--checkpoint", str(work / "dicefer" / "model.pt"), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"ferflow: {bad}: " in captured.err


def test_media_and_model_of_different_kinds(work, tiny_benchmark, tmp_path, capsys):
    image = _original(tiny_benchmark)
    video = tiny_benchmark / "DFEW" / "Clip" / "original" / "00001.mp4"
    ifdd = save_checkpoint(  # what train-ifdd writes, minus the weights: the kind is decided before loading
        tmp_path / "ifdd.pt",
        {
            "model": {},
            "variant": "ifdd_mobilenetv2",
            "kwargs": {"num_classes": 7, "num_frames": 16, "img_size": 64},
            "classes": ["a"] * 7,
            "data": {"shape": [35, 16, 112, 112, 3], "align_backend": "dlib"},
        },
    )
    with pytest.raises(ModelFileError, match=r"a still image, but .* holds an IFDD video model"):
        predict(image, ifdd)
    with pytest.raises(ModelFileError, match=r"read as a video, but .* holds a still-image model"):
        predict(video, work / "dicefer" / "model.pt")
    with pytest.raises(ModelFileError, match="read as a video"):
        predict_video(video, work / "baseline" / "model.pt")
    with pytest.raises(ModelFileError, match="not a trained model"):
        predict(image, work / "dicefer" / "checkpoint.pt")
    assert main(["predict", str(image), "--checkpoint", str(ifdd)]) == 1
    err = capsys.readouterr().err
    assert str(image) in err and str(ifdd) in err
    assert main(["predict", str(video), "--checkpoint", str(work / "dicefer" / "model.pt")]) == 1
    err = capsys.readouterr().err
    assert str(video) in err and str(work / "dicefer" / "model.pt") in err


def test_a_model_file_whose_weights_no_longer_fit(work, tiny_benchmark, tmp_path, capsys):
    saved = load_checkpoint(work / "baseline" / "model.pt")
    saved["model"] = {k: v for k, v in saved["model"].items() if not k.startswith("fc.")}
    stale = save_checkpoint(tmp_path / "stale.pt", saved)
    with pytest.raises(ModelFileError, match=r"(?s)stale\.pt: .*another ferflow version.*Missing key"):
        predict(_original(tiny_benchmark), stale)
    assert main(["predict", str(_original(tiny_benchmark)), "--checkpoint", str(stale)]) == 1
    assert str(stale) in capsys.readouterr().err
