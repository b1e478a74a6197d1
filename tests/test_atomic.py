"""The one atomic writer: whole files or none, with the mode a plain `open` gives."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch

from ferflow.core.atomic import atomic_path, write_bytes, write_json, write_text
from ferflow.core.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_files_get_the_umask_mode_not_mkstemps(tmp_path, umask_027):
    write_json(tmp_path / "a" / "m.json", {"x": 1})
    write_bytes(tmp_path / "b.bin", b"\x00")
    save_checkpoint(tmp_path / "c.pt", {"w": torch.ones(2)})
    for name in ("a/m.json", "b.bin", "c.pt"):
        assert _mode(tmp_path / name) == 0o640, name


def test_json_round_trips_and_ends_with_a_newline(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {"uar": 0.5, "classes": ["a", "b"]})
    text = path.read_text()
    assert text.endswith("}\n") and json.loads(text) == {"uar": 0.5, "classes": ["a", "b"]}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    write_text(path, "old\n")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_checkpoint_round_trips(tmp_path):
    state = {"epoch": 3, "model": {"w": torch.arange(4.0)}}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "ck.pt", state))
    assert loaded["epoch"] == 3 and torch.equal(loaded["model"]["w"], state["model"]["w"])
