"""`ferflow data check`: what a branch's annotations list and whether its media are there, before decoding.

For each branch of the `data` section it loads every fold and split through the dataset's adapter (one
scan per media folder, one stat per sample, nothing decoded) and reports records per fold, split and
class, unusable media, the label numbering each file used and the rows it dropped. Problems, which make the
check fail: an annotation file that cannot be read, more unusable media than `data.max_skip_fraction`, a
class without samples in a split, files of one dataset numbered differently, or a sample in two folds' test
sets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferflow.config import Params
from ferflow.data.adapters.base import shared_media_scans
from ferflow.data.adapters.registry import load_records
from ferflow.data.branches import KINDS, Kind, adapter_name, adapter_options, dataset_root, section
from ferflow.data.records import RecordSet, Skip, summarize_skips
from ferflow.dataset_names import iter_folds


@dataclass
class SplitCount:
    """One fold's split as its annotation file lists it."""

    fold: int | None
    split: str
    file: str
    records: int
    classes: dict[str, int]
    skipped: int
    dropped: int
    label_base: int | None


@dataclass
class BranchCheck:
    """What `check_branch` found for one branch."""

    kind: Kind
    key: str  # the params key naming the dataset: data.video or data.image
    dataset: str
    root: str
    splits: list[SplitCount] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: int = 0  # distinct samples listed (each in one test split, or in train or test)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _count(rs: RecordSet, root: Path) -> SplitCount:
    return SplitCount(
        rs.fold,
        rs.split,
        _relative(rs.sources[0], root),
        len(rs),
        rs.class_counts(),
        len(rs.skipped),
        rs.dropped,
        rs.label_base,
    )


def _where(split: str, fold: int | None) -> str:
    return split if fold is None else f"{split} fold {fold}"


def check_branch(kind: Kind, params: Params, synthetic_root: Path) -> BranchCheck:
    """Load every fold and split of a branch's dataset and judge what the annotations list."""
    dataset = section(kind, params)
    name = adapter_name(kind, dataset)
    root = dataset_root(kind, params, synthetic_root)
    key = "data.video" if kind == "clips" else "data.image"
    report = BranchCheck(kind, key, name, str(root))
    if dataset.dataset == "synthetic" and not root.is_dir():
        report.problems.append(
            f"the embedded benchmark is not generated yet at {root}: run `ferflow synthesize` or snakemake"
        )
        return report
    options = adapter_options(kind, params)
    sets: list[RecordSet] = []
    with shared_media_scans():
        for fold in iter_folds(name):
            for split in ("train", "test"):
                try:
                    sets.append(load_records(name, root, fold=fold, split=split, **options))
                except (OSError, ValueError) as err:  # AnnotationError is a ValueError
                    report.problems.append(f"{_where(split, fold)}: {err}")
    for rs in sets:
        report.splits.append(_count(rs, root))
        empty = [c for c, n in rs.class_counts().items() if n == 0]
        if empty:
            report.problems.append(
                f"{_where(rs.split, rs.fold)} ({_relative(rs.sources[0], root)}): no samples of {empty}"
            )
        if rs.dropped:
            report.notes.append(
                f"{_where(rs.split, rs.fold)}: {rs.dropped} rows labelled 0 (no single label) dropped"
            )
    # Every sample once: fold datasets list each sample in exactly one test split.
    once = [rs for rs in sets if rs.split == "test" or rs.fold is None]
    skipped: list[Skip] = [k for rs in once for k in rs.skipped]
    folds_of: dict[str, list[int]] = {}
    for rs in once:
        for r in (*rs.records, *rs.skipped):
            folds_of.setdefault(r.sample_id, []).append(rs.fold or 0)
    twice = {k: v for k, v in folds_of.items() if len(v) > 1 and 0 not in v}
    if twice:
        example = ", ".join(f"{k} (folds {v})" for k, v in list(twice.items())[:3])
        report.problems.append(f"{len(twice)} samples are in more than one fold's test set, e.g. {example}")
    bases = {s.label_base for s in report.splits if s.label_base is not None}
    if len(bases) > 1:
        numbered = ", ".join(f"{s.file}: {s.label_base}" for s in report.splits)
        report.problems.append(
            f"the split files number their labels differently ({numbered}); set label_base in {key}.options "
            "to the right one, or correct the files"
        )
    report.skipped = [k.to_row() for k in skipped]
    total = report.samples = sum(len(rs) + len(rs.skipped) for rs in once)
    limit = params.data.max_skip_fraction
    if skipped and total:
        share = len(skipped) / total
        line = f"{len(skipped)} of {total} samples have unusable media ({share:.1%})"
        if share > limit:
            report.problems.append(
                f"{line}, above data.max_skip_fraction = {limit:.1%}:\n{summarize_skips(skipped)}"
            )
        else:
            report.notes.append(f"{line}; they will be skipped:\n{summarize_skips(skipped)}")
    return report


def check_data(params: Params, synthetic_root: Path, kinds: tuple[Kind, ...] = KINDS) -> list[BranchCheck]:
    """`check_branch` for each branch asked for."""
    return [check_branch(kind, params, synthetic_root) for kind in kinds]


def format_check(report: BranchCheck) -> str:
    """The branch's report as a table, then its notes and problems."""
    lines = [f"{report.key}: {report.dataset} at {report.root}"]
    if report.splits:
        classes = list(report.splits[0].classes)
        header = ["fold", "split", "records", *classes, "unusable", "dropped", "labels", "file"]
        rows = [
            [
                "-" if s.fold is None else str(s.fold),
                s.split,
                str(s.records),
                *(str(s.classes[c]) for c in classes),
                str(s.skipped),
                str(s.dropped),
                "names" if s.label_base is None else f"{s.label_base}-based",
                s.file,
            ]
            for s in report.splits
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            left = (1, len(r) - 2, len(r) - 1)  # split, labels, file: text columns
            cells = [
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
    lines += ["  note: " + n.replace("\n", "\n    ") for n in report.notes]
    lines += ["  PROBLEM: " + p.replace("\n", "\n    ") for p in report.problems]
    if not report.problems:
        lines.append(f"  ok: {report.samples} samples listed")
    return "\n".join(lines)


def check_summary(reports: list[BranchCheck]) -> dict[str, Any]:
    """The reports as JSON-ready data (what the Snakemake rule writes)."""
    return {
        "ok": not any(r.problems for r in reports),
        "branches": [asdict(r) for r in reports],
    }
