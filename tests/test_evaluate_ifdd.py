"""Evaluation, summaries and prediction for a model trained on the tiny benchmark."""

import csv
import json

import av
import numpy as np
import pytest
from layouts import unreadable_damage
from sklearn.metrics import balanced_accuracy_score

from ferflow.cli import main
from ferflow.config import validate_params
from ferflow.data.prepare import pack_shards, prepare_shard
from ferflow.data.synthetic.render import write_video
from ferflow.evaluate.ifdd import evaluate_ifdd, summarize_ifdd
from ferflow.predict import NoFaceError, predict_video
from ferflow.train.ifdd import train_ifdd

PARAMS = validate_params(
    {
        "synthetic": {"size": "tiny"},
        "data": {"shards": 1},
        "ifdd": {
            "init": "none",  # no pretraining stage here
            "img_size": 64,
            "model": {"width_mult": 0.35, "embed_dim": 32},
            "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "warmup_epochs": 0.5, "num_workers": 0},
        },
    }
)


@pytest.fixture(scope="module")
def trained(tiny_benchmark, tmp_path_factory):
    work = tmp_path_factory.mktemp("ifdd")
    prepare_shard(PARAMS, "clips", 0, work / "shard", tiny_benchmark)
    pack_shards(PARAMS, "clips", [work / "shard"], work / "clips", work / "m.json", work / "s.csv")
    train_ifdd(PARAMS.ifdd, work / "clips", "ifdd_mobilenetv2", 1, work / "run")
    return work


def test_metrics_agree_with_the_predictions(trained, tiny_benchmark):
    truth = tiny_benchmark / "ground_truth" / "clips.csv"
    result = evaluate_ifdd(trained / "run" / "model.pt", trained / "clips", trained / "eval", truth)
    with (trained / "eval" / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == result["samples"] == 7  # one identity in fold 1's test set, 7 clips
    y_true = [r["label"] for r in rows]
    y_pred = [r["predicted"] for r in rows]
    assert result["war"] == pytest.approx(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))
    assert result["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    probs = np.array([[float(r[f"p_{c}"]) for c in result["classes"]] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)
    cm = np.array(result["confusion"])
    assert cm.sum() == 7 and np.allclose(np.array(result["confusion_normalised"]).sum(1)[cm.sum(1) > 0], 1)
    assert result["selection"] == "last" and not result["optimistic"]
    episode = json.loads((trained / "eval" / "issm_episode.json").read_text())
    assert episode["clips"] == 6  # the neutral clip has no episode
    for key in ("dynamic_in_episode", "static_in_episode", "episode_share"):
        assert 0.0 <= episode[key] <= 1.0
    first = episode["per_clip"][0]
    assert len(first["dynamic"]) == len(first["static"]) == 4
    assert all(0 <= f <= 20 for f in first["dynamic"] + first["static"])  # source frame numbers


def test_summary_means_over_folds(tmp_path):
    paths = []
    for fold, (w, u) in enumerate([(0.5, 0.4), (0.7, 0.6)], start=1):
        run = tmp_path / f"fold_{fold}"
        (run / "eval").mkdir(parents=True)
        (run / "history.json").write_text(json.dumps([{"epoch": 1, "train/loss": 2.0, "test/uar": u}]))
        (run / "eval" / "predictions.csv").write_text("sample_id,label,predicted\n1,a,b\n2,b,b\n")
        path = run / "eval" / "metrics.json"
        path.write_text(json.dumps({"variant": "v", "fold": fold, "war": w, "uar": u, "optimistic": False}))
        paths.append(path)
    summary = summarize_ifdd(paths, tmp_path / "out" / "summary.json")
    assert summary["v"]["mean_war"] == pytest.approx(0.6) and summary["v"]["mean_uar"] == pytest.approx(0.5)
    assert set(summary["v"]["folds"]) == {"1", "2"}
    plots = tmp_path / "out" / "plots"
    assert (plots / "confusion" / "v_fold2.csv").read_text() == "label,predicted\na,b\nb,b\n"
    assert (plots / "learning" / "v_fold1.csv").read_text().splitlines()[1] == "1,2.0,0.4,"


def test_predict_one_video(trained, tiny_benchmark, capsys):
    video = tiny_benchmark / "DFEW" / "Clip" / "original" / "00001.mp4"
    result = predict_video(video, trained / "run" / "model.pt")
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert result["predicted"] in result["probabilities"] and result["frames_with_face"] >= 12
    assert main(["predict", str(video), "--checkpoint", str(trained / "run" / "model.pt"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["probabilities"]) == set(result["probabilities"])


def test_predict_a_damaged_or_one_frame_video(trained, tiny_benchmark, tmp_path, capsys):
    model = str(trained / "run" / "model.pt")
    video = tiny_benchmark / "DFEW" / "Clip" / "original" / "00002.mp4"
    damaged, reason = unreadable_damage(video, tmp_path / "damaged.mp4")
    assert main(["predict", str(damaged), "--checkpoint", model]) == 1
    assert capsys.readouterr().err == f"ferflow: {damaged}: {reason}\n"
    with av.open(str(video)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    one = tmp_path / "one.mp4"
    write_video(one, iter([first]), fps=25, crf=18, keyframe_interval=12)
    assert main(["predict", str(one), "--checkpoint", model]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.endswith("sampled frames, 1 distinct frame: the video is shorter than the model's 16)"), line
    assert predict_video(one, trained / "run" / "model.pt")["distinct_frames"] == 1


def test_predict_without_a_face(trained, tmp_path, capsys):
    blank = tmp_path / "blank.mp4"
    write_video(
        blank, (np.full((64, 64, 3), 90, np.uint8) for _ in range(20)), fps=25, crf=23, keyframe_interval=12
    )
    with av.open(str(blank)) as c:
        assert c.streams.video[0].frames == 20
    with pytest.raises(NoFaceError, match="no face found"):
        predict_video(blank, trained / "run" / "model.pt")
    assert main(["predict", str(blank), "--checkpoint", str(trained / "run" / "model.pt")]) == 1
    assert "no face found" in capsys.readouterr().err
