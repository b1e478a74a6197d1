"""Decoding only the frames asked for: videos with PyAV, frame folders and images with OpenCV.

Videos (`probe_video`, `plan_decode`, `decode_frames`): first the packet layout is read without decoding
(timestamps and keyframe flags from `container.demux()`), then the decoder either seeks to the keyframe
before a needed frame or decodes one sequential pass, whichever decodes fewer frames (a file with a keyframe
every frame favours seeking; a file with one keyframe makes seeking pointless), and stops after the last
needed frame. Frames are identified by presentation timestamp, so B-frames and seeking cannot shift indices.

Frame folders (DFEW `clip_224x224*/<id>/`, FERV39k/MAFW face frames) are read as they are, sorted naturally.
Anything that cannot give the frames asked for raises `MediaError` with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import av
import cv2
import numpy as np

from ferflow.data.records import IMAGE_EXTENSIONS
from ferflow.errors import UserError

Strategy = Literal["auto", "seek", "sequential"]

#: Cost of one seek (demuxer reposition + decoder flush), in decoded-frame equivalents.
SEEK_COST_FRAMES = 2.0


class MediaError(UserError):
    """A media file or frame folder that cannot give the frames asked for.

    Attributes:
        path: The file or folder.
        kind: "missing", "empty", "undecodable", "truncated", "no video stream", ...
        detail: Free text.
    """

    def __init__(self, path: Path | str, kind: str, detail: str = "") -> None:
        self.path, self.kind, self.detail = Path(path), kind, detail
        super().__init__(f"{path}: {self.reason}")

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


# ------------------------------------------------------------------------------------------------ probing


@dataclass(frozen=True)
class VideoInfo:
    """A video stream's frame layout, read from packets without decoding.

    Attributes:
        path: The file.
        num_frames: Frames (packets) found.
        keyframes: Sorted indices (presentation order) of keyframes.
        pts: Presentation timestamp of each frame, in presentation order, or None when the container gives
            no reliable timestamps (then frames are counted and seeking is off).
        width, height: Frame size.
        fps: Average frame rate, when known.
        declared_frames: Frames the container header declares (0 when unknown).
    """

    path: Path
    num_frames: int
    keyframes: np.ndarray
    pts: np.ndarray | None
    width: int
    height: int
    fps: float | None = None
    declared_frames: int = 0

    @property
    def can_seek(self) -> bool:
        return self.pts is not None


def check_file(path: Path) -> None:
    """Raise `MediaError` unless `path` is a non-empty regular file."""
    if not path.exists():
        raise MediaError(path, "missing", "file not found")
    if not path.is_file():
        raise MediaError(path, "missing", "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty", "file has 0 bytes")


def _mp4_truncation(path: Path) -> str | None:
    """For an ISO-BMFF (.mp4/.mov) file: a description of a top-level box running past the end of the
    file (the mark of a file cut short), else None."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return None
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            header = f.read(16)
            box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            if box_size == 1 and len(header) >= 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                return None
            if box_size < 8:
                return None
            if pos + box_size > size:
                return (
                    f"box {box_type!r} at byte {pos} declares {box_size} bytes, "
                    f"the file ends {size - pos} bytes later"
                )
            pos += box_size
    return None


