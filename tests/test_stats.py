"""Study statistics: scipy/statsmodels agreement on fixed inputs, bootstrap coverage on simulated studies, the
verdict rule's two outcomes, power, and the summary of a study's result files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ferflow.config import validate_params
from ferflow.evaluate import metrics as M
from ferflow.evaluate.stats import (
    IFDD_METRICS,
    UAR,
    VERDICT_RULE,
    Metric,
    PairedCell,
    paired_bootstrap,
    percentile_interval,
    power,
    summarize_study,
    t_interval,
    uar_rows,
    verdict,
    wilcoxon,
)
from ferflow.study import cells

DIFFS = np.array([0.031, -0.012, 0.054, 0.020, 0.008, 0.047, -0.004, 0.026, 0.015])


def test_uar_rows_match_the_metric():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, (50, 40))
    labels[3] = np.where(labels[3] == 4, 0, labels[3])  # a row without class 4: it must not count
    correct = rng.random((50, 40)) < 0.6
    predicted = np.where(correct, labels, (labels + 1) % 5)
    expected = [M.uar(y, p) for y, p in zip(labels, predicted, strict=True)]
    np.testing.assert_allclose(uar_rows(labels, correct), expected)


def test_t_interval_and_wilcoxon_match_scipy():
    n, mean = len(DIFFS), DIFFS.mean()
    half = stats.t.ppf(0.975, n - 1) * DIFFS.std(ddof=1) / np.sqrt(n)
    np.testing.assert_allclose(t_interval(DIFFS), (mean - half, mean + half))
    assert wilcoxon(DIFFS)["p"] == pytest.approx(stats.wilcoxon(DIFFS).pvalue)
    assert t_interval(DIFFS[:1]) is None


def test_wilcoxon_says_why_it_cannot_answer():
    assert wilcoxon(np.zeros(6)) == {"p": None, "note": "undefined: every paired difference is zero"}
    assert "at least 2" in wilcoxon(np.array([0.1]))["note"]
    few = wilcoxon(np.array([0.1, 0.2, 0.3]))
    assert few["p"] == pytest.approx(0.25) and "no p-value can fall below 0.25" in few["note"]


def _simulated_fold(rng, n, k, accuracy_a, accuracy_b, seeds, fold=1):
    labels = rng.integers(0, k, n)
    return [
        PairedCell(fold, s, labels, rng.random(n) < accuracy_a[s], rng.random(n) < accuracy_b[s])
        for s in range(seeds)
    ]


def test_one_cell_bootstrap_matches_scipy():
    """Resampling only test samples, one cell: the same percentile interval as scipy's paired bootstrap."""
    rng = np.random.default_rng(1)
    (cell,) = _simulated_fold(rng, 120, 4, [0.7], [0.6], 1)
    draws = paired_bootstrap([cell], 4000, seed=2, resample_cells=False)

    def uar_difference(labels, a, b, axis=-1):
        return uar_rows(np.atleast_2d(labels), np.atleast_2d(a)) - uar_rows(
            np.atleast_2d(labels), np.atleast_2d(b)
        )

    reference = stats.bootstrap(
        (cell.labels, cell.correct_a, cell.correct_b),
        uar_difference,
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        random_state=3,
    ).confidence_interval
    low, high = percentile_interval(draws["uar"])
    assert low == pytest.approx(reference.low, abs=0.015)
    assert high == pytest.approx(reference.high, abs=0.015)
    war = percentile_interval(draws["war"])
    assert war[0] < cell.correct_a.mean() - cell.correct_b.mean() < war[1]


def _simulated_study(rng, seed_sd: float, folds: int = 5, seeds: int = 3, n: int = 60) -> list[PairedCell]:
    """A study of two models on `folds` x `seeds` cells. Whether a model gets a clip right is a probit of
    its skill (A 0.35, B 0.20), the clip's difficulty (shared by all models), a clip x model effect (shared by
    the model's seeds: what this fold's clips happen to favour), a seed effect of SD `seed_sd` and noise."""
    pairs = []
    for fold in range(folds):
        labels = rng.integers(0, 4, n)
        difficulty = rng.normal(0, 1, n)
        favour = rng.normal(0, 0.5 if seed_sd else 0.0, (2, n))
        for seed in range(seeds):
            shift = rng.normal(0, seed_sd, 2)
            a = 0.35 + shift[0] + difficulty + favour[0] + rng.normal(0, 1, n) > 0
            b = 0.20 + shift[1] + difficulty + favour[1] + rng.normal(0, 1, n) > 0
            pairs.append(PairedCell(fold, seed, labels, a, b))
    return pairs


