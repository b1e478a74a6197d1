"""Evaluate a trained IFDD (or baseline) model on its fold's test set.

Writes `predictions.csv` (per clip: true and predicted class, probabilities) and `metrics.json` (WAR, UAR,
per-class recall, raw and row-normalised confusion matrices, how the model was selected). On the embedded
benchmark it also compares where ISSM's learned static and dynamic indices fall with the true emotion
episode (`issm_episode.json`). `summarize_ifdd` averages per-fold results for every variant.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ferflow.core.atomic import write_json
from ferflow.core.checkpoint import ModelFileError, load_checkpoint, model_media
from ferflow.core.runtime import setup_runtime
from ferflow.data.datasets import ClipDataset, frame_positions
from ferflow.data.store import open_store
from ferflow.evaluate import metrics as M
from ferflow.models import model_from_saved
from ferflow.models.issm import sample_positions
from ferflow.paths import ISSM_EPISODE_FILE


def load_trained(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A model saved by training (`model.pt`), rebuilt and in eval mode, with its metadata."""
    saved = load_checkpoint(path)
    if model_media(saved) != "video":
        raise ModelFileError(f"{path}: not an IFDD or baseline model.pt written by train-ifdd; give one")
    return model_from_saved(saved), saved


@torch.no_grad()
def _run(
    model: torch.nn.Module, dataset: ClipDataset, device: torch.device, batch_size: int
) -> dict[str, np.ndarray]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0)
    out: dict[str, list[np.ndarray]] = {"logits": [], "idx_s": [], "idx_d": []}
    for x, _ in loader:
        logits, features = model(x.to(device), return_features=True)
        out["logits"].append(logits.float().cpu().numpy())
        for key in ("idx_s", "idx_d"):
            value = getattr(features, key)
            if value is not None:
                out[key].append(value.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items() if v}


def steps_to_source_frames(
    positions: np.ndarray, stride: int, num_frames: int, stored: int, frame_indices: list[int]
) -> np.ndarray:
    """Continuous positions on a model's time axis -> frame numbers of the source video.

    A time step covers `stride` consecutive input frames; input frames are picked from the stored frames,
    which were sampled from the source video (`frame_indices`).
    """
    input_frame = positions * stride + (stride - 1) / 2
    stored_pos = np.interp(input_frame, np.arange(num_frames), frame_positions(stored, num_frames))
    return np.interp(stored_pos, np.arange(len(frame_indices)), frame_indices)


def in_episode(frames: np.ndarray, start: int, end: int) -> np.ndarray:
    """Whether (fractional) source frames fall in the episode [start, end), rounding to the nearest frame."""
    return (frames >= start - 0.5) & (frames < end - 0.5)


