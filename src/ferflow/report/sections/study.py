"""The study section: paired comparisons over folds and seeds, their verdicts, power, and every cell."""

from __future__ import annotations

from typing import Any

from ferflow.paths import STUDY_RESULTS, SUMMARY_FILE
from ferflow.report.figures.study import forest
from ferflow.report.formatting import NA, diff, mean_sd, not_run, num, pct
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader

STUDY_SUMMARY = STUDY_RESULTS / SUMMARY_FILE
METRICS = ("uar", "war", "identity_leakage", "mig")


def study_section(reader: Reader, gallery: Gallery) -> dict[str, Any]:
    """The study's ``summary.json`` (`ferflow.evaluate.study_summary.summarize_study`) as tables and a
    forest plot."""
    summary = reader.json(STUDY_SUMMARY)
    if summary is None:
        return not_run(f"no {STUDY_SUMMARY} (`make study` runs every fold x seed and compares)")
    comparisons = summary.get("comparisons") or []
    rows = [_comparison_row(c) for c in comparisons]
    models = [
        {"model": name, "cells": m.get("cells"), **{k: mean_sd(m.get(k), k) for k in METRICS}}
        for name, m in (summary.get("models") or {}).items()
    ]
    cells = [
        {
            "model": c["model"],
            "fold": c["fold"],
            "seed": c["seed"],
            **{k: (num(c[k]) if k == "mig" else pct(c[k], 1)) if k in c else NA for k in METRICS},
        }
        for c in summary.get("cells") or []
    ]
    power = [row for c in comparisons if (row := _power_row(c))]
    result: dict[str, Any] = {
        "ran": True,
        "rule": summary.get("rule", ""),
        "verdicts": summary.get("verdicts") or [],
        "seeds": summary.get("seeds"),
        "folds": summary.get("folds"),
        "bootstrap": summary.get("bootstrap") or {},
        "rows": rows,
        "models": models,
        "cells": cells,
        "power": power,
        "issm": [_issm_row(name, r) for name, r in (summary.get("issm_episode") or {}).items()],
        "missing": summary.get("missing") or [],
    }
    if comparisons:
        result["forest"] = gallery.figure(
            "study_forest",
            forest,
            [
                {
                    "label": c["label"],
                    "pair": f"{c['a']} - {c['b']}",
                    "mean": c["mean"],
                    "interval": c["verdict_interval"],
                    "t": c["t_interval"],
                    "kind": c["interval"],
                    "scale": c["scale"],
                    "better": c["verdict"]["better"] is not None,
                }
                for c in comparisons
            ],
        )
    return result


def _interval(c: dict[str, Any], key: str) -> str:
    found = c.get(key)
    return NA if not found else " to ".join(diff(v, c["scale"]) for v in found)


def _comparison_row(c: dict[str, Any]) -> dict[str, Any]:
    """One comparison: the mean paired difference, its intervals and the Wilcoxon test."""
    return {
        "pair": f"{c['a']} - {c['b']}",
        "metric": c["label"],
        "cells": c["cells"],
        "mean": diff(c["mean"], c["scale"]),
        "bootstrap": _interval(c, "bootstrap"),
        "t": _interval(c, "t_interval"),
        "t_samples": _interval(c, "t_samples_interval"),
        "p": num((c.get("wilcoxon") or {}).get("p")),
        "p_note": (c.get("wilcoxon") or {}).get("note", ""),
        "kind": c["interval"],
        "note": c.get("note", ""),
    }


def _power_row(c: dict[str, Any]) -> dict[str, Any] | None:
    """What a comparison could detect (and the cells and seeds a target needs); None without a power entry."""
    w = c.get("power") or {}
    if "min_detectable_t" in w:
        return {
            "pair": f"{c['a']} - {c['b']}",
            "cells": w["cells"],
            "folds": w["folds"],
            "sd": pct(w["sd_difference"], 1),
            "min_t": pct(w["min_detectable_t"], 1),
            "min_boot": pct(w.get("min_detectable_bootstrap"), 1),
            "target": pct(w["target"], 0),
            "cells_needed": w["cells_for_target"],
            "seeds_needed": w["seeds_for_target"],
            "too_small": w["min_detectable_t"] > w["target"],
        }
    if w:
        return {"pair": f"{c['a']} - {c['b']}", "note": w.get("note", "")}
    return None


def _issm_row(model: str, r: dict[str, Any]) -> dict[str, Any]:
    """Where one IFDD variant's ISSM put its dynamic frames, against a random frame's chance."""
    interval = r.get("t_interval")
    return {
        "model": model,
        "cells": r["cells"],
        "dynamic": pct(r["dynamic_in_episode"], 1),
        "static": pct(r["static_in_episode"], 1),
        "chance": pct(r["episode_share"], 1),
        "difference": diff(r["difference"], 100),
        "interval": NA if not interval else " to ".join(diff(v, 100) for v in interval),
        "verdict": r["verdict"],
    }
