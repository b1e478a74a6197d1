"""The data-stage benchmark writes every figure it measures (speed itself is never asserted)."""

import json
import math

import numpy as np

from ferflow.bench.data import bench_data, decode_all, decode_up_to_last
from ferflow.data.frames import decode_frames
from ferflow.data.synthetic.generate import write_video


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def test_bench_data_quick(tmp_path):
    out = tmp_path / "bench.json"
    result = bench_data(out, tmp_path, quick=True)

    assert json.loads(out.read_text()) == result
    assert not list(tmp_path.glob(".bench.json.*"))  # no temporary file left behind
    assert result["settings"]["quick"] is True and result["settings"]["workers"] == 2
    assert result["settings"]["num_frames"] == 16 and result["settings"]["crop_sizes"] == [112, 224]
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch_threads"] >= 1 and machine["platform"]

    for name in ("short", "long"):
        section = result["extraction"][name]
        assert section["clips"] >= 1 and _positive(section["full_decode"]["clips_per_s"])
        for mode in ("uniform", "contiguous"):
            figures = section[mode]
            for key in (
                "ferflow_clips_per_s",
                "up_to_last_clips_per_s",
                "ferflow_time_over_up_to_last",
                "ferflow_time_over_full_decode",
            ):
                assert _positive(figures[key]), (name, mode, key)
            assert sum(figures["ferflow_strategies"].values()) == section["clips"]
    assert result["extraction"]["long"]["frames_per_clip"]["min"] > 16
    # A centred window on a long clip with regular keyframes is reached by seeking.
    assert result["extraction"]["long"]["contiguous"]["ferflow_strategies"] == {
        "seek": result["extraction"]["long"]["clips"]
    }

    alignment = result["alignment"]
    assert alignment["frames"] >= 16 and 0 < alignment["detected_fraction"] <= 1
    assert set(alignment["frames_per_s"]) == {"112", "224"}
    assert all(_positive(v) for v in alignment["frames_per_s"].values())

    for size in ("112", "224"):
        loader = result["loader"][size]
        assert loader["clip_shape"] == [16, int(size), int(size), 3] and loader["num_workers"] == 2
        assert loader["clips_timed"] > 0 and _positive(loader["clips_per_s"])
        assert all(_positive(v) for v in loader["profile_ms_per_clip"].values())
    assert not (tmp_path / "bench_data" / "stores" / "112").exists()  # stores are removed after use

    for key in (
        "extraction_within_up_to_last_target",
        "extraction_beats_full_decode_on_long_clips",
        "loader_meets_target",
    ):
        assert isinstance(result["targets"][key], bool)


def test_baselines_decode_the_same_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (32, 32, 3), dtype="uint8") for _ in range(30)]
    path = tmp_path / "v.mp4"
    write_video(path, frames, fps=25, crf=18, keyframe_interval=6)
    indices = np.array([3, 17, 11, 11])
    every = decode_all(path)
    assert every.shape == (30, 32, 32, 3)
    picked = decode_up_to_last(path, indices)
    assert (picked == every[indices]).all() and (picked == decode_frames(path, indices)).all()
