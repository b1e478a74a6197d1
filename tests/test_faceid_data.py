"""Face-identity data for pretraining: the embedded corpus, the adapters as distributed, LFW's pairs file,
the verification metrics and the data stage that aligns it all into stores."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_curve

from ferflow.config import SyntheticParams, validate_params
from ferflow.data.adapters.base import AnnotationError, UnsafePathError
from ferflow.data.adapters.casia_webface import load_casia
from ferflow.data.adapters.folder import load_identity_folders
from ferflow.data.adapters.lfw import load_lfw, parse_lfw_pairs
from ferflow.data.adapters.vggface2 import load_vggface2
from ferflow.data.prepare_faces import prepare_faces, read_pairs
from ferflow.data.records import TooManySkipsError
from ferflow.data.store import open_store
from ferflow.data.synthetic.faceid import (
    FACEID_SIZES,
    disjoint_from_benchmark,
    generate_faceid,
    make_identities,
    same_identity,
)
from ferflow.data.synthetic.plan import make_plan
from ferflow.data.synthetic.render import render_still
from ferflow.evaluate.verification import kfold_accuracy, tar_at_far, verification_metrics

TINY = SyntheticParams(size="tiny", seed=5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faceid") / "tiny-faceid"
    generate_faceid(TINY, out, workers=2)
    return out


def write_face(path: Path, seed: int = 0, size: int = 112) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    cv2.imwrite(str(path), image)


# ------------------------------------------------------------------------------------------ the corpus
def test_corpus_layout_and_pairs(corpus):
    counts = FACEID_SIZES["tiny"]
    identities = sorted(p.name for p in (corpus / "CASIA-WebFace").iterdir())
    assert len(identities) == counts.identities and identities[0] == "0000001"
    assert all(len(list((corpus / "CASIA-WebFace" / i).glob("*.jpg"))) == counts.images for i in identities)
    image = cv2.imread(str(corpus / "CASIA-WebFace" / "0000001" / "001.jpg"))
    assert image.shape == (112, 112, 3)
    pairs, folds = parse_lfw_pairs(corpus / "pairs.txt")
    assert sorted(set(folds)) == list(range(10))
    same = [a == b for a, _, b, _ in pairs]
    assert sum(same) == len(pairs) // 2
    # folds hold disjoint people, as in LFW's View 2
    people = [{a for (a, _, b, _), f in zip(pairs, folds, strict=True) if f == k} for k in range(10)]
    assert all(people[i].isdisjoint(people[j]) for i in range(10) for j in range(i + 1, 10))
    # held-out people never appear among the training identities
    truth = json.loads((corpus / "identities.json").read_text())
    assert sum(t["split"] == "heldout" for t in truth) == counts.heldout


def test_corpus_is_deterministic(corpus, tmp_path):
    generate_faceid(TINY, tmp_path / "again", workers=1)
    for name in ("pairs.txt", "identities.json"):
        assert (tmp_path / "again" / name).read_text() == (corpus / name).read_text()
    a = cv2.imread(str(corpus / "lfw" / "Person_0013" / "Person_0013_0001.jpg"))
    b = cv2.imread(str(tmp_path / "again" / "lfw" / "Person_0013" / "Person_0013_0001.jpg"))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size", ["tiny", "demo"])
@pytest.mark.parametrize("seed", [0, 1])
def test_no_corpus_identity_is_a_benchmark_identity(size, seed):
    p = SyntheticParams(size=size, seed=seed)
    counts = FACEID_SIZES[size]
    corpus = make_identities(p, counts.identities + counts.heldout)
    benchmark = make_plan(p).identities
    assert not any(same_identity(a, b) for a in corpus for b in benchmark)
    disjoint_from_benchmark(p, corpus)  # the generator's own guard agrees


def test_the_guard_catches_a_benchmark_identity():
    p = SyntheticParams(size="tiny", seed=0)
    leaked = make_plan(p).identities[2]
    with pytest.raises(ValueError, match="equals benchmark identity 2"):
        disjoint_from_benchmark(p, (*make_identities(p, 3), leaked))


def test_too_few_heldout_identities_for_ten_folds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="faceid_heldout"):
        generate_faceid(TINY.model_copy(update={"faceid_heldout": 19}), tmp_path / "x")


# --------------------------------------------------------------------------------------------- adapters
def test_casia_reads_identity_folders_and_skips_what_it_cannot_use(tmp_path):
    root = tmp_path / "CASIA-WebFace"
    for i in range(3):
        write_face(root / "0000045" / f"{i + 1:03d}.jpg", i)
    write_face(root / "0000099" / "001.jpg")  # one image: below min_images
    (root / "0000100").mkdir()
    write_face(root / "0000100" / "001.jpg")
    (root / "0000100" / "002.jpg").write_bytes(b"")  # empty: skipped, and then too few images
    (root / "notes.txt").write_text("not an identity")
    result = load_casia(root, min_images=2)
    assert result.identities == ("0000045",)
    assert [r.sample_id for r in result.records] == ["0000045/001.jpg", "0000045/002.jpg", "0000045/003.jpg"]
    assert {r.label for r in result.records} == {0} and result.records[0].identity == "0000045"
    reasons = sorted(s.reason.split(":")[0] for s in result.skipped)
    assert reasons == ["empty", "too few images", "too few images"]


def test_identity_folders_must_exist(tmp_path):
    with pytest.raises(AnnotationError, match="identity folder tree not found"):
        load_identity_folders(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="no identity folders"):
        load_identity_folders(tmp_path / "empty")


def test_vggface2_reads_its_list_file(tmp_path):
    for name in ("n000002/0001_01.jpg", "n000002/0002_01.jpg", "n000003/0001_01.jpg", "n000003/0003_02.jpg"):
        write_face(tmp_path / "train" / name)
    (tmp_path / "train_list.txt").write_text(
        "n000002/0001_01.jpg\nn000002/0002_01.jpg\n\nn000003/0001_01.jpg\nn000003/0003_02.jpg\nn000003/9.jpg\n"
    )
    result = load_vggface2(tmp_path, split="train")
    assert result.identities == ("n000002", "n000003")
    assert len(result.records) == 4
    assert [s.reason.split(":")[0] for s in result.skipped] == ["missing"]


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("n000002/0001_01.jpg extra", AnnotationError, "line 2: expected one path"),
        ("0001_01.jpg", AnnotationError, "line 2: expected identity/file"),
        (
            "../secrets/0001.jpg",
            UnsafePathError,
            "line 2: path '../secrets/0001.jpg' escapes the dataset root",
        ),
    ],
)
def test_vggface2_bad_lines_name_file_and_line(tmp_path, line, error, message):
    (tmp_path / "test_list.txt").write_text(f"n000002/0001_01.jpg\n{line}\n")
    with pytest.raises(error, match=message):
        load_vggface2(tmp_path, split="test")
    with pytest.raises(AnnotationError, match="list file not found"):
        load_vggface2(tmp_path, split="train")


LFW_PAIRS = "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\nCid\t1\t3\nCid\t2\tDee\t1\n"


def lfw_tree(root: Path, missing: tuple[str, ...] = ()) -> Path:
    for name, n in (("Ann", 2), ("Bob", 1), ("Cid", 3), ("Dee", 1)):
        for k in range(1, n + 1):
            if f"{name}_{k:04d}" not in missing:
                write_face(root / "lfw" / name / f"{name}_{k:04d}.jpg", k)
    (root / "pairs.txt").write_text(LFW_PAIRS)
    return root


def test_lfw_pairs_parse_in_protocol_order(tmp_path):
    result = load_lfw(lfw_tree(tmp_path))
    assert result.pairs == (
        ("Ann/Ann_0001", "Ann/Ann_0002"),
        ("Ann/Ann_0001", "Bob/Bob_0001"),
        ("Cid/Cid_0001", "Cid/Cid_0003"),
        ("Cid/Cid_0002", "Dee/Dee_0001"),
    )
    assert result.same == (True, False, True, False)
    assert result.folds == (0, 0, 1, 1)
    assert len(result.records) == 7 and not result.skipped


def test_lfw_pair_with_a_missing_image_is_dropped_and_recorded(tmp_path):
    result = load_lfw(lfw_tree(tmp_path, missing=("Cid_0003",)))
    assert len(result.pairs) == 3 and ("Cid/Cid_0001", "Cid/Cid_0003") not in result.pairs
    assert [s.sample_id for s in result.skipped] == ["Cid/Cid_0003"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty pairs file"),
        ("ten\t300\n", "line 1: expected the header"),
        ("2\t1\nAnn\t1\t2\n", "promises 2 folds x 2 pairs = 4 lines, found 1"),
        ("1\t1\nAnn\t1\tBob\t1\nAnn\t1\t2\n", "line 2: expected a matched pair"),
        ("1\t1\nAnn\t1\t2\nAnn\t1\t2\n", "line 3: expected a mismatched pair"),
        ("1\t1\nAnn\tone\t2\nAnn\t1\tBob\t1\n", "line 2: image number must be a positive integer"),
        ("1\t1\nAnn\t0\t2\nAnn\t1\tBob\t1\n", "line 2: image number must be a positive integer, got '0'"),
        ("1\t1\n../Ann\t1\t2\nAnn\t1\tBob\t1\n", "line 2: path '../Ann' escapes the dataset root"),
    ],
)
def test_malformed_pairs_files_name_file_and_line(tmp_path, text, message):
    (tmp_path / "pairs.txt").write_text(text)
    with pytest.raises(AnnotationError, match=message) as info:
        parse_lfw_pairs(tmp_path / "pairs.txt")
    assert str(tmp_path / "pairs.txt") in str(info.value)


# ------------------------------------------------------------------------------------------ the metrics
def brute_force_kfold(scores, same, folds):
    accuracies = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        best = max(
            (((scores[train] >= t) == same[train]).mean(), t)
            for t in np.concatenate([[-np.inf], np.sort(scores[train])])
        )
        accuracies.append(((scores[test] >= best[1]) == same[test]).mean())
    return np.mean(accuracies)


def test_kfold_accuracy_matches_a_brute_force_search():
    rng = np.random.default_rng(0)
    same = rng.random(400) < 0.5
    scores = rng.normal(same * 1.2, 1.0)
    folds = np.repeat(np.arange(10), 40)
    result = kfold_accuracy(scores, same, folds)
    assert result["accuracy"] == pytest.approx(brute_force_kfold(scores, same, folds), abs=0.01)
    assert 0.6 < result["accuracy"] < 0.8 and len(result["fold_accuracy"]) == 10


def test_separable_pairs_verify_perfectly_and_random_ones_at_chance():
    same = np.tile([True, False], 100)
    folds = np.repeat(np.arange(10), 20)
    assert kfold_accuracy(np.where(same, 0.9, 0.1), same, folds)["accuracy"] == 1.0
    noise = np.random.default_rng(1).random(200)
    assert kfold_accuracy(noise, same, folds)["accuracy"] < 0.65


def test_tar_at_far_reads_the_roc_curve():
    rng = np.random.default_rng(2)
    same = np.r_[np.ones(2000, bool), np.zeros(3000, bool)]
    scores = rng.normal(same * 2.0, 1.0)
    result = tar_at_far(scores, same, far=1e-2)
    fpr, tpr, _ = roc_curve(same, scores)
    assert result["tar"] == pytest.approx(tpr[fpr <= 1e-2].max())
    assert result["far_achieved"] <= 1e-2 and result["far_resolution"] == pytest.approx(1 / 3000)
    full = verification_metrics(scores, same, np.arange(5000) % 10)
    assert full["pairs"] == 5000 and full["matched_pairs"] == 2000 and full["far"] == 1e-3


# ----------------------------------------------------------------------------------------- the stage
def test_prepare_faces_stores_the_embedded_corpus(corpus, tmp_path):
    params = validate_params({"synthetic": {"size": "tiny"}})
    metrics = prepare_faces(params, tmp_path / "faces", corpus, workers=2)
    counts = FACEID_SIZES["tiny"]
    train = open_store(tmp_path / "faces" / "train")
    assert train.samples.shape == (counts.identities * counts.images, 112, 112, 3)
    assert len(train.classes) == counts.identities and train.meta["align_backend"] == "none"
    pairs = read_pairs(tmp_path / "faces")
    verify = {r["sample_id"] for r in open_store(tmp_path / "faces" / "verify").index}
    assert len(pairs) == metrics["verification_pairs"] == 10 * 2 * counts.pairs_per_fold
    assert all(r["first"] in verify and r["second"] in verify for r in pairs)
    assert metrics["skipped"] == 0


def test_prepare_faces_aligns_unaligned_faces_with_dlib_and_records_what_it_skips(tmp_path):
    """A folder-per-identity tree of unaligned stills (like raw CASIA-WebFace) through the dlib stage; a
    corrupt image and a face-less image are recorded, not fatal."""
    p = SyntheticParams(size="tiny", seed=0)
    people = make_identities(p, 2)
    root = tmp_path / "raw"
    for person in people:
        for k in range(3):
            image, _ = render_still(person, k, 0.5, p, np.random.default_rng(10 * person.index + k))
            out = root / f"id{person.index}" / f"{k}.jpg"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (root / "id0" / "3.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    cv2.imwrite(str(root / "id1" / "3.jpg"), np.full((128, 128, 3), 90, np.uint8))  # no face
    raw = {"dataset": "folder", "root": str(root), "align_backend": "dlib"}
    params = validate_params(
        {"pretrain": {"data": raw, "verification": {"dataset": "none"}}, "data": {"max_skip_fraction": 0.5}}
    )
    metrics = prepare_faces(params, tmp_path / "faces", tmp_path / "unused")
    assert metrics["images"] == 6 and metrics["align_backend"] == "dlib" and metrics["skipped"] == 2
    store = open_store(tmp_path / "faces" / "train")
    assert store.samples.shape == (6, 112, 112, 3) and store.classes == ("id0", "id1")
    manifest = (tmp_path / "faces" / "faces_manifest.csv").read_text()
    assert "undecodable" in manifest and "no face" in manifest

    strict = params.model_copy(update={"data": params.data.model_copy(update={"max_skip_fraction": 0.1})})
    with pytest.raises(TooManySkipsError, match="face-ID data stage"):
        prepare_faces(strict, tmp_path / "faces2", tmp_path / "unused")
    assert (tmp_path / "faces2" / "faces_manifest.csv").is_file()  # written before failing


def test_unknown_adapter_option_is_named(tmp_path):
    params = validate_params(
        {"pretrain": {"data": {"dataset": "casia", "root": str(tmp_path), "options": {"colour": "red"}}}}
    )
    with pytest.raises(ValueError, match=r"casia: unknown option\(s\) \['colour'\]"):
        prepare_faces(params, tmp_path / "faces", tmp_path)


def test_identities_render_differently():
    p = SyntheticParams(size="tiny", seed=0)
    a, b = make_identities(p, 2)
    assert not same_identity(a, b) and same_identity(a, a)
    image_a, _ = render_still(a, 0, 0.0, p, np.random.default_rng(0))
    image_b, _ = render_still(b, 0, 0.0, p, np.random.default_rng(0))
    assert np.abs(image_a.astype(int) - image_b.astype(int)).mean() > 1
