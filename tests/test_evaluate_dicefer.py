"""Evaluation of DICE-FER and the baseline: metrics agree with the predictions, MIG and probes when identities
are known, and a clear record of what was skipped when they are not."""

import csv

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ferflow.config import validate_params
from ferflow.core.checkpoint import save_checkpoint
from ferflow.data.store import write_store
from ferflow.evaluate.dicefer import evaluate_dicefer
from ferflow.train.dicefer import train_baseline, train_dicefer

TEST = 12  # test images: 3 classes x 4, identities p0..p3 x 3
CODE_DIM = 8


def _rows(n: int, identities: bool) -> list[dict[str, str]]:
    return [
        {
            "sample_id": f"s{i:03d}",
            "label": str(i % 3),
            "identity": f"p{i % 4}" if identities else "",
            "split": "test" if i < TEST else "train",
            "fold": "",
            "frame_indices": "",
            "source": "",
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Two stores with the same 36 images (with and without identities) and a model of each kind."""
    root = tmp_path_factory.mktemp("evaluate")
    images = np.random.default_rng(1).integers(0, 255, (36, 32, 32, 3), dtype=np.uint8)
    meta = {"classes": ["a", "b", "c"]}
    write_store(root / "with_ids", [(images, _rows(36, True))], meta)
    write_store(root / "no_ids", [(images, _rows(36, False))], meta)
    p = validate_params(
        {
            "dicefer": {
                "init": "none",  # no pretraining stage here
                "img_size": 32,
                "code_dim": CODE_DIM,
                "classifier_hidden": [16, 16],
                "batch_size": 8,
                "stage_epochs": [1, 1, 1],
                "baseline_epochs": 1,
                "runtime": {"num_workers": 0, "threads": 1},
            }
        }
    ).dicefer
    train_dicefer(p, root / "with_ids", root / "dicefer")
    train_baseline(p, root / "with_ids", root / "baseline")
    return root


def _check_classification(result, out):
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == result["samples"] == TEST
    y_true = [r["label"] for r in rows]
    y_pred = [r["predicted"] for r in rows]
    assert result["war"] == pytest.approx(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))
    assert result["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    probs = np.array([[float(r[f"p_{c}"]) for c in result["classes"]] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)
    for key in ("macro_precision", "macro_recall", "macro_f1"):
        assert 0.0 <= result[key] <= 1.0
    cm = np.array(result["confusion"])
    assert cm.shape == (3, 3) and cm.sum() == TEST and cm.trace() == round(result["war"] * TEST)
    np.testing.assert_allclose(np.array(result["confusion_normalised"]).sum(1), 1.0)
    assert [r["support"] for r in result["per_class"]] == [4, 4, 4]
    table = (out / "per_class.md").read_text().splitlines()
    assert len(table) == 2 + 3 + 1 and table[2].startswith("| a |") and table[-1].startswith("| Macro avg")


def _check_probe(probe, chance):
    assert 0.0 <= probe["accuracy"] <= 1.0
    assert probe["chance"] == pytest.approx(chance) and probe["folds"] >= 2


def test_dicefer_with_identities(work):
    out = work / "eval_dicefer"
    result = evaluate_dicefer(work / "dicefer" / "model.pt", work / "with_ids", out, probe_folds=3)
    assert result["kind"] == "dicefer" and result["skipped"] == {}
    _check_classification(result, out)
    mig = result["mig"]
    assert mig["latents"] == "[E, I]" and mig["dimensions"] == 2 * CODE_DIM and mig["bins"] == 20
    for key in ("value", "expression", "identity"):
        assert 0.0 <= mig[key] <= 1.0
    assert mig["value"] == pytest.approx((mig["expression"] + mig["identity"]) / 2)
    probes = result["probes"]
    assert set(probes) == {"identity_from_E", "identity_from_I", "expression_from_I", "expression_from_E"}
    _check_probe(probes["identity_from_E"], 1 / 4)
    _check_probe(probes["expression_from_I"], 1 / 3)
    saved = np.load(out / "embeddings.npz")
    assert saved["codes"].shape == (TEST, 2 * CODE_DIM)
    np.testing.assert_array_equal(saved["codes"], np.concatenate([saved["e"], saved["i"]], axis=1))
    assert saved["labels"].tolist() == [i % 3 for i in range(TEST)]
    assert saved["identities"].tolist() == [f"p{i % 4}" for i in range(TEST)]
    assert (out / "metrics.json").is_file()


def test_baseline_with_identities(work):
    out = work / "eval_baseline"
    result = evaluate_dicefer(work / "baseline" / "model.pt", work / "with_ids", out, probe_folds=3)
    assert result["kind"] == "baseline" and result["skipped"] == {}
    _check_classification(result, out)
    assert result["mig"]["latents"] == "embedding" and result["mig"]["dimensions"] == 512
    assert 0.0 <= result["mig"]["value"] <= 1.0
    assert set(result["probes"]) == {"identity_from_embedding", "expression_from_embedding"}
    _check_probe(result["probes"]["identity_from_embedding"], 1 / 4)
    saved = np.load(out / "embeddings.npz")
    assert saved["codes"].shape == (TEST, 512) and "e" not in saved


def test_without_identities_mig_is_skipped_and_said_so(work):
    out = work / "eval_no_ids"
    result = evaluate_dicefer(work / "dicefer" / "model.pt", work / "no_ids", out, probe_folds=3)
    assert "mig" not in result
    assert "no identity label" in result["skipped"]["mig"]
    assert set(result["skipped"]) == {"mig", "probes.identity_from_E", "probes.identity_from_I"}
    assert set(result["probes"]) == {"expression_from_I", "expression_from_E"}
    _check_classification(result, out)


def test_a_foreign_model_file_is_refused(work, tmp_path):
    save_checkpoint(tmp_path / "model.pt", {"model": {}, "variant": "ifdd_mobilenetv2", "kwargs": {}})
    with pytest.raises(ValueError, match="not a DICE-FER, baseline or image-control model"):
        evaluate_dicefer(tmp_path / "model.pt", work / "with_ids", tmp_path / "out")
