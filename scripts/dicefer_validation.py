"""Re-make the choice of DICE-FER's demo settings (docs/dicefer.md) on a validation split carved from the
training images, never the test split.

    .venv/bin/python scripts/dicefer_validation.py --out docs/measurements/dicefer_validation.json

Run it in the project folder after the image store and the ResNet-18 trunk exist (`snakemake pack_images
results/pretrain/resnet18/trunk.pt`). The validation store holds the image store's training split only:
per identity and class, `synthetic.image_test_fraction` of the training images (as the test split was drawn
from all of them) become its test split and the rest its training split; the real test split is left out.
Each setting, the demo's `dicefer` section with one change, trains DICE-FER on it and is scored on the
validation images; the ResNet-18 baseline trains once for reference. One seed (the demo's).

The rule, fixed before the runs: a setting replaces the demo's only when its validation accuracy is more
than 5 points higher (about the seed-to-seed SD of DICE-FER's accuracy in the demo study, 3.4 to 8.3
points); otherwise the demo keeps its value. Identity leakage and the stage-1 cross-MI are reported, not
used to choose.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ferflow import paths
from ferflow.config import DiceFerParams, load_params, merge_overrides
from ferflow.core.atomic import write_json
from ferflow.data.store import open_store, write_store
from ferflow.evaluate.dicefer import evaluate_dicefer
from ferflow.train.dicefer import train_baseline, train_dicefer

#: One change each from the demo's section: the choices docs/dicefer.md's table informed.
SETTINGS: dict[str, dict[str, Any]] = {
    "demo": {},
    "paper_delta": {"delta": 0.1},
    "stage1_4_epochs": {"stage_epochs": [4, 2, 20]},
    "stage3_5_epochs": {"stage_epochs": [8, 2, 5]},
    "no_classifier_input_norm": {"classifier_input_norm": False},
}
MARGIN = 0.05  # the rule's margin (accuracy, 0-1)


def validation_store(store_dir: Path, out: Path, fraction: float, seed: int) -> Path:
    """The training split of `store_dir`, a `fraction` of each identity's images per class marked as test."""
    store = open_store(store_dir, "images", "the validation split")
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in store.rows("train"):
        row = store.index[i]
        groups[(row["identity"], row["label"])].append(int(i))
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for members in groups.values():
        if len(members) > 1:
            held.update(rng.permutation(members)[: max(1, round(len(members) * fraction))].tolist())
    rows = sorted(i for members in groups.values() for i in members)
    index = [store.index[i] | {"split": "test" if i in held else "train"} for i in rows]
    meta = store.meta | {"source": f"validation split of {store_dir} (its train split only)"}
    return write_store(out, [(np.asarray(store.samples[rows]), index)], meta)


def stage1_mi(history: list[dict[str, Any]]) -> list[float]:
    """Stage 1's cross-MI estimate (global + local, both directions) per epoch."""
    return [round(h["mi_global"] + h["mi_local"], 3) for h in history if h["stage"] == 1]


def run(name: str, p: DiceFerParams, store: Path, work: Path, baseline: bool = False) -> dict[str, Any]:
    out = work / name
    started = time.perf_counter()
    (train_baseline if baseline else train_dicefer)(p, store, out)
    seconds = time.perf_counter() - started
    m = evaluate_dicefer(out / "model.pt", store, out / "eval", p.probe_folds, "cpu", seed=p.runtime.seed)
    history = json.loads((out / "history.json").read_text())
    probes = m.get("probes") or {}
    return {
        "accuracy": m["war"],
        "uar": m["uar"],
        "identity_leakage": next(
            (probes[k]["accuracy"] for k in ("identity_from_E", "identity_from_embedding") if k in probes),
            None,
        ),
        "expression_from_E": (probes.get("expression_from_E") or {}).get("accuracy"),
        "stage1_mi_per_epoch": None if baseline else stage1_mi(history),
        "train_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("results/dicefer_validation"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument(
        "--out", type=Path, required=True, help="the results file; settings already in it are not run again"
    )
    args = parser.parse_args()
    params = load_params()
    store = validation_store(
        paths.processed(params, "images"),
        args.work / "store",
        params.synthetic.image_test_fraction,
        params.dicefer.runtime.seed,
    )
    base = params.dicefer.model_dump(mode="json")
    base["runtime"]["threads"] = args.threads
    found: dict[str, Any] = {
        "rule": __doc__.split("The rule, fixed before the runs: ")[1].strip(),
        "store": {split: len(open_store(store).rows(split)) for split in ("train", "test")},
        "demo": params.dicefer.model_dump(mode="json"),
        "settings": {},
    }
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}
    if all(earlier.get(k) == found[k] for k in ("rule", "store", "demo")):
        found |= {k: earlier[k] for k in ("baseline", "settings") if k in earlier}  # resume: keep what ran
    if "baseline" not in found:
        baseline = DiceFerParams.model_validate(base)
        found["baseline"] = run("baseline", baseline, store, args.work, baseline=True)
    for name, change in SETTINGS.items():
        if name in found["settings"]:
            continue
        p = DiceFerParams.model_validate(merge_overrides(base, change))
        found["settings"][name] = {"change": change, **run(name, p, store, args.work)}
        write_json(args.out, found)  # what has run so far survives an interruption
    demo = found["settings"]["demo"]["accuracy"]
    better = {n: s["accuracy"] - demo for n, s in found["settings"].items() if s["accuracy"] - demo > MARGIN}
    found["chosen"] = max(better, key=better.get) if better else "demo"
    found["command"] = (
        f"scripts/dicefer_validation.py --work {args.work} --threads {args.threads} --out {args.out}"
    )
    found["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(args.out, found)
    for name, s in found["settings"].items():
        print(f"{name:26s} accuracy {s['accuracy']:.3f}  identity from E {s['identity_leakage']}")
    print(f"chosen: {found['chosen']}")


if __name__ == "__main__":
    main()
