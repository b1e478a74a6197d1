"""Metrics for both methods: WAR/UAR, precision/recall/F1, confusion matrices, MIG and leakage probes.

Inputs are integer label arrays (and float latent arrays); outputs are numpy arrays or plain Python numbers
and dicts, ready for JSON metric files. scikit-learn does the counting.

Definitions:

- WAR (weighted average recall) = overall accuracy.
- UAR (unweighted average recall) = mean of per-class recalls over the classes present in ``y_true``
  (= scikit-learn's balanced accuracy).
- Per-class accuracy of class c = the fraction of the samples of class c predicted as c, i.e. its recall,
  the diagonal of the row-normalised confusion matrix. This is the "accuracy per class" FER papers tabulate
  (not the one-vs-rest accuracy, which is dominated by true negatives).
- MIG (Chen et al., 2018) with the latents discretised into equal-width histogram bins: for each factor k,
  (largest - second largest of I(z_j; v_k) over latent dimensions j) / H(v_k), averaged over factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mutual_info_score,
    precision_recall_fscore_support,
    recall_score,
)
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "MIGResult",
    "ProbeResult",
    "confusion",
    "discretize",
    "format_per_class_table",
    "linear_probe",
    "macro_prf",
    "mean_over_folds",
    "mig",
    "per_class_recall",
    "per_class_table",
    "uar",
    "war",
]


def _labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no samples to evaluate")
    return y_true, y_pred


def _num_classes(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None) -> int:
    top = int(max(y_true.max(), y_pred.max())) + 1
    if num_classes is None:
        return top
    if top > num_classes or min(y_true.min(), y_pred.min()) < 0:
        raise ValueError(f"labels must lie in [0, {num_classes}), found {top - 1}")
    return num_classes


def war(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Weighted average recall: overall accuracy."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(accuracy_score(y_true, y_pred))


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall: mean recall over the classes present in ``y_true``."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Recall of every class 0..K-1, shape ``(K,)``; 0 for a class with no true samples."""
    y_true, y_pred = _labels(y_true, y_pred)
    k = _num_classes(y_true, y_pred, num_classes)
    return recall_score(y_true, y_pred, labels=np.arange(k), average=None, zero_division=0)


def macro_prf(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[int] | None = None
) -> dict[str, float]:
    """Macro-averaged precision, recall and F1.

    Args:
        y_true: True labels.
        y_pred: Predicted labels.
        labels: Classes to average over; by default those present in ``y_true`` or ``y_pred``
            (scikit-learn's convention). Undefined ratios count as 0.
    """
    y_true, y_pred = _labels(y_true, y_pred)
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def confusion(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None, normalize: bool = False
) -> np.ndarray:
    """Confusion matrix ``(K, K)``, rows = true class, columns = predicted class.

    Every class 0..K-1 has a row. With ``normalize=True`` each row is divided by its support (rows sum to
    1); a class with no true samples gets a row of zeros, never NaN.
    """
    y_true, y_pred = _labels(y_true, y_pred)
    k = _num_classes(y_true, y_pred, num_classes)
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(k))
    if not normalize:
        return cm
    support = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, support, out=np.zeros(cm.shape, dtype=np.float64), where=support > 0)


