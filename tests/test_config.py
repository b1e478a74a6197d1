"""Parameter validation: every error names the key's full path and what was expected; the schema's defaults
are params.yaml's."""

import copy
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from ferflow.cli import main
from ferflow.config import Params, ParamsError, load_params, validate_params

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.synthetic.size == "demo"


def _leaves(value, prefix=""):
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _leaves(sub, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), value


def _schema_keys(raw: dict, model: type[BaseModel] = Params, prefix: str = "") -> list[str]:
    """Every key of a parameter mapping that the schema defines: its sections and the keys inside them. A
    value that is a mapping of its own (`ifdd.model`'s factory arguments, dataset `options`, a study's
    overrides and settings) is one key: its entries are values the schema cannot know."""
    keys = []
    for name, value in raw.items():
        keys.append(f"{prefix}{name}")
        sub = model.model_fields[name].annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(value, dict):
            keys += _schema_keys(value, sub, f"{prefix}{name}.")
    return keys


def test_the_schemas_defaults_are_the_repository_params():
    """One source of defaults: a key left out of a parameter file takes the value params.yaml shows."""
    shipped = dict(_leaves(load_params(REPO / "params.yaml").model_dump(mode="json")))
    defaults = dict(_leaves(Params().model_dump(mode="json")))
    differing = {k: (defaults.get(k), shipped.get(k)) for k in shipped.keys() | defaults.keys()}
    assert {k: v for k, v in differing.items() if v[0] != v[1]} == {}, "(schema default, params.yaml)"


def test_removing_any_key_from_params_yaml_resolves_the_same_parameters():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    resolved = validate_params(raw).model_dump(mode="json")
    keys = _schema_keys(raw)
    assert len(keys) > 150 and "ifdd.train.epochs" in keys and "dicefer.runtime.threads" in keys
    for key in keys:
        pruned = copy.deepcopy(raw)
        *parents, last = key.split(".")
        node = pruned
        for part in parents:
            node = node[part]
        del node[last]
        assert validate_params(pruned, "params.yaml").model_dump(mode="json") == resolved, key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"synthetic": {"sise": "tiny"}}, "synthetic.sise: unknown key"),
        ({"sythetic": {}}, "sythetic: unknown key"),
        ({"synthetic": {"frame_size": "big"}}, "synthetic.frame_size: Input should be a valid integer"),
        (
            {"synthetic": {"frame_size": 12}},
            "synthetic.frame_size: Input should be greater than or equal to 96",
        ),
        (
            {"synthetic": {"size": "huge"}},
            "synthetic.size: Input should be 'tiny', 'demo', 'small' or 'large'",
        ),
        ({"synthetic": {"episode_frames": [12, 4]}}, "synthetic.episode_frames: low (12) is above high (4)"),
        ({"synthetic": {"apex_intensity": [0.5]}}, "synthetic.apex_intensity: expected [low, high]"),
        (
            {"synthetic": {"apex_intensity": [0.5, 1.5]}},
            "synthetic.apex_intensity.high: Input should be less",
        ),
        ({"synthetic": {"distractor_prob": -0.1}}, "synthetic.distractor_prob: Input should be greater"),
        (
            {"study": {"dicefer": {"settings": {"paper": {"delt": 0.1}}, "compare": []}}},
            "study.dicefer.settings.paper.delt: unknown key",
        ),
        (
            {"study": {"dicefer": {"settings": {"paper": {"stage_epochs": [1]}}, "compare": []}}},
            "study.dicefer.settings.paper: stage_epochs: expected 3 numbers",
        ),
        (
            {"study": {"ifdd": {"overrides": {"train": {"seed": 1}}}}},
            "study.ifdd.overrides.train.seed: set by the study (study.seeds), not by an override",
        ),
        ({"study": {"ifdd": {"overrides": {"dropout": 2}}}}, "study.ifdd.overrides.dropout: Input should be"),
        (
            {"study": {"dicefer": {"compare": [["paper", "x"]]}}},
            "study.dicefer: compare: [paper, x] must name",
        ),
        ({"study": {"seeds": [0, 0]}}, "study.seeds: repeats a value"),
    ],
)
def test_bad_values_name_their_key(raw, expected):
    with pytest.raises(ParamsError) as err:
        validate_params(raw, "params.yaml")
    assert expected in str(err.value)
    assert str(err.value).startswith("params.yaml: invalid parameters")


