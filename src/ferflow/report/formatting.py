"""How the report writes values in its tables: percentages, numbers, signed differences, and "not run"."""

from __future__ import annotations

from typing import Any

NA = "\u2013"  # an en dash: what a table shows for a missing value


def not_run(reason: str) -> dict[str, Any]:
    """A section whose inputs are absent, and why."""
    return {"ran": False, "reason": reason}


def pct(value: Any, digits: int = 2) -> str:
    return NA if value is None else f"{100 * float(value):.{digits}f}"


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def diff(value: Any, scale: float) -> str:
    """A signed difference: points for rates (scale 100), as it is otherwise (MIG)."""
    return NA if value is None else f"{scale * float(value):+.{1 if scale == 100 else 3}f}"


def mean_sd(spread: dict[str, Any] | None, key: str) -> str:
    """Mean ± SD over cells: percent for rates, as it is for MIG."""
    if not spread:
        return NA
    if key == "mig":
        return f"{num(spread['mean'])} ± {num(spread['sd'])}"
    return f"{pct(spread['mean'], 1)} ± {pct(spread['sd'], 1)}"


def selection(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """How a run's model was selected, with the optimistic flag for selection on the test fold."""
    if not metrics:
        return {"text": NA, "optimistic": False}
    chosen = metrics.get("selection", "last")
    epoch = metrics.get("selected_epoch")
    optimistic = bool(metrics.get("optimistic")) or chosen == "test"
    text = {"last": "last epoch", "val": "best on validation split", "test": "best on the test fold"}.get(
        chosen, str(chosen)
    )
    if epoch is not None:
        text += f" (epoch {epoch})"
    return {"text": text, "optimistic": optimistic}
