"""Shared test set-up: nothing may reach a model hub, and plots never need a display."""

import os

import pytest

from ferflow.config import SyntheticParams

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

TINY = SyntheticParams(size="tiny", seed=3)


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory):
    """The tiny embedded benchmark, generated once per test session (read-only: copy before changing)."""
    from ferflow.data.synthetic.generate import generate

    out = tmp_path_factory.mktemp("synthetic") / "tiny"
    generate(TINY, out, workers=2)
    return out