def test_all_errors_reported_at_once():
    with pytest.raises(ParamsError) as err:
        validate_params({"synthetic": {"seed": -1, "fps": 0}})
    assert "synthetic.seed" in str(err.value) and "synthetic.fps" in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="parameter file not found"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("synthetic: [unclosed\n")
    with pytest.raises(ParamsError, match=r"bad\.yaml, line 2, column 1: not valid YAML"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        load_params(bad)


def test_cli_reports_bad_params_without_traceback(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"synthetic": {"size": "tiny", "crf": 99}}))
    assert main(["params", "--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert "synthetic.crf: Input should be less than or equal to 51 (got 99)" in err
    assert "Traceback" not in err


def test_cli_prints_resolved_params(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text("synthetic: {size: tiny}\n")
    assert main(["params", "--params", str(path)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["synthetic"]["size"] == "tiny"
    assert printed["synthetic"]["episode_frames"] == [8, 16]


# ------------------------------------------------------------------ everything the parameters name


def test_video_model_names_match_the_registry():
    """ifdd.variants is checked against a torch-free list (fast at Snakemake parse time): it must name
    exactly the registered models that take clips."""
    from ferflow.model_names import VIDEO_MODELS
    from ferflow.models import list_models, model_arguments

    assert set(VIDEO_MODELS) == {m for m in list_models() if "num_frames" in model_arguments(m)}


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        (
            {"ifdd": {"variants": ["ifdd_resnet"]}},
            ["ifdd.variants: not video models: ['ifdd_resnet']; known: ifdd_mvit, ifdd_mobilenetv2"],
        ),
        (
            {"ifdd": {"model": {"pool_init": "mean", "width_mult": 0.5}}},
            ["ifdd.model: ['pool_init'] set by the section itself (ifdd.pool_init), not by model; move them"],
        ),
        (
            {"ifdd": {"issm_sampling": "exakt", "ladm_input_norm": {"vit": True}}},
            [
                "ifdd.issm_sampling: Input should be 'shifted' or 'exact' (got 'exakt')",
                "ifdd.ladm_input_norm.vit: Input should be 'mobilenetv2' or 'mvit' (got 'vit')",
            ],
        ),
        (
            {"ifdd": {"train": {"device": "gpu"}}, "dicefer": {"runtime": {"device": "cuda:x"}}},
            [
                "ifdd.train.device: expected auto, cpu, cuda or cuda:N (N a GPU index) (got 'gpu')",
                "dicefer.runtime.device: expected auto, cpu, cuda or cuda:N",
            ],
        ),
        (
            {"data": {"video": {"dataset": "dfew", "root": "/no/such/DFEW"}}},
            ["data.video.root: no such folder: give the folder the dataset lives in (got '/no/such/DFEW')"],
        ),
        (
            {"data": {"video": {"dataset": "dfew", "root": "."}}, "ifdd": {"folds": [2, 6]}},
            ["ifdd.folds: dfew has folds 1..5, got [2, 6]"],
        ),
        (
            {"data": {"video": {"dataset": "ferv39k", "root": "."}}, "ifdd": {"folds": [1]}},
            ["ifdd.folds: ferv39k has one fixed train/test split, no folds: set ifdd.folds to null"],
        ),
        (
            {
                "data": {
                    "video": {
                        "dataset": "dfew",
                        "root": ".",
                        "options": {"media": "avi", "label_base": 2, "labels": "x", "max_skip_fraction": 1},
                    },
                    "image": {"dataset": "rafdb", "root": ".", "options": {"media": "frames16"}},
                }
            },
            [
                "data.video.options.media: expected one of frames, frames16, video, got 'avi'",
                "data.video.options.label_base: expected one of auto, 0, 1, got 2",
                "data.video.options.labels: not an option of dfew; its options: split_dir, media,",
                "data.video.options.max_skip_fraction: set by the pipeline (see data.max_skip_fraction)",
                "data.image.options.media: expected one of aligned, original, got 'frames16'",
            ],
        ),
        (
            {
                "data": {"video": {"dataset": "ferv39k", "root": ".", "options": {"media": "video"}}},
                "ifdd": {"folds": None},  # FERV39k has one split
            },
            ["data.video.options.media_dir: FERV39k videos need it"],
        ),
    ],
)
def test_what_the_parameters_name_is_checked_on_load(raw, lines):
    with pytest.raises(ParamsError) as err:
        validate_params(raw, "params.yaml")
    message = str(err.value)
    sections = list(dict.fromkeys(line.split(".")[0] for line in lines))
    assert message.splitlines()[0] == f"params.yaml: invalid parameters (sections: {', '.join(sections)})"
    for line in lines:
        assert f"\n  {line}" in message, message


def test_a_yaml_syntax_error_names_line_and_column(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("synthetic:\n  size: tiny\n data:\n  shards: 2\n")
    with pytest.raises(ParamsError) as err:
        load_params(bad)
    assert str(err.value).startswith(f"{bad}, line 3, column 2: not valid YAML (")
    assert str(err.value).endswith("; fix the file there")