def _true_difference(seed_sd: float) -> float:
    """The expected UAR difference over clips and seeds (classes are independent of difficulty, so UAR's
    expectation is the hit rate's): P(z + e > -skill) with z ~ N(0, 1), e ~ N(0, sd of the other terms)."""
    spread = np.sqrt(1 + (0.5**2 + seed_sd**2 if seed_sd else 0))
    z = stats.norm.ppf((np.arange(20000) + 0.5) / 20000)
    return float(np.mean(stats.norm.cdf((0.35 + z) / spread) - stats.norm.cdf((0.20 + z) / spread)))


def _coverage(resample_cells: bool, seed_sd: float, studies: int = 200) -> float:
    """Share of simulated 5-fold x 3-seed studies whose 95 % bootstrap interval holds the true difference."""
    rng = np.random.default_rng(7)
    truth, hits = _true_difference(seed_sd), 0
    for study in range(studies):
        draws = paired_bootstrap(_simulated_study(rng, seed_sd), 200, study, resample_cells)
        low, high = percentile_interval(draws["uar"])
        hits += low <= truth <= high
    return hits / studies


def test_bootstrap_covers_the_true_difference_at_about_the_nominal_rate():
    # the trained models fixed, only the test clips vary: resampling clips is the exact bootstrap
    assert 0.90 <= _coverage(resample_cells=False, seed_sd=0.0) <= 0.99
    # seeds and clips vary: resampling cells as well (the default) never covers less than nominal; it is
    # conservative (each model's noise on each clip is counted at both levels: about 0.99 here)
    assert _coverage(resample_cells=True, seed_sd=0.3) >= 0.93


def test_resampling_test_samples_alone_ignores_seed_noise():
    """Why study.bootstrap.cells defaults to true: with seed-to-seed spread, clips alone under-cover."""
    assert _coverage(resample_cells=False, seed_sd=0.3) < 0.85


def test_verdict_rule_two_outcomes():
    better = verdict("ifdd", "baseline", UAR, 0.042, (0.011, 0.073), "bootstrap")
    assert better["better"] == "ifdd"
    assert better["text"].startswith("UAR, ifdd vs baseline: ifdd better than baseline by 4.2 points")
    assert "+1.1 to +7.3" in better["text"]
    worse = verdict("ifdd", "baseline", UAR, -0.042, (-0.073, -0.011), "bootstrap")
    assert worse["better"] == "baseline"
    leakage = Metric("identity_leakage", "leakage", higher_is_better=False, per_sample=False)
    less = verdict("dicefer", "baseline", leakage, -0.30, (-0.40, -0.20), "t")
    assert less["better"] == "dicefer" and "95 % t interval" in less["text"]

    none = verdict("ifdd", "baseline", UAR, 0.008, (-0.023, 0.039), "bootstrap")
    assert none["better"] is None and none["half_width"] == pytest.approx(0.031)
    assert "no detectable difference (± 3.1 points" in none["text"]
    assert "excludes zero" in VERDICT_RULE and "no detectable difference" in VERDICT_RULE


