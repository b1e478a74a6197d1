"""Reading clips: one record's sampled frames (`read_clip`), and many records' into arrays on disk.

`extract_records` writes one uint8 array (T, H, W, 3) per record and a manifest with one row per record
(failures carry the reason); it fails, with a summary, only when more than `max_failed_fraction` of the
records failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np

from ferflow.core.atomic import atomic_path
from ferflow.data.frames.decoding import (
    MediaError,
    Strategy,
    check_file,
    decode_frames,
    list_frames,
    probe_video,
    read_frame_folder,
    read_image,
)
from ferflow.data.frames.sampling import ClipSampler, record_rng
from ferflow.data.records import Record, Skip, check_skip_fraction, write_rows


def media_length(media: str | Path, media_kind: str) -> int:
    """Frames in a video (packets), a frame folder (images) or an image (1)."""
    if media_kind == "video":
        return probe_video(media).num_frames
    if media_kind == "frames":
        return len(list_frames(media))
    if media_kind == "image":
        check_file(Path(media))
        return 1
    raise ValueError(f"unknown media kind {media_kind!r}")


class Clip(NamedTuple):
    """Frames read from one record."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    indices: np.ndarray  # (T,) source frame index of each frame
    source_frames: int  # frames in the source


def read_clip(
    media: str | Path,
    media_kind: str,
    sampler: ClipSampler | None = None,
    *,
    train: bool = False,
    rng: np.random.Generator | None = None,
    strategy: Strategy = "auto",
    threads: int = 1,
) -> Clip:
    """Sample and read one clip from a video, a frame folder or an image (one frame).

    `sampler=None` reads every frame.

    Raises:
        MediaError: the media is missing, empty, truncated or undecodable.
    """
    sampler = sampler or ClipSampler(mode="all")
    media = Path(media)
    if media_kind == "image":
        return Clip(read_image(media)[None], np.zeros(1, dtype=np.int64), 1)
    if media_kind == "video":
        info = probe_video(media)
        idx = sampler.indices(info.num_frames, train=train, rng=rng)
        frames = decode_frames(media, idx, strategy=strategy, info=info, threads=threads)
        return Clip(frames, idx, info.num_frames)
    if media_kind == "frames":
        files = list_frames(media)
        idx = sampler.indices(len(files), train=train, rng=rng)
        return Clip(read_frame_folder(media, idx, files=files), idx, len(files))
    raise ValueError(f"unknown media kind {media_kind!r}")


# --------------------------------------------------------------------------------------- many records

MANIFEST_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "media",
    "media_kind",
    "status",
    "reason",
    "source_frames",
    "frames",
    "indices",
    "output",
)


@dataclass(frozen=True)
class ExtractionResult:
    """What `extract_records` did: one manifest row per record, and the failures as skips."""

    rows: tuple[dict[str, str], ...]
    failed: tuple[Skip, ...] = field(default=())
    manifest: Path | None = None

    @property
    def ok(self) -> int:
        return len(self.rows) - len(self.failed)


def output_path(out_dir: Path, sample_id: str, suffix: str = ".npy") -> Path:
    """Where a record's array goes: `<out_dir>/<sample_id><suffix>` (ids with '/' nest into folders)."""
    rel = PurePosixPath(sample_id)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"sample id {sample_id!r} cannot name an output file")
    return out_dir.joinpath(*rel.parts[:-1], rel.parts[-1] + suffix)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.save(f, array, allow_pickle=False)


def extract_records(
    records: Iterable[Record],
    out_dir: str | Path | None,
    sampler: ClipSampler | None = None,
    *,
    train: bool = False,
    seed: int = 0,
    max_failed_fraction: float = 0.05,
    strategy: Strategy = "auto",
    threads: int = 1,
    manifest: str | Path | None = None,
) -> ExtractionResult:
    """Read each record's frames and write them as `<out_dir>/<sample_id>.npy` (uint8, (T, H, W, 3)).

    A record whose media is missing, empty, truncated or undecodable gets a manifest row with status
    "failed" and the reason, and the run goes on. The manifest (CSV, columns `MANIFEST_COLUMNS`, written
    atomically) holds one row per record, failures included.

    Args:
        records: The records (any media kind).
        out_dir: Folder for the arrays; None reads and checks only (nothing written but the manifest).
        sampler: Which frames; None keeps every frame.
        train: Random contiguous windows (seeded per record by `seed` and the sample id) instead of centre
            windows.
        seed: Seed for training windows.
        max_failed_fraction: Raise `TooManySkipsError` (after writing the manifest) when more records than
            this fraction failed.
        strategy: Decoding strategy for videos (see `plan_decode`).
        threads: Decoder threads per video.
        manifest: Manifest path; default `<out_dir>/manifest.csv`, none when both are None.

    Returns:
        The rows and failures.
    """
    out = Path(out_dir) if out_dir is not None else None
    manifest_path = Path(manifest) if manifest is not None else (out / "manifest.csv" if out else None)
    rows: list[dict[str, str]] = []
    failed: list[Skip] = []
    for record in records:
        row = {c: "" for c in MANIFEST_COLUMNS}
        row.update(sample_id=record.sample_id, media=str(record.media), media_kind=record.media_kind)
        try:
            rng = record_rng(seed, record.sample_id)
            clip = read_clip(
                record.media,
                record.media_kind,
                sampler,
                train=train,
                rng=rng,
                strategy=strategy,
                threads=threads,
            )
        except MediaError as err:
            row.update(status="failed", reason=err.reason)
            failed.append(Skip(record.sample_id, record.media, err.reason))
            rows.append(row)
            continue
        row.update(
            status="ok",
            frames=str(len(clip.indices)),
            source_frames=str(clip.source_frames),
            indices=" ".join(map(str, clip.indices.tolist())),
        )
        if out is not None:
            target = output_path(out, record.sample_id)
            _save_npy(target, clip.frames)
            row["output"] = str(target)
        rows.append(row)
    if manifest_path is not None:
        write_rows(manifest_path, rows, MANIFEST_COLUMNS)
    result = ExtractionResult(tuple(rows), tuple(failed), manifest_path)
    where = f"frame extraction ({manifest_path if manifest_path is not None else 'no manifest written'})"
    check_skip_fraction(len(rows), failed, max_failed_fraction, where)
    return result
