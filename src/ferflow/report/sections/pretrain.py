"""The pretraining section: each face-recognition trunk's model card and its verification on held-out
pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from ferflow.paths import PRETRAIN_RESULTS
from ferflow.report.figures.pretrain import pretrain_verification
from ferflow.report.formatting import NA, not_run, pct
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader


def pretrain_section(reader: Reader, gallery: Gallery, trunks: Sequence[str]) -> dict[str, Any]:
    """The pretrained `trunks` (those some model starts from with ``init: faceid``)."""
    if not trunks:
        return not_run("no model starts from init: faceid")
    rows, curves, rocs = [], {}, {}
    for trunk in trunks:
        folder = PRETRAIN_RESULTS / trunk
        card = reader.json(folder / "model_card.json")
        if card is None:
            continue
        history = reader.json(folder / "history.json") or []
        curves[trunk] = [(h["epoch"], h["verify/accuracy"]) for h in history if "verify/accuracy" in h]
        scores = reader.csv(folder / "verification_scores.csv")
        if scores:
            same = np.array([r["same"] == "1" for r in scores])
            far, tar, _ = roc_curve(same, np.array([float(r["score"]) for r in scores]))
            rocs[trunk] = (far, tar)
        rows.append(_card_row(trunk, card))
    if not rows:
        return not_run(f"no {PRETRAIN_RESULTS}/<trunk>/model_card.json (run `snakemake pretrain`)")
    return {
        "ran": True,
        "rows": rows,
        "missing": sorted(set(trunks) - {r["trunk"] for r in rows}),
        "figure": gallery.figure("pretrain_verification", pretrain_verification, curves, rocs),
    }


def _card_row(trunk: str, card: dict[str, Any]) -> dict[str, Any]:
    """A trunk's row: what it serves, its data and training, its verification on held-out pairs."""
    v = card.get("verification") or {}
    return {
        "trunk": trunk,
        "serves": "DICE-FER and baseline" if trunk == "resnet18" else "IFDD and baseline",
        "input": card.get("input", NA),
        "data": f"{card.get('dataset', NA)}: {card.get('identities', NA)} identities, "
        f"{card.get('images', NA)} images",
        "loss": card.get("loss", NA),
        "epochs": card.get("epochs", NA),
        "seconds": card.get("train_seconds", NA),
        "accuracy": pct(v.get("accuracy")),
        "accuracy_std": pct(v.get("accuracy_std")),
        "tar": pct(v.get("tar")),
        "far": f"≤ {v['far']:g} (resolution {v['far_resolution']:.1e})" if v else NA,
        "pairs": v.get("pairs", NA),
    }
