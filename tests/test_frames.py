"""Frame sampling and PyAV decoding on small H.264 files whose frames carry their own index."""

from __future__ import annotations

import csv
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from layouts import damage_moov

from ferflow.data.frames.decoding import (
    MediaError,
    decode_frames,
    decode_video,
    list_frames,
    plan_decode,
    probe_video,
    read_frame_folder,
)
from ferflow.data.frames.extraction import extract_records, read_clip
from ferflow.data.frames.sampling import (
    CLIP_SAMPLERS,
    ClipSampler,
    contiguous_indices,
    record_rng,
    uniform_indices,
    window_indices,
)
from ferflow.data.records import Record, TooManySkipsError

N, SIZE, STEP = 40, 64, 6  # frame i is grey level i * STEP


def write_video(path: Path, n: int = N, gop: int = 1, faststart: bool = False) -> Path:
    """H.264 .mp4 with a keyframe every `gop` frames (B-frames allowed), frame i filled with i * STEP."""
    opts = {
        "crf": "10",
        "preset": "fast",
        "threads": "1",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
    }
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"} if faststart else {}) as c:
        stream = c.add_stream("libx264", rate=25, options=opts)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for i in range(n):
            frame = np.full((SIZE, SIZE, 3), i * STEP, np.uint8)
            c.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(stream.encode())
    return path


def counters(frames: np.ndarray) -> list[int]:
    """The frame index each decoded frame carries."""
    return np.rint(frames.reshape(len(frames), -1).mean(axis=1) / STEP).astype(int).tolist()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "every": write_video(d / "every.mp4", gop=1),  # every frame a keyframe
        "gop10": write_video(d / "gop10.mp4", gop=10),  # keyframes 0, 10, 20, 30; B-frames between
        "one": write_video(d / "one.mp4", gop=1000),  # a single keyframe
        "short": write_video(d / "short.mp4", n=10, gop=1000),
    }


# --------------------------------------------------------------------------------------- index selection


def test_uniform_indices_spread_over_the_clip_and_short_clips_repeat_the_last_frame() -> None:
    idx = uniform_indices(40, 16)
    assert idx.tolist() == [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 26, 28, 31, 33, 36, 38]
    assert uniform_indices(16, 16).tolist() == list(range(16))
    assert uniform_indices(10, 16).tolist() == list(range(10)) + [9] * 6


def test_contiguous_window_test_is_centred_and_train_is_random_but_seeded() -> None:
    assert contiguous_indices(40, 16).tolist() == list(range(12, 28))
    assert contiguous_indices(100, 32, 2).tolist() == list(range(18, 81, 2))  # MAFW: span 63, centred
    starts = {
        int(contiguous_indices(40, 16, train=True, rng=np.random.default_rng(s))[0]) for s in range(200)
    }
    assert starts == set(range(25))  # every start 0..24 occurs, none beyond
    a = contiguous_indices(40, 16, train=True, rng=np.random.default_rng(7))
    b = contiguous_indices(40, 16, train=True, rng=np.random.default_rng(7))
    assert a.tolist() == b.tolist() and np.all(np.diff(a) == 1)
    with pytest.raises(ValueError, match="rng"):
        contiguous_indices(40, 16, train=True)


def test_short_clips_repeat_their_last_frame_in_contiguous_windows() -> None:
    assert contiguous_indices(10, 16).tolist() == list(range(10)) + [9] * 6
    assert (
        contiguous_indices(10, 16, train=True, rng=np.random.default_rng(0)).tolist()
        == list(range(10)) + [9] * 6
    )
    assert contiguous_indices(20, 32, 2).tolist() == list(range(0, 20, 2)) + [19] * 22


def test_windows_cover_long_clips_without_overlap() -> None:
    windows = window_indices(40, 16)
    assert [w.tolist() for w in windows] == [list(range(16)), list(range(24, 40))]
    assert [w.tolist() for w in window_indices(10, 16)] == [list(range(10)) + [9] * 6]
    assert len(window_indices(130, 32, 2)) == 2


