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
from statsmodels.stats.power import TTestPower

from ferflow.config import validate_params
from ferflow.evaluate import metrics as M
from ferflow.evaluate.coverage import SCENARIOS, Scenario, coverage, coverage_table, simulate_study
from ferflow.evaluate.stats import (
    IFDD_METRICS,
    MIN_COVERAGE,
    SIMULATED_SHAPES,
    UAR,
    VERDICT_RULE,
    Metric,
    PairedCell,
    decide,
    interval_choice,
    paired_bootstrap,
    percentile_interval,
    power,
    t_interval,
    t_samples_interval,
    uar_rows,
    verdict,
    wilcoxon,
)
from ferflow.evaluate.study_summary import summarize_study
from ferflow.study import cells

REPO = Path(__file__).resolve().parents[1]
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


def test_t_samples_interval_by_hand():
    """mean ± t(k - 1) x sqrt(s^2 / k + the samples' variance), hand-computed for 3 cells."""
    d = np.array([0.10, 0.20, 0.30])  # mean 0.2, s^2 = 0.01
    low, high = t_samples_interval(d, sample_variance=0.0004)
    half = 4.302652729911275 * np.sqrt(0.01 / 3 + 0.0004)  # t(0.975, 2)
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half))
    assert t_samples_interval(d, 0.0) == pytest.approx(t_interval(d))  # no sample noise: the t-interval
    assert t_samples_interval(d[:1], 0.01) is None


def test_the_interval_choice_says_which_and_why():
    kind, why = interval_choice(UAR, folds=1, cells=3, has_samples=True)
    assert kind == "t_samples" and "at 1 fold(s) x 3 seed(s) it held the true difference in ≥ 94 %" in why
    kind, why = interval_choice(UAR, folds=2, cells=8, has_samples=True)
    assert kind == "t_samples" and "8 cells over 2 fold(s) were not simulated" in why
    assert interval_choice(UAR, 1, 3, has_samples=False)[0] == "t"
    probe = Metric("identity_leakage", "leakage", higher_is_better=False, per_sample=False)
    assert interval_choice(probe, 1, 3, has_samples=True) == (
        "t",
        "not per-sample (a whole test set's statistic): t-interval over cells",
    )


def test_the_simulated_truth_is_the_mean_hit_rate_difference():
    """The closed-form true difference agrees with the hit rates of a very large simulated fold."""
    scenario = SCENARIOS[1]
    pairs, truth = simulate_study(np.random.default_rng(0), 1, 400, scenario, n=2000)
    measured = np.mean([p.correct_a.mean() - p.correct_b.mean() for p in pairs])
    assert measured == pytest.approx(truth, abs=0.01)


@pytest.mark.parametrize("shape", SIMULATED_SHAPES)
def test_the_verdicts_interval_covers_at_each_simulated_shape(shape):
    """A small version of the measurement in docs/measurements/study_coverage.json (the slow test below
    repeats that one): at each shape, in the scenarios hardest for it, the verdict's interval holds the true
    difference in nearly 95 % of simulated studies (the bound allows for 100 studies' noise)."""
    folds, seeds = shape
    hardest = [s for s in SCENARIOS if s.name in ("no seed effect", "seed SD 1.0", "clip effects dominate")]
    for scenario in hardest:
        found = coverage(folds, seeds, scenario, studies=100, resamples=200, n=60, seed=11)
        assert found["t_samples"]["coverage"] >= 0.89, (scenario.name, found)


def test_why_not_the_other_intervals():
    """With few cells and a seed effect the bootstrap over samples and cells is too narrow; with test-sample
    noise shared by a fold's cells the plain t-interval is; samples alone ignore the seed effect."""
    seeds_vary = SCENARIOS[3]  # seed SD 1.0
    shared_clips = Scenario("only shared clip effects", seed_sd=0.0, favour_sd=1.5, fold_sd=0.0)
    assert coverage(1, 3, seeds_vary, 100, 200, 60, seed=12)["bootstrap"]["coverage"] < 0.87
    assert coverage(1, 3, shared_clips, 100, 200, 60, seed=13)["t"]["coverage"] < 0.87
    assert coverage(5, 3, seeds_vary, 100, 200, 60, seed=14)["bootstrap_samples"]["coverage"] < 0.6


def test_the_stored_coverage_table_supports_the_rule():
    """docs/study.md's table (docs/measurements/study_coverage.json): the verdict's interval reaches
    MIN_COVERAGE in every scenario at every simulated shape; each other method falls short somewhere."""
    table = json.loads((REPO / "docs" / "measurements" / "study_coverage.json").read_text())
    lowest = table["lowest_coverage"]
    assert set(lowest) == {f"{f}x{s}" for f, s in SIMULATED_SHAPES}
    assert all(methods["t_samples"] >= MIN_COVERAGE for methods in lowest.values()), lowest
    for method in ("bootstrap", "bootstrap_samples", "t"):
        assert any(methods[method] < MIN_COVERAGE for methods in lowest.values()), method


