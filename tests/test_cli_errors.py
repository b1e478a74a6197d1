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


def test_bad_arguments_are_argparse_errors(project: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (
        ["train-ifdd", "--store", "clips", "--variant", "ifdd_resnet", "--out", "r"],
        ["evaluate-ifdd", "--model", "m.pt", "--store", "clips", "--out", "e", "--device", "gpu"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --variant: invalid choice: 'ifdd_resnet'" in err
    assert "argument --device: expected auto, cpu, cuda or cuda:N" in err


def test_debug_shows_the_traceback(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["prepare", "--kind", "clips", "--shard", "3", "--out", "x"]
    with pytest.raises(UserError, match=r"outside 0\.\.0"):
        main(["--debug", *argv])
    monkeypatch.setenv("FERFLOW_DEBUG", "1")
    with pytest.raises(UserError, match=r"outside 0\.\.0"):
        main(argv)
