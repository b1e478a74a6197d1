"""A job's key holds what its result depends on, and nothing else (ferflow.jobs)."""

from __future__ import annotations

import os

import pytest

from ferflow.config import IFDDParams, validate_params
from ferflow.jobs import data_key, dicefer_key, ifdd_key

BASE = validate_params(
    {
        "ifdd": {
            "variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2"],
            "folds": [1],
            "init": {"mobilenetv2": "faceid"},
        }
    }
)


def _ifdd(**update) -> IFDDParams:
    raw = BASE.ifdd.model_dump(mode="json")
    for key, value in update.items():
        section, _, name = key.rpartition(".")
        (raw[section] if section else raw)[name] = value
    return validate_params({"ifdd": raw}).ifdd


@pytest.mark.parametrize(
    "change",
    [
        {"folds": [1, 2, 3]},
        {"folds": None},
        {"variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2", "ifdd_mvit"]},
        {"train.num_workers": 4},
        {"train.threads": 2},
        {"train.device": "cuda:1"},
        {"train.gpus": 2},
        {"init_backbone_from": {"baseline_mobilenetv2": "elsewhere/model.pt"}},
        {"issm_sampling": {"mvit": "exact"}},  # another family's setting
        {"pool_init": "mean"},  # the variant's own value, now spelled out
    ],
)
def test_ifdd_key_ignores_what_does_not_change_the_result(change):
    assert ifdd_key(_ifdd(**change), "ifdd_mobilenetv2") == ifdd_key(BASE.ifdd, "ifdd_mobilenetv2")


@pytest.mark.parametrize(
    "change",
    [
        {"train.lr": 0.5},
        {"train.seed": 3},
        {"train.amp": False},
        {"model": {"width_mult": 0.5}},
        {"lifting_weight": 0.0},
        {"init_backbone_from": {"ifdd_mobilenetv2": "results/x/fold_{fold}/model.pt"}},
        {"issm_sampling": "shifted"},
        {"ladm_input_norm": {"mobilenetv2": True}},
    ],
)
def test_ifdd_key_holds_what_does(change):
    assert ifdd_key(_ifdd(**change), "ifdd_mobilenetv2") != ifdd_key(BASE.ifdd, "ifdd_mobilenetv2")


def test_a_baseline_key_holds_none_of_ifdds_per_variant_settings():
    changed = _ifdd(issm_sampling="shifted", lifting_reduction="sum", ladm_input_norm=True)
    assert ifdd_key(changed, "baseline_mobilenetv2") == ifdd_key(BASE.ifdd, "baseline_mobilenetv2")


def test_a_key_added_to_a_section_counts_at_once():
    """A new result-changing key (e.g. where a model's weights start) needs no wiring: it is in the key."""

    class WithInit(IFDDParams):
        init: str = "none"

    assert ifdd_key(WithInit(init="faceid"), "ifdd_mobilenetv2") != ifdd_key(WithInit(), "ifdd_mobilenetv2")


def test_an_ifdd_key_is_a_valid_section_for_its_job():
    p = _ifdd(init_backbone_from={"ifdd_mobilenetv2": "m_{fold}.pt"})
    job = validate_params({"ifdd": ifdd_key(p, "ifdd_mobilenetv2")}).ifdd
    assert job.variants == ["ifdd_mobilenetv2"] and ifdd_key(job, "ifdd_mobilenetv2") == ifdd_key(
        p, "ifdd_mobilenetv2"
    )


def test_dicefer_and_its_baseline_depend_on_their_own_keys():
    p = validate_params({}).dicefer

    def changed(**update):
        return p.model_copy(update=update)

    for model in ("dicefer", "baseline"):
        assert dicefer_key(changed(probe_folds=3), model) == dicefer_key(p, model)
        runtime = p.runtime.model_copy(update={"threads": 4, "num_workers": 3, "device": "cpu"})
        assert dicefer_key(changed(runtime=runtime), model) == dicefer_key(p, model)
        assert dicefer_key(changed(lr=1.0), model) != dicefer_key(p, model)
    assert dicefer_key(changed(baseline_epochs=99), "dicefer") == dicefer_key(p, "dicefer")
    assert dicefer_key(changed(baseline_epochs=99), "baseline") != dicefer_key(p, "baseline")
    for update in ({"stage_epochs": [1, 1, 1]}, {"delta": 0.7}, {"code_dim": 8}):
        assert dicefer_key(changed(**update), "baseline") == dicefer_key(p, "baseline")
        assert dicefer_key(changed(**update), "dicefer") != dicefer_key(p, "dicefer")


def test_data_keys_are_per_branch():
    p = validate_params({})
    other = validate_params({"data": {"image_size": 64, "frames": 8}, "synthetic": {"seed": 5}})
    assert data_key(other, "clips") != data_key(p, "clips")  # frames and the benchmark's seed
    assert data_key(other, "images")["data"] != data_key(p, "images")["data"]  # image_size
    assert (
        data_key(p, "clips")["data"]
        == data_key(validate_params({"data": {"image_size": 64, "max_skip_fraction": 0.2}}), "clips")["data"]
    )


def test_the_image_split_is_in_the_image_data_key_only():
    p = validate_params({})
    for options in ({"test_identities": "unseen"}, {"holdout": "validation"}):
        split = validate_params({"data": {"image": {"options": options}}})
        assert data_key(split, "images") != data_key(p, "images")
        assert data_key(split, "clips") == data_key(p, "clips")


class _Threads(Exception):
    """Raised where a trainer sets its torch threads: the count, before any data is read."""


def test_threads_zero_means_half_the_cores_in_a_rule_and_by_hand_alike(tmp_path, monkeypatch):
    """The same params.yaml (threads 0 in every training section) gives a hand CLI run and a rule run
    (`--cores all`) the same torch thread count."""
    from test_workflow import snakemake

    from ferflow.cli import main

    zero = "{threads: 0, num_workers: 0}"
    (tmp_path / "params.yaml").write_text(
        f"synthetic: {{size: tiny}}\npretrain: {{train: {zero}}}\nifdd: {{folds: [1], train: {zero}}}\n"
        f"dicefer: {{runtime: {zero}}}\n"
    )
    jobs = {
        "train-ifdd": ("results/ifdd/ifdd_mobilenetv2/fold_1/model.pt", ["--variant=ifdd_mobilenetv2"]),
        "train-dicefer": ("results/dicefer/dicefer/model.pt", ["--model=dicefer"]),
        "pretrain": ("results/pretrain/resnet18/trunk.pt", ["--trunk", "resnet18", "--faces", "f"]),
    }
    dry = snakemake(tmp_path, *(target for target, _ in jobs.values()), "-n", "-p", "--cores", "all")
    assert dry.returncode == 0, dry.stderr
    monkeypatch.chdir(tmp_path)

    def stop(count: int) -> None:
        raise _Threads(count)

    monkeypatch.setattr("torch.set_num_threads", stop)
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    store = ([], ["--store", "s"])
    for command, (_, options) in jobs.items():
        shell = next(line for line in dry.stdout.splitlines() if f"-- {command} " in line).split()
        by_rule = int(shell[shell.index("--threads") + 1])
        with pytest.raises(_Threads) as by_hand:
            main([command, "--params", "params.yaml", "--out", "o", *options, *store[command != "pretrain"]])
        assert by_hand.value.args == (by_rule,) == (half,), command