def test_clip_sampler_presets_and_modes() -> None:
    assert CLIP_SAMPLERS["dfew"] == ClipSampler(16, "contiguous", 1) == CLIP_SAMPLERS["ferv39k"]
    assert CLIP_SAMPLERS["mafw"] == ClipSampler(32, "contiguous", 2)
    assert ClipSampler(4, "uniform").indices(8).tolist() == [1, 3, 5, 7]
    assert ClipSampler(mode="all").indices(5).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="mode"):
        ClipSampler(mode="random")  # type: ignore[arg-type]
    assert record_rng(3, "00001").integers(1 << 30) == record_rng(3, "00001").integers(1 << 30)
    assert record_rng(3, "00001").integers(1 << 30) != record_rng(3, "00002").integers(1 << 30)


# ------------------------------------------------------------------------------------ probing, planning


def test_probe_reads_the_keyframe_layout_without_decoding(videos: dict[str, Path]) -> None:
    every, gop10, one = (probe_video(videos[k]) for k in ("every", "gop10", "one"))
    assert every.num_frames == gop10.num_frames == one.num_frames == N
    assert every.keyframes.tolist() == list(range(N))
    assert gop10.keyframes.tolist() == [0, 10, 20, 30]
    assert one.keyframes.tolist() == [0]
    assert (one.width, one.height, one.declared_frames) == (SIZE, SIZE, N)
    assert one.can_seek and np.all(np.diff(one.pts) > 0)


def test_strategy_follows_the_keyframe_layout(videos: dict[str, Path]) -> None:
    sparse = [5, 25, 35]
    every = plan_decode(sparse, probe_video(videos["every"]).keyframes)
    assert every.strategy == "seek" and [s for s, _ in every.segments] == [5, 25, 35]
    assert every.decoded_frames == 3
    gop10 = plan_decode(sparse, probe_video(videos["gop10"]).keyframes)
    assert gop10.strategy == "seek" and [s for s, _ in gop10.segments] == [None, 20, 30]
    one = plan_decode(sparse, probe_video(videos["one"]).keyframes)
    assert one.strategy == "sequential" and one.segments == ((None, (5, 25, 35)),)
    assert one.decoded_frames == 36  # stops after the last needed frame, not at the end of the file
    # dense frames: continuing is cheaper than seeking even where every frame is a keyframe
    assert plan_decode(range(0, 16), probe_video(videos["every"]).keyframes).strategy == "sequential"
    assert plan_decode(sparse, range(N), strategy="sequential").strategy == "sequential"


@pytest.mark.parametrize("layout", ["every", "gop10", "one"])
@pytest.mark.parametrize(
    "indices",
    [uniform_indices(N, 16), contiguous_indices(N, 16), [39, 3, 3, 20, 0], [7]],
    ids=["uniform", "centre", "unordered-repeats", "single"],
)
def test_seek_and_sequential_decode_identical_frames(
    videos: dict[str, Path], layout: str, indices: np.ndarray | list[int]
) -> None:
    seek = decode_video(videos[layout], indices, strategy="seek")
    sequential = decode_video(videos[layout], indices, strategy="sequential")
    auto = decode_frames(videos[layout], indices)
    assert seek.frames.shape == (len(indices), SIZE, SIZE, 3) and seek.frames.dtype == np.uint8
    assert np.array_equal(seek.frames, sequential.frames) and np.array_equal(seek.frames, auto)
    assert counters(seek.frames) == list(np.asarray(indices))
    assert sequential.strategy == "sequential"
    # a forced seek really seeks (no silent fallback) wherever a keyframe lets it skip frames
    can_skip = layout == "every" or (layout == "gop10" and max(indices) >= 10)
    assert seek.strategy == ("seek" if can_skip else "sequential")
    # decoding stops after the last needed frame
    assert sequential.decoded_frames == max(indices) + 1
    assert seek.decoded_frames <= sequential.decoded_frames


