"""The report's figures: every file written under ``figures/`` by name, and the ones a report has drawn."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

from ferflow.report.figures.style import DPI

#: Every figure file written under ``figures/``: name -> title (captions: ``workflow/report/<name>.rst``).
FIGURES: dict[str, str] = {
    "ifdd_uar_war": "IFDD and the other video models: UAR and WAR",
    "ifdd_per_class_recall": "IFDD: per-class recall",
    "ifdd_confusion": "IFDD: confusion matrices",
    "ifdd_learning_curves": "IFDD: learning curves",
    "issm_episode": "ISSM's static and dynamic frames against the true episode",
    "dicefer_confusion": "DICE-FER: confusion matrices",
    "dicefer_mig_leakage": "DICE-FER vs baseline: MIG and leakage probes",
    "dicefer_tsne": "DICE-FER: t-SNE of E and I",
    "dicefer_history": "DICE-FER: training curves",
    "pretrain_verification": "Pretraining: face verification on held-out identities",
    "samples_clips": "Aligned clips (sample)",
    "samples_images": "Aligned images (sample)",
    "bench_data": "Data-stage benchmark",
    "bench_models": "Model throughput benchmark",
    "study_forest": "Comparisons over folds and seeds: paired differences and intervals",
}


class Gallery:
    """The figures drawn so far: `pngs` by name, each also handed to the template as an embedded image."""

    def __init__(self) -> None:
        self.pngs: dict[str, bytes] = {}

    def figure(self, name: str, draw: Callable[..., bytes], *args: Any, **kwargs: Any) -> dict[str, str]:
        """Draw figure `name` (a key of `FIGURES`) with `draw(*args, **kwargs)`; what the template embeds."""
        png = draw(*args, **kwargs)
        self.pngs[name] = png
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
        scale = 96 / DPI  # CSS pixels per image pixel: the figure at the size matplotlib drew it
        return {
            "name": name,
            "title": FIGURES[name],
            "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "width": round(width * scale),
            "height": round(height * scale),
        }
