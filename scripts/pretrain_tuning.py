"""Re-measure docs/pretrain.md's tuning table: each setting pretrains a trunk on the embedded face corpus
generated with `synthetic.seed: 1` (other identities and pairs than the demo's seed-0 corpus, so no setting
is chosen on the figures the demo reports) and records the held-out verification accuracy after every epoch.

    .venv/bin/python scripts/pretrain_tuning.py --out docs/measurements/pretrain_tuning.json [--only resnet18]

Run it in the project folder; everything else is params.yaml's `pretrain` section and trunk sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ferflow.config import PretrainParams, load_params, merge_overrides, trunk_spec
from ferflow.core.atomic import write_json
from ferflow.data.prepare_faces import prepare_faces
from ferflow.data.synthetic.faceid import generate_faceid
from ferflow.train.pretrain import pretrain

#: name -> (trunk, changes to the `pretrain` section): the rows of docs/pretrain.md's table.
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "ArcFace, DICE-FER's ±15° rotations and flips": ("resnet18", {"max_rotation": 15}),
    "ArcFace, flips only": ("resnet18", {}),
    "CosFace, flips only": ("resnet18", {"loss": "cosface"}),
    "ArcFace, flips only, batch 32": ("resnet18", {"train": {"batch_size": 32}}),
    "CosFace, flips only ": ("mobilenetv2", {"loss": "cosface"}),
    "ArcFace, flips only, lr 4e-3": ("mobilenetv2", {"train": {"lr": 4e-3}}),
    "ArcFace, flips only, margin 0 for 2 epochs": ("mobilenetv2", {"margin_warmup_epochs": 2}),
    "ArcFace, flips only, scale 16": ("mobilenetv2", {"scale": 16.0}),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("results/pretrain_tuning"))
    parser.add_argument("--only", choices=("resnet18", "mobilenetv2"), help="one trunk's rows")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_params()
    tuning = params.model_copy(update={"synthetic": params.synthetic.model_copy(update={"seed": 1})})
    corpus, faces = args.work / "corpus", args.work / "faces"
    if not (faces / "train").is_dir():
        generate_faceid(tuning.synthetic, corpus, workers=2)
        prepare_faces(tuning, faces, corpus, workers=2)
    base = params.pretrain.model_dump(mode="json")
    base["train"]["threads"] = args.threads
    found: dict[str, Any] = {
        "corpus_seed": 1,
        "pretrain": params.pretrain.model_dump(mode="json"),
        "rows": [],
    }
    for name, (trunk, change) in SETTINGS.items():
        if args.only and trunk != args.only:
            continue
        p = PretrainParams.model_validate(merge_overrides(base, change))
        spec = trunk_spec(params, trunk)
        out = args.work / trunk / name.strip().replace(" ", "_").replace(",", "")
        started = time.perf_counter()
        result = pretrain(p, spec, faces, out)
        history = json.loads((out / "history.json").read_text())
        found["rows"].append(
            {
                "trunk": trunk,
                "setting": name.strip(),
                "change": change,
                "verification_per_epoch": [round(h["verify/accuracy"], 4) for h in history],
                "verification": result["verification"],
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        write_json(args.out, found)  # what has run so far survives an interruption
    found["command"] = f"scripts/pretrain_tuning.py --work {args.work} --threads {args.threads}" + (
        f" --only {args.only}" if args.only else ""
    )
    found["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(args.out, found)
    for row in found["rows"]:
        print(f"{row['trunk']:12s} {row['setting']:45s} {row['verification_per_epoch']}")


if __name__ == "__main__":
    main()