def test_auto_decodes_fewer_frames_where_keyframes_allow(videos: dict[str, Path]) -> None:
    sparse = [5, 25, 35]
    every = decode_video(videos["every"], sparse)
    one = decode_video(videos["one"], sparse)
    assert (every.strategy, every.decoded_frames) == ("seek", 3)
    assert (one.strategy, one.decoded_frames) == ("sequential", 36)
    assert counters(every.frames) == counters(one.frames) == sparse


def test_short_video_repeats_its_last_frame(videos: dict[str, Path]) -> None:
    clip = read_clip(
        videos["short"], "video", ClipSampler(16, "contiguous", 1), train=True, rng=np.random.default_rng(0)
    )
    assert clip.source_frames == 10 and clip.indices.tolist() == list(range(10)) + [9] * 6
    assert counters(clip.frames) == list(range(10)) + [9] * 6
    assert np.array_equal(clip.frames[9], clip.frames[15])


def test_damaged_container_metadata_never_escapes_as_another_error(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    """Bytes flipped inside `moov` make PyAV itself raise exceptions that are not FFmpeg errors (a
    UnicodeDecodeError from a damaged tag, a stream without a codec context); ferflow reads such a file or
    raises MediaError, nothing else."""

    def pyav_alone(path: Path) -> None:
        with av.open(str(path)) as c:  # PyAV's defaults: metadata decoded strictly
            stream = c.streams.video[0]
            assert stream.codec_context.width > 0
            for _ in c.decode(stream):
                pass

    escaped, outcomes = set(), set()
    for seed in range(60):
        bad = damage_moov(videos["gop10"], tmp_path / f"bad{seed}.mp4", seed)
        try:
            pyav_alone(bad)
        except av.FFmpegError:
            pass
        except Exception as err:  # the failure path the fixture must reach
            escaped.add(type(err).__name__)
        try:
            read_clip(bad, "video", ClipSampler(16, "uniform"))
            outcomes.add("read")
        except MediaError as err:
            outcomes.add(err.kind)
    assert escaped & {"UnicodeDecodeError", "AttributeError"}, escaped
    assert "undecodable" in outcomes and outcomes <= {"read", "undecodable", "truncated", "no video stream"}


def test_decode_past_the_end_is_reported(videos: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="frame 10 asked for, the file has 10"):
        decode_frames(videos["short"], [10])


# ---------------------------------------------------------------------------------------- frame folders


def _frame_folder(folder: Path, n: int) -> Path:
    """Frames f1.png .. f<n>.png (so lexicographic order would be wrong); frame i has red = 10 * i,
    blue = 255 (written through OpenCV, which stores BGR)."""
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        rgb = np.zeros((8, 6, 3), np.uint8)
        rgb[..., 0], rgb[..., 2] = 10 * i, 255
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a frame")
    return folder


def test_frame_folders_are_read_in_natural_order_as_rgb(tmp_path: Path) -> None:
    folder = _frame_folder(tmp_path / "00001", 12)
    assert [p.name for p in list_frames(folder)] == [f"f{i}.png" for i in range(1, 13)]
    frames = read_frame_folder(folder)
    assert frames.shape == (12, 8, 6, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [10 * i for i in range(1, 13)]
    assert np.all(frames[..., 2] == 255)
    clip = read_clip(folder, "frames", ClipSampler(16, "contiguous"))
    assert clip.frames[:, 0, 0, 0].tolist() == [10 * i for i in range(1, 13)] + [120] * 4
    picked = read_frame_folder(folder, [11, 0, 0])
    assert picked[:, 0, 0, 0].tolist() == [120, 10, 10]


def test_empty_or_missing_frame_folders_raise(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="empty: frame folder holds no images"):
        list_frames(tmp_path / "empty")
    with pytest.raises(MediaError, match="missing"):
        read_frame_folder(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------- many records at once


@pytest.fixture
def mixed_records(tmp_path: Path, videos: dict[str, Path]) -> list[Record]:
    bad = tmp_path / "bad"
    bad.mkdir()
    corrupt = bad / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    empty = bad / "empty.mp4"
    empty.write_bytes(b"")
    data = write_video(bad / "whole.mp4", gop=10, faststart=True).read_bytes()
    (bad / "cut_faststart.mp4").write_bytes(data[: len(data) // 2])  # index intact, frames missing
    data = videos["gop10"].read_bytes()
    (bad / "cut.mp4").write_bytes(data[: len(data) // 2])  # index (at the end) lost
    folder = _frame_folder(tmp_path / "frames" / "00009", 5)

    def rec(sample_id: str, media: Path, kind: str = "video") -> Record:
        return Record(sample_id, media, kind, 0, "test")  # type: ignore[arg-type]

    return [
        rec("00001", videos["every"]),
        rec("00002", videos["gop10"]),
        rec("00003", corrupt),
        rec("00004", empty),
        rec("00005", bad / "cut_faststart.mp4"),
        rec("00006", bad / "cut.mp4"),
        rec("00007", bad / "missing.mp4"),
        rec("scene/00008", videos["short"]),
        rec("00009", folder, "frames"),
    ]


def test_extraction_manifest_records_each_failure_with_its_reason(
    tmp_path: Path, mixed_records: list[Record]
) -> None:
    out = tmp_path / "out"
    result = extract_records(mixed_records, out, ClipSampler(16, "contiguous"), max_failed_fraction=0.6)
    with (out / "manifest.csv").open(newline="") as f:
        rows = {r["sample_id"]: r for r in csv.DictReader(f)}
    assert list(rows) == [r.sample_id for r in mixed_records]
    status = {k: (r["status"], r["reason"].split(":")[0]) for k, r in rows.items()}
    assert status == {
        "00001": ("ok", ""),
        "00002": ("ok", ""),
        "00003": ("failed", "undecodable"),
        "00004": ("failed", "empty"),
        "00005": ("failed", "truncated"),
        "00006": ("failed", "truncated"),
        "00007": ("failed", "missing"),
        "scene/00008": ("ok", ""),
        "00009": ("ok", ""),
    }
    assert rows["00005"]["reason"] == f"truncated: {rows['00005']['reason'].split(': ', 1)[1]}"
    assert "of 40 declared frames" in rows["00005"]["reason"]
    assert rows["00003"]["media"] == str(mixed_records[2].media)
    assert {s.sample_id for s in result.failed} == {"00003", "00004", "00005", "00006", "00007"}
    assert result.ok == 4

    centre = np.load(out / "00002.npy")
    assert centre.shape == (16, SIZE, SIZE, 3) and counters(centre) == list(range(12, 28))
    assert rows["00002"]["indices"] == " ".join(map(str, range(12, 28)))
    assert rows["00002"]["source_frames"] == "40"
    assert counters(np.load(out / "scene" / "00008.npy")) == list(range(10)) + [9] * 6
    assert np.load(out / "00009.npy").shape == (16, 8, 6, 3)
    assert not (out / "00003.npy").exists()


def test_extraction_fails_with_a_summary_above_the_threshold(
    tmp_path: Path, mixed_records: list[Record]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(TooManySkipsError) as err:
        extract_records(mixed_records, out, ClipSampler(4, "uniform"), max_failed_fraction=0.5)
    message = str(err.value)
    assert "5 of 9 samples skipped" in message
    for reason in ("undecodable", "empty", "truncated", "missing"):
        assert reason in message
    assert str(mixed_records[3].media) in message
    assert (out / "manifest.csv").is_file()  # written before failing, for inspection


def test_training_windows_are_reproducible_per_record(tmp_path: Path, videos: dict[str, Path]) -> None:
    records = [Record(f"{i:05d}", videos["one"], "video", 0, "train") for i in range(6)]
    sampler = ClipSampler(8, "contiguous")
    a = extract_records(records, None, sampler, train=True, seed=1)
    b = extract_records(records[::-1], None, sampler, train=True, seed=1)
    c = extract_records(records, None, sampler, train=True, seed=2)
    index = {r["sample_id"]: r["indices"] for r in a.rows}
    assert index == {r["sample_id"]: r["indices"] for r in b.rows}
    assert index != {r["sample_id"]: r["indices"] for r in c.rows}
    assert len(set(index.values())) > 1 and a.manifest is None
