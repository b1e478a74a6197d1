"""The study grid: its cells and their parameters, the Snakemake plan, and (slow) a real run that is then
extended by a seed and a fold without re-running any finished cell."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_stats import CLASSES, _write_cell
from test_workflow import TINY_PARAMS, snakemake

from ferflow.config import validate_params
from ferflow.evaluate.study_summary import CellResult, issm_hit_rates, summarize_study
from ferflow.study import Cell, cell_params_json, cells, shared_settings, study_folds

#: IFDD and its baseline only (the demo's grid adds the controls, ablations and null control)
TWO_MODELS = {
    "variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2"],
    "settings": {},
    "compare": [["ifdd_mobilenetv2", "baseline_mobilenetv2"]],
}
STUDY = {"seeds": [0], "folds": [1], "ifdd": TWO_MODELS, "dicefer": {"settings": {"demo": {}}, "compare": []}}


def _params(**study):
    return validate_params(
        {"synthetic": {"size": "tiny"}, "ifdd": {"train": {"lr": 0.002}}, "study": {**STUDY, **study}}
    )


def test_cells_cover_the_grid():
    params = _params(
        seeds=[0, 1],
        folds=None,
        dicefer={"settings": {"a": {}, "b": {"lr": 2e-4}}, "compare": [["a", "b"]]},
    )
    assert study_folds(params) == [1, 2, 3, 4, 5]  # the benchmark's folds, like DFEW's
    found = cells(params)
    assert sum(c.family == "ifdd" for c in found) == 2 * 2 * 5
    assert sum(c.family == "dicefer" for c in found) == 2 * 2 * 2
    assert Cell("dicefer", "baseline", "b", 1, 0).folder == "results/study/dicefer/b/baseline/seed_1"
    assert found[0].folder == "results/study/ifdd/ifdd_mobilenetv2/seed_0/fold_1"


def test_a_cell_trains_with_its_section_its_seed_and_the_overrides():
    params = _params(
        ifdd={"overrides": {"train": {"epochs": 3}, "model": {"width_mult": 0.35}}},
        dicefer={"settings": {"paper": {"delta": 0.1, "runtime": {"threads": 1}}}, "compare": []},
    )
    ifdd = json.loads(cell_params_json(params, Cell("ifdd", "ifdd_mobilenetv2", "", 2, 1)))
    assert set(ifdd) == {"ifdd"}
    train = ifdd["ifdd"]["train"]
    assert (train["seed"], train["epochs"], train["lr"]) == (2, 3, 0.002)
    assert ifdd["ifdd"]["model"]["width_mult"] == 0.35
    dicefer = json.loads(cell_params_json(params, Cell("dicefer", "dicefer", "paper", 1, 0)))
    assert dicefer["dicefer"]["delta"] == 0.1 and dicefer["dicefer"]["runtime"]["seed"] == 1
    # a cell's params are its job key (ferflow.jobs): runtime settings travel as the rule's resources, and
    # the baseline's key leaves out DICE-FER's own keys
    assert "threads" not in dicefer["dicefer"]["runtime"]
    baseline = json.loads(cell_params_json(params, Cell("dicefer", "baseline", "paper", 1, 0)))
    assert "delta" not in baseline["dicefer"] and baseline["dicefer"]["runtime"]["seed"] == 1
    assert validate_params(json.loads(cell_params_json(params, Cell("ifdd", "ifdd_mobilenetv2", "", 2, 1))))


def test_growing_the_study_leaves_every_cell_params_alone():
    """Snakemake re-runs a job whose params changed: seeds, folds, settings and pairs must not touch them."""
    small = _params()
    grown = _params(
        seeds=[0, 1, 2],
        folds=[1, 2],
        dicefer={"settings": {"demo": {}, "paper": {"delta": 0.1}}, "compare": [["paper", "demo"]]},
        bootstrap={"resamples": 500},
    )
    for cell in cells(small):
        assert cell in cells(grown)
        assert cell_params_json(small, cell) == cell_params_json(grown, cell), cell


def test_image_controls_join_a_study_and_its_pairs():
    params = _params(
        dicefer={
            "settings": {"demo": {}},
            "compare": [],
            "models": ["dicefer", "baseline", "control_image_static", "control_image_reference"],
            "pairs": [["dicefer", "baseline"], ["control_image_reference", "control_image_static"]],
        }
    )
    found = [c for c in cells(params) if c.family == "dicefer"]
    assert [c.model for c in found] == [
        "dicefer",
        "baseline",
        "control_image_static",
        "control_image_reference",
    ]
    assert found[3].folder == "results/study/dicefer/demo/control_image_reference/seed_0"
    key = json.loads(cell_params_json(params, found[2]))["dicefer"]
    assert "control_epochs" in key and not {"delta", "init", "lr", "baseline_epochs"} & set(key)
    with pytest.raises(ValueError, match=r"pairs: \[dicefer, control_image_static\] must name two of"):
        _params(
            dicefer={"settings": {"a": {}}, "compare": [], "pairs": [["dicefer", "control_image_static"]]}
        )
    with pytest.raises(ValueError, match="control_image_statc"):
        _params(
            dicefer={"settings": {"a": {}}, "compare": [], "models": ["control_image_statc"], "pairs": []}
        )
    with pytest.raises(ValueError, match="settings are compared on DICE-FER"):
        _params(dicefer={"models": ["baseline"], "pairs": []})


def test_the_summary_compares_the_pairs_of_every_setting(tmp_path):
    params = _params(
        dicefer={
            "settings": {"a": {}, "b": {"batch_size": 16}},  # b changes what both models train with
            "compare": [],
            "models": ["baseline", "control_image_static"],
            "pairs": [["control_image_static", "baseline"]],
        }
    )
    for i, cell in enumerate(c for c in cells(params) if c.family == "dicefer"):
        folder = tmp_path / cell.folder / "eval"
        folder.mkdir(parents=True)
        correct = cell.model == "baseline" or i % 2
        metrics = {"uar": 0.5 + 0.1 * correct, "war": 0.5 + 0.1 * correct}
        (folder / "metrics.json").write_text(json.dumps(metrics))
    summary = summarize_study(params, tmp_path, tmp_path / "summary.json")
    pairs = {(c["a"], c["b"]) for c in summary["comparisons"] if c["family"] == "dicefer"}
    assert pairs == {("control_image_static[a]", "baseline[a]"), ("control_image_static[b]", "baseline[b]")}


SETTINGS = {
    "ifdd_fixed": {"model": "ifdd_mobilenetv2", "split": "fixed"},
    "null": {"model": "control_dynamics", "train": {"permute_labels": True}},
}


def test_named_settings_are_variants_of_their_model_with_their_changes():
    params = _params(
        ifdd={
            "variants": ["ifdd_mobilenetv2", "ifdd_fixed", "null"],
            "settings": SETTINGS,
            "overrides": {"train": {"epochs": 3}},
            "compare": [["ifdd_mobilenetv2", "ifdd_fixed"], ["null", "chance"]],
        }
    )
    ifdd_cells = [c for c in cells(params) if c.family == "ifdd"]
    assert [c.model for c in ifdd_cells] == ["ifdd_mobilenetv2", "ifdd_fixed", "null"]
    assert ifdd_cells[1].folder == "results/study/ifdd/ifdd_fixed/seed_0/fold_1"
    keys = {c.model: json.loads(cell_params_json(params, c))["ifdd"] for c in ifdd_cells}
    assert keys["ifdd_fixed"]["split"] == "fixed" and keys["ifdd_mobilenetv2"]["split"] == "issm"
    assert keys["ifdd_fixed"] == keys["ifdd_mobilenetv2"] | {"split": "fixed"}  # nothing else differs
    assert keys["null"]["variants"] == ["control_dynamics"] and keys["null"]["train"]["permute_labels"]
    assert keys["null"]["train"]["epochs"] == 3  # the overrides first, then the setting
    assert keys["null"]["init"] == "none"  # the controls start from scratch whatever ifdd.init says


@pytest.mark.parametrize(
    ("ifdd", "message"),
    [
        ({"variants": ["x"]}, "variants: \\['x'\\] are neither video models nor names in settings"),
        ({"settings": {"x": {"split": "fixed"}}}, "settings.x.model: give one of"),
        ({"settings": {"control_static": {"model": "control_static"}}}, "may not take a model's name"),
        ({"compare": [["chance", "ifdd_mobilenetv2"]]}, "chance second"),
        (
            {"variants": ["x"], "settings": {"x": {"model": "ifdd_mobilenetv2", "splt": "fixed"}}},
            "study.ifdd.settings.x.splt: unknown key",
        ),
        (
            {"variants": ["x"], "settings": {"x": {"model": "ifdd_mobilenetv2", "train": {"seed": 2}}}},
            "study.ifdd.settings.x.train.seed: set by the study",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key(ifdd, message):
    from ferflow.config import ParamsError

    with pytest.raises(ParamsError, match=message):
        _params(ifdd={"compare": [], **ifdd})


@pytest.fixture
def study_project(tmp_path) -> Path:
    study = yaml.safe_dump({"study": STUDY}, default_flow_style=None)
    (tmp_path / "params.yaml").write_text(f"synthetic:\n  size: tiny\n  seed: 1\n{TINY_PARAMS}{study}")
    return tmp_path


def _planned(project: Path, *args: str) -> dict[str, int]:
    result = snakemake(project, "study", "-n", "--cores", "2", "--quiet", "rules", *args)
    assert result.returncode == 0, result.stderr
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", result.stdout, re.M)}


def _grow(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["study"] |= {"seeds": [0, 1], "folds": [1, 2]}
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def test_study_target_plans_every_cell(study_project):
    planned = _planned(study_project)
    assert planned["study_train_ifdd"] == planned["study_evaluate_ifdd"] == 2
    assert planned["study_train_dicefer"] == planned["study_evaluate_dicefer"] == 2
    assert planned["study"] == 1 and "train_ifdd" not in planned  # the demo's own jobs are not needed
    _grow(study_project)
    assert _planned(study_project)["study_train_ifdd"] == 2 * 2 * 2


def test_a_setting_cell_trains_its_model(study_project):
    params = yaml.safe_load((study_project / "params.yaml").read_text())
    params["study"]["ifdd"] = {"variants": ["null"], "settings": SETTINGS, "compare": [["null", "chance"]]}
    (study_project / "params.yaml").write_text(yaml.safe_dump(params))
    result = snakemake(study_project, "study", "-n", "-p", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert "--variant control_dynamics" in result.stdout
    assert "--out results/study/ifdd/null/seed_0/fold_1" in result.stdout
    # the benchmark's ground truth reaches the evaluation, which then writes where ISSM's frames fell
    evaluate = next(line for line in result.stdout.splitlines() if " evaluate-ifdd " in line)
    assert "--truth data/raw/synthetic/tiny/ground_truth/clips.csv" in evaluate


def test_a_cell_runs_with_the_runtime_its_overrides_give(study_project):
    params = yaml.safe_load((study_project / "params.yaml").read_text())
    params["study"]["ifdd"] = {"overrides": {"train": {"threads": 2, "num_workers": 1}}}
    params["study"]["dicefer"]["settings"]["demo"] = {"runtime": {"threads": 1}}
    (study_project / "params.yaml").write_text(yaml.safe_dump(params))
    result = snakemake(study_project, "study", "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    jobs = {}  # rule -> (threads, resources); Snakemake leaves out "threads: 1"
    for block in result.stdout.split("\nrule ")[1:]:
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        jobs[block.split(":")[0]] = (int(threads[1]) if threads else 1, resources[1])
    assert jobs["study_train_ifdd"][0] == 2 and "loader_workers=1" in jobs["study_train_ifdd"][1]
    assert jobs["study_train_dicefer"][0] == 1 and "loader_workers=0" in jobs["study_train_dicefer"][1]


SHARED = {
    "settings": {
        "none_paper": {"init": "none", "delta": 0.1},
        "none_no_l1": {"init": "none", "delta": 0.0, "runtime": {"threads": 1}},
        "faceid_no_l1": {"init": "faceid", "delta": 0.0},
    },
    "compare": [["none_paper", "none_no_l1"]],
}


def test_settings_differing_in_dicefer_keys_only_train_one_baseline(study_project, tmp_path):
    """delta is DICE-FER's own key (and threads a runtime one): none_no_l1 is compared with none_paper's
    baseline cells, trained once per seed; faceid_no_l1's baseline starts elsewhere and trains on its own."""
    params = _params(seeds=[0, 1], dicefer=SHARED)
    shared = {"none_paper": "none_paper", "none_no_l1": "none_paper", "faceid_no_l1": "faceid_no_l1"}
    assert shared_settings(params, "baseline") == shared
    assert shared_settings(params, "dicefer") == {s: s for s in shared}  # delta reaches DICE-FER
    assert {c.setting for c in cells(params) if c.model == "baseline"} == {"none_paper", "faceid_no_l1"}

    study = yaml.safe_load((study_project / "params.yaml").read_text())
    study["study"] |= {"seeds": [0, 1], "dicefer": SHARED}
    (study_project / "params.yaml").write_text(yaml.safe_dump(study))
    planned = _planned(study_project)
    assert planned["study_train_dicefer"] == planned["study_evaluate_dicefer"] == 2 * (3 + 2)

    labels = list(np.random.default_rng(0).choice(CLASSES, 30))
    for cell in cells(params):
        if cell.family == "dicefer":
            _write_cell(tmp_path, cell.folder, labels, np.arange(30) % (2 + cell.seed) > 0)
    summary = summarize_study(params, tmp_path, tmp_path / "summary.json")
    assert summary["shared_cells"] == {"baseline[none_no_l1]": "baseline[none_paper]"}
    pairs = {(c["a"], c["b"]) for c in summary["comparisons"] if c["metric"] == "uar"}
    assert ("dicefer[none_no_l1]", "baseline[none_paper]") in pairs
    assert ("dicefer[faceid_no_l1]", "baseline[faceid_no_l1]") in pairs
    assert not [folder for folder in summary["missing"] if "/dicefer/" in folder]


