"""Shared test set-up: nothing may reach a model hub, plots never need a display, and tests marked `cuda`
are skipped, with the reason, where no GPU is visible."""

import os

import pytest

from ferflow.config import SyntheticParams

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Deterministic cuBLAS, for the exact-resumption test on CUDA (read when CUDA starts, so set it here).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="CUDA is not available (torch.cuda.is_available() is False); run on a GPU machine: "
        "pytest -m cuda, or scripts/device-check.sh"
    )
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


TINY = SyntheticParams(size="tiny", seed=3)


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory):
    """The tiny embedded benchmark, generated once per test session (read-only: copy before changing)."""
    from ferflow.data.synthetic.generate import generate

    out = tmp_path_factory.mktemp("synthetic") / "tiny"
    generate(TINY, out, workers=min(os.cpu_count() or 2, 8))  # the same files whatever the workers
    return out
