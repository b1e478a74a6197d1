"""scripts/dicefer_validation.py's validation split: carved from the training images only, per identity and
class as the test split was, never touching the test split."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np

from ferflow.data.store import INDEX_COLUMNS, open_store, write_store

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "dicefer_validation", REPO / "scripts" / "dicefer_validation.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_validation_split_comes_from_the_training_images_only(tmp_path):
    rows, images = [], []
    for identity in range(4):
        for label in range(3):
            for k in range(8):
                split = "test" if k < 2 else "train"
                rows.append(
                    dict.fromkeys(INDEX_COLUMNS, "")
                    | {
                        "sample_id": f"{identity}-{label}-{k}",
                        "label": str(label),
                        "identity": str(identity),
                        "split": split,
                    }
                )
                images.append(np.full((8, 8, 3), len(images) % 256, np.uint8))
    store = write_store(tmp_path / "images", [(np.stack(images), rows)], {"classes": ["a", "b", "c"]})

    out = _script().validation_store(store, tmp_path / "validation", fraction=0.25, seed=0)
    val = open_store(out, "images")
    ids = [r["sample_id"] for r in val.index]
    assert set(ids) == {r["sample_id"] for r in rows if r["split"] == "train"}  # the test split left out
    held = Counter((r["identity"], r["label"]) for r in val.index if r["split"] == "test")
    assert held == {(str(i), str(c)): 2 for i in range(4) for c in range(3)}  # round(6 x 0.25) of each group
    originals = {r["sample_id"]: i for i, r in enumerate(rows)}
    for row, sample in zip(val.index, val.samples, strict=True):  # each image travels with its row
        assert (sample == images[originals[row["sample_id"]]]).all()