@pytest.mark.slow
def test_study_runs_then_a_new_seed_and_fold_reuse_every_finished_cell(study_project):
    result = snakemake(study_project, "study", "--cores", "2")
    assert result.returncode == 0, result.stderr
    summary = json.loads((study_project / "results" / "study" / "summary.json").read_text())
    assert not summary["missing"] and len(summary["cells"]) == 4
    uar = next(c for c in summary["comparisons"] if c["family"] == "ifdd" and c["metric"] == "uar")
    assert uar["cells"] == 1 and uar["bootstrap"] is not None and uar["t_interval"] is None
    log = (study_project / "logs" / "study" / "summarize.log").read_text()
    assert "Verdict rule: A model is called better only when" in log and "UAR, ifdd_mobilenetv2 vs" in log
    assert (study_project / "results" / "study" / "cells.tsv").is_file()

    _grow(study_project)
    dry = snakemake(study_project, "study", "-n", "--cores", "2")
    assert dry.returncode == 0, dry.stderr
    planned = set(re.findall(r"results/study/\S+/model\.pt", dry.stdout))
    assert len(planned) == 2 * 3 + 2  # IFDD: 2 variants x 3 new cells; DICE-FER: 2 models x 1 new seed
    assert not any("seed_0/fold_1/" in p or p.endswith("seed_0/model.pt") for p in planned), planned