def per_class_table(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per class: ``class``, ``accuracy`` (= recall, see module doc), ``precision``, ``recall``,
    ``f1``, ``support``; undefined ratios are 0. Classes are indexed by position in ``class_names``."""
    y_true, y_pred = _labels(y_true, y_pred)
    k = _num_classes(y_true, y_pred, len(class_names))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(k), average=None, zero_division=0
    )
    return [
        {
            "class": str(class_names[c]),
            "accuracy": float(r[c]),
            "precision": float(p[c]),
            "recall": float(r[c]),
            "f1": float(f[c]),
            "support": int(s[c]),
        }
        for c in range(k)
    ]


def format_per_class_table(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> str:
    """A Markdown table of `per_class_table` rows with a macro-average row (support: the total)."""
    cols = ("accuracy", "precision", "recall", "f1")
    lines = ["| Class | Accuracy | Precision | Recall | F1 | Support |", "|---|---|---|---|---|---|"]
    for row in rows:
        values = " | ".join(f"{row[c]:.{digits}f}" for c in cols)
        lines.append(f"| {row['class']} | {values} | {row['support']} |")
    if rows:
        means = " | ".join(f"{np.mean([r[c] for r in rows]):.{digits}f}" for c in cols)
        lines.append(f"| Macro avg | {means} | {sum(r['support'] for r in rows)} |")
    return "\n".join(lines)


def mean_over_folds(folds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Arithmetic mean of each metric over folds; every fold must report the same metric names."""
    if not folds:
        raise ValueError("no folds to average")
    keys = set(folds[0])
    for n, fold in enumerate(folds[1:], start=2):
        if set(fold) != keys:
            raise ValueError(f"fold {n} reports {sorted(fold)}, fold 1 reports {sorted(keys)}")
    return {k: float(np.mean([float(fold[k]) for fold in folds])) for k in folds[0]}


# ------------------------------------------------------------------------------------------------ MIG
@dataclass(frozen=True)
class MIGResult:
    """MIG and what it was computed from.

    Attributes:
        mig: Mean normalised gap over factors.
        gaps: Normalised gap per factor, ``(K,)``.
        mi: Discrete mutual information (nats) between latent dimension j and factor k, ``(D, K)``.
        entropy: Entropy (nats) of each factor, ``(K,)``.
    """

    mig: float
    gaps: np.ndarray
    mi: np.ndarray
    entropy: np.ndarray


def discretize(latents: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin index (0..n_bins-1) of every value, with ``n_bins`` equal-width bins per latent dimension spanning
    that dimension's range (the last bin includes the maximum)."""
    latents = np.asarray(latents, dtype=np.float64)
    codes = np.empty(latents.shape, dtype=np.int64)
    for j in range(latents.shape[1]):
        edges = np.histogram_bin_edges(latents[:, j], bins=n_bins)
        codes[:, j] = np.digitize(latents[:, j], edges[1:-1])
    return codes


def _entropy(labels: np.ndarray) -> float:
    counts = np.unique(labels, return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mig(latents: np.ndarray, factors: np.ndarray, n_bins: int = 20) -> MIGResult:
    """Mutual information gap (Chen et al., 2018) with histogram-discretised latents.

    Args:
        latents: ``(N, D)`` codes, e.g. ``[E, I]`` concatenated; D ≥ 2.
        factors: ``(N, K)`` integer factors (or ``(N,)`` for one), e.g. expression and identity labels.
        n_bins: Equal-width bins per latent dimension.

    Raises:
        ValueError: Shapes disagree, fewer than 2 latent dimensions, or a factor takes a single value.
    """
    latents = np.asarray(latents, dtype=np.float64)
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if latents.ndim != 2 or latents.shape[1] < 2:
        raise ValueError(f"latents must be (N, D) with D >= 2, got shape {latents.shape}")
    if factors.ndim != 2 or factors.shape[0] != latents.shape[0]:
        raise ValueError(f"factors must be (N, K) with N = {latents.shape[0]}, got shape {factors.shape}")
    codes = discretize(latents, n_bins)
    n_dims, n_factors = latents.shape[1], factors.shape[1]
    mi = np.array(
        [[mutual_info_score(factors[:, k], codes[:, j]) for k in range(n_factors)] for j in range(n_dims)]
    )
    entropy = np.array([_entropy(factors[:, k]) for k in range(n_factors)])
    if np.any(entropy == 0):
        constant = np.flatnonzero(entropy == 0).tolist()
        raise ValueError(f"factor(s) {constant} take a single value: MIG is undefined")
    top2 = np.sort(mi, axis=0)[::-1][:2]
    gaps = (top2[0] - top2[1]) / entropy
    return MIGResult(float(gaps.mean()), gaps, mi, entropy)


# ------------------------------------------------------------------------------------------ leakage
@dataclass(frozen=True)
class ProbeResult:
    """A linear probe's cross-validated accuracy.

    Attributes:
        accuracy: Mean accuracy over folds.
        chance: Accuracy of always predicting the most frequent class.
        fold_accuracies: Accuracy of each fold.
    """

    accuracy: float
    chance: float
    fold_accuracies: np.ndarray


def linear_probe(
    codes: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0, max_iter: int = 1000
) -> ProbeResult:
    """How well a linear classifier predicts ``labels`` (a factor) from ``codes``: leakage when above chance.

    Standardised features, logistic regression, stratified ``folds``-fold cross-validation (reduced to the
    size of the rarest class when that is smaller, at least 2).

    Args:
        codes: ``(N, D)`` features, e.g. E to probe identity, I to probe expression.
        labels: ``(N,)`` integer labels.
        folds: Cross-validation folds.
        seed: Seed of the fold shuffle.
        max_iter: Iteration limit of the solver.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    if codes.ndim != 2 or codes.shape[0] != labels.size:
        raise ValueError(f"codes must be (N, D) with N = {labels.size}, got shape {codes.shape}")
    counts = np.unique(labels, return_counts=True)[1]
    if counts.size < 2:
        raise ValueError("the probed factor takes a single value")
    n_splits = min(folds, int(counts.min()))
    if n_splits < 2:
        raise ValueError("every class needs at least 2 samples for a stratified probe")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(model, codes, labels, cv=cv, scoring="accuracy")
    return ProbeResult(float(scores.mean()), float(counts.max() / labels.size), scores)
