"""The benchmarks section: the data stage's and the models' throughput (`ferflow bench data|models`)."""

from __future__ import annotations

from typing import Any

from ferflow.paths import BENCH_REPORTS
from ferflow.report.figures import bench as figures
from ferflow.report.formatting import NA, not_run, num
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader


def bench_section(reader: Reader, gallery: Gallery) -> dict[str, Any]:
    """``reports/bench/data.json`` and ``models.json``, each shown where present."""
    result: dict[str, Any] = {"ran": False}
    data = reader.json(BENCH_REPORTS / "data.json")
    if data:
        result["ran"] = True
        result["data"] = _data(gallery, data)
    models = reader.json(BENCH_REPORTS / "models.json")
    if models:
        result["ran"] = True
        result["models"] = _models(gallery, models)
    if not result["ran"]:
        return not_run(f"no {BENCH_REPORTS}/data.json or models.json (run `ferflow bench data|models`)")
    return result


def _data(gallery: Gallery, data: dict[str, Any]) -> dict[str, Any]:
    """The data benchmark: its figure, when and where it ran, and its targets."""
    machine = data.get("machine") or {}
    return {
        "figure": gallery.figure("bench_data", figures.bench_data, data),
        "created": data.get("created", NA),
        "machine": f"{machine.get('processor', '?')}, {machine.get('cpus_usable', '?')} usable CPUs, "
        f"load {machine.get('load_average', '?')}",
        "quick": bool((data.get("settings") or {}).get("quick")),
        "targets": [
            (k.replace("_", " "), ", ".join(f"{num(x)} at {n} px" for n, x in v.items()))
            if isinstance(v, dict)
            else (k.replace("_", " "), num(v))
            for k, v in (data.get("targets") or {}).items()
        ],
    }


def _models(gallery: Gallery, models: dict[str, Any]) -> dict[str, Any]:
    """The model benchmark: its figure, settings, device, and IFDD's overhead over its baseline."""
    machine = models.get("machine") or {}
    settings = models.get("settings") or {}
    overhead = [
        (family, phase, num(measured.get("ifdd_overhead"), 2))
        for family, v in models.items()
        if isinstance(v, dict) and family not in ("settings", "machine")
        for phase, measured in v.items()
        if isinstance(measured, dict)
    ]
    return {
        "figure": gallery.figure("bench_models", figures.bench_models, models),
        "settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
        "machine": machine.get("gpu") or machine.get("processor", "?"),
        "overhead": overhead,
    }
