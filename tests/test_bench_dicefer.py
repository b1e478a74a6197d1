"""`ferflow bench dicefer`: each stage's training step and both models' inference are timed, to JSON."""

import json
import subprocess
import sys


def test_bench_dicefer_writes_every_stage(tmp_path):
    out = tmp_path / "dicefer.json"
    params = {
        "dicefer": {"img_size": 32, "code_dim": 8, "classifier_hidden": [16], "runtime": {"threads": 1}}
    }
    command = [
        sys.executable,
        "-m",
        "ferflow",
        "bench",
        "dicefer",
        "--quick",
        "--batch",
        "4",
        "--device",
        "cpu",
    ]
    subprocess.run(
        [*command, "--params-json", json.dumps(params), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    figures = json.loads(out.read_text())
    results = figures["results"]
    assert results["train_expression"]["pairs_per_second"] > 0
    for stage in ("identity", "classifier", "baseline"):
        assert results[f"train_{stage}"]["images_per_second"] > 0
    for model in ("dicefer", "baseline"):
        assert results[f"infer_{model}"]["images_per_second"] > 0
    assert figures["settings"]["img_size"] == 32 and figures["device"] == "cpu"
