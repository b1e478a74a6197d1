"""The data-stage benchmark writes every figure it measures, each consistent with the timings and counts
recorded beside it (speed itself is never asserted)."""

import json
import math

import numpy as np
import pytest

from ferflow.bench.data import bench_data, decode_all, decode_up_to_last
from ferflow.config import SyntheticParams
from ferflow.data.frames.decoding import decode_frames
from ferflow.data.synthetic.plan import make_plan
from ferflow.data.synthetic.render import write_video


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
    _check_values(result)


def _median(values) -> float:
    return float(np.median(values))


def approx(value: float) -> object:
    """Equal up to the rounding of the figures and of the timings they are recomputed from."""
    return pytest.approx(value, rel=1e-3)


def _check_values(result: dict) -> None:
    """Every derived figure recomputed from what the benchmark recorded beside it, and the counts from the
    settings and the clips the benchmark renders (the tiny plan's first clips)."""
    s = result["settings"]
    plan = make_plan(SyntheticParams(size="tiny", seed=s["seed"]))
    short = np.array([c.n_frames for c in plan.clips[: s["short_clips"]]])
    lengths = {"short": short, "long": np.full(s["long_clips"], s["long_frames"])}
    for name, section in result["extraction"].items():
        n, rounds = section["clips"], section["seconds_per_round"]
        assert n == len(lengths[name])
        assert section["frames_per_clip"] == {
            "min": int(lengths[name].min()),
            "max": int(lengths[name].max()),
            "mean": round(float(lengths[name].mean()), 2),
        }
        assert section["full_decode"]["clips_per_s"] == approx(n / _median(rounds["full_decode"]))
        for mode in ("uniform", "contiguous"):
            ours, seq = np.array(rounds[f"ferflow_{mode}"]), np.array(rounds[f"up_to_last_{mode}"])
            figures = section[mode]
            assert figures["ferflow_clips_per_s"] == approx(n / _median(ours))
            assert figures["ferflow_time_over_up_to_last"] == approx(_median(ours / seq))
            assert figures["ferflow_time_over_full_decode"] == approx(
                _median(ours / np.array(rounds["full_decode"]))
            )
        # a uniform sample's last frame is the centre of the last of 16 equal segments
        last = np.floor((s["num_frames"] - 0.5) * lengths[name] / s["num_frames"]) + 1
        assert section["uniform"]["frames_decoded_per_clip"]["up_to_last"] == round(float(last.mean()), 2)
    # the centred 16-frame window of a 96-frame clip ends at frame 56 + 16 = 72 - seeking decodes fewer
    contiguous = result["extraction"]["long"]["contiguous"]["frames_decoded_per_clip"]
    assert contiguous["up_to_last"] == (s["long_frames"] - s["num_frames"]) // 2 + s["num_frames"]
    assert contiguous["ferflow"] < contiguous["up_to_last"]

    alignment = result["alignment"]
    assert alignment["frames"] == int(short[: s["align_clips"]].sum())
    for size, rate in alignment["frames_per_s"].items():
        assert rate == approx(alignment["frames"] / _median(alignment["seconds_per_round"][size]))

    for loader in result["loader"].values():
        batches = s["store_clips"] // s["batch_size"]  # drop_last
        assert loader["clips_timed"] == s["epochs"] * batches * s["batch_size"]
        assert loader["clips_per_s"] == approx(loader["clips_timed"] / loader["seconds"])
        profile = loader["profile_ms_per_clip"]
        assert profile["total"] == pytest.approx(sum(v for k, v in profile.items() if k != "total"), abs=0.01)
        assert loader["single_thread_bound_clips_per_s"] == approx(1e3 / profile["total"])

    targets = result["targets"]
    worst = max(
        sec[m]["ferflow_time_over_up_to_last"]
        for sec in result["extraction"].values()
        for m in sec
        if m in ("uniform", "contiguous")
    )
    assert targets["extraction_worst_time_over_up_to_last"] == worst
    assert targets["extraction_within_up_to_last_target"] == (worst <= 1.2)
    assert targets["loader_meets_target"] == (result["loader"]["112"]["clips_per_s"] >= 100.0)


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