def _to_source_frames(
    steps: np.ndarray, model: torch.nn.Module, saved: dict, stored: int, frame_indices: list[int]
) -> np.ndarray:
    """Map ISSM's fractional time-step indices to frame numbers of the source video."""
    num_frames = saved["kwargs"]["num_frames"]
    steps_total = num_frames // 2 if num_frames != 32 else 8
    mode = getattr(getattr(model, "issm", None), "sampling", "exact")
    pos = sample_positions(torch.from_numpy(steps), steps_total, mode).numpy()
    return steps_to_source_frames(pos, num_frames // steps_total, num_frames, stored, frame_indices)


def _episode_analysis(
    outputs: dict[str, np.ndarray], rows: np.ndarray, store, model, saved, truth_csv: Path
) -> dict[str, Any]:
    with truth_csv.open() as f:
        truth = {f"{int(r['video_name']):05d}": r for r in csv.DictReader(f)}
    inside = {"static": [], "dynamic": []}
    share, per_clip = [], []
    for n, row in enumerate(rows):
        entry = store.index[row]
        clip = truth.get(entry["sample_id"])
        if clip is None or int(clip["episode_start"]) < 0:
            continue  # neutral clips have no episode
        start, end, length = int(clip["episode_start"]), int(clip["episode_end"]), int(clip["n_frames"])
        frames = [int(i) for i in entry["frame_indices"].split()]
        record = {"sample_id": entry["sample_id"], "episode": [start, end]}
        for name, key in (("static", "idx_s"), ("dynamic", "idx_d")):
            src = _to_source_frames(outputs[key][n], model, saved, store.samples.shape[1], frames)
            inside[name].append(in_episode(src, start, end).mean())
            record[name] = np.round(src, 2).tolist()
        share.append((end - start) / length)
        per_clip.append(record)
    if not per_clip:
        return {}
    return {
        "clips": len(per_clip),
        "dynamic_in_episode": float(np.mean(inside["dynamic"])),
        "static_in_episode": float(np.mean(inside["static"])),
        "episode_share": float(np.mean(share)),  # what a random index would score
        "per_clip": per_clip,
    }


def evaluate_ifdd(
    model_path: Path,
    store_dir: Path,
    out: Path,
    truth_csv: Path | None = None,
    device: str = "auto",
    batch_size: int = 16,
) -> dict[str, Any]:
    """Evaluate a trained model on the test rows of the fold it was trained for."""
    runtime = setup_runtime(device, amp=False)
    model, saved = load_trained(model_path)
    model.to(runtime.device)
    store = open_store(store_dir, "clips", "evaluate-ifdd")
    fold = saved["fold"] or None
    rows = store.rows("test", fold)
    kwargs = saved["kwargs"]
    outputs = _run(
        model, ClipDataset(store, rows, kwargs["num_frames"], kwargs["img_size"]), runtime.device, batch_size
    )
    probs = torch.softmax(torch.from_numpy(outputs["logits"]), 1).numpy()
    y_true, y_pred = store.labels[rows], probs.argmax(1)
    classes = list(saved["classes"])

    out.mkdir(parents=True, exist_ok=True)
    with (out / "predictions.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sample_id", "label", "predicted", *[f"p_{c}" for c in classes]])
        for row, t, p, pr in zip(rows, y_true, y_pred, probs, strict=True):
            writer.writerow([store.index[row]["sample_id"], classes[t], classes[p], *np.round(pr, 5)])
    result = {
        "variant": saved["variant"],
        "fold": saved["fold"],
        "samples": len(rows),
        "war": M.war(y_true, y_pred),
        "uar": M.uar(y_true, y_pred),
        "per_class_recall": dict(
            zip(classes, M.per_class_recall(y_true, y_pred, len(classes)).tolist(), strict=True)
        ),
        "confusion": M.confusion(y_true, y_pred, len(classes)).tolist(),
        "confusion_normalised": M.confusion(y_true, y_pred, len(classes), normalize=True).tolist(),
        "classes": classes,
        "selection": saved["selection"],
        "selected_epoch": saved["selected_epoch"],
        "optimistic": saved["selection"] == "test",  # best epoch picked on the test fold itself
    }
    write_json(out / "metrics.json", result)
    if truth_csv is not None and "idx_d" in outputs:
        write_json(out / ISSM_EPISODE_FILE, _episode_analysis(outputs, rows, store, model, saved, truth_csv))
    return result


def summarize_ifdd(metric_files: list[Path], out: Path) -> dict[str, Any]:
    """Per-fold WAR/UAR of every variant and their mean over folds; next to `out`, `plots/` gets one CSV
    per run of learning curves and of (label, predicted) pairs, for `dvc plots`."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    plots = Path(out).parent / "plots"
    for path in metric_files:
        m = json.loads(Path(path).read_text())
        by_variant.setdefault(m["variant"], []).append(m)
        _plot_tables(Path(path).parent, plots, f"{m['variant']}_fold{m['fold']}")
    summary = {}
    for variant, folds in sorted(by_variant.items()):
        folds.sort(key=lambda m: m["fold"])
        mean = M.mean_over_folds([{"war": m["war"], "uar": m["uar"]} for m in folds])
        summary[variant] = {
            "folds": {str(m["fold"]): {"war": m["war"], "uar": m["uar"]} for m in folds},
            "mean_war": mean["war"],
            "mean_uar": mean["uar"],
            "optimistic": any(m["optimistic"] for m in folds),
        }
    write_json(out, summary)
    return summary


def _plot_tables(eval_dir: Path, plots: Path, name: str) -> None:
    """Learning curve and prediction pairs of one run as small CSVs (DVC's plot formats)."""
    for folder in ("learning", "confusion"):
        (plots / folder).mkdir(parents=True, exist_ok=True)
    history_file = eval_dir.parent / "history.json"
    history = json.loads(history_file.read_text()) if history_file.is_file() else []
    with (plots / "learning" / f"{name}.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["epoch", "train_loss", "test_uar", "test_war"])
        for h in history:
            writer.writerow([h["epoch"], h["train/loss"], h.get("test/uar", ""), h.get("test/war", "")])
    with (eval_dir / "predictions.csv").open() as f, (plots / "confusion" / f"{name}.csv").open("w") as g:
        writer = csv.writer(g, lineterminator="\n")
        writer.writerow(["label", "predicted"])
        for row in csv.DictReader(f):
            writer.writerow([row["label"], row["predicted"]])
