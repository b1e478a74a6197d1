"""Paper recipes: one command writes a paper's settings into params.yaml, where DVC and git see them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ferflow.cli import main
from ferflow.config import load_params

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    for name in ("DFEW", "FERV39k", "MAFW", "RAF-DB"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("recipe", "root", "expected"),
    [
        ("ifdd_dfew", "DFEW", {"data.video.dataset": "dfew", "ifdd.folds": None, "ifdd.num_frames": 16}),
        ("ifdd_ferv39k", "FERV39k", {"data.video.dataset": "ferv39k", "ifdd.augment.jitter": 0.0}),
        ("ifdd_mafw", "MAFW", {"data.video.dataset": "mafw", "ifdd.num_frames": 32, "data.stride": 2}),
        ("dicefer_rafdb", "RAF-DB", {"data.image.dataset": "rafdb", "dicefer.delta": 0.1}),
    ],
)
def test_a_recipe_sets_the_papers_values(project: Path, recipe: str, root: str, expected: dict) -> None:
    before = (project / "params.yaml").read_text()
    assert main(["recipe", "apply", recipe, "--root", root]) == 0
    params = load_params(project / "params.yaml").model_dump(mode="json")
    for key, value in expected.items():
        node = params
        for part in key.split("."):
            node = node[part]
        assert node == value, key
    text = (project / "params.yaml").read_text()
    assert text.count("#") == before.count("#")  # every comment kept
    raw = yaml.safe_load(text)  # as DVC reads it: floats stay floats
    if recipe.startswith("ifdd"):
        assert raw["ifdd"]["train"]["lr"] == 5e-5 and raw["ifdd"]["train"]["epochs"] == 100
        assert raw["ifdd"]["model"] == {} and raw["data"]["video"]["root"] == root
    else:
        assert raw["dicefer"]["img_size"] == 112 and raw["ifdd"] == yaml.safe_load(before)["ifdd"]


def test_a_recipe_needs_the_dataset_root(project: Path, capsys: pytest.CaptureFixture) -> None:
    before = (project / "params.yaml").read_text()
    assert main(["recipe", "apply", "ifdd_dfew"]) == 1
    assert capsys.readouterr().err == (
        "ferflow: recipe ifdd_dfew: data.video.root is not set; pass --root, the folder dfew lives in\n"
    )
    assert main(["recipe", "apply", "ifdd_dfew", "--root", "nowhere"]) == 2
    assert "data.video.root: no such folder" in capsys.readouterr().err
    assert main(["recipe", "apply", "ifdd_dfw", "--root", "DFEW"]) == 1
    assert "recipes/ifdd_dfw.yaml: no such recipe; known in recipes/: dicefer_rafdb, ifdd_dfew" in (
        capsys.readouterr().err
    )
    assert (project / "params.yaml").read_text() == before  # nothing written


def test_recipes_are_listed(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["recipe", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["dicefer_rafdb", "ifdd_dfew", "ifdd_ferv39k", "ifdd_mafw"]


def test_dvc_sees_what_a_recipe_changed(project: Path) -> None:
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}

    def run(*cmd: str) -> str:
        result = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    git = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    run("git", "init", "-q")
    run(str(BIN / "dvc"), "init", "-q")
    run("git", "add", "-A")
    run(*git, "commit", "-qm", "demo params")
    assert main(["recipe", "apply", "ifdd_dfew", "--root", "DFEW"]) == 0
    diff = json.loads(run(str(BIN / "dvc"), "params", "diff", "--json"))["params.yaml"]
    assert diff["ifdd.train.epochs"] == {"old": 8, "new": 100, "diff": 92}
    assert diff["data.video.dataset"] == {"old": "synthetic", "new": "dfew"}
