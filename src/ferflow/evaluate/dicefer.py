"""Evaluate a trained DICE-FER model, its ResNet-18 baseline or an image control on the test split of an
image store.

The kind of model is read from its `model.pt` (written by `ferflow.train.dicefer`). Outputs in ``out``:

- ``metrics.json``: WAR (accuracy), UAR, macro precision/recall/F1, the per-class table, raw and
  row-normalised confusion matrices, MIG and the leakage probes (or, under ``skipped``, why not);
- ``per_class.md``: the per-class table in Markdown (accuracy = recall, with a macro-average row);
- ``predictions.csv``: per test image its id, true and predicted class and class probabilities;
- ``embeddings.npz``: ``codes`` (the latents MIG is computed on: [E, I] for DICE-FER, the 512-d pooled
  embedding for the baseline, the 64-d pooled embedding for an image control), ``labels``, ``identities``
  (empty strings where unknown), ``sample_ids``, ``classes`` and, for DICE-FER, ``e`` and ``i``
  separately: input for the report's t-SNE.

MIG (`ferflow.evaluate.metrics.mig`, 20 bins) takes two factors, expression and identity, and needs an
identity for every test image; without one it is skipped and the reason recorded. The baseline's latents are
its 512-d embedding, DICE-FER's the 128-d [E, I]: both are "the representation the model classifies from"
(plus I for DICE-FER), which is the comparison the spec asks for, but MIG rewards one dimension carrying a
factor alone, which DICE-FER's objective encourages and plain cross-entropy does not, and more dimensions
make a close second-best more likely. Read the baseline's MIG as a reference, not as the same experiment.

Leakage probes (`linear_probe`, cross-validated logistic regression on the test codes; identities with a
single test image are left out of identity probes): DICE-FER — identity from E and expression from I (the
leakage; near chance is good) and, as references, expression from E and identity from I; baseline — identity
from the embedding (leakage) and expression from the embedding (reference); an image control like the
baseline. `control_image_reference` sees each test image with the person's mean face over their test
images (`ferflow.data.datasets.identity_means`; no labels), as it saw their training images in training.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ferflow.core.atomic import atomic_path, write_json, write_text
from ferflow.core.checkpoint import ModelFileError, load_checkpoint
from ferflow.core.runtime import setup_runtime
from ferflow.data.datasets import ImageDataset
from ferflow.data.store import open_store
from ferflow.evaluate import metrics as M
from ferflow.models import model_from_saved

__all__ = ["evaluate_dicefer", "load_trained"]

MIG_BINS = 20


def load_trained(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """A model saved by `train_dicefer` or `train_baseline`, rebuilt in eval mode, with its metadata."""
    saved = load_checkpoint(path)
    if saved.get("kind") not in ("dicefer", "baseline", "control"):
        raise ModelFileError(
            f"{path}: not a DICE-FER, baseline or image-control model file (kind {saved.get('kind')!r}); "
            "give the model.pt written by train-dicefer"
        )
    return model_from_saved(saved), saved


@torch.no_grad()
def _encode(
    model: nn.Module, kind: str, dataset: ImageDataset, device: torch.device, batch_size: int
) -> dict[str, np.ndarray]:
    """Logits and codes of every image: ``e`` and ``i`` for DICE-FER, ``embedding`` for the others."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0)
    parts: dict[str, list[np.ndarray]] = {}
    for x, _ in loader:
        x = x.to(device)
        if kind == "dicefer":
            e, i = model.encode(x)
            outputs = {"logits": model.forward_head(e), "e": e, "i": i}
        else:
            embedding = model.forward_features(x)
            outputs = {"logits": model.forward_head(embedding), "embedding": embedding}
        for key, value in outputs.items():
            parts.setdefault(key, []).append(value.float().cpu().numpy())
    return {key: np.concatenate(values) for key, values in parts.items()}


def _probe(codes: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> dict[str, Any]:
    """A linear probe on the samples whose class has at least 2 of them (a stratified split needs 2)."""
    values, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, values[counts >= 2])
    result = M.linear_probe(codes[keep], labels[keep], folds=folds, seed=seed)
    return {
        "accuracy": result.accuracy,
        "chance": result.chance,
        "folds": len(result.fold_accuracies),
        "samples": int(keep.sum()),
        "classes": int((counts >= 2).sum()),
    }


def _predictions_csv(sample_ids: list[str], classes: list[str], y_true: np.ndarray, probs: np.ndarray) -> str:
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerow(["sample_id", "label", "predicted", *[f"p_{c}" for c in classes]])
    for sample_id, t, pr in zip(sample_ids, y_true, probs, strict=True):
        writer.writerow([sample_id, classes[t], classes[int(pr.argmax())], *np.round(pr, 5)])
    return lines.getvalue()