@pytest.mark.slow
def test_the_stored_coverage_table_is_reproduced():
    """The whole measurement again (about an hour on a busy 2-core machine): seeded, so it gives the same
    table."""
    table = json.loads((REPO / "docs" / "measurements" / "study_coverage.json").read_text())
    again = coverage_table(table["studies"], table["resamples"], table["clips_per_fold"], table["seed"])
    assert again["rows"] == table["rows"] and again["lowest_coverage"] == table["lowest_coverage"]


def test_verdict_rule_two_outcomes():
    better = verdict("ifdd", "baseline", UAR, 0.042, (0.011, 0.073), "bootstrap")
    assert better["better"] == "ifdd"
    assert better["text"].startswith("UAR, ifdd vs baseline: ifdd better than baseline by 4.2 points")
    assert "+1.1 to +7.3" in better["text"]
    worse = verdict("ifdd", "baseline", UAR, -0.042, (-0.073, -0.011), "bootstrap")
    assert worse["better"] == "baseline"
    leakage = Metric("identity_leakage", "leakage", higher_is_better=False, per_sample=False)
    less = verdict("dicefer", "baseline", leakage, -0.30, (-0.40, -0.20), "t")
    assert less["better"] == "dicefer" and "95 % t over cells interval" in less["text"]

    none = verdict("ifdd", "baseline", UAR, 0.008, (-0.023, 0.039), "bootstrap")
    assert none["better"] is None and none["half_width"] == pytest.approx(0.031)
    assert "no detectable difference (± 3.1 points" in none["text"]
    assert "excludes zero" in VERDICT_RULE and "no detectable difference" in VERDICT_RULE
    assert "widened by the test samples' noise" in VERDICT_RULE


def test_a_verdict_names_its_interval_and_any_that_disagrees():
    intervals = {"bootstrap": (0.046, 0.245), "t": (-0.077, 0.382), "t_samples": (-0.165, 0.469)}
    decided = decide("faceid", "none", UAR, 0.152, intervals, "t_samples", "why it is this interval")
    assert decided["better"] is None
    assert decided["text"].startswith("UAR, faceid vs none: no detectable difference (± 31.7 points")
    assert decided["text"].endswith(
        "[interval: why it is this interval; the bootstrap (test samples and cells) interval (+4.6 to +24.5) "
        "would call faceid better]"
    )
    agreeing = decide("faceid", "none", UAR, 0.152, intervals | {"bootstrap": (-0.1, 0.3)}, "t_samples", "w")
    assert agreeing["text"].endswith("[interval: w]")


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


#: IFDD and its baseline only (the demo's grid adds the controls, ablations and null control)
TWO_MODELS = {
    "variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2"],
    "settings": {},
    "compare": [["ifdd_mobilenetv2", "baseline_mobilenetv2"]],
}


def test_summary_of_a_study(tmp_path):
    params = validate_params(
        {
            "study": {
                "seeds": [0, 1],
                "folds": [1, 2],
                "ifdd": TWO_MODELS,
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
    assert uar["cells"] == 4 and uar["interval"] == "t_samples"
    assert uar["verdict_interval"] == uar["t_samples_interval"] and uar["bootstrap"] is not None
    assert uar["verdict"]["better"] == "ifdd_mobilenetv2"
    assert (
        "[interval: t over the 4 cells widened by the test samples' bootstrap variance"
        in (uar["verdict"]["text"])
    )
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


def test_power_where_one_degree_of_freedom_gives_nan():
    """A target 20 SDs wide: at two cells statsmodels' power is NaN and its solver does not converge (a
    DICE-FER study stopped on it); three cells are counted directly instead."""
    diffs = np.array([0.1, 0.1015, 0.103])  # SD 0.0015: the 3-point target is 20 SDs
    assert np.isnan(TTestPower().power(0.03 / diffs.std(ddof=1), nobs=2, alpha=0.05))
    result = power(diffs, folds=1)
    assert result["cells_for_target"] == 3 and np.isfinite(result["min_detectable_t"])


def test_compare_studies_pairs_only_the_common_cells(tmp_path):
    """scripts/compare_studies.py: the same variant from two projects (e.g. init faceid against none),
    paired on the (fold, seed) cells both hold, sized for power by the folds they share."""
    rng = np.random.default_rng(1)
    fold_labels = {f: list(rng.choice(CLASSES, 90)) for f in (1, 2)}
    grids = {"a": ([1, 2], 0.9), "b": ([1], 0.5)}
    for name, (folds, rate) in grids.items():
        project = tmp_path / name
        study = {
            "seeds": [0, 1, 2],
            "folds": folds,
            "ifdd": TWO_MODELS,
            "dicefer": {"settings": {}, "compare": []},
        }
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
        assert c["cells"] == 3 and {r["fold"] for r in c["per_cell"]} == {1}
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
