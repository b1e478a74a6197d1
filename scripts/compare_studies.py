"""Compare each IFDD variant of one study with the same variant of another (e.g. init: faceid against
init: none), cell by cell on their common (fold, seed) cells, by the study's own rule (`VERDICT_RULE`).

    .venv/bin/python scripts/compare_studies.py A/params.yaml A B/params.yaml B --labels faceid none \\
        --out docs/measurements/ifdd_init_faceid_vs_none.json

A and B are project folders whose `make study` (or `snakemake study`) has run; each params file says which
cells its study holds. The JSON holds every comparison; the verdicts are printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ferflow.config import load_params
from ferflow.evaluate.stats import IFDD_METRICS, VERDICT_RULE
from ferflow.evaluate.study_summary import compare, read_cell
from ferflow.study import cells


def ifdd_results(params_file: Path, root: Path, classes: dict[str, int]) -> dict[str, list]:
    params = load_params(params_file)
    found: dict[str, list] = {}
    for cell in cells(params):
        if cell.family == "ifdd" and (result := read_cell(root, cell, classes)) is not None:
            found.setdefault(cell.model, []).append(result)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("params_a", type=Path)
    parser.add_argument("root_a", type=Path)
    parser.add_argument("params_b", type=Path)
    parser.add_argument("root_b", type=Path)
    parser.add_argument("--labels", nargs=2, default=("A", "B"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    classes: dict[str, int] = {}
    a = ifdd_results(args.params_a, args.root_a, classes)
    b = ifdd_results(args.params_b, args.root_b, classes)
    boot = load_params(args.params_a).study.bootstrap.model_dump()
    found = []
    for variant in sorted(set(a) & set(b)):
        name_a, name_b = (f"{variant}[{label}]" for label in args.labels)
        # Only the folds both studies hold are paired, so power is sized per common fold.
        folds = len({r.cell.fold for r in a[variant]} & {r.cell.fold for r in b[variant]})
        found += compare(name_a, name_b, a[variant], b[variant], IFDD_METRICS, boot, folds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rule": VERDICT_RULE, "comparisons": found}, indent=2, default=str))
    print(f"Verdict rule: {VERDICT_RULE}")
    for c in found:
        print(f"  {c['verdict']['text']}")


if __name__ == "__main__":
    main()
