"""Packed stores and the torch datasets that read them."""

import numpy as np
import pytest
import torch

from ferflow.data.datasets import (
    ClipAugment,
    ClipDataset,
    ImageDataset,
    PairDataset,
    frame_positions,
    rotation_flip_variants,
)
from ferflow.data.store import StoreError, open_store, write_store


def _rows(n: int, offset: int = 0, **extra: str) -> list[dict[str, str]]:
    return [
        {
            "sample_id": f"s{offset + i}",
            "label": str((offset + i) % 3),
            "identity": f"p{(offset + i) % 4}",
            "split": "test" if (offset + i) % 5 == 0 else "train",
            "fold": str((offset + i) % 5 + 1),
            "frame_indices": "",
            "source": "",
            **extra,
        }
        for i in range(n)
    ]


@pytest.fixture
def clip_store(tmp_path):
    rng = np.random.default_rng(0)
    shards = [
        (rng.integers(0, 255, (n, 8, 24, 24, 3), dtype=np.uint8), _rows(n, off))
        for n, off in ((6, 0), (0, 6), (4, 6))
    ]
    write_store(tmp_path / "clips", shards, {"classes": ["a", "b", "c"]})
    return tmp_path / "clips", np.concatenate([s for s, _ in shards])


def test_store_round_trip_and_folds(clip_store):
    root, expected = clip_store
    store = open_store(root)
    np.testing.assert_array_equal(store.samples, expected)
    assert store.classes == ("a", "b", "c") and store.meta["shape"] == [10, 8, 24, 24, 3]
    assert [store.index[i]["sample_id"] for i in range(10)] == [f"s{i}" for i in range(10)]
    test = store.rows("test", fold=2)
    train = store.rows("train", fold=2)
    assert set(test) | set(train) == set(range(10)) and not set(test) & set(train)
    assert all(store.index[i]["fold"] == "2" for i in test)
    assert list(store.rows("test")) == [0, 5]


def test_store_errors(tmp_path):
    with pytest.raises(ValueError, match="no samples to store"):
        write_store(tmp_path / "empty", [(np.zeros((0, 4, 4, 3), np.uint8), [])], {})
    with pytest.raises(StoreError, match=r"samples\.npy: missing, so .* is no sample store"):
        open_store(tmp_path / "nothing")
    write_store(tmp_path / "images", [(np.zeros((2, 4, 4, 3), np.uint8), [{}, {}])], {})
    with pytest.raises(StoreError, match="an image store, but train-ifdd needs a clip store"):
        open_store(tmp_path / "images", "clips", "train-ifdd")
    assert len(open_store(tmp_path / "images", "images").samples) == 2


def test_frame_positions():
    assert frame_positions(4, 6).tolist() == [0, 1, 2, 3, 3, 3]  # short clips repeat the last frame
    assert frame_positions(31, 16).tolist()[:3] == [0, 2, 4] and frame_positions(31, 16)[-1] == 30
    assert frame_positions(20, 16, "contiguous").tolist() == list(range(2, 18))
    torch.manual_seed(0)
    starts = {int(frame_positions(40, 16, "contiguous", random_start=True)[0]) for _ in range(30)}
    assert len(starts) > 3 and min(starts) >= 0 and max(starts) <= 24


def test_clip_dataset_applies_one_augmentation_to_all_frames(tmp_path):
    frame = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    write_store(
        tmp_path / "same", [(np.broadcast_to(frame, (1, 6, 32, 32, 3)).copy(), _rows(1))], {"classes": ["a"]}
    )
    torch.manual_seed(0)
    dataset = ClipDataset(tmp_path / "same", np.array([0]), num_frames=4, size=16, augment=ClipAugment())
    clip, label = dataset[0]
    assert clip.shape == (3, 4, 16, 16) and clip.dtype == torch.float32 and label == 0
    assert clip.min() >= 0.0 and clip.max() <= 1.0
    for t in range(1, 4):  # identical frames stay identical after augmentation
        torch.testing.assert_close(clip[:, t], clip[:, 0])
    torch.manual_seed(1)
    other, _ = dataset[0]
    assert not torch.allclose(other, clip)  # but the draw changes from access to access


def test_clip_dataset_eval_is_deterministic(clip_store):
    root, _ = clip_store
    dataset = ClipDataset(root, np.arange(10), num_frames=4, size=16)
    first, label = dataset[3]
    torch.testing.assert_close(first, dataset[3][0])
    assert label == 0 and first.shape == (3, 4, 16, 16)


def test_pairs_share_the_label_and_differ_in_identity(tmp_path):
    images = np.random.default_rng(2).integers(0, 255, (12, 20, 20, 3), dtype=np.uint8)
    write_store(tmp_path / "images", [(images, _rows(12))], {"classes": ["a", "b", "c"]})
    pairs = PairDataset(tmp_path / "images", np.arange(12), size=16)
    torch.manual_seed(0)
    for i in range(12):
        j = pairs.partner(i)
        assert pairs.labels[j] == pairs.labels[i] and j != i
        assert pairs.identities[j] != pairs.identities[i]
    m, n, label = pairs[0]
    assert m.shape == n.shape == (1, 16, 16) and label == 0
    plain = ImageDataset(tmp_path / "images", np.arange(12), size=20)
    torch.testing.assert_close(plain[5][0], plain[5][0])


def test_fourteen_variants():
    variants = rotation_flip_variants()
    assert len(variants) == 14 and {a for a, _ in variants} == {-15, -10, -5, 0, 5, 10, 15}
