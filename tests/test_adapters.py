"""Dataset adapters on tiny fixtures written in each dataset's official format."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ferflow.data.adapters.base import AnnotationError, UnsafePathError, safe_relative
from ferflow.data.adapters.dfew import DFEW_MEDIA, load_dfew
from ferflow.data.adapters.ferv39k import load_ferv39k
from ferflow.data.adapters.mafw import load_mafw
from ferflow.data.adapters.rafdb import load_rafdb
from ferflow.data.adapters.registry import LOADERS, load_records
from ferflow.data.adapters.synthetic import SYNTHETIC_IMAGE_SPLITS, load_synthetic_image, load_synthetic_video
from ferflow.data.records import Record, TooManySkipsError, read_records, write_records
from ferflow.dataset_names import (
    CHOICES,
    CLASSES,
    DFEW_CLASSES,
    FERV39K_CLASSES,
    MAFW_CLASSES,
    OPTIONS,
    RAFDB_CLASSES,
    class_names,
    iter_folds,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _frames(folder: Path, n: int = 2) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (folder / f"{i}.jpg").write_bytes(b"jpeg")


# ------------------------------------------------------------------------------------------------- DFEW


def _dfew(root: Path, rows: dict[tuple[str, int], list[tuple[int, int]]], layout: str = "official") -> Path:
    """DFEW fixture; rows maps (split, fold) -> [(video number, label 0..7)]. Frame folders for every clip."""
    for (split, fold), items in rows.items():
        text = "video_name,label\n" + "".join(f"{v},{lab}\n" for v, lab in items)
        base = root / "EmoLabel_DataSplit"
        path = {
            "official": base / f"{split}(single-labeled)" / f"set_{fold}.csv",
            "prefixed": base / f"{split}(single-labeled)" / f"{split}_set_{fold}.csv",
            "plain": base / split / f"set_{fold}.csv",
            "flat": base / f"{split}_set_{fold}.csv",
        }[layout]
        _write(path, text)
        for v, _ in items:
            _frames(root / "Clip" / "clip_224x224" / f"{v:05d}")
    return root


def test_dfew_labels_are_one_based_and_label_zero_is_dropped(tmp_path: Path) -> None:
    root = _dfew(tmp_path, {("train", 1): [(1, 1), (2, 7), (3, 0), (40, 3)]})
    rs = load_dfew(root, 1, "train")
    assert [r.sample_id for r in rs] == ["00001", "00002", "00040"]
    assert [r.label for r in rs] == [0, 6, 2]
    assert [rs.class_name(r.label) for r in rs] == ["Happy", "Fear", "Neutral"]
    assert rs.dropped == 1 and rs.skipped == ()
    assert rs.classes == DFEW_CLASSES == ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
    r = rs[0]
    assert r.media == root / "Clip" / "clip_224x224" / "00001"
    assert (r.media_kind, r.split, r.fold, r.identity, r.dataset) == ("frames", "train", 1, None, "dfew")


def test_dfew_folds_pick_their_own_files(tmp_path: Path) -> None:
    rows = {(s, k): [(10 * k + (s == "test"), k)] for k in range(1, 6) for s in ("train", "test")}
    root = _dfew(tmp_path, rows)
    for k in iter_folds("dfew"):
        assert [r.sample_id for r in load_dfew(root, k, "train", label_base=1)] == [f"{10 * k:05d}"]
        assert [r.sample_id for r in load_dfew(root, k, "test", label_base=1)] == [f"{10 * k + 1:05d}"]
        assert load_dfew(root, k, "test", label_base=1)[0].fold == k
    for bad in (0, 6, None):
        with pytest.raises(ValueError, match="fold must be"):
            load_dfew(root, bad, "train")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="split must be"):
        load_dfew(root, 1, "val")


@pytest.mark.parametrize("layout", ["official", "prefixed", "plain", "flat"])
def test_dfew_accepts_renamed_split_files(tmp_path: Path, layout: str) -> None:
    root = _dfew(tmp_path, {("train", 2): [(5, 2)], ("test", 2): [(6, 4)]}, layout)
    assert [(r.sample_id, r.label) for r in load_dfew(root, 2, "train", label_base=1)] == [("00005", 1)]
    assert [(r.sample_id, r.label) for r in load_dfew(root, 2, "test", label_base=1)] == [("00006", 3)]


def test_dfew_missing_split_file_lists_the_names_tried(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"set_3\.csv") as err:
        load_dfew(tmp_path, 3, "test")
    assert "test(single-labeled)" in str(err.value) and "test_set_3.csv" in str(err.value)


def test_dfew_media_choices_and_paths_are_configurable(tmp_path: Path) -> None:
    root = _dfew(tmp_path, {("train", 1): [(7, 7)]}, "flat")
    _write(root / "Clip" / "original" / "00007.mp4", "video")
    _frames(root / "Clip" / "clip_224x224_16f" / "00007")
    _frames(tmp_path / "elsewhere" / "00007")
    video = load_dfew(root, 1, "train", media="video", video_ext="mp4")[0]
    assert (video.media, video.media_kind) == (root / "Clip" / "original" / "00007.mp4", "video")
    frames16 = load_dfew(root, 1, "train", media="frames16")[0]
    assert frames16.media == root / "Clip" / "clip_224x224_16f" / "00007"
    moved = load_dfew(root, 1, "train", media_dir=tmp_path / "elsewhere")[0]
    assert moved.media == tmp_path / "elsewhere" / "00007"
    split_dir = tmp_path / "splits"
    (root / "EmoLabel_DataSplit").rename(split_dir)
    assert len(load_dfew(root, 1, "train", split_dir=split_dir)) == 1
    with pytest.raises(ValueError, match="media must be"):
        load_dfew(root, 1, "train", media="avi", split_dir=split_dir)


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("video_name,label\n1,1\nabc,2\n", 3, "expected"),
        ("video_name,label\n1,1\n\n2,9\n", 4, "label must be 1..7 with label_base 1"),
        ("video_name,label\n1,1,extra\n", 2, "expected"),
        ("name;label\n1;1\n", 1, "header 'video_name,label'"),
        ("video_name,label\n1,1\n1,2\n", 3, "duplicate sample '00001'"),
    ],
)
def test_dfew_malformed_line_names_file_and_line(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = _write(tmp_path / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv", text)
    _frames(tmp_path / "Clip" / "clip_224x224" / "00001")
    _frames(tmp_path / "Clip" / "clip_224x224" / "00002")
    with pytest.raises(AnnotationError) as err:
        load_dfew(tmp_path, 1, "train", label_base=1)
    assert str(path) in str(err.value)
    assert f"line {line}" in str(err.value)
    assert expected in str(err.value)
    assert err.value.lineno == line


def test_dfew_header_is_optional_and_bom_is_ignored(tmp_path: Path) -> None:
    _write(tmp_path / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv", "\ufeff3,5\r\n")
    _frames(tmp_path / "Clip" / "clip_224x224" / "00003")
    assert [(r.sample_id, r.label) for r in load_dfew(tmp_path, 1, "train", label_base=1)] == [("00003", 4)]


def test_dfew_empty_split_file_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv", "video_name,label\n3,0\n")
    with pytest.raises(AnnotationError, match="no train samples"):
        load_dfew(tmp_path, 1, "train", label_base=1)


def test_missing_or_empty_media_is_skipped_with_reason_then_fails_above_threshold(tmp_path: Path) -> None:
    root = _dfew(tmp_path, {("train", 1): [(1, 1), (2, 2), (3, 3), (4, 4)]})
    missing = root / "Clip" / "clip_224x224" / "00002"
    for f in missing.iterdir():
        f.unlink()
    missing.rmdir()
    empty = root / "Clip" / "clip_224x224" / "00003"
    for f in empty.iterdir():
        f.unlink()
    rs = load_dfew(root, 1, "train", label_base=1, max_skip_fraction=0.5)
    assert [r.sample_id for r in rs] == ["00001", "00004"]
    reasons = {s.sample_id: s.reason for s in rs.skipped}
    assert reasons["00002"].startswith("missing") and reasons["00003"].startswith("empty")
    assert {s.path for s in rs.skipped} == {missing, empty}
    with pytest.raises(TooManySkipsError) as err:
        load_dfew(root, 1, "train", label_base=1, max_skip_fraction=0.25)
    assert "2 of 4" in str(err.value) and str(missing) in str(err.value) and str(empty) in str(err.value)
    assert len(err.value.skipped) == 2
    assert len(load_dfew(root, 1, "train", label_base=1, check_media=False)) == 4


# ---------------------------------------------------------------------------------------------- FERV39k


def _ferv39k(root: Path, lines: dict[str, str]) -> Path:
    for split, text in lines.items():
        _write(root / "4_setups" / "All_scenes" / f"{split}_All.csv", text)
        for line in text.splitlines():
            _frames(root / "2_ClipsforFaceCrop" / line.split()[0])
    return root


def test_ferv39k_class_names_and_single_split(tmp_path: Path) -> None:
    root = _ferv39k(
        tmp_path,
        {
            "train": "Action/Angry/0001 Angry\nDaily/Surprise/0002 Surprise\nNews/Happy/0003 happy\n",
            "test": "Action/Neutral/0009 Neutral\n",
        },
    )
    rs = load_ferv39k(root, "train")
    assert rs.classes == FERV39K_CLASSES
    assert FERV39K_CLASSES == ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
    assert [(r.sample_id, r.label) for r in rs] == [
        ("Action/Angry/0001", 0),
        ("Daily/Surprise/0002", 6),
        ("News/Happy/0003", 3),
    ]
    assert rs[0].media == root / "2_ClipsforFaceCrop" / "Action" / "Angry" / "0001"
    assert rs[0].fold is None and rs[0].media_kind == "frames"
    assert [r.label for r in load_records("FERV39k", root, split="test")] == [4]
    with pytest.raises(ValueError, match="one fixed train/test split"):
        load_records("ferv39k", root, fold=1, split="train")
    assert list(iter_folds("ferv39k")) == [None]


def test_ferv39k_videos_need_a_media_dir(tmp_path: Path) -> None:
    root = _ferv39k(tmp_path, {"train": "Action/Angry/0001 Angry\n"})
    with pytest.raises(ValueError, match="media_dir"):
        load_ferv39k(root, "train", media="video")
    _write(root / "videos" / "Action" / "Angry" / "0001.mp4", "v")
    r = load_ferv39k(root, "train", media="video", media_dir="videos")[0]
    assert (r.media, r.media_kind) == (root / "videos" / "Action" / "Angry" / "0001.mp4", "video")


@pytest.mark.parametrize(
    ("line", "error", "match"),
    [
        ("Action/Angry/0001 Furious\n", AnnotationError, "unknown class 'Furious'"),
        ("Action/Angry/0001\n", AnnotationError, "expected '<scene>/<Emotion>/<id> <Emotion>'"),
        ("../../outside/0001 Angry\n", UnsafePathError, "escapes the dataset root"),
        ("/etc/passwd Angry\n", UnsafePathError, "absolute path"),
        ("C:\\data\\0001 Angry\n", UnsafePathError, "absolute path"),
    ],
)
def test_ferv39k_bad_lines(tmp_path: Path, line: str, error: type[Exception], match: str) -> None:
    path = _write(tmp_path / "4_setups" / "All_scenes" / "train_All.csv", "Action/Angry/0002 Angry\n" + line)
    _frames(tmp_path / "2_ClipsforFaceCrop" / "Action" / "Angry" / "0002")
    with pytest.raises(error, match=match) as err:
        load_ferv39k(tmp_path, "train")
    assert f"{path}, line 2" in str(err.value)


# ------------------------------------------------------------------------------------------------- MAFW


def _mafw(root: Path, fold: int, split: str, text: str, split_dir: str = "anno/single/no_caption") -> Path:
    _write(root / split_dir / f"set_{fold}" / f"{split}.txt", text)
    for line in text.splitlines():
        _frames(root / "data" / "frames" / line.split()[0].removesuffix(".mp4"))
    return root


def test_mafw_eleven_classes_in_official_order(tmp_path: Path) -> None:
    text = "".join(f"{i + 1:05d}.mp4 {name}\n" for i, name in enumerate(MAFW_CLASSES))
    root = _mafw(tmp_path, 1, "train", text)
    rs = load_mafw(root, 1, "train")
    assert len(rs.classes) == 11
    assert rs.classes[7:] == ("contempt", "anxiety", "helplessness", "disappointment")
    assert [r.label for r in rs] == list(range(11))
    assert rs[0].sample_id == "00001" and rs[0].media == root / "data" / "frames" / "00001"
    assert class_names("mafw") == MAFW_CLASSES


def test_mafw_folds_video_media_and_alternative_split_folder(tmp_path: Path) -> None:
    for k in range(1, 6):
        _mafw(tmp_path, k, "test", f"{k:05d}.mp4 fear\n", split_dir="Train & Test Set/single/no_caption")
        _write(tmp_path / "data" / "clips" / f"{k:05d}.mp4", "v")
    for k in range(1, 6):
        rs = load_records("mafw", tmp_path, fold=k, split="test", media="video")
        assert [(r.sample_id, r.label, r.fold, r.media_kind) for r in rs] == [(f"{k:05d}", 2, k, "video")]
        assert rs[0].media == tmp_path / "data" / "clips" / f"{k:05d}.mp4"
    with pytest.raises(ValueError, match="fold must be"):
        load_mafw(tmp_path, 6, "test")
    with pytest.raises(AnnotationError, match="not found"):
        load_mafw(tmp_path, 1, "train")


def test_mafw_rejects_paths_escaping_the_root_and_unknown_classes(tmp_path: Path) -> None:
    _mafw(tmp_path, 1, "train", "00001.mp4 anger\n")
    path = tmp_path / "anno" / "single" / "no_caption" / "set_1" / "train.txt"
    path.write_text("00001.mp4 anger\n../../../secret.mp4 anger\n")
    with pytest.raises(UnsafePathError, match=r"line 2: path '\.\./\.\./\.\./secret\.mp4' escapes"):
        load_mafw(tmp_path, 1, "train")
    path.write_text("00001.mp4 joy\n")
    with pytest.raises(AnnotationError, match="line 1: unknown class 'joy'"):
        load_mafw(tmp_path, 1, "train")


# ----------------------------------------------------------------------------------------------- RAF-DB


def _rafdb(basic: Path, lines: list[tuple[str, int]]) -> Path:
    _write(basic / "EmoLabel" / "list_patition_label.txt", "".join(f"{n} {lab}\n" for n, lab in lines))
    for name, _ in lines:
        _write(basic / "Image" / "original" / name, "jpg")
        _write(basic / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), "jpg")
    return basic


def test_rafdb_order_splits_and_media(tmp_path: Path) -> None:
    lines = [("train_00001.jpg", 1), ("train_00002.jpg", 4), ("test_0001.jpg", 7), ("train_00003.jpg", 6)]
    basic = _rafdb(tmp_path / "RAF-DB" / "basic", lines)
    rs = load_rafdb(basic, "train")
    assert (
        rs.classes
        == RAFDB_CLASSES
        == ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")
    )
    assert [(r.sample_id, rs.class_name(r.label)) for r in rs] == [
        ("train_00001", "Surprise"),
        ("train_00002", "Happiness"),
        ("train_00003", "Anger"),
    ]
    assert rs[0].media == basic / "Image" / "aligned" / "train_00001_aligned.jpg"
    assert rs[0].media_kind == "image"
    test = load_rafdb(tmp_path / "RAF-DB", "test", media="original")  # the parent of basic/ works too
    assert [(r.sample_id, r.label, r.media) for r in test] == [
        ("test_0001", 6, basic / "Image" / "original" / "test_0001.jpg")
    ]
    assert len(load_records("RAF-DB", basic, split="test")) == 1


@pytest.mark.parametrize(
    ("line", "error", "match"),
    [
        ("train_00002.jpg 8", AnnotationError, "label must be an integer 1..7"),
        ("val_00002.jpg 1", AnnotationError, "must start with 'train_' or 'test_'"),
        ("train_00002.jpg", AnnotationError, "expected '<split>_<number>.jpg <label 1..7>'"),
        ("../train_00002.jpg 1", UnsafePathError, "escapes the dataset root"),
    ],
)
def test_rafdb_bad_lines(tmp_path: Path, line: str, error: type[Exception], match: str) -> None:
    basic = _rafdb(tmp_path, [("train_00001.jpg", 1)])
    path = basic / "EmoLabel" / "list_patition_label.txt"
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(error, match=match) as err:
        load_rafdb(basic, "train")
    assert f"{path}, line 2" in str(err.value)


# ------------------------------------------------------------------------------------ embedded benchmark


def _synthetic(root: Path) -> Path:
    for k in range(1, 6):
        _write(
            root / "DFEW" / "EmoLabel_DataSplit" / "train(single-labeled)" / f"set_{k}.csv",
            "video_name,label\n1,1\n2,5\n3,7\n",
        )
        _write(
            root / "DFEW" / "EmoLabel_DataSplit" / "test(single-labeled)" / f"set_{k}.csv",
            "video_name,label\n4,2\n",
        )
    for v in range(1, 5):
        _write(root / "DFEW" / "Clip" / "original" / f"{v:05d}.mp4", "mp4")
    _write(
        root / "ground_truth" / "clips.csv", "video_name,label,identity,fold\n1,0,3,1\n2,4,11,1\n4,1,0,2\n"
    )  # clip 3 has no identity
    _rafdb(root / "RAF-DB" / "basic", [("train_00001.jpg", 2), ("test_0001.jpg", 3)])
    _write(
        root / "ground_truth" / "images.csv", "name,label,identity\ntrain_00001.jpg,1,7\ntest_0001.jpg,2,8\n"
    )
    return root


def test_synthetic_video_is_dfew_with_mp4_and_identities(tmp_path: Path) -> None:
    root = _synthetic(tmp_path)
    rs = load_records("synthetic_video", root, fold=2, split="train", max_skip_fraction=0.5)
    assert rs.classes == DFEW_CLASSES and rs.dataset == "synthetic_video"
    assert [(r.sample_id, r.label, r.identity, r.media_kind) for r in rs] == [
        ("00001", 0, "3", "video"),
        ("00002", 4, "11", "video"),
    ]
    assert rs[0].media == root / "DFEW" / "Clip" / "original" / "00001.mp4"
    assert [s.sample_id for s in rs.skipped] == ["00003"] and "no identity" in rs.skipped[0].reason
    with pytest.raises(TooManySkipsError, match="no identity"):
        load_synthetic_video(root, 2, "train", max_skip_fraction=0.0)
    assert [r.identity for r in load_synthetic_video(root, 5, "test")] == ["0"]


def test_synthetic_image_is_rafdb_with_identities(tmp_path: Path) -> None:
    root = _synthetic(tmp_path)
    train = load_synthetic_image(root, "train")
    assert [(r.sample_id, r.label, r.identity) for r in train] == [("train_00001", 1, "7")]
    assert train[0].media == root / "RAF-DB" / "basic" / "Image" / "aligned" / "train_00001_aligned.jpg"
    test = load_records("synthetic-image", root, split="test", media="original")
    assert [(r.identity, r.media.name, r.label) for r in test] == [("8", "test_0001.jpg", 2)]


def test_synthetic_ground_truth_without_identity_column_is_an_error(tmp_path: Path) -> None:
    root = _synthetic(tmp_path)
    gt = _write(root / "ground_truth" / "images.csv", "name,label\ntrain_00001.jpg,1\n")
    with pytest.raises(AnnotationError, match="identity") as err:
        load_synthetic_image(root, "train")
    assert str(gt) in str(err.value)


# ------------------------------------------------------------------------------------------- dispatcher


def test_load_records_rejects_unknown_datasets_and_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'affectnet'.*dfew.*rafdb"):
        load_records("affectnet", tmp_path)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['label_file'\]"):
        load_records("dfew", tmp_path, fold=1, label_file="x")


def test_dataset_names_agree_with_the_loaders() -> None:
    """The parameter check reads `ferflow.dataset_names` without importing the loaders; hold it to them."""
    assert list(LOADERS) == list(CLASSES)
    for name, loader in LOADERS.items():
        parameters = inspect.signature(loader).parameters.values()
        assert OPTIONS[name] == tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY), name
        assert set(CHOICES[name]) <= set(OPTIONS[name]), name
    assert CHOICES["dfew"]["media"] == tuple(DFEW_MEDIA)
    assert CHOICES["synthetic_image"]["test_identities"] == tuple(SYNTHETIC_IMAGE_SPLITS)


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a/b/c", ("a", "b", "c")), ("./a//b/", ("a", "b")), ("a/../b", ("b",)), ("a\\b", ("a", "b"))],
)
def test_safe_relative_accepts_paths_inside(text: str, parts: tuple[str, ...]) -> None:
    assert safe_relative(text, "f.txt", 1).parts == parts


@pytest.mark.parametrize("text", ["..", "../a", "a/../../b", "/abs", "\\\\server\\share", "D:/x", "", "."])
def test_safe_relative_rejects_paths_outside(text: str) -> None:
    with pytest.raises(UnsafePathError, match=r"f\.txt, line 4"):
        safe_relative(text, "f.txt", 4)


def test_records_round_trip_through_a_csv_manifest(tmp_path: Path) -> None:
    records = [
        Record("00001", Path("/d/00001.mp4"), "video", 3, "train", "dfew", None, 2),
        Record("a/b", Path("rel/a/b"), "frames", 0, "test", "ferv39k", "id 7", None),
    ]
    write_records(tmp_path / "m" / "records.csv", records)
    assert read_records(tmp_path / "m" / "records.csv") == records
    with pytest.raises(ValueError, match="label must be"):
        Record("x", Path("x"), "image", -1, "train")
    with pytest.raises(ValueError, match="split must be"):
        Record("x", Path("x"), "image", 0, "validation")
