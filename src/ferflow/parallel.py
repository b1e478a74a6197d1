"""Run independent jobs in worker processes with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from tqdm import tqdm

R = TypeVar("R")


def map_with_progress(
    fn: Callable[..., R], jobs: Sequence[tuple[Any, ...]], workers: int, desc: str
) -> list[R]:
    """`[fn(*job) for job in jobs]`, in `workers` processes when above 1, results in job order."""
    results: list[R] = []
    with tqdm(total=len(jobs), desc=desc, unit="item", dynamic_ncols=True) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                results.append(fn(*job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(fn, *zip(*jobs, strict=True), chunksize=2):
                    results.append(result)
                    bar.update()
    return results
