"""Real datasets as distributed and redistributed: label numbering, split-file variants, media found by
number, and `ferflow data check` on them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from layouts import (
    dfew_frames,
    dfew_sized_folds,
    dfew_splits,
    dfew_videos,
    small_dfew_folds,
    write,
)

from ferflow.cli import main
from ferflow.config import validate_params
from ferflow.data.adapters import dfew
from ferflow.data.adapters.base import AnnotationError, shared_media_scans
from ferflow.data.adapters.dfew import load_dfew
from ferflow.data.adapters.ferv39k import load_ferv39k
from ferflow.data.adapters.mafw import load_mafw
from ferflow.data.check import check_branch
from ferflow.dataset_names import DFEW_CLASSES, FERV39K_CLASSES, MAFW_CLASSES

# ------------------------------------------------------------------------------------- label numbering


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("base", [0, 1])
def test_dfew_labels_read_right_whatever_the_numbering(tmp_path: Path, base: int, header: bool) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds, base=base, header=header)
    dfew_frames(tmp_path, [n for n, _ in folds[1][0] + folds[1][1]])
    for split, rows in zip(("train", "test"), folds[1], strict=True):
        rs = load_dfew(tmp_path, 1, split)
        assert [(int(r.sample_id), r.label) for r in rs] == rows  # 0-based classes, nothing shifted
        assert rs.label_base == base and rs.dropped == 0
        assert rs.class_counts()["Happy"] > 0 and rs.class_counts()["Fear"] > 0


def test_a_zero_based_file_read_as_one_based_loses_its_first_class(tmp_path: Path) -> None:
    """What went wrong before: label_base 1 on a 0-based file drops Happy and shifts the rest. The option
    still does what it says; `auto` (the default) reads the file right."""
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds, base=0)
    dfew_frames(tmp_path, [n for n, _ in folds[1][0]])
    forced = load_dfew(tmp_path, 1, "train", label_base=1)
    assert forced.dropped == sum(c == 0 for _, c in folds[1][0]) and forced.class_counts()["Fear"] == 0
    assert load_dfew(tmp_path, 1, "train").class_counts() == {
        name: sum(c == i for _, c in folds[1][0]) for i, name in enumerate(DFEW_CLASSES)
    }


def test_auto_refuses_an_ambiguous_file_and_names_the_option(tmp_path: Path) -> None:
    # labels 2..6 only: 1-based without Happy and Fear, or 0-based without Happy and Sad
    dfew_splits(tmp_path, {1: ([(1, 1), (2, 5)], [(3, 2)])}, base=1)
    dfew_frames(tmp_path, [1, 2, 3])
    with pytest.raises(AnnotationError) as err:
        load_dfew(tmp_path, 1, "train")
    message = str(err.value)
    assert "train(single-labeled)/set_1.csv: labels span 2..6" in message
    assert "label_base to 0 or 1 (params.yaml: data.video.options.label_base)" in message
    assert [r.label for r in load_dfew(tmp_path, 1, "train", label_base=1)] == [1, 5]
    assert [r.label for r in load_dfew(tmp_path, 1, "train", label_base="0")] == [2, 6]


def test_one_based_dfew_with_unlabelled_rows_is_still_one_based(tmp_path: Path) -> None:
    dfew_splits(tmp_path, {1: ([(1, 6), (2, -1), (3, 0)], [(4, 1)])}, base=1)  # label 0 = no single label
    dfew_frames(tmp_path, [1, 3])
    rs = load_dfew(tmp_path, 1, "train")
    assert rs.label_base == 1 and rs.dropped == 1 and [r.label for r in rs] == [6, 0]


def test_an_explicit_base_checks_every_line(tmp_path: Path) -> None:
    dfew_splits(tmp_path, {1: ([(1, 0), (2, 6)], [(3, 2)])}, base=1)  # labels 1 and 7
    with pytest.raises(AnnotationError, match=r"set_1\.csv, line 3: label must be 0\.\.6 with label_base 0"):
        load_dfew(tmp_path, 1, "train", label_base=0)
    with pytest.raises(ValueError, match="label_base must be auto, 0 or 1"):
        load_dfew(tmp_path, 1, "train", label_base=2)


def test_renamed_split_files_without_header(tmp_path: Path) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds, base=0, header=False, names="train_set")
    dfew_frames(tmp_path, [n for n, _ in folds[3][1]])
    assert (tmp_path / "EmoLabel_DataSplit" / "test_set_3.csv").is_file()
    assert [(int(r.sample_id), r.label) for r in load_dfew(tmp_path, 3, "test")] == folds[3][1]


# --------------------------------------------------------------------------------------- FERV39k, MAFW

FERV_ROWS = [(f"Action/{name}/{i:04d}", c) for i, (c, name) in enumerate(enumerate(FERV39K_CLASSES))]


def _ferv_media(root: Path) -> None:
    for clip, _ in FERV_ROWS:
        write(root / "2_ClipsforFaceCrop" / clip / "0001.jpg", b"jpeg")


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("".join(f"{p} {FERV39K_CLASSES[c]}\n" for p, c in FERV_ROWS), None),  # official
        ("Path Label\n" + "".join(f"{p} {FERV39K_CLASSES[c]}\n" for p, c in FERV_ROWS), None),  # header
        ("path,id\n" + "".join(f"{p},{c}\n" for p, c in FERV_ROWS), 0),  # redistributed, 0-based ids
        ("".join(f"{p},{c + 1}\n" for p, c in FERV_ROWS), 1),  # 1-based ids, no header
    ],
)
def test_ferv39k_official_and_redistributed_lists(tmp_path: Path, text: str, base: int | None) -> None:
    _ferv_media(tmp_path)
    write(tmp_path / "annotations" / "ferv_train.csv", text)
    rs = load_ferv39k(tmp_path, "train", split_dir="annotations", train_file="ferv_train.csv")
    assert [(r.sample_id, r.label) for r in rs] == FERV_ROWS and rs.label_base == base


def test_ferv39k_mixed_labels_and_ambiguous_ids(tmp_path: Path) -> None:
    _ferv_media(tmp_path)
    path = write(tmp_path / "4_setups" / "All_scenes" / "train_All.csv", "Action/Angry/0000 Angry\nA/B/1,3\n")
    with pytest.raises(
        AnnotationError, match=r"line 2: label '3': expected a class name, like the first row"
    ):
        load_ferv39k(tmp_path, "train")
    path.write_text("Action/Angry/0000,2\nAction/Disgust/0001,5\n")
    with pytest.raises(AnnotationError, match=r"labels span 2\.\.5, which fits both"):
        load_ferv39k(tmp_path, "train")


def test_mafw_numbered_labels_with_a_header(tmp_path: Path) -> None:
    lines = "".join(f"{i + 1:05d}.mp4,{i + 1}\n" for i in range(len(MAFW_CLASSES)))
    write(tmp_path / "anno" / "single" / "no_caption" / "set_2" / "test.txt", "video,label\n" + lines)
    for i in range(len(MAFW_CLASSES)):
        write(tmp_path / "data" / "frames" / f"{i + 1:05d}" / "1.jpg", b"jpeg")
    rs = load_mafw(tmp_path, 2, "test")
    assert [r.label for r in rs] == list(range(11)) and rs.label_base == 1
    assert rs[10].sample_id == "00011" and rs.class_name(rs[10].label) == "disappointment"


# ---------------------------------------------------------------------------------- media by number


@pytest.mark.parametrize("layout", ["unpadded", "padded", "parts"])
def test_dfew_originals_are_found_by_number(tmp_path: Path, layout: str) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds)
    numbers = [n for n, _ in folds[1][0] + folds[1][1]]
    dfew_videos(tmp_path, numbers, layout)
    rs = load_dfew(tmp_path, 1, "test", media="video")
    assert len(rs) == len(folds[1][1]) and not rs.skipped
    n = int(rs[0].sample_id)
    expected = {
        "unpadded": Path("Clip/original") / f"{n}.mp4",
        "padded": Path("Clip/original") / f"{n:05d}.mp4",
        "parts": Path("Clip/original") / f"part_{numbers.index(n) % 11 + 1}" / f"{n}.mp4",
    }[layout]
    assert rs[0].media == tmp_path / expected and rs[0].sample_id == f"{n:05d}"


def test_missing_and_doubled_media_are_recorded_skips(tmp_path: Path) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds)
    test = [n for n, _ in folds[1][1]]
    dfew_videos(tmp_path, test[1:], "parts")
    write(tmp_path / "Clip" / "original" / f"{test[1]:05d}.avi", b"v")  # the same clip twice
    rs = load_dfew(tmp_path, 1, "test", media="video", max_skip_fraction=1.0)
    reasons = {int(s.sample_id): s.reason for s in rs.skipped}
    base = tmp_path / "Clip" / "original"
    assert (
        reasons[test[0]]
        == f"missing: no video (.mp4 .avi .mov .mkv .webm .m4v .mpg .mpeg) numbered {test[0]} under {base}"
    )
    assert reasons[test[1]].startswith(f"ambiguous: 2 media numbered {test[1]} under {base}: ")
    assert len(rs) == len(test) - 2
    assert (
        len(load_dfew(tmp_path, 1, "test", media="video", video_ext="mp4", max_skip_fraction=1.0))
        == len(test) - 1
    )


def test_one_scan_serves_every_fold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds)
    dfew_videos(tmp_path, [n for n, _ in folds[1][0] + folds[1][1]], "parts")
    scanned: list[str] = []
    real = os.scandir
    monkeypatch.setattr(dfew.os, "scandir", lambda p: (scanned.append(str(p)), real(p))[1])
    with shared_media_scans():
        for k in range(1, 6):
            for split in ("train", "test"):
                load_dfew(tmp_path, k, split, media="video")
    assert len(scanned) == 12  # Clip/original and its 11 part folders, once
    scanned.clear()
    load_dfew(tmp_path, 1, "test", media="video")
    assert len(scanned) == 12  # outside the block, each load scans once


# ------------------------------------------------------------------------------------------ data check


def _params(root: Path, **options: object) -> object:
    return validate_params(
        {"data": {"video": {"dataset": "dfew", "root": str(root), "options": {"media": "video", **options}}}}
    )


def test_data_check_counts_every_fold_split_and_class(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds, base=0, header=False, names="train_set")
    dfew_videos(tmp_path, [n for n, _ in folds[1][0] + folds[1][1]], "parts")
    report = check_branch("clips", _params(tmp_path), tmp_path / "unused")
    assert not report.problems and report.samples == 70
    assert [(s.fold, s.split, s.records, s.label_base) for s in report.splits[:2]] == [
        (1, "train", 56, 0),
        (1, "test", 14, 0),
    ]
    assert all(n == 2 for n in report.splits[1].classes.values())
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(_params(tmp_path).model_dump(mode="json")))
    out = tmp_path / "check.json"
    assert main(["data", "check", "--params", str(params), "--kind", "clips", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "data.video: dfew at" in printed and "0-based  EmoLabel_DataSplit/test_set_5.csv" in printed
    assert json.loads(out.read_text())["ok"] is True


def test_data_check_fails_with_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds)
    numbers = [n for n, _ in folds[1][0] + folds[1][1]]
    dfew_videos(tmp_path, numbers[5:], "unpadded")  # 5 of 70 missing
    test_2 = tmp_path / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_2.csv"
    test_2.write_text("video_name,label\n" + "".join(f"{n},{c + 1}\n" for n, c in folds[2][1] if c != 6))
    report = check_branch("clips", _params(tmp_path, label_base=1), tmp_path)
    problems = "\n".join(report.problems)
    assert (
        "test fold 2 (EmoLabel_DataSplit/test(single-labeled)/set_2.csv): no samples of ['Fear']" in problems
    )
    assert "5 of 68 samples have unusable media (7.4%), above data.max_skip_fraction = 5.0%" in problems
    assert f"5 x missing: {tmp_path / 'Clip' / 'original' / '00008.mp4'}" in problems
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(_params(tmp_path, label_base=1).model_dump(mode="json")))
    assert main(["data", "check", "--params", str(params), "--kind", "clips"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    where = f"data.video (dfew at {tmp_path})"
    assert err == [f"ferflow: data check found 2 problem(s) in {where}; fix the files or options named above"]


def test_data_check_refuses_mixed_numbering(tmp_path: Path) -> None:
    folds = small_dfew_folds()
    dfew_splits(tmp_path, folds, base=1)
    dfew_splits(tmp_path, {4: folds[4]}, base=0)  # one fold's files copied from another source
    dfew_videos(tmp_path, [n for n, _ in folds[1][0] + folds[1][1]])
    report = check_branch("clips", _params(tmp_path), tmp_path)
    assert any("number their labels differently" in p for p in report.problems), report.problems


def test_data_check_on_a_dfew_sized_annotation_set(tmp_path: Path) -> None:
    """11,697 clips in five folds, videos over part_1..part_11: everything listed, nothing decoded. How long
    it takes is measured by the benchmark in the README, not asserted here."""
    folds = dfew_sized_folds()
    dfew_splits(tmp_path, folds)
    dfew_videos(tmp_path, sorted(n for n, _ in folds[1][0] + folds[1][1]), "parts")
    report = check_branch("clips", _params(tmp_path), tmp_path)
    assert not report.problems and report.samples == 11697
    assert [s.records for s in report.splits if s.split == "test"] == [2341, 2341, 2340, 2339, 2336]
    assert [s.records for s in report.splits if s.split == "train"] == [9356, 9356, 9357, 9358, 9361]