def test_power_matches_the_noncentral_t():
    found = power(DIFFS, folds=3)
    n, sd = len(DIFFS), DIFFS.std(ddof=1)
    assert found["sd_difference"] == pytest.approx(sd)

    def achieved(effect: float, cells: int) -> float:
        crit = stats.t.ppf(0.975, cells - 1)
        nc = effect * np.sqrt(cells)
        return stats.nct.sf(crit, cells - 1, nc) + stats.nct.cdf(-crit, cells - 1, nc)

    assert achieved(found["min_detectable_t"] / sd, n) == pytest.approx(0.8, abs=1e-3)
    needed = found["cells_for_target"]
    assert achieved(0.03 / sd, needed) >= 0.8 > achieved(0.03 / sd, needed - 1)
    assert found["seeds_for_target"] == -(-needed // 3)
    assert "note" in power(np.zeros(4), folds=1) and "note" in power(DIFFS[:1], folds=1)


# ------------------------------------------------------------------------------------- a study's files
CLASSES = ["Happy", "Sad", "Angry"]


def _write_cell(root: Path, folder: str, labels, correct, extra=None) -> None:
    out = root / folder / "eval"
    out.mkdir(parents=True)
    predicted = [
        c if ok else CLASSES[(CLASSES.index(c) + 1) % 3] for c, ok in zip(labels, correct, strict=True)
    ]
    true = np.array([CLASSES.index(c) for c in labels])
    pred = np.array([CLASSES.index(c) for c in predicted])
    metrics = {"uar": M.uar(true, pred), "war": M.war(true, pred), **(extra or {})}
    (out / "metrics.json").write_text(json.dumps(metrics))
    with (out / "predictions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sample_id", "label", "predicted"])
        order = np.random.default_rng(len(folder)).permutation(len(labels))  # any row order
        for i in order:
            writer.writerow([f"{i:04d}", labels[i], predicted[i]])


def test_summary_of_a_study(tmp_path):
    params = validate_params(
        {
            "study": {
                "seeds": [0, 1],
                "folds": [1, 2],
                "dicefer": {"settings": {"paper": {"delta": 0.1}}, "compare": []},
                "bootstrap": {"resamples": 500},
            }
        }
    )
    rng = np.random.default_rng(0)
    fold_labels = {f: list(rng.choice(CLASSES, 90)) for f in (0, 1, 2)}
    for cell in cells(params):
        if cell.seed == 1 and cell.model == "baseline":
            continue  # not evaluated yet
        rate = 0.9 if cell.model in ("ifdd_mobilenetv2", "dicefer") else 0.5
        correct = rng.random(90) < rate
        extra = {}
        if cell.family == "dicefer":
            probe = "identity_from_E" if cell.model == "dicefer" else "identity_from_embedding"
            extra = {"mig": {"value": 0.1 * (cell.seed + 1)}, "probes": {probe: {"accuracy": 0.2}}}
        _write_cell(tmp_path, cell.folder, fold_labels[cell.fold], correct, extra)

    summary = summarize_study(params, tmp_path, tmp_path / "summary.json", tmp_path / "cells.tsv")
    assert json.loads((tmp_path / "summary.json").read_text())["rule"] == VERDICT_RULE
    assert summary["missing"] == ["results/study/dicefer/paper/baseline/seed_1"]
    ifdd = {c["metric"]: c for c in summary["comparisons"] if c["family"] == "ifdd"}
    assert set(ifdd) == {m.key for m in IFDD_METRICS}
    uar = ifdd["uar"]
    assert uar["cells"] == 4 and uar["interval"] == "bootstrap"
    assert uar["verdict"]["better"] == "ifdd_mobilenetv2"
    assert uar["mean"] == pytest.approx(np.mean([r["difference"] for r in uar["per_cell"]]))
    assert uar["t_interval"] == pytest.approx(
        t_interval(np.array([r["difference"] for r in uar["per_cell"]]))
    )
    assert uar["power"]["cells"] == 4

    model = summary["models"]["ifdd_mobilenetv2"]
    values = [r["a"] for r in uar["per_cell"]]
    assert model["uar"]["mean"] == pytest.approx(np.mean(values))
    assert model["uar"]["sd"] == pytest.approx(np.std(values, ddof=1))

    dicefer = {c["metric"]: c for c in summary["comparisons"] if c["family"] == "dicefer"}
    assert dicefer["war"]["cells"] == 1  # only seed 0 has both models
    assert dicefer["mig"]["interval"] == "t" and dicefer["mig"]["t_interval"] is None
    assert "too few cells" in dicefer["mig"]["verdict"]["text"]
    assert "not per-sample" in dicefer["identity_leakage"]["why"]

    rows = list(csv.DictReader((tmp_path / "cells.tsv").open(), delimiter="\t"))
    assert len(rows) == len(cells(params)) - 1
    assert {r["mig"] for r in rows if r["family"] == "ifdd"} == {""}


