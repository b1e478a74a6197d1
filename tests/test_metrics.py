"""Evaluation metrics: WAR/UAR, P/R/F1, per-class table, confusion matrices, MIG, leakage probes."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ferflow.evaluate.metrics import (
    confusion,
    discretize,
    format_per_class_table,
    linear_probe,
    macro_prf,
    mean_over_folds,
    mig,
    per_class_recall,
    per_class_table,
    uar,
    war,
)


def _random_predictions(seed: int, n: int = 300, k: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.choice(k, size=n, p=np.linspace(1, 3, k) / np.linspace(1, 3, k).sum())
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    return y_true, y_pred


# Hand-counted: class 0 has 3 samples (2 right) and is predicted 3 times; class 1: 2 (1 right), predicted
# twice; class 2: 4 (2 right), predicted 3 times; class 3: 1 (right), predicted twice.
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
Y_PRED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 3, 3])
RECALL = [2 / 3, 1 / 2, 2 / 4, 1 / 1]
PRECISION = [2 / 3, 1 / 2, 2 / 3, 1 / 2]
F1 = [2 / 3, 1 / 2, 4 / 7, 2 / 3]  # 2PR / (P + R)


def test_war_uar_by_hand() -> None:
    assert war(Y_TRUE, Y_PRED) == pytest.approx(6 / 10)
    assert uar(Y_TRUE, Y_PRED) == pytest.approx(np.mean(RECALL)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_war_uar_on_random_predictions(seed: int) -> None:
    y_true, y_pred = _random_predictions(seed)
    assert war(y_true, y_pred) == pytest.approx(np.mean(y_true == y_pred))
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    assert uar(y_true, y_pred) == pytest.approx(np.mean(recalls))
    assert uar(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert uar(y_true, y_pred) != pytest.approx(war(y_true, y_pred))  # imbalanced: they differ


def test_uar_ignores_classes_absent_from_truth() -> None:
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 2, 1, 1])  # class 2 only predicted
    assert uar(y_true, y_pred) == pytest.approx(0.75)
    with pytest.warns(UserWarning):
        assert uar(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def test_per_class_recall_and_macro_prf_by_hand() -> None:
    np.testing.assert_allclose(per_class_recall(Y_TRUE, Y_PRED, 4), RECALL)
    recalls = per_class_recall(np.array([0, 0, 1]), np.array([0, 1, 1]), num_classes=4)
    np.testing.assert_allclose(recalls, [0.5, 1.0, 0.0, 0.0])
    expected = {"precision": np.mean(PRECISION), "recall": np.mean(RECALL), "f1": np.mean(F1)}
    assert macro_prf(Y_TRUE, Y_PRED) == pytest.approx(expected)
    assert expected == pytest.approx({"precision": 7 / 12, "recall": 2 / 3, "f1": 101 / 168})
    # class 2 only predicted: it counts, with precision 0 and recall 0 (0/0 counts as 0)
    only_predicted = macro_prf(np.array([0, 0, 1]), np.array([0, 2, 1]))
    assert only_predicted == pytest.approx({"precision": 2 / 3, "recall": 1 / 2, "f1": (2 / 3 + 1) / 3})
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        per_class_recall(np.array([0, 3]), np.array([0, 1]), num_classes=2)


def test_per_class_table_by_hand() -> None:
    # class 0: 3 samples, 2 right; class 1: 1 sample, right; class 2: 0 samples, predicted once.
    y_true = np.array([0, 0, 0, 1])
    y_pred = np.array([0, 0, 2, 1])
    rows = per_class_table(y_true, y_pred, ["Anger", "Happiness", "Fear"])
    assert [r["class"] for r in rows] == ["Anger", "Happiness", "Fear"]
    assert [r["support"] for r in rows] == [3, 1, 0]
    assert [r["accuracy"] for r in rows] == pytest.approx([2 / 3, 1.0, 0.0])
    assert [r["accuracy"] for r in rows] == [r["recall"] for r in rows]
    assert [r["precision"] for r in rows] == pytest.approx([1.0, 1.0, 0.0])
    assert rows[0]["f1"] == pytest.approx(0.8)
    table = format_per_class_table(rows)
    assert "| Anger | 0.667 | 1.000 | 0.667 | 0.800 | 3 |" in table
    assert table.splitlines()[-1].startswith("| Macro avg | 0.556 |")
    assert table.splitlines()[-1].endswith("| 4 |")


def test_confusion_raw_and_normalised() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 3])
    y_pred = np.array([0, 1, 0, 1, 1, 0])
    raw = confusion(y_true, y_pred, num_classes=4)
    expected = np.array([[2, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(raw, expected)
    norm = confusion(y_true, y_pred, num_classes=4, normalize=True)
    assert not np.isnan(norm).any()
    np.testing.assert_allclose(norm[0], [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(norm[2], 0.0)  # no support: zero row
    np.testing.assert_allclose(norm.sum(axis=1), [1, 1, 0, 1])
    np.testing.assert_allclose(np.diag(norm), per_class_recall(y_true, y_pred, 4))


def test_mean_over_folds() -> None:
    folds = [{"uar": 0.5, "war": 0.6}, {"uar": 0.7, "war": 0.9}, {"uar": 0.6, "war": 0.6}]
    assert mean_over_folds(folds) == pytest.approx({"uar": 0.6, "war": 0.7})
    with pytest.raises(ValueError, match="fold 2"):
        mean_over_folds([{"uar": 0.5}, {"war": 0.5}])
    with pytest.raises(ValueError):
        mean_over_folds([])


# ------------------------------------------------------------------------------------------------ MIG
N_EXPR, N_ID = 7, 10


def _factors(rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    return np.stack([rng.integers(0, N_EXPR, n), rng.integers(0, N_ID, n)], axis=1)


def test_mig_disentangled_latents_near_one() -> None:
    rng = np.random.default_rng(0)
    f = _factors(rng)
    noise = rng.normal(size=(len(f), 6))
    # dim 0 encodes expression, dim 3 identity (a small jitter that stays inside each value's bin), the
    # rest is noise independent of both factors.
    latents = noise.copy()
    latents[:, 0] = f[:, 0] + 0.01 * noise[:, 0]
    latents[:, 3] = f[:, 1] + 0.01 * noise[:, 3]
    result = mig(latents, f)
    assert result.mi.shape == (6, 2)
    np.testing.assert_allclose(result.entropy, [np.log(N_EXPR), np.log(N_ID)], atol=0.01)
    assert result.mig > 0.97  # finite-sample MI of the noise dims (~0.01-0.03 nats) keeps it below 1
    assert (result.gaps > 0.97).all()


def test_mig_entangled_latents_near_zero() -> None:
    rng = np.random.default_rng(1)
    f = _factors(rng)
    a = (f[:, 0] - f[:, 0].mean()) / f[:, 0].std()
    b = (f[:, 1] - f[:, 1].mean()) / f[:, 1].std()
    # every dimension mixes both factors equally (45° rotations, with independent jitter)
    latents = np.stack([a + b, a - b, -a + b, -a - b], axis=1) + 0.05 * rng.normal(size=(len(f), 4))
    result = mig(latents, f)
    assert result.mi.min() > 0.2  # each dimension does carry information about both factors ...
    assert result.mig < 0.05  # ... but none more than another


def _reference_mig(latents: np.ndarray, factors: np.ndarray, n_bins: int = 20) -> float:
    """Plain numpy: per-dimension histogram, joint counts, MI and entropy from their definitions."""
    gaps = []
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        p_v = np.array([np.mean(factors[:, k] == v) for v in values])
        h_v = -np.sum(p_v * np.log(p_v))
        mis = []
        for j in range(latents.shape[1]):
            edges = np.histogram(latents[:, j], bins=n_bins)[1]
            joint = np.stack([np.histogram(latents[factors[:, k] == v, j], bins=edges)[0] for v in values])
            p_joint = joint / joint.sum()
            p_z = p_joint.sum(axis=0, keepdims=True)
            p_f = p_joint.sum(axis=1, keepdims=True)
            nz = p_joint > 0
            mis.append(np.sum(p_joint[nz] * np.log(p_joint[nz] / (p_f @ p_z)[nz])))
        top = np.sort(mis)[::-1]
        gaps.append((top[0] - top[1]) / h_v)
    return float(np.mean(gaps))


@pytest.mark.parametrize("seed", [0, 1])
def test_mig_matches_independent_numpy_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    f = _factors(rng, n=1500)
    latents = rng.normal(size=(len(f), 5))
    latents[:, 1] += 0.8 * f[:, 0]  # partly informative dimensions, so the gaps are not trivial
    latents[:, 2] += 0.3 * f[:, 0] + 0.4 * f[:, 1]
    latents[:, 4] = rng.exponential(size=len(f)) * (1 + f[:, 1])
    got = mig(latents, f).mig
    assert 0.05 < got < 0.95
    assert got == pytest.approx(_reference_mig(latents, f), abs=1e-10)


def test_discretize_and_mig_errors() -> None:
    z = np.array([[0.0, 1.0], [1.0, 2.0], [0.5, 3.0], [0.999, 2.5]])
    codes = discretize(z, n_bins=4)
    np.testing.assert_array_equal(codes[:, 0], [0, 3, 2, 3])
    np.testing.assert_array_equal(codes[:, 1], [0, 2, 3, 3])  # edges 1, 1.5, 2, 2.5, 3: [a, b) bins
    with pytest.raises(ValueError, match="single value"):
        mig(np.random.default_rng(0).normal(size=(10, 3)), np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="D >= 2"):
        mig(np.zeros((10, 1)), np.arange(10) % 2)


# --------------------------------------------------------------------------------------------- probes
def test_linear_probe_detects_leakage_and_reports_chance() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=400, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    informative = rng.normal(size=(400, 8))
    informative[np.arange(400), labels] += 3.0
    leak = linear_probe(informative, labels)
    assert leak.chance == pytest.approx(np.mean(labels == 0))
    assert leak.fold_accuracies.shape == (5,)
    assert leak.accuracy > 0.85
    clean = linear_probe(rng.normal(size=(400, 8)), labels)
    assert abs(clean.accuracy - clean.chance) < 0.1


def test_linear_probe_small_classes_and_errors() -> None:
    rng = np.random.default_rng(1)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2] * 2)  # 6 per class: 5 folds still possible
    probe = linear_probe(rng.normal(size=(18, 3)), labels, folds=10)
    assert probe.fold_accuracies.shape == (6,)
    with pytest.raises(ValueError, match="at least 2"):
        linear_probe(rng.normal(size=(5, 3)), np.array([0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="single value"):
        linear_probe(rng.normal(size=(5, 3)), np.zeros(5, dtype=int))