def _open(path: Path) -> av.container.InputContainer:
    check_file(path)
    try:
        # Metadata text is never used: a damaged tag must not stop the read (PyAV's default, "strict",
        # raises UnicodeDecodeError from inside av.open).
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except av.FFmpegError as err:
        cut = _mp4_truncation(path)
        if cut is not None:
            raise MediaError(path, "truncated", cut) from None
        raise MediaError(path, "undecodable", f"cannot open: {err}") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "no video stream", "")
    if container.streams.video[0].codec_context is None:  # a damaged sample description
        container.close()
        raise MediaError(path, "undecodable", "the video stream names no codec FFmpeg can open")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's frame count, timestamps and keyframe layout by demuxing (no decoding).

    Raises:
        MediaError: missing, empty, undecodable (cannot open, no packets), truncated (fewer packets than
            the header declares, or demuxing fails part-way), or no video stream.
    """
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        pts: list[int | None] = []
        dts: list[int | None] = []
        keys: list[bool] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None and packet.dts is None:
                    continue  # the flush packet at the end
                pts.append(packet.pts)
                dts.append(packet.dts)
                keys.append(bool(packet.is_keyframe))
        except av.FFmpegError as err:
            raise MediaError(path, "truncated", f"demuxing failed after {len(pts)} packets: {err}") from None
        if not pts:
            raise MediaError(path, "undecodable", "no video packets")
        if declared and len(pts) < declared:
            raise MediaError(path, "truncated", f"{len(pts)} of {declared} declared frames present")
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = float(stream.average_rate) if stream.average_rate else None

    stamps = pts if all(p is not None for p in pts) else dts if all(d is not None for d in dts) else None
    if stamps is not None and len(set(stamps)) == len(stamps):
        order = np.argsort(np.asarray(stamps, dtype=np.int64), kind="stable")
        sorted_pts: np.ndarray | None = np.asarray(stamps, dtype=np.int64)[order]
        key_flags = np.asarray(keys)[order]
    else:  # no usable timestamps: count frames in packet order, never seek
        sorted_pts, key_flags = None, np.asarray(keys)
    keyframes = np.flatnonzero(key_flags)
    if keyframes.size == 0 or keyframes[0] != 0:
        keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
    return VideoInfo(path, len(pts), keyframes.astype(np.int64), sorted_pts, width, height, fps, declared)


# ----------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class DecodePlan:
    """How to decode a set of frames.

    Attributes:
        strategy: "seek" when the plan seeks at least once, else "sequential" (one pass from the start).
        segments: (keyframe index to seek to, or None for the file's start; needed frames, sorted) in
            order. Each segment decodes forward from its start and stops after its last needed frame.
        decoded_frames: Frames the plan decodes.
    """

    strategy: Literal["seek", "sequential"]
    segments: tuple[tuple[int | None, tuple[int, ...]], ...]
    decoded_frames: int


def plan_decode(
    indices: Iterable[int],
    keyframes: Sequence[int] | np.ndarray,
    strategy: Strategy = "auto",
    seek_cost: float = SEEK_COST_FRAMES,
) -> DecodePlan:
    """Plan the cheapest decode of `indices` given the keyframe layout.

    Going through the needed frames in order, each is reached either by decoding on from the current
    position or by seeking to the keyframe at or before it. "auto" takes whichever decodes fewer frames
    (a seek counts `seek_cost` extra frames); "seek" seeks whenever that skips any frame; "sequential"
    never seeks.
    """
    if strategy not in ("auto", "seek", "sequential"):
        raise ValueError(f"strategy must be 'auto', 'seek' or 'sequential', got {strategy!r}")
    needed = sorted({int(i) for i in indices})
    if not needed or needed[0] < 0:
        raise ValueError(f"indices must be non-empty and >= 0, got {needed[:5]}")
    keys = np.asarray(keyframes, dtype=np.int64)
    segments: list[tuple[int | None, list[int]]] = []
    position, decoded = 0, 0  # position: the frame that decoding on would give next
    for j in needed:
        k = int(keys[np.searchsorted(keys, j, side="right") - 1]) if keys.size and keys[0] <= j else 0
        go_on = j - position + 1
        if strategy == "sequential" or k <= position:
            seek = False
        elif strategy == "seek":
            seek = True
        else:
            seek = (j - k + 1) + seek_cost < go_on
        if seek:
            segments.append((k, [j]))
            decoded += j - k + 1
        else:
            if not segments:
                segments.append((None, []))
            segments[-1][1].append(j)
            decoded += go_on
        position = j + 1
    used: Literal["seek", "sequential"] = "seek" if any(s is not None for s, _ in segments) else "sequential"
    return DecodePlan(used, tuple((s, tuple(f)) for s, f in segments), decoded)


# ----------------------------------------------------------------------------------------------- decoding


def _configure(stream: av.video.stream.VideoStream, threads: int) -> None:
    stream.codec_context.thread_count = max(0, int(threads))
    if threads != 1:
        stream.thread_type = "AUTO"


class _Fallback(Exception):
    """A seek-based decode went wrong in a way a sequential pass may fix."""


def _run_plan(
    path: Path, info: VideoInfo, plan: DecodePlan, threads: int
) -> tuple[dict[int, np.ndarray], int]:
    """Execute a seek plan; frames are identified by timestamp. Returns (frames, frames decoded)."""
    assert info.pts is not None
    index_of = {int(p): i for i, p in enumerate(info.pts)}
    got: dict[int, np.ndarray] = {}
    decoded = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        _configure(stream, threads)
        for start, frames in plan.segments:
            if start is not None:
                container.seek(int(info.pts[start]), stream=stream, backward=True, any_frame=False)
            wanted, last = set(frames), frames[-1]
            for frame in container.decode(stream):
                decoded += 1
                i = index_of.get(frame.pts) if frame.pts is not None else None
                if i is None:
                    raise _Fallback(f"frame with unknown timestamp {frame.pts}")
                if i in wanted:
                    got[i] = frame.to_ndarray(format="rgb24")
                if i >= last:
                    break
            missing = wanted - got.keys()
            if missing:
                raise _Fallback(f"frames {sorted(missing)[:5]} not produced after seeking to {start}")
    return got, decoded


def _run_sequential(
    path: Path, needed: Sequence[int], threads: int, info: VideoInfo | None
) -> tuple[dict[int, np.ndarray], int]:
    """One pass from the start, stopping after the last needed frame. Frames are identified by timestamp
    where the probe found usable ones, else counted in output order. Returns (frames, frames decoded)."""
    wanted, last = set(needed), max(needed)
    index_of = None
    if info is not None and info.pts is not None:
        index_of = {int(p): i for i, p in enumerate(info.pts)}
    got: dict[int, np.ndarray] = {}
    count = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        _configure(stream, threads)
        try:
            for frame in container.decode(stream):
                i = count
                if index_of is not None and frame.pts is not None:
                    i = index_of.get(frame.pts, count)
                count += 1
                if i in wanted:
                    got[i] = frame.to_ndarray(format="rgb24")
                if i >= last and wanted <= got.keys():
                    break
        except av.FFmpegError as err:
            raise MediaError(path, "undecodable", f"decoding failed after {count} frames: {err}") from None
    missing = wanted - got.keys()
    if missing:
        raise MediaError(path, "truncated", f"only {count} frames decodable; frame {min(missing)} missing")
    return got, count


class Decoded(NamedTuple):
    """Frames decoded from a video, and how."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    strategy: str  # "seek", "sequential", or "sequential-fallback" (a seek plan failed, redone in one pass)
    decoded_frames: int  # frames the decoder produced (including those discarded)


def decode_video(
    path: str | Path,
    indices: Sequence[int] | np.ndarray,
    *,
    strategy: Strategy = "auto",
    info: VideoInfo | None = None,
    threads: int = 1,
) -> Decoded:
    """Decode the frames at `indices` (any order, repeats allowed); see `decode_frames`. Also says which
    strategy ran and how many frames the decoder produced."""
    path = Path(path)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError("no frame indices given")
    info = info if info is not None else probe_video(path)
    if idx.min() < 0 or idx.max() >= info.num_frames:
        raise MediaError(
            path, "truncated", f"frame {int(idx.max())} asked for, the file has {info.num_frames}"
        )
    needed = sorted(set(idx.tolist()))
    used = "sequential"
    plan = plan_decode(needed, info.keyframes, strategy) if info.can_seek else None
    if plan is not None and plan.strategy == "seek":
        try:
            got, n = _run_plan(path, info, plan, threads)
            return Decoded(np.stack([got[int(i)] for i in idx]), "seek", n)
        except (_Fallback, av.FFmpegError):
            used = "sequential-fallback"
    got, n = _run_sequential(path, needed, threads, info)
    return Decoded(np.stack([got[int(i)] for i in idx]), used, n)


def decode_frames(
    path: str | Path,
    indices: Sequence[int] | np.ndarray,
    *,
    strategy: Strategy = "auto",
    info: VideoInfo | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Decode the frames at `indices` (any order, repeats allowed) as uint8 RGB, shape (T, H, W, 3).

    Only frames up to the last needed one are decoded; `strategy` as in `plan_decode` ("auto" chooses from
    the keyframe layout). Files without usable timestamps are decoded sequentially. If a seek plan fails to
    produce a frame, the frames are decoded again in one sequential pass.

    Args:
        path: The video file.
        indices: 0-based frame indices in presentation order.
        strategy: "auto", "seek" or "sequential".
        info: `probe_video(path)`, when already known.
        threads: Decoder threads (1 keeps CPU use predictable; 0 lets FFmpeg choose).

    Raises:
        MediaError: the file is missing, empty, undecodable or truncated, or an index is past its end.
    """
    return decode_video(path, indices, strategy=strategy, info=info, threads=threads).frames


# ---------------------------------------------------------------------------------------- frame folders

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers by value: 'f2.jpg' < 'f10.jpg'."""
    return tuple((0, int(t)) if t.isdigit() else (1, t.lower()) for t in _DIGITS.split(name) if t)


def list_frames(folder: str | Path) -> list[Path]:
    """The image files of a frame folder, naturally sorted.

    Raises:
        MediaError: the folder is missing or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(folder, "missing", "frame folder not found")
    with os.scandir(folder) as it:
        names = [
            e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
        ]
    if not names:
        raise MediaError(folder, "empty", "frame folder holds no images")
    return [folder / n for n in sorted(names, key=natural_key)]


def read_image(path: str | Path) -> np.ndarray:
    """One image as uint8 RGB, shape (H, W, 3).

    Raises:
        MediaError: the file is missing, empty or cannot be decoded.
    """
    path = Path(path)
    check_file(path)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(path, "undecodable", "not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_frame_folder(
    folder: str | Path, indices: Sequence[int] | np.ndarray | None = None, files: Sequence[Path] | None = None
) -> np.ndarray:
    """Frames of a frame folder (all, or those at `indices`) as uint8 RGB, shape (T, H, W, 3).

    Each distinct image is read once, without re-encoding.

    Raises:
        MediaError: missing or empty folder, an unreadable image, frames of different sizes, or an index
            past the last frame.
    """
    folder = Path(folder)
    files = list(files) if files is not None else list_frames(folder)
    idx = np.arange(len(files)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError("no frame indices given")
    if idx.min() < 0 or idx.max() >= len(files):
        raise MediaError(
            folder, "truncated", f"frame {int(idx.max())} asked for, the folder has {len(files)}"
        )
    images = {int(i): read_image(files[int(i)]) for i in sorted(set(idx.tolist()))}
    shapes = {im.shape for im in images.values()}
    if len(shapes) > 1:
        raise MediaError(folder, "inconsistent frames", f"frame sizes differ: {sorted(shapes)}")
    return np.stack([images[int(i)] for i in idx])
