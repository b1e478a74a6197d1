"""Where does IFDD lose the dynamics on the embedded benchmark? Ablations and linear probes, on a validation
split of the training identities (the test fold is never read).

    .venv/bin/python scripts/diagnose_ifdd.py run ifdd baseline control_static control_dynamics \\
        --seeds 0 1 2 --probe
    .venv/bin/python scripts/diagnose_ifdd.py summary --out docs/measurements/ifdd_diagnosis.json

`run` trains each named setting (`SETTINGS`: a video model and changes to params.yaml's `ifdd` section)
with `train-ifdd`'s inner fold: fold `--fold`'s training identities minus fold `--inner-fold`'s train, fold
`--inner-fold`'s identities validate. Per (setting, seed) it writes `<work>/<setting>/seed_<s>/result.json`:
validation UAR per epoch, per-clip validation predictions, the training time and the load average. `probe`
(or `run --probe`) writes `probes.json` beside it: linear probes read each stage's output of the trained
model and of the same model as initialised. A stage's map is average-pooled to at most 4 x 4 positions per
time step (so that a change keeps roughly where in the face it happened) and flattened:

- label probes, three views of each stage's per-step features: the mean over time (what temporal averaging
  keeps), the peak change (the step furthest from the clip's median, minus that median: what a model that
  subtracts the clip's resting face could read) -- the views of the benchmark's landmark probes
  (`ferflow.data.synthetic.measure`) -- and max |change| (each feature's largest distance from its median
  over time: where the face moved, whichever way, as the dynamics control's rectified difference);
- an episode probe: from each step's change (step minus the clip's median), is that step inside the true
  expression episode (`ground_truth/clips.csv`; neutral clips have none)? Balanced accuracy, chance 50 %;
- for ISSM, the share of its dynamic and static steps that land inside the episode, against the share of
  the clip the episode covers (what a random step scores).

Each probe is a logistic regression (standardised features, sklearn defaults) fitted on the training
clips' features and scored on the validation clips'. `scale` writes `scale.json`: the size and the spread
across validation clips of what the classifier reads (the pooled features) and of the logits. `summary`
gathers every result into one JSON and prints the tables; differences from a reference setting get a
paired bootstrap interval (validation clips and seeds resampled, `ferflow.evaluate.stats.paired_bootstrap`)
and the verdict of `RULE`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ferflow.config import IFDDParams, load_params, merge_overrides
from ferflow.core.atomic import write_json
from ferflow.data.datasets import ClipDataset
from ferflow.data.store import Store, open_store
from ferflow.evaluate.ifdd import in_episode, load_trained, steps_to_source_frames
from ferflow.evaluate.metrics import uar
from ferflow.evaluate.stats import PairedCell, paired_bootstrap, percentile_interval
from ferflow.models.controls import VideoControl
from ferflow.models.frame_cnn import LUMA
from ferflow.models.ifdd import IFDD
from ferflow.models.issm import fixed_split, sample_positions
from ferflow.models.video_baseline import VideoBaseline
from ferflow.train import ifdd as trainer

#: The rule for calling a difference real, fixed before any run.
RULE = (
    "A setting differs from its reference when the 95 % paired bootstrap interval of the validation-UAR "
    "difference (validation clips and seeds resampled) excludes zero and every seed's difference has the "
    "same sign; otherwise 'not resolved'. A probe reads a target when its 95 % bootstrap interval "
    "(validation clips resampled) lies above chance."
)


RESULT, PROBES, SCALE = "result.json", "probes.json", "scale.json"
PROBE_GRID = 4  # stages' maps are average-pooled to at most this many positions per side before probing


@dataclass(frozen=True)
class Setting:
    variant: str
    changes: dict[str, Any]
    about: str
    reference: str | None = None  # the setting it is compared with


SETTINGS: dict[str, Setting] = {
    # the demo's models as params.yaml (at a03b765: 64², 8 epochs) trained them
    "ifdd": Setting("ifdd_mobilenetv2", {}, "ifdd_mobilenetv2, demo params.yaml"),
    "baseline": Setting("baseline_mobilenetv2", {}, "baseline_mobilenetv2, demo params.yaml", "ifdd"),
    "control_static": Setting("control_static", {"model": {"spatial": "mean"}}, "static control, demo"),
    "control_dynamics": Setting(
        "control_dynamics", {"model": {"spatial": "mean"}}, "dynamics control, demo", "control_static"
    ),
}

#: Candidate demo operating points (item 3 of issue 20): each changes the `ifdd` section for every model.
POINTS: dict[str, dict[str, Any]] = {
    "48_e8": {"img_size": 48, "model": {"spatial": "mean"}},
    "48_e8_grid": {"img_size": 48, "model": {"spatial": "grid"}},
}
MODELS = {
    "ifdd": "ifdd_mobilenetv2",
    "baseline": "baseline_mobilenetv2",
    "control_static": "control_static",
    "control_dynamics": "control_dynamics",
    "ifdd_smallcnn": "ifdd_smallcnn",
}
REFERENCES = {
    "baseline": "ifdd",
    "control_dynamics": "control_static",
    "ifdd_smallcnn": "control_static",  # the same trunk, with and without IFDD's modules
}
#: One change each at the chosen operating point: IFDD's ablations and our choices (name, model, change).
ABLATIONS: dict[str, tuple[str, dict[str, Any], str]] = {
    "ifdd_fixed_split": ("ifdd_mobilenetv2", {"split": "fixed"}, "split: fixed (no ISSM)"),
    "ifdd_no_ladm": ("ifdd_mobilenetv2", {"use_ladm": False}, "use_ladm: false (the Haar lift)"),
    "ifdd_no_lift": ("ifdd_mobilenetv2", {"lifting_weight": 0.0}, "lifting_weight: 0"),
    "ifdd_pool_default": ("ifdd_mobilenetv2", {"pool_init": "default"}, "pool_init: default (released)"),
    "ifdd_ladm_norm": ("ifdd_mobilenetv2", {"ladm_input_norm": True}, "ladm_input_norm: true (released)"),
    "ifdd_init_none": ("ifdd_mobilenetv2", {"init": "none"}, "init: none (random trunk)"),
    "baseline_init_none": ("baseline_mobilenetv2", {"init": "none"}, "init: none (random trunk)"),
    "ifdd_e16": ("ifdd_mobilenetv2", {"train": {"epochs": 16}}, "16 epochs"),
    "baseline_e16": ("baseline_mobilenetv2", {"train": {"epochs": 16}}, "16 epochs"),
    "ifdd_lr3e-3": ("ifdd_mobilenetv2", {"train": {"lr": 3e-3}}, "lr 3e-3"),
    "ifdd_112": ("ifdd_mobilenetv2", {"img_size": 112}, "112² frames (4x4 maps at stride 32)"),
    "baseline_112": ("baseline_mobilenetv2", {"img_size": 112}, "112² frames"),
    "ifdd_smallcnn_e24": ("ifdd_smallcnn", {"train": {"epochs": 24}}, "24 epochs"),
    "ifdd_smallcnn_residual": ("ifdd_smallcnn", {"mlp_residual": True}, "mlp_residual: true"),
    # A ladder on the CNN that keeps the dynamics: which of IFDD's parts loses them?
    "smallcnn_fixed_haar": (
        "ifdd_smallcnn",
        {"split": "fixed", "use_ladm": False},
        "split: fixed, use_ladm: false (nothing learned between the pyramid and the pool)",
    ),
    "smallcnn_haar": ("ifdd_smallcnn", {"use_ladm": False}, "use_ladm: false (ISSM, then the Haar lift)"),
    "smallcnn_fixed": ("ifdd_smallcnn", {"split": "fixed"}, "split: fixed (LADM on even/odd steps)"),
    "smallcnn_ladm_norm": ("ifdd_smallcnn", {"ladm_input_norm": True}, "ladm_input_norm: true (released)"),
    "smallcnn_pool_default": ("ifdd_smallcnn", {"pool_init": "default"}, "pool_init: default (released)"),
    "smallcnn_pool_default_e16": (
        "ifdd_smallcnn",
        {"pool_init": "default", "train": {"epochs": 16}},
        "pool_init: default, 16 epochs",
    ),
    "smallcnn_pool_default_e24": (
        "ifdd_smallcnn",
        {"pool_init": "default", "train": {"epochs": 24}},
        "pool_init: default, 24 epochs",
    ),
    # the demo's budget (issue 20, item 3): the controls at IFDD's longer schedule
    "control_static_e16": ("control_static", {"train": {"epochs": 16}}, "16 epochs"),
    "control_dynamics_e16": ("control_dynamics", {"train": {"epochs": 16}}, "16 epochs"),
    "smallcnn_head_norm": ("ifdd_smallcnn", {"model": {"head_norm": True}}, "head_norm: true"),
    "smallcnn_residual_head_norm": (
        "ifdd_smallcnn",
        {"mlp_residual": True, "model": {"head_norm": True}},
        "mlp_residual: true, head_norm: true",
    ),
}
CHOSEN = "48_e8_grid"
BOUNDS = (f"control_static@{CHOSEN}", f"control_dynamics@{CHOSEN}")


#: A variant's own values as the recorded runs used them, where they changed since (ifdd_smallcnn's pool init
#: became the released one after these runs showed the mean init stalls it), so that re-runs match the file.
PINNED: dict[str, dict[str, Any]] = {"ifdd_smallcnn": {"pool_init": "mean"}}


def _point_settings() -> dict[str, Setting]:
    """Every model at every operating point, named `<model>@<point>`, and the ablations at the chosen one."""
    found = {}
    for point, changes in POINTS.items():
        for short, variant in MODELS.items():
            reference = REFERENCES.get(short)
            about = f"{variant} at operating point {point}"
            pinned = merge_overrides(changes, PINNED.get(variant, {}))
            found[f"{short}@{point}"] = Setting(variant, pinned, about, reference and f"{reference}@{point}")
    for name, (variant, change, about) in ABLATIONS.items():
        reference = f"{next(k for k, v in MODELS.items() if v == variant)}@{CHOSEN}"  # the model unchanged
        changes = merge_overrides(merge_overrides(POINTS[CHOSEN], PINNED.get(variant, {})), change)
        found[f"{name}@{CHOSEN}"] = Setting(variant, changes, about, reference)
    return found


SETTINGS |= _point_settings()


# ------------------------------------------------------------------------------------------------ training
def setting_params(base: IFDDParams, setting: Setting, seed: int) -> IFDDParams:
    raw = merge_overrides(base.model_dump(mode="json"), setting.changes)
    raw |= {"variants": [setting.variant], "folds": None, "init_backbone_from": {}}
    raw["train"] = {**raw["train"], "seed": seed, "selection": "last"}
    return IFDDParams.model_validate(raw)


@torch.no_grad()
def predict_rows(model: torch.nn.Module, store: Store, rows: np.ndarray, p: IFDDParams) -> np.ndarray:
    loader = torch.utils.data.DataLoader(ClipDataset(store, rows, p.num_frames, p.img_size), batch_size=16)
    return np.concatenate([model(x).argmax(1).numpy() for x, _ in loader])


@torch.no_grad()
def head_input_scale(
    model: torch.nn.Module, store: Store, rows: np.ndarray, p: IFDDParams
) -> dict[str, float]:
    """What the classifier sees on the validation clips: the pooled features' mean size and their spread
    across clips (per dimension, averaged), and the logits' spread across clips. A spread near zero means the
    head cannot tell clips apart however its weights move."""
    loader = torch.utils.data.DataLoader(ClipDataset(store, rows, p.num_frames, p.img_size), batch_size=16)
    model.eval()
    features = [model.forward_features(x) for x, _ in loader]
    pooled = torch.cat([model.forward_head(f, pre_logits=True) for f in features])
    logits = model.head(pooled)
    scale = {
        "pooled_abs_mean": float(pooled.mean(0).abs().mean()),
        "pooled_spread": float(pooled.std(0).mean()),
        "logit_spread": float(logits.std(0).mean()),
    }
    if isinstance(model, IFDD):  # the tokens the pool reads: how much of their spread survives pooling
        tokens = torch.cat([f.dynamic for f in features])
        scale |= {"tokens": tokens.shape[1], "token_spread": float(tokens.std(0).mean())}
    return scale


def scale_one(name: str, seed: int, args: argparse.Namespace, base: IFDDParams) -> None:
    p = setting_params(base, SETTINGS[name], seed)
    store = open_store(args.store, "clips")
    rows = trainer.fold_rows(store, args.fold, p, args.inner_fold)
    model, _ = load_trained(args.work / name / f"seed_{seed}" / trainer.MODEL)
    write_json(args.work / name / f"seed_{seed}" / SCALE, head_input_scale(model, store, rows["val"], p))


def run_one(name: str, seed: int, args: argparse.Namespace, base: IFDDParams) -> dict[str, Any]:
    setting = SETTINGS[name]
    folder = args.work / name / f"seed_{seed}"
    p = setting_params(base, setting, seed)
    resolved = p.model_dump(mode="json", exclude={"train": {"seed"}})
    for other in (args.work / name).glob(f"seed_*/{RESULT}"):
        if json.loads(other.read_text()).get("params") != resolved:
            raise SystemExit(f"{other}: ran with other parameters (params.yaml changed?); use a new setting")
    store = open_store(args.store, "clips")
    rows = trainer.fold_rows(store, args.fold, p, args.inner_fold)
    load = os.getloadavg()
    started = time.perf_counter()
    trainer.train_ifdd(p, args.store, setting.variant, args.fold, folder, inner_fold=args.inner_fold)
    seconds = time.perf_counter() - started
    model, _ = load_trained(folder / trainer.MODEL)
    predicted = predict_rows(model, store, rows["val"], p)
    labels = store.labels[rows["val"]]
    history = json.loads((folder / trainer.HISTORY).read_text())
    result: dict[str, Any] = {
        "setting": name,
        "about": setting.about,
        "variant": setting.variant,
        "changes": setting.changes,
        "params": resolved,
        "seed": seed,
        "fold": args.fold,
        "inner_fold": args.inner_fold,
        "train_clips": len(rows["train"]),
        "val_clips": len(rows["val"]),
        "val_uar": uar(labels, predicted),
        "val_uar_per_epoch": [h["val/uar"] for h in history],
        "train_loss_per_epoch": [h["train/loss"] for h in history],
        "seconds": seconds,
        "threads": p.train.threads,
        "load_before": load,
        "load_after": os.getloadavg(),
        "val": {
            "sample_id": [store.index[r]["sample_id"] for r in rows["val"]],
            "label": labels.tolist(),
            "predicted": predicted.tolist(),
        },
    }
    write_json(folder / RESULT, result)
    return result


def probe_one(name: str, seed: int, args: argparse.Namespace, base: IFDDParams) -> None:
    """Probe a trained run's stages, and those of the same model as initialised (same seed)."""
    setting = SETTINGS[name]
    folder = args.work / name / f"seed_{seed}"
    p = setting_params(base, setting, seed)
    store = open_store(args.store, "clips")
    rows = trainer.fold_rows(store, args.fold, p, args.inner_fold)
    model, _ = load_trained(folder / trainer.MODEL)
    torch.manual_seed(seed)
    fresh = trainer.build_model(p, setting.variant, len(store.classes), args.fold).eval()
    probes = {
        "trained": probe_model(model, store, rows, p, args.truth),
        "initial": probe_model(fresh, store, rows, p, args.truth),
    }
    write_json(folder / PROBES, probes)


