"""scripts/study_losses.py: the training-loss curves of a study's finished IFDD cells, per variant."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

SCRIPT = Path(__file__).parents[1] / "scripts" / "study_losses.py"


def test_finished_cells_only_and_their_mean_by_epoch(tmp_path):
    study = {
        "seeds": [0, 1, 2],
        "folds": [1],
        "ifdd": {"variants": ["control_static"], "settings": {}, "compare": []},
        "dicefer": {"settings": {}, "compare": [], "pairs": []},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"study": study}))
    for seed, losses, finished in ((0, [2.0, 1.0], True), (1, [1.8, 0.6], True), (2, [1.9], False)):
        cell = tmp_path / f"results/study/ifdd/control_static/seed_{seed}/fold_1"
        cell.mkdir(parents=True)
        (cell / "history.json").write_text(
            json.dumps([{"epoch": i + 1, "train/loss": x} for i, x in enumerate(losses)])
        )
        if finished:
            (cell / "model.pt").write_bytes(b"")
    out = tmp_path / "losses.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--project", tmp_path, "--out", out], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())["training_loss"]["control_static"]
    assert found["cells"] == {"fold_1/seed_0": [2.0, 1.0], "fold_1/seed_1": [1.8, 0.6]}  # seed 2 still trains
    assert found["mean_by_epoch"] == [1.9, 0.8]
