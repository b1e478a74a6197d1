"""scripts/compare_splits.py: the image models of two studies on two splits, compared seed by seed by the
t-interval over seeds, within each split, across the splits, and as a difference-in-differences."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "compare_splits.py"


def _summary(path: Path, accuracy: dict[str, list[float]]) -> Path:
    cells = [
        {"model": f"{model}[demo]", "fold": 0, "seed": seed, "war": war, "uar": war, "mig": 0.01}
        | {"identity_leakage": 0.5 if model == "baseline" else 0.1 + 0.01 * seed}
        for model, values in accuracy.items()
        for seed, war in enumerate(values)
    ]
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_within_across_and_the_gap(tmp_path):
    seen = _summary(tmp_path / "seen.json", {"dicefer": [0.70, 0.72, 0.68], "baseline": [0.95, 0.96, 0.94]})
    unseen = _summary(
        tmp_path / "unseen.json", {"dicefer": [0.60, 0.61, 0.62], "baseline": [0.70, 0.74, 0.75]}
    )
    out = tmp_path / "out.json"
    args = [str(seen), str(unseen), "--labels", "seen", "unseen", "--gap", "dicefer", "baseline"]
    done = subprocess.run([sys.executable, SCRIPT, *args, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    within = {(c["a"], c["metric"]): c for c in result["within"]}
    war = within[("dicefer[seen]", "war")]
    assert war["b"] == "baseline[seen]" and war["mean"] == pytest.approx(-0.25)
    assert war["verdict"]["better"] == "baseline[seen]"
    leak = within[("dicefer[unseen]", "identity_leakage")]
    assert leak["verdict"]["better"] == "dicefer[unseen]"  # lower leakage is better
    across = {c["a"]: c for c in result["across"] if c["metric"] == "war"}
    assert across["baseline[unseen]"]["mean"] == pytest.approx(-0.22)
    assert across["baseline[unseen]"]["verdict"]["better"] == "baseline[seen]"
    gap = next(c for c in result["gaps"] if c["metric"] == "war")
    # (dicefer - baseline): seen -0.25, -0.24, -0.26; unseen -0.10, -0.13, -0.13
    assert [r["difference"] for r in gap["per_seed"]] == pytest.approx([0.15, 0.11, 0.13])
    assert gap["verdict"]["better"] == "(dicefer - baseline)[unseen]"
    assert result["rule"] in done.stdout


def test_a_study_with_several_settings_is_refused(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(
        json.dumps({"cells": [{"model": "dicefer[a]", "seed": 0}, {"model": "dicefer[b]", "seed": 0}]})
    )
    done = subprocess.run(
        [sys.executable, SCRIPT, str(path), str(path), "--out", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "one DICE-FER setting" in done.stderr
