"""The model benchmark writes its figures (nothing about speed is asserted)."""

import json
import math

from ferflow.cli import main


def test_bench_models_quick(tmp_path, capsys):
    out = tmp_path / "models.json"
    args = [
        "bench",
        "models",
        "--out",
        str(out),
        "--quick",
        "--batch",
        "2",
        "--img-size",
        "64",
        "--num-frames",
        "8",
        "--model-kwargs",
        '{"width_mult": 0.35}',
    ]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["settings"]["device"] == "cpu" and result["settings"]["img_size"] == 64
    for phase in ("train", "inference"):
        figures = result["mobilenetv2"][phase]
        assert figures["ifdd_mobilenetv2_clips_per_s"] > 0 and figures["baseline_mobilenetv2_clips_per_s"] > 0
        assert math.isfinite(figures["ifdd_overhead"]) and figures["ifdd_overhead"] > 0