def test_cells_with_other_test_samples_are_refused(tmp_path):
    params = validate_params(
        {"study": {"seeds": [0], "folds": [1], "dicefer": {"settings": {}, "compare": []}}}
    )
    for n, cell in enumerate(cells(params)):
        _write_cell(tmp_path, cell.folder, ["Happy", "Sad"] * (5 + n), [True] * (10 + 2 * n))
    with pytest.raises(ValueError, match="test samples differ"):
        summarize_study(params, tmp_path, tmp_path / "summary.json")


def test_power_when_two_cells_already_detect_the_target():
    """A spread so small that the solver has no root above two cells: two cells suffice, no NaN."""
    result = power(np.array([0.1, 0.1001, 0.1002]), folds=1)
    assert result["cells_for_target"] == 2 and result["seeds_for_target"] == 2


def test_compare_studies_pairs_only_the_common_cells(tmp_path):
    """scripts/compare_studies.py: the same variant from two projects (e.g. init faceid against none),
    paired on the (fold, seed) cells both hold, sized for power by the folds they share."""
    rng = np.random.default_rng(1)
    fold_labels = {f: list(rng.choice(CLASSES, 90)) for f in (1, 2)}
    grids = {"a": ([1, 2], 0.9), "b": ([1], 0.5)}
    for name, (folds, rate) in grids.items():
        project = tmp_path / name
        study = {"seeds": [0, 1], "folds": folds, "dicefer": {"settings": {}, "compare": []}}
        project.mkdir()
        (project / "params.yaml").write_text(json.dumps({"study": study}))  # JSON is YAML
        for cell in cells(validate_params({"study": study})):
            _write_cell(project, cell.folder, fold_labels[cell.fold], rng.random(90) < rate)
    out = tmp_path / "compared.json"
    script = Path(__file__).parents[1] / "scripts" / "compare_studies.py"
    args = [tmp_path / "a" / "params.yaml", tmp_path / "a", tmp_path / "b" / "params.yaml", tmp_path / "b"]
    done = subprocess.run(
        [sys.executable, script, *map(str, args), "--labels", "faceid", "none", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert VERDICT_RULE in done.stdout
    uar = {c["a"]: c for c in json.loads(out.read_text())["comparisons"] if c["metric"] == "uar"}
    assert set(uar) == {"ifdd_mobilenetv2[faceid]", "baseline_mobilenetv2[faceid]"}
    for c in uar.values():
        assert c["cells"] == 2 and {r["fold"] for r in c["per_cell"]} == {1}
        assert c["power"]["folds"] == 1
        assert c["verdict"]["better"] == c["a"]  # 90 % against 50 % correct


def test_a_model_against_chance(tmp_path):
    """The null control's comparison: a guesser at chance is 'no detectable difference', a learner better."""
    params = validate_params(
        {
            "study": {
                "seeds": [0, 1, 2],
                "folds": [1, 2],
                "ifdd": {
                    "variants": ["control_dynamics", "null"],
                    "settings": {"null": {"model": "control_dynamics", "train": {"permute_labels": True}}},
                    "compare": [["control_dynamics", "chance"], ["null", "chance"]],
                },
                "dicefer": {"settings": {}, "compare": []},
                "bootstrap": {"resamples": 500},
            }
        }
    )
    rng = np.random.default_rng(1)
    fold_labels = {f: list(rng.choice(CLASSES, 90)) for f in (1, 2)}
    for cell in cells(params):
        labels = fold_labels[cell.fold]
        correct = rng.random(90) < (0.9 if cell.model == "control_dynamics" else 1 / 3)
        _write_cell(tmp_path, cell.folder, labels, correct, {"classes": CLASSES})
    summary = summarize_study(params, tmp_path, tmp_path / "summary.json")
    uar = {c["a"]: c for c in summary["comparisons"] if c["metric"] == "uar"}
    assert {c["b"] for c in uar.values()} == {"chance"}
    assert uar["control_dynamics"]["verdict"]["better"] == "control_dynamics"
    assert (
        uar["null"]["verdict"]["better"] is None
        and "no detectable difference" in uar["null"]["verdict"]["text"]
    )
    assert all(r["b"] == pytest.approx(1 / 3) for r in uar["null"]["per_cell"])
    assert uar["null"]["cells"] == 6 and uar["null"]["bootstrap"] is not None
