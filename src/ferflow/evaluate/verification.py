"""Face verification metrics: LFW's 10-fold accuracy and the true-accept rate at a false-accept rate.

LFW protocol (View 2): for each fold, the decision threshold is the one that maximises accuracy on the other
nine folds; the reported figure is the mean (and standard deviation) of the ten held-out accuracies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_curve


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold (accept when score >= threshold) with the highest accuracy on these pairs.

    Candidates are midpoints between consecutive distinct scores plus one below and one above all of them.
    """
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    accepted = scores[None, :] >= candidates[:, None]
    accuracy = (accepted == same[None, :]).mean(axis=1)
    return float(candidates[int(np.argmax(accuracy))])


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """Verification accuracy by LFW's protocol: each fold scored at the threshold chosen on the others.

    Args:
        scores: (P,) similarity of each pair (higher = more alike).
        same: (P,) whether each pair shows one person.
        folds: (P,) the fold of each pair.

    Returns:
        mean and std of the per-fold accuracies, the per-fold accuracies and thresholds.
    """
    scores, same, folds = np.asarray(scores, float), np.asarray(same, bool), np.asarray(folds)
    per_fold, thresholds = [], []
    for fold in np.unique(folds):
        held_out = folds == fold
        threshold = best_threshold(scores[~held_out], same[~held_out])
        per_fold.append(float(((scores[held_out] >= threshold) == same[held_out]).mean()))
        thresholds.append(threshold)
    return {
        "accuracy": float(np.mean(per_fold)),
        "accuracy_std": float(np.std(per_fold)),
        "fold_accuracy": per_fold,
        "fold_thresholds": thresholds,
    }


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float = 1e-3) -> dict[str, Any]:
    """True-accept rate at the strictest threshold whose false-accept rate is at most `far`.

    With n mismatched pairs the smallest non-zero FAR is 1/n; `far_resolution` records it, so a TAR "at
    1e-3" measured on fewer than 1,000 mismatched pairs is read as TAR at FAR = 0.
    """
    same = np.asarray(same, bool)
    fpr, tpr, _ = roc_curve(same, np.asarray(scores, float))
    ok = fpr <= far
    return {
        "far": far,
        "tar": float(tpr[ok].max()),
        "far_achieved": float(fpr[ok][np.argmax(tpr[ok])]),
        "far_resolution": 1.0 / int((~same).sum()),
    }


def verification_metrics(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray, far: float = 1e-3
) -> dict[str, Any]:
    """10-fold accuracy and TAR at FAR, with the pair counts."""
    same = np.asarray(same, bool)
    return {
        **kfold_accuracy(scores, same, folds),
        **tar_at_far(scores, same, far),
        "pairs": len(same),
        "matched_pairs": int(same.sum()),
    }
