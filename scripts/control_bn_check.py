"""Is a trained image model's test accuracy held back by BatchNorm's running statistics? For each model.pt,
the accuracy on the store's test split as evaluated (running statistics), with every BatchNorm's statistics
recomputed over the training images with the final weights (one pass, unaugmented), and with the test
batch's own statistics. The image controls at a fixed learning rate showed the first far below the others
(docs/dicefer.md), which is why they decay their rate by a cosine.

    .venv/bin/python scripts/control_bn_check.py --store data/processed/synthetic/images \\
        --out docs/measurements/image_controls_bn_check.json \\
        results/study/dicefer/*/control_image_*/seed_0/model.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ferflow.data.datasets import ImageDataset
from ferflow.data.store import open_store
from ferflow.evaluate.dicefer import load_trained


@torch.no_grad()
def accuracies(model_path: Path, store_dir: Path) -> dict[str, float]:
    store = open_store(store_dir, "images")
    model, saved = load_trained(model_path)
    reference = getattr(model, "needs_reference", False)

    def batch(split: str) -> tuple[torch.Tensor, np.ndarray]:
        data = ImageDataset(store, store.rows(split), saved["img_size"], reference=reference)
        return torch.stack([data[i][0] for i in range(len(data))]), data.labels

    x, y = batch("test")

    def accuracy() -> float:
        return float((model(x).argmax(1).numpy() == y).mean())

    found = {"running_statistics": accuracy()}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the pass
    model.train()
    model(batch("train")[0])
    model.eval()
    found["recomputed_on_train"] = accuracy()
    model.train()
    found["test_batch_statistics"] = accuracy()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {str(path): accuracies(path, args.store) for path in args.models}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"store": str(args.store), "models": result}, indent=2))
    for path, found in result.items():
        print(path, {k: round(v, 3) for k, v in found.items()})


if __name__ == "__main__":
    main()
