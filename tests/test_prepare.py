"""The data stages on the tiny benchmark: shards of aligned faces, packing, metrics and bad input."""

import json
import shutil

import numpy as np
import pytest
from layouts import unreadable_damage

from ferflow.config import validate_params
from ferflow.data.prepare import load_all_records, pack_shards, prepare_shard
from ferflow.data.records import TooManySkipsError
from ferflow.data.store import open_store
from ferflow.errors import UserError

PARAMS = validate_params({"synthetic": {"size": "tiny"}, "data": {"shards": 2, "frames": 8}})


def _prepare(kind, root, tmp_path, params=PARAMS):
    shards = [tmp_path / f"{kind}_shard_{k}" for k in range(params.data.shards)]
    for k, shard in enumerate(shards):
        prepare_shard(params, kind, k, shard, root)
    return shards


def test_clips_are_aligned_into_one_store(tiny_benchmark, tmp_path):
    shards = _prepare("clips", tiny_benchmark, tmp_path)
    metrics = pack_shards(
        PARAMS, "clips", shards, tmp_path / "clips", tmp_path / "m.json", tmp_path / "s.csv"
    )
    store = open_store(tmp_path / "clips")
    assert store.samples.shape == (35, 8, 112, 112, 3) and store.samples.dtype == np.uint8
    assert store.classes[0] == "Happy" and store.meta["dataset"] == "synthetic_video"
    assert sorted(r["sample_id"] for r in store.index) == [f"{i:05d}" for i in range(1, 36)]
    assert {r["fold"] for r in store.index} == {"1", "2", "3", "4", "5"}
    assert all(len(r["frame_indices"].split()) == 8 and r["identity"] for r in store.index)
    assert metrics["detection_rate"] >= 0.95 and metrics["skipped"] == 0
    assert 0 < metrics["nme_mean"] < 0.1  # landmarks within a tenth of the eye distance of the truth
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    # the crop holds a face: the aligned eyes region differs from the border
    assert store.samples[:, :, 40:70, 30:80].std() > 10


def test_images_are_aligned(tiny_benchmark, tmp_path):
    shards = _prepare("images", tiny_benchmark, tmp_path)
    metrics = pack_shards(
        PARAMS, "images", shards, tmp_path / "images", tmp_path / "m.json", tmp_path / "s.csv"
    )
    store = open_store(tmp_path / "images")
    skipped = (tmp_path / "s.csv").read_text().splitlines()[1:]
    assert store.samples.shape == (140 - len(skipped), 112, 112, 3) and len(skipped) <= 7  # >= 95% found
    assert all("no face" in line for line in skipped) and metrics["skipped"] == len(skipped)
    assert {r["split"] for r in store.index} == {"train", "test"}
    assert metrics["nme_frames"] == store.samples.shape[0] and metrics["nme_mean"] < 0.1


def test_bad_videos_are_recorded_and_too_many_fail(tiny_benchmark, tmp_path):
    root = tmp_path / "bench"
    shutil.copytree(tiny_benchmark, root)
    videos = sorted((root / "DFEW" / "Clip" / "original").glob("*.mp4"))
    videos[0].write_bytes(b"")  # empty
    videos[1].write_bytes(np.random.default_rng(0).bytes(4000))  # not a video
    videos[2].write_bytes(videos[3].read_bytes()[:1500])  # truncated
    _, damaged = unreadable_damage(videos[4], videos[4])  # container metadata with flipped bytes
    shards = _prepare("clips", root, tmp_path)
    with pytest.raises(TooManySkipsError, match=r"4 of 35 samples skipped") as err:
        pack_shards(PARAMS, "clips", shards, tmp_path / "clips", tmp_path / "m.json", tmp_path / "s.csv")
    assert f"every skip is listed in {tmp_path / 's.csv'}, the shards are kept" in str(err.value)
    manifest = (tmp_path / "s.csv").read_text()
    for video in videos[:3]:
        assert video.name in manifest
    assert f"{videos[4]},{damaged}" in manifest
    assert "empty" in manifest and all(s.is_dir() for s in shards)  # nothing computed is lost
    assert not (tmp_path / "clips").exists()
    lenient = validate_params(
        {"synthetic": {"size": "tiny"}, "data": {"shards": 2, "frames": 8, "max_skip_fraction": 0.12}}
    )
    metrics = pack_shards(
        lenient, "clips", shards, tmp_path / "clips", tmp_path / "m.json", tmp_path / "s.csv"
    )
    assert metrics["skipped"] == 4 and open_store(tmp_path / "clips").samples.shape[0] == 31


def test_records_cover_every_clip_once(tiny_benchmark):
    records, skipped = load_all_records("clips", PARAMS, tiny_benchmark)
    assert len(records) == 35 and not skipped
    assert all(r.fold in range(1, 6) and r.identity is not None for r in records)


def test_shard_number_is_checked(tiny_benchmark, tmp_path):
    with pytest.raises(UserError, match=r"shard 2 is outside 0\.\.1"):
        prepare_shard(PARAMS, "clips", 2, tmp_path / "x", tiny_benchmark)