def test_issm_hit_rate_is_compared_with_a_random_frame_over_cells():
    """Dynamic frames in the episode against the episode's share of the clip: a steady excess is called,
    one that flips sign across cells is not, and variants without ISSM outputs are left out."""

    def results(hits: list[float]) -> list[CellResult]:
        episode = {"static_in_episode": 0.2, "episode_share": 0.4}
        return [
            CellResult(Cell("ifdd", "v", "", 0, fold), episode=episode | {"dynamic_in_episode": h})
            for fold, h in enumerate(hits, 1)
        ]

    rates = issm_hit_rates(
        {
            "steady": results([0.61, 0.58, 0.63, 0.60, 0.59]),
            "flips": results([0.55, 0.30, 0.52, 0.28, 0.45]),
            "no_issm": [CellResult(Cell("ifdd", "v", "", 0, 1))],
        }
    )
    assert set(rates) == {"steady", "flips"}
    steady = rates["steady"]
    assert steady["cells"] == 5 and steady["difference"] == pytest.approx(0.202)
    assert steady["t_interval"][0] > 0 and "more often than chance" in steady["verdict"]
    assert rates["flips"]["t_interval"][0] < 0 < rates["flips"]["t_interval"][1]
    assert "no detectable difference" in rates["flips"]["verdict"]
