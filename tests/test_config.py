"""Parameter validation: every error names the key's full path and what was expected."""

from pathlib import Path

import pytest
import yaml

from ferflow.cli import main
from ferflow.config import ParamsError, load_params, validate_params

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.synthetic.size == "demo"


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
