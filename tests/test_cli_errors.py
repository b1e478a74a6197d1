"""A user's mistake ends every subcommand with one line `ferflow: <what>, <which file/key>, <what to do>` and
a non-zero status; --debug (or FERFLOW_DEBUG=1) shows the traceback instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ferflow.cli import main
from ferflow.data.store import write_store
from ferflow.errors import UserError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with valid params, an image store and a clip store (not trained on)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERFLOW_DEBUG", raising=False)
    (tmp_path / "params.yaml").write_text("synthetic: {size: tiny}\ndata: {shards: 1}\n")
    rows = [{"sample_id": str(i), "label": "0", "split": "train", "fold": "1"} for i in range(2)]
    write_store(tmp_path / "images", [(np.zeros((2, 8, 8, 3), np.uint8), rows)], {"classes": ["a"]})
    write_store(tmp_path / "clips", [(np.zeros((2, 4, 8, 8, 3), np.uint8), rows)], {"classes": ["a"]})
    return tmp_path


CASES = {
    "params": (["params", "--params", "nope.yaml"], 2, "nope.yaml: parameter file not found; run from"),
    "synthesize": (
        ["synthesize", "--params-json", '{"synthetic": {"crf": 99}}'],
        2,
        "--params-json: invalid parameters (sections: synthetic)",
    ),
    "prepare": (
        ["prepare", "--kind", "clips", "--shard", "3", "--out", "x"],
        1,
        "--shard 3 is outside 0..0 (data.shards = 1); pass one of those",
    ),
    "pack": (
        ["pack", "--kind", "clips", "--shards", "s0", "--out", "o", "--metrics", "m", "--manifest", "f"],
        1,
        "s0/samples.npy: missing, so s0 is no sample store; give a store folder",
    ),
    "train-ifdd": (
        ["train-ifdd", "--store", "images", "--variant", "ifdd_mobilenetv2", "--fold", "1", "--out", "r"],
        1,
        "images: an image store, but train-ifdd needs a clip store (N x T x S x S x 3): give data/processed/",
    ),
    "evaluate-ifdd": (
        ["evaluate-ifdd", "--model", "params.yaml", "--store", "clips", "--out", "e"],
        1,
        "params.yaml: not a readable ferflow checkpoint (",
    ),
    "summarize-ifdd": (
        ["summarize-ifdd", "--metrics", "m.json", "--out", "s.json"],
        1,
        "m.json: no such file or folder; check the path, or run the stage that writes it",
    ),
    "train-dicefer": (
        ["train-dicefer", "--model", "baseline", "--store", "clips", "--out", "d"],
        1,
        "clips: DICE-FER trains on an image store (N x S x S x 3), got shape (2, 4, 8, 8, 3); give",
    ),
    "evaluate-dicefer": (
        ["evaluate-dicefer", "--model", "none.pt", "--store", "images", "--out", "e"],
        1,
        "none.pt: checkpoint not found",
    ),
    "report": (["report", "--root", "nowhere"], 1, "--root nowhere: no such folder; give the project"),
    "predict": (["predict", "a.mp4", "--checkpoint", "params.yaml"], 1, "params.yaml: not a readable"),
    "bench": (
        ["bench", "models", "--out", "b.json", "--model-kwargs", "{bad"],
        1,
        "--model-kwargs: not valid JSON (",
    ),
    "bench feed": (
        ["bench", "feed", "--out", "b.json", "--model-kwargs", "{bad"],
        1,
        "--model-kwargs: not valid JSON (",
    ),
    "bench feed kwargs": (
        ["bench", "feed", "--out", "b.json", "--model-kwargs", "[0.5]"],
        1,
        "--model-kwargs: expected a JSON object of factory arguments; e.g.",
    ),
    "summarize-pretrain": (
        ["summarize-pretrain", "--metrics", "m.json", "--out", "s.json"],
        1,
        "m.json: no such file or folder; check the path",
    ),
    "gpu-run": (["gpu-run", "--gpus", "1"], 1, "gpu-run: no stage given; put it after --, e.g."),
    "data check": (
        ["data", "check", "--kind", "clips"],
        1,
        "data check found 1 problem(s) in data.video (synthetic_video at data/raw/synthetic/tiny)",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_a_user_error_is_one_line(project: Path, name: str, capsys: pytest.CaptureFixture) -> None:
    argv, status, message = CASES[name]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith(f"ferflow: {message}"), err
    assert "Traceback" not in err
    if name != "synthesize":  # bad parameters list each key on a line of its own under the header
        assert err.count("\n") == 1


ARGUMENT_ERRORS = {  # the command line -> the start of its one-line error
    "train-ifdd --store clips --variant ifdd_resnet --out r": (
        "train-ifdd: argument --variant: invalid choice: 'ifdd_resnet'"
    ),
    "evaluate-ifdd --model m.pt --store clips --out e --device gpu": (
        "evaluate-ifdd: argument --device: expected auto, cpu, cuda or cuda:N"
    ),
    "bench feed --out b.json --variant ifdd_mvti": "bench: argument --variant: invalid choice: 'ifdd_mvti'",
    "predict a.mp4 --checkpoint m.pt --device gpu": (
        "predict: argument --device: expected auto, cpu, cuda or cuda:N"
    ),
    "pretrain --trunk resnet18 --img-size 0": "pretrain: argument --img-size: must be above 0, got 0;",
    "pretrain --trunk mobilenetv2 --width-mult 0": "pretrain: argument --width-mult: must be above 0, got 0;",
    "": "the following arguments are required: STAGE; see `ferflow --help`",
}


@pytest.mark.parametrize("command", ARGUMENT_ERRORS)
def test_a_bad_argument_is_one_line(project: Path, capsys: pytest.CaptureFixture, command: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(command.split())
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ferflow: {ARGUMENT_ERRORS[command]}") and err.count("\n") == 1, err


def test_a_corrupt_init_file_is_one_line(project: Path, capsys: pytest.CaptureFixture) -> None:
    (project / "bad.pt").write_bytes(b"not a weights file")
    argv = ["train-dicefer", "--params-json", '{"dicefer": {"init": "bad.pt"}}', "--model", "baseline"]
    assert main([*argv, "--store", "images", "--out", "d"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ferflow: init bad.pt: bad.pt is not a loadable PyTorch weight file (")
    assert err.count("\n") == 1 and "give a file saved with torch.save(model.state_dict(), ...)" in err


def test_summarize_pretrain_ends_with_status_zero(project: Path) -> None:
    metrics = project / "metrics.json"
    metrics.write_text('{"trunk": "resnet18", "verification": {"accuracy": 0.9, "pairs": 10}}')
    assert main(["summarize-pretrain", "--metrics", str(metrics), "--out", "summary.json"]) == 0
    assert (project / "summary.json").read_text().count("0.9") == 1


def test_debug_shows_the_traceback(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["prepare", "--kind", "clips", "--shard", "3", "--out", "x"]
    with pytest.raises(UserError, match=r"outside 0\.\.0"):
        main(["--debug", *argv])
    monkeypatch.setenv("FERFLOW_DEBUG", "1")
    with pytest.raises(UserError, match=r"outside 0\.\.0"):
        main(argv)
