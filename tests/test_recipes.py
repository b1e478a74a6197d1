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
from ferflow.config import load_params, validate_params

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
    assert diff["ifdd.train.epochs"] == {"old": 16, "new": 100, "diff": 84}
    assert diff["data.video.dataset"] == {"old": "synthetic", "new": "dfew"}


# ---------------------------------------------------------------------------- the released code, per variant
#: The released code's model and loss settings, written out from shared/spec/ifdd.md (not from ferflow's
#: tables): the factory's arguments, the losses and the optimisation.
RELEASED_MODEL = {
    "img_size": 224,
    "drop_path": 0.2,
    "dropout": 0.5,
    "split": "issm",
    "use_ladm": True,
    "issm_sampling": "shifted",  # g = 2 idx / (T - 1) - 1 sampled with align_corners=False
    "mlp_residual": False,  # no residual around LADM's last MLP
    "pool_init": "default",  # nn.Linear(196, 1)'s own initialisation
    "ladm_input_norm": True,  # X_S and X_D LayerNormed first
}
RELEASED_LOSS = {
    "lifting_weight": 0.1,
    "lifting_reduction": "sum",  # the per-sample means summed over the batch
    "mixup": {
        "enabled": True,
        "mixup_alpha": 0.8,
        "cutmix_alpha": 1.0,
        "prob": 1.0,
        "switch_prob": 0.5,
        "label_smoothing": 0.1,
    },
}
RELEASED_OPTIM = {
    "epochs": 100,
    "batch_size": 16,
    "lr": 5e-5,
    "weight_decay": 1e-3,
    "warmup_epochs": 10,
    "min_lr_ratio": 0.01,
}
RELEASED_DATA = {  # frames and train augmentation per dataset
    "ifdd_dfew": {"num_frames": 16, "augment": {"scale": [0.5, 1.0], "flip": 0.5, "jitter": 0.4}},
    "ifdd_ferv39k": {"num_frames": 16, "augment": {"scale": [0.8, 1.0], "flip": 0.5, "jitter": 0.0}},
    "ifdd_mafw": {"num_frames": 32, "augment": {"scale": [0.5, 1.0], "flip": 0.5, "jitter": 0.4}},
}


def _factory_arguments(p, variant: str) -> dict:
    """Every argument the variant is built with: what the trainer passes over the factory's defaults (what
    its model.pt records)."""
    from ferflow.models.registry import resolved_arguments
    from ferflow.train.ifdd import model_kwargs

    arguments = resolved_arguments(variant, model_kwargs(p, variant, num_classes=7))
    return {k: v for k, v in arguments.items() if k not in ("num_classes", "backbone_weights")}


@pytest.mark.parametrize("recipe", sorted(RELEASED_DATA))
def test_an_ifdd_recipe_trains_the_released_code(project: Path, recipe: str) -> None:
    """Applied to the demo's params.yaml (whose MobileNetV2 settings differ), each IFDD recipe gives
    `ifdd_mvit` every model, loss and optimisation setting of the released code."""
    root = {"ifdd_dfew": "DFEW", "ifdd_ferv39k": "FERV39k", "ifdd_mafw": "MAFW"}[recipe]
    assert main(["recipe", "apply", recipe, "--root", root]) == 0
    p = load_params(project / "params.yaml").ifdd
    data = RELEASED_DATA[recipe]
    assert _factory_arguments(p, "ifdd_mvit") == RELEASED_MODEL | {"num_frames": data["num_frames"]}
    settings = p.settings_for("ifdd_mvit")
    assert settings is not None
    loss = {"lifting_weight": p.lifting_weight, "lifting_reduction": settings.lifting_reduction}
    assert loss | {"mixup": p.mixup.model_dump()} == RELEASED_LOSS
    assert p.train.model_dump(include=set(RELEASED_OPTIM)) == RELEASED_OPTIM
    assert p.augment.model_dump(exclude={"where"}) == data["augment"]


def test_each_variant_resolves_its_own_settings_unless_overridden(project: Path) -> None:
    """The demo's params.yaml: `ifdd_mvit`, if added, keeps the released per-variant settings while the
    MobileNetV2 variant keeps its documented choices (and the demo's MLP residual); a value set for every
    variant, or for one family, overrides them."""
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["ifdd"]["variants"] += ["ifdd_mvit"]
    raw["ifdd"]["init"] = {"mobilenetv2": "faceid", "mvit": "none"}
    p = validate_params(raw).ifdd
    mvit, mobilenet = _factory_arguments(p, "ifdd_mvit"), _factory_arguments(p, "ifdd_mobilenetv2")
    per_variant = ("issm_sampling", "mlp_residual", "pool_init", "ladm_input_norm")
    assert {k: mvit[k] for k in per_variant} == {k: RELEASED_MODEL[k] for k in per_variant}
    assert {k: mobilenet[k] for k in per_variant} == {
        "issm_sampling": "exact",
        "mlp_residual": True,  # the demo's {mobilenetv2: true}
        "pool_init": "mean",
        "ladm_input_norm": False,
    }
    assert p.settings_for("ifdd_mvit").lifting_reduction == "sum"
    assert p.settings_for("ifdd_mobilenetv2").lifting_reduction == "mean"
    assert p.settings_for("baseline_mobilenetv2") is None

    raw["ifdd"] |= {"issm_sampling": "exact", "pool_init": {"mvit": "mean"}, "lifting_reduction": "mean"}
    p = validate_params(raw).ifdd
    assert _factory_arguments(p, "ifdd_mvit")["issm_sampling"] == "exact"
    assert _factory_arguments(p, "ifdd_mvit")["pool_init"] == "mean"
    assert _factory_arguments(p, "ifdd_mobilenetv2")["pool_init"] == "mean"  # its own, not named
    assert p.settings_for("ifdd_mvit").lifting_reduction == "mean"