# -------------------------------------------------------------------------------------------------- probes
@dataclass
class Stage:
    """One stage's output for a batch: per-step features B x T x C and the steps' positions B x T (in
    input frames: position p covers input frames around p)."""

    features: torch.Tensor
    frames: torch.Tensor


#: MobileNetV2 trunk layers probed per frame: the last block at each stride.
TRUNK_TAPS = {3: "trunk stride 4", 6: "trunk stride 8", 13: "trunk stride 16", 18: "trunk stride 32"}


@torch.no_grad()
def stages(model: torch.nn.Module, x: torch.Tensor) -> tuple[dict[str, Stage], torch.Tensor]:
    """Every stage's per-step output for a clip batch, and the pooled features the classifier reads."""
    b, _, t = x.shape[:3]
    frames = torch.arange(t, dtype=torch.float32).expand(b, -1)
    grey = (x * torch.tensor(LUMA).view(1, 3, 1, 1, 1)).sum(1)  # B x T x H x W
    pixels = F.interpolate(grey, size=(16, 16), mode="area").flatten(2)  # B x T x 256
    out = {"pixels (grey 16x16)": Stage(pixels, frames)}

    def per_step(maps: torch.Tensor) -> torch.Tensor:
        """B x C x T x h x w -> B x T x (C * h' * w'), space average-pooled to at most 4 x 4: a change
        keeps roughly where in the face it happened."""
        b, c, t, h, w = maps.shape
        grid = (min(h, PROBE_GRID), min(w, PROBE_GRID))
        pooled = F.adaptive_avg_pool2d(maps.transpose(1, 2).reshape(b * t, c, h, w), grid)
        return pooled.reshape(b, t, -1)

    taps: dict[str, torch.Tensor] = {}
    hooks = [
        model.backbone.features[i].register_forward_hook(lambda _m, _i, o, n=name: taps.__setitem__(n, o))
        for i, name in TRUNK_TAPS.items()
        if isinstance(model, IFDD | VideoBaseline) and hasattr(model.backbone, "features")
    ]
    try:
        features = model.forward_features(x)
    finally:
        for hook in hooks:
            hook.remove()
    for name, maps in taps.items():  # per frame, B*T x C x h x w
        out[name] = Stage(per_step(maps.reshape(b, t, *maps.shape[1:]).transpose(1, 2)), frames)
    if isinstance(model, VideoControl):
        out["CNN per frame"] = Stage(per_step(features.x), frames)
    elif isinstance(model, IFDD):
        steps = features.x.shape[2]
        stride = t // steps
        at = torch.arange(steps, dtype=torch.float32).expand(b, -1) * stride + (stride - 1) / 2
        out["pyramid X"] = Stage(per_step(features.x), at)
        parts = fixed_split(features.x) if model.issm is None else model.issm(features.x)
        mode = "exact" if model.issm is None else model.issm.sampling
        where = {
            key: sample_positions(idx, steps, mode) * stride + (stride - 1) / 2
            for key, idx in (("s", parts.idx_s), ("d", parts.idx_d))
        }
        out["split static X_S"] = Stage(per_step(parts.x_s), where["s"])
        out["split dynamic X_D"] = Stage(per_step(parts.x_d), where["d"])
        out["lift static Y_S"] = Stage(per_step(features.y_s), where["s"])
        dynamic = features.dynamic.transpose(1, 2).reshape(parts.x_d.shape)
        out["lift dynamic (LADM out)"] = Stage(per_step(dynamic), where["d"])
    return out, model.forward_head(features, pre_logits=True)


