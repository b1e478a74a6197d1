"""What every benchmark shares: machine facts, interleaved timing, rates and ratios."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import av
import numpy as np
import torch


def machine_info() -> dict[str, Any]:
    """CPU count, torch threads, platform and library versions, and the load average now."""
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "av": av.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def interleaved_times(
    jobs: dict[str, Callable[[int], object]], items: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[object]]]:
    """Seconds each job spends on items 0..`items`-1, in each of `repeats` rounds, after one untimed
    warm-up round.

    The jobs take turns item by item, in an order that rotates with the item and the round, so a slow spell
    caused by other processes falls on every job alike. Returns the times and the warm-up round's results.
    """
    first = {name: [job(j) for j in range(items)] for name, job in jobs.items()}
    names = list(jobs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        spent = dict.fromkeys(names, 0.0)
        for j in range(items):
            k = (r + j) % len(names)
            for name in names[k:] + names[:k]:
                start = time.perf_counter()
                jobs[name](j)
                spent[name] += time.perf_counter() - start
        for name in names:
            times[name].append(spent[name])
    return times, first


def rate(count: int, seconds: Sequence[float]) -> float:
    return round(count / float(np.median(seconds)), 3)


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of the time ratio measured within each round."""
    return round(float(np.median(np.asarray(numerator) / np.asarray(denominator))), 4)
