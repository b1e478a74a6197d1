"""The training-loss curves of a study's IFDD cells, per variant: each cell's loss after every epoch (from
its `history.json`), so that a verdict can be read beside how far each model had trained.

    .venv/bin/python scripts/study_losses.py --project . --out docs/measurements/ifdd_study_losses.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ferflow import paths
from ferflow.config import load_params
from ferflow.core.atomic import write_json
from ferflow.study import cells


def losses(project: Path) -> dict[str, dict]:
    """Per IFDD variant: every cell's per-epoch training loss, and the mean over cells at each epoch."""
    found: dict[str, dict] = {}
    for cell in cells(load_params(project / "params.yaml")):
        history = project / cell.folder / "history.json"
        if cell.family != "ifdd" or not (project / cell.folder / paths.MODEL_FILE).is_file():
            continue  # not trained yet, or still training (its history is partial)
        epochs = json.loads(history.read_text())  # one entry per epoch
        curve = [round(e["train/loss"], 4) for e in epochs]
        found.setdefault(cell.model, {"cells": {}})["cells"][f"fold_{cell.fold}/seed_{cell.seed}"] = curve
    for entry in found.values():
        curves = list(entry["cells"].values())
        entry["mean_by_epoch"] = [round(statistics.mean(epoch), 4) for epoch in zip(*curves, strict=True)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write_json(args.out, {"training_loss": losses(args.project)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