def _views(steps: np.ndarray) -> dict[str, np.ndarray]:
    """N x T x C -> the mean over time and the peak change (as the benchmark's landmark probes), and the
    largest size of each feature's change over time (where something moved, whichever way: the
    rectified difference the dynamics control reads)."""
    change = steps - np.median(steps, axis=1, keepdims=True)
    peak = np.linalg.norm(change, axis=2).argmax(1)
    return {
        "mean": steps.mean(1),
        "peak change": change[np.arange(len(steps)), peak],
        "max |change|": np.abs(change).max(1),
    }


def _probe(x_train, y_train, x_val, y_val, chance: float, resamples: int = 1000) -> dict[str, float]:
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    probe.fit(x_train, y_train)
    predicted = probe.predict(x_val)
    rng = np.random.default_rng(0)
    draws = [
        balanced_accuracy_score(y_val[i], predicted[i])
        for i in rng.integers(0, len(y_val), (resamples, len(y_val)))
    ]
    low, high = percentile_interval(np.asarray(draws))
    return {
        "score": float(balanced_accuracy_score(y_val, predicted)),
        "low": low,
        "high": high,
        "chance": chance,
        "reads": bool(low > chance),
    }


@torch.no_grad()
def probe_model(
    model: torch.nn.Module, store: Store, rows: dict[str, np.ndarray], p: IFDDParams, truth_csv: Path
) -> dict[str, Any]:
    with truth_csv.open() as f:
        truth = {f"{int(r['video_name']):05d}": r for r in csv.DictReader(f)}
    model.eval()
    gathered: dict[str, dict[str, Any]] = {}
    for split in ("train", "val"):
        loader = torch.utils.data.DataLoader(
            ClipDataset(store, rows[split], p.num_frames, p.img_size), batch_size=16
        )
        per_stage: dict[str, list[Stage]] = {}
        pooled = []
        for x, _ in loader:
            found, head_input = stages(model, x)
            for key, stage in found.items():
                per_stage.setdefault(key, []).append(stage)
            pooled.append(head_input)
        gathered[split] = {
            "stages": {
                k: (torch.cat([s.features for s in v]).numpy(), torch.cat([s.frames for s in v]).numpy())
                for k, v in per_stage.items()
            },
            "pooled": torch.cat(pooled).numpy(),
            "labels": store.labels[rows[split]],
            "clips": [store.index[r] for r in rows[split]],
        }
    chance = 1 / len(store.classes)
    result: dict[str, Any] = {"label": {}, "episode": {}, "in_episode": {}}
    train, val = gathered["train"], gathered["val"]
    for key in train["stages"]:
        views_train = _views(train["stages"][key][0])
        views_val = _views(val["stages"][key][0])
        result["label"][key] = {
            view: _probe(views_train[view], train["labels"], views_val[view], val["labels"], chance)
            for view in views_train
        }
        episode = {split: _episode_rows(gathered[split], key, truth, store, p) for split in ("train", "val")}
        result["episode"][key] = _probe(*episode["train"][:2], *episode["val"][:2], 0.5)
        if key.startswith("split"):
            result["in_episode"][key] = {
                "share_in_episode": float(episode["val"][1].mean()),
                "episode_share": float(np.mean(episode["val"][2])),
            }
    result["label"]["pooled (head input)"] = {
        "pooled": _probe(train["pooled"], train["labels"], val["pooled"], val["labels"], chance)
    }
    return result