def _classification(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """WAR, UAR, macro precision/recall/F1, the per-class table and the confusion matrices."""
    return {
        "war": M.war(y_true, y_pred),
        "uar": M.uar(y_true, y_pred),
        **{f"macro_{k}": v for k, v in M.macro_prf(y_true, y_pred).items()},
        "per_class": M.per_class_table(y_true, y_pred, classes),
        "confusion": M.confusion(y_true, y_pred, len(classes)).tolist(),
        "confusion_normalised": M.confusion(y_true, y_pred, len(classes), normalize=True).tolist(),
        "classes": classes,
    }


def _codes(kind: str, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, str, dict[str, np.ndarray]]:
    """The latents MIG reads, their name, and the features of each leakage probe by probe name."""
    if kind == "dicefer":
        e, i = outputs["e"], outputs["i"]
        probes = {"identity_from_E": e, "identity_from_I": i, "expression_from_I": i, "expression_from_E": e}
        return np.concatenate([e, i], axis=1), "[E, I]", probes
    codes = outputs["embedding"]
    return codes, "embedding", {"identity_from_embedding": codes, "expression_from_embedding": codes}


def _no_identities(identities: np.ndarray) -> str:
    """Why identity measures cannot run on these test images ("" when they can)."""
    known = identities != ""
    if not known.all():
        return f"{int((~known).sum())} of {len(identities)} test images have no identity label"
    if len(np.unique(identities)) < 2:
        return "the test images show a single identity"
    return ""


def _mig(codes: np.ndarray, y_true: np.ndarray, identities: np.ndarray, latents: str) -> dict[str, Any]:
    """MIG of the codes over the two factors, expression and identity."""
    identity_ids = np.unique(identities, return_inverse=True)[1]
    found = M.mig(codes, np.stack([y_true, identity_ids], axis=1), n_bins=MIG_BINS)
    return {
        "value": found.mig,
        "expression": float(found.gaps[0]),
        "identity": float(found.gaps[1]),
        "latents": latents,
        "dimensions": int(codes.shape[1]),
        "bins": MIG_BINS,
    }


def _write_outputs(
    out: Path,
    result: dict[str, Any],
    sample_ids: list[str],
    y_true: np.ndarray,
    probs: np.ndarray,
    arrays: dict[str, np.ndarray],
) -> None:
    """``predictions.csv``, ``per_class.md``, ``embeddings.npz`` and, last, ``metrics.json``."""
    out.mkdir(parents=True, exist_ok=True)
    classes = result["classes"]
    write_text(out / "predictions.csv", _predictions_csv(sample_ids, classes, y_true, probs))
    write_text(out / "per_class.md", M.format_per_class_table(result["per_class"]) + "\n")
    with atomic_path(out / "embeddings.npz") as tmp, tmp.open("wb") as f:
        np.savez_compressed(f, classes=np.array(classes), **arrays)
    write_json(out / "metrics.json", result)


def evaluate_dicefer(
    model_path: Path,
    store_dir: Path,
    out: Path,
    probe_folds: int = 5,
    device: str = "auto",
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate a DICE-FER, baseline or image-control model (detected from ``model_path``) on the store's
    test split.

    Args:
        model_path: ``model.pt`` written by training.
        store_dir: The image store the model was trained on (its ``test`` split is used).
        out: Folder for ``metrics.json``, ``per_class.md``, ``predictions.csv`` and ``embeddings.npz``.
        probe_folds: Cross-validation folds of the leakage probes (``dicefer.probe_folds``).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: Images per forward pass.
        seed: Seed of the probes' fold shuffles.

    Returns:
        The contents of ``metrics.json``.

    Raises:
        ValueError: The store has no test images, or the model file is not one of these models.
    """
    runtime = setup_runtime(device, amp=False)
    model, saved = load_trained(Path(model_path))
    model.to(runtime.device)
    kind = saved["kind"]
    store = open_store(store_dir, "images", "evaluate-dicefer")
    rows = store.rows("test")
    if not len(rows):
        raise ValueError(f"{store_dir}: the test split is empty")
    reference = getattr(model, "needs_reference", False)
    dataset = ImageDataset(store, rows, saved["img_size"], reference=reference)
    outputs = _encode(model, kind, dataset, runtime.device, batch_size)
    probs = torch.softmax(torch.from_numpy(outputs["logits"]), 1).numpy()
    y_true, y_pred = dataset.labels, probs.argmax(1)
    identities = dataset.identities
    sample_ids = [store.index[r]["sample_id"] for r in rows]

    result: dict[str, Any] = {"kind": kind, "variant": saved["variant"], "samples": len(rows)}
    result |= _classification(y_true, y_pred, list(saved["classes"]))
    codes, latents, probes = _codes(kind, outputs)
    skipped: dict[str, str] = {}
    reason = _no_identities(identities)
    if reason:
        skipped["mig"] = reason
    else:
        result["mig"] = _mig(codes, y_true, identities, latents)

    result["probes"] = {}
    for name, features in probes.items():
        factor = name.split("_from_")[0]
        if factor == "identity" and reason:
            skipped[f"probes.{name}"] = reason
            continue
        labels = identities if factor == "identity" else y_true
        try:
            result["probes"][name] = _probe(features, labels, probe_folds, seed)
        except ValueError as err:  # e.g. every identity has a single test image
            skipped[f"probes.{name}"] = str(err)
    result["skipped"] = skipped

    arrays = {"codes": codes, "labels": y_true, "identities": identities, "sample_ids": np.array(sample_ids)}
    if kind == "dicefer":
        arrays |= {"e": outputs["e"], "i": outputs["i"]}
    _write_outputs(Path(out), result, sample_ids, y_true, probs, arrays)
    return result
