"""The cells of a study and the parameters each trains with, shared by Snakemake and `summarize-study`.

A study (`study` in `params.yaml`) trains every compared model on every (fold, seed) cell: the IFDD variants
on the video dataset's folds, and each DICE-FER setting as each of `study.dicefer.models` (DICE-FER, its
baseline, the image controls) on the image dataset's fixed split (fold 0). Settings under which a model trains
with the same values (they differ only in keys other models read, e.g. `delta` for the baseline) share that
model's cells: the first of them listed trains it (`shared_settings`). A cell's parameters are its section
with the study's overrides merged in and the cell's seed set, and nothing else of the study: adding a seed, a
fold or another setting (after the listed ones) leaves every other cell's parameters, and so its finished
results, alone. Light imports only: Snakemake loads this at parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from ferflow import jobs, paths
from ferflow.config import DiceFerParams, IFDDParams, Params, merge_overrides
from ferflow.dataset_names import iter_folds


@dataclass(frozen=True)
class Cell:
    """One trained and evaluated model: `model` is an IFDD study variant (a video model or a name in
    `study.ifdd.settings`) or an image model (``dicefer``, ``baseline``, an image control)."""

    family: Literal["ifdd", "dicefer"]
    model: str
    setting: str  # the DICE-FER setting; "" for IFDD
    seed: int
    fold: int  # 0: a dataset with one fixed split

    @property
    def folder(self) -> str:
        if self.family == "ifdd":
            return paths.STUDY_IFDD_CELL.format(variant=self.model, seed=self.seed, fold=self.fold)
        return paths.STUDY_DICEFER_CELL.format(setting=self.setting, model=self.model, seed=self.seed)

    @property
    def name(self) -> str:
        """The model this cell is a run of: the variant, or ``<model>[<setting>]`` for DICE-FER."""
        return self.model if self.family == "ifdd" else f"{self.model}[{self.setting}]"


def study_folds(params: Params) -> list[int]:
    """The folds a study's IFDD cells use: `study.folds`, else every fold of the video dataset (0: one)."""
    if params.study.folds:
        return list(params.study.folds)
    video = params.data.video.dataset
    return [fold or 0 for fold in iter_folds("synthetic_video" if video == "synthetic" else video)]


def cells(params: Params) -> list[Cell]:
    """Every cell of the study, IFDD first."""
    s = params.study
    found = [
        Cell("ifdd", variant, "", seed, fold)
        for variant in s.ifdd.variants
        for seed in s.seeds
        for fold in study_folds(params)
    ]
    shared = {model: shared_settings(params, model) for model in s.dicefer.models}
    found += [
        Cell("dicefer", model, setting, seed, 0)
        for setting in s.dicefer.settings
        for model in s.dicefer.models
        if shared[model][setting] == setting
        for seed in s.seeds
    ]
    return found


def shared_settings(params: Params, model: str) -> dict[str, str]:
    """Each DICE-FER setting -> the setting whose `model` cells it uses: the first one listed under which
    `model` trains with the same values (`jobs.dicefer_key`: the keys only other models read, the
    evaluation's and the runtime's leave it alone), so that each distinct model trains once."""
    first: dict[str, str] = {}
    shared = {}
    for setting in params.study.dicefer.settings:
        key = json.dumps(jobs.dicefer_key(dicefer_params(params, setting, 0), model), sort_keys=True)
        shared[setting] = first.setdefault(key, setting)
    return shared


def ifdd_params(params: Params, variant: str, seed: int) -> IFDDParams:
    """The `ifdd` section one IFDD cell trains with: the study's overrides, then the changes of the
    variant's setting (`study.ifdd.settings`), merged in.

    `variants` holds the study's models (the trainer checks `ifdd.model`'s keys against them), `folds` is
    left to the cell's fold, and `init_backbone_from` keeps the cell's model's entry with ``{seed}`` filled
    in (its ``{fold}`` is the trainer's).
    """
    study = params.study.ifdd
    model = study.model_of(variant)
    raw = merge_overrides(params.ifdd.model_dump(mode="json"), study.changes_of(variant))
    source = raw["init_backbone_from"].get(model)
    raw |= {
        "variants": sorted({study.model_of(v) for v in study.variants}),
        "folds": None,
        "init_backbone_from": {model: source.replace("{seed}", str(seed))} if source else {},
        "train": {**raw["train"], "seed": seed},
    }
    return IFDDParams.model_validate(raw)


def dicefer_params(params: Params, setting: str, seed: int) -> DiceFerParams:
    """The `dicefer` section a DICE-FER setting's cells (each of `study.dicefer.models`) train with."""
    raw = merge_overrides(params.dicefer.model_dump(mode="json"), params.study.dicefer.settings[setting])
    raw["runtime"] = {**raw["runtime"], "seed": seed}
    return DiceFerParams.model_validate(raw)


def cell_params_json(params: Params, cell: Cell) -> str:
    """A cell's parameters as the CLI's `--params-json`: its job key (`ferflow.jobs`: only what its result
    depends on; runtime settings travel as the rule's threads and resources), nothing else of the study."""
    if cell.family == "ifdd":
        model = params.study.ifdd.model_of(cell.model)
        key = jobs.ifdd_key(ifdd_params(params, cell.model, cell.seed), model)
    else:
        key = jobs.dicefer_key(dicefer_params(params, cell.setting, cell.seed), cell.model)
    return json.dumps({cell.family: key}, sort_keys=True)