def _episode_rows(
    split: dict[str, Any], key: str, truth: dict[str, dict], store: Store, p: IFDDParams
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Per step of every clip with an episode: its change from the clip's median, whether it lies in the
    episode, and (per clip) the share of the clip the episode covers."""
    steps, at = split["stages"][key]
    change = steps - np.median(steps, axis=1, keepdims=True)
    xs, ys, shares = [], [], []
    for n, entry in enumerate(split["clips"]):
        clip = truth[entry["sample_id"]]
        start, end = int(clip["episode_start"]), int(clip["episode_end"])
        if start < 0:
            continue
        frames = [int(i) for i in entry["frame_indices"].split()]
        source = steps_to_source_frames(at[n], 1, p.num_frames, store.samples.shape[1], frames)
        xs.append(change[n])
        ys.append(in_episode(source, start, end))
        shares.append((end - start) / int(clip["n_frames"]))
    return np.concatenate(xs), np.concatenate(ys).astype(int), shares


# ------------------------------------------------------------------------------------------------- summary
def _difference(runs: list[dict], reference: list[dict]) -> dict[str, Any] | None:
    by_seed = {r["seed"]: r for r in reference}
    pairs = [(r, by_seed[r["seed"]]) for r in runs if r["seed"] in by_seed]
    if not pairs:
        return None
    cells = []
    for a, b in pairs:
        assert a["val"]["sample_id"] == b["val"]["sample_id"]
        labels = np.asarray(a["val"]["label"])
        cells.append(
            PairedCell(
                0,
                a["seed"],
                labels,
                np.asarray(a["val"]["predicted"]) == labels,
                np.asarray(b["val"]["predicted"]) == labels,
            )
        )
    d = np.array([a["val_uar"] - b["val_uar"] for a, b in pairs])
    low, high = percentile_interval(paired_bootstrap(cells, 2000, 0, resample_cells=True)["uar"])
    same_sign = bool(np.all(d > 0) or np.all(d < 0))
    real = (low > 0 or high < 0) and same_sign
    return {
        "seeds": [a["seed"] for a, _ in pairs],
        "per_seed": d.tolist(),
        "mean": float(d.mean()),
        "bootstrap": [low, high],
        "verdict": ("higher" if d.mean() > 0 else "lower") if real else "not resolved",
    }


def summarize(work: Path, out: Path) -> dict[str, Any]:
    runs: dict[str, list[dict]] = {}
    for path in sorted(work.glob(f"*/seed_*/{RESULT}")):
        r = json.loads(path.read_text())
        if (path.parent / PROBES).is_file():
            r["probes"] = json.loads((path.parent / PROBES).read_text())
        if (path.parent / SCALE).is_file():
            r["head_input"] = json.loads((path.parent / SCALE).read_text())
        runs.setdefault(r["setting"], []).append(r)
    table = {}
    for name, found in runs.items():
        found.sort(key=lambda r: r["seed"])
        values = np.array([r["val_uar"] for r in found])
        reference = SETTINGS[name].reference if name in SETTINGS else None
        table[name] = {
            "about": found[0]["about"],
            "variant": found[0]["variant"],
            "changes": found[0]["changes"],
            "seeds": [r["seed"] for r in found],
            "val_uar": values.tolist(),
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
            "final_train_loss": [r["train_loss_per_epoch"][-1] for r in found],
            "seconds": [round(r["seconds"], 1) for r in found],
            "load_before": [r["load_before"] for r in found],
            "reference": reference,
            "difference": _difference(found, runs[reference]) if reference in runs else None,
            # every setting at the chosen point against the two bounds of what is learnable there
            "against_bounds": {
                bound: _difference(found, runs[bound])
                for bound in BOUNDS
                if name.endswith(f"@{CHOSEN}") and name != bound and bound in runs
            },
            "probes": {r["seed"]: r["probes"] for r in found if "probes" in r},
            "head_input": {r["seed"]: r["head_input"] for r in found if "head_input" in r},
        }
    summary = {"rule": RULE, "settings": table}
    write_json(out, summary)
    _print(table)
    return summary


def _print(table: dict[str, Any]) -> None:
    print(f"Rule: {RULE}\n")
    print("| setting | seeds | val UAR % | mean ± SD | vs reference |")
    print("|---|---|---|---|---|")
    for name, row in table.items():
        d = row["difference"]
        versus = (
            f"{d['mean'] * 100:+.1f} ({d['bootstrap'][0] * 100:+.1f} to {d['bootstrap'][1] * 100:+.1f}) vs "
            f"{row['reference']}: {d['verdict']}"
            if d
            else ""
        )
        sd = f" ± {row['sd'] * 100:.1f}" if row["sd"] is not None else ""
        uars = " / ".join(f"{u * 100:.1f}" for u in row["val_uar"])
        print(f"| {name} | {len(row['seeds'])} | {uars} | {row['mean'] * 100:.1f}{sd} | {versus} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = (
        ("run", "train (and with --probe, probe)"),
        ("probe", "probe trained runs"),
        ("scale", "measure what trained runs' classifiers see"),
    )
    for command, text in commands:
        sub_parser = sub.add_parser(command, help=text)
        sub_parser.add_argument("settings", nargs="+", choices=sorted(SETTINGS))
        sub_parser.add_argument("--seeds", type=int, nargs="+", default=[0])
        sub_parser.add_argument("--params", type=Path, default=Path("params.yaml"))
        sub_parser.add_argument("--store", type=Path, default=Path("data/processed/synthetic/clips"))
        sub_parser.add_argument(
            "--truth", type=Path, default=Path("data/raw/synthetic/demo/ground_truth/clips.csv")
        )
        sub_parser.add_argument("--fold", type=int, default=1, help="the test fold (never read)")
        sub_parser.add_argument("--inner-fold", type=int, default=2, help="the fold that validates")
        sub_parser.add_argument("--work", type=Path, default=Path("results/diagnosis"))
    sub.choices["run"].add_argument("--probe", action="store_true", help="also probe each stage")
    summary = sub.add_parser("summary", help="gather every run into one JSON; print the tables")
    summary.add_argument("--work", type=Path, default=Path("results/diagnosis"))
    summary.add_argument("--out", type=Path, default=Path("docs/measurements/ifdd_diagnosis.json"))
    args = parser.parse_args()
    if args.command == "summary":
        summarize(args.work, args.out)
        return
    base = load_params(args.params).ifdd
    for name in args.settings:
        for seed in args.seeds:
            folder = args.work / name / f"seed_{seed}"
            if args.command == "run" and not (folder / RESULT).is_file():
                r = run_one(name, seed, args, base)
                uar_text = f"val UAR {r['val_uar'] * 100:.1f} % in {r['seconds']:.0f} s"
                print(f"{name} seed {seed}: {uar_text}", flush=True)
            probing = args.command == "probe" or getattr(args, "probe", False)
            if probing and not (folder / PROBES).is_file():
                probe_one(name, seed, args, base)
                print(f"{name} seed {seed}: probed", flush=True)
            if args.command == "scale":
                scale_one(name, seed, args, base)
                print(f"{name} seed {seed}: {json.loads((folder / SCALE).read_text())}", flush=True)


if __name__ == "__main__":
    main()
