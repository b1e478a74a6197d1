"""Labels as annotation files write them: class names, or numbers counted from 0 or from 1.

Numeric labels (DFEW's split files, and the redistributed FERV39k and MAFW lists) come 1-based in the
official files and 0-based in some copies. The `label_base` option says which (`0`, `1`, or `auto`, the
default: read from the file's label range); `auto` refuses a file whose range fits both and names the option,
so labels are never shifted silently. `RecordSet.label_base` records what was used.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from ferflow.data.adapters.base import AnnotationError, read_lines
from ferflow.dataset_names import LABEL_BASES


def parse_label_base(value: object) -> int | None:
    """The `label_base` option as 0, 1 or None (auto); accepts 0, 1, "0", "1" and "auto"."""
    text = str(value).strip().lower()
    if isinstance(value, bool) or text not in LABEL_BASES:
        raise ValueError(f"label_base must be auto, 0 or 1, got {value!r}")
    return None if text == "auto" else int(text)


def resolve_label_base(
    path: Path, labels: Sequence[tuple[int, int]], num_classes: int, option: object, *, zero_unlabelled: bool
) -> int:
    """Which numbering a file's numeric labels use: 0 (0..n-1) or 1 (1..n).

    Args:
        path: The file, for messages.
        labels: (line number, label) for every row.
        num_classes: n.
        option: The `label_base` option: 0, 1 or "auto" (decide from the file's label range).
        zero_unlabelled: Label 0 of a 1-based file means "no single label" (DFEW): such rows are dropped.

    `auto` takes 1 when label n occurs and 0 when label 0 occurs without n (DFEW: only when the file holds
    every label 0..n-1, since a 1-based DFEW file may also hold label 0); it refuses anything else.

    Raises:
        AnnotationError: a label outside the numbering's range (naming the line), or an ambiguous file.
    """
    base = parse_label_base(option)
    values = {v for _, v in labels}
    lo, hi = min(values), max(values)
    if base is None:
        if hi == num_classes:
            base = 1
        elif lo == 0 and (not zero_unlabelled or values == set(range(num_classes))):
            base = 0
        else:
            raise AnnotationError(
                path,
                None,
                f"labels span {lo}..{hi}, which fits both 0-based (0..{num_classes - 1}) and 1-based "
                f"(1..{num_classes}) numbering; set the dataset option label_base to 0 or 1 "
                "(params.yaml: data.video.options.label_base)",
            )
    low = 0 if base == 0 or zero_unlabelled else 1
    high = num_classes - 1 + base
    for lineno, v in labels:
        if not low <= v <= high:
            extra = " (0 = no single label, dropped)" if base == 1 and zero_unlabelled else ""
            raise AnnotationError(
                path, lineno, f"label must be {base}..{high} with label_base {base}{extra}, got {v}"
            )
    return base


def _class_by_name(classes: tuple[str, ...]) -> dict[str, int]:
    return {name.lower(): i for i, name in enumerate(classes)}


def labelled_lines(
    path: Path, classes: tuple[str, ...], label_base: object, expected: str
) -> tuple[list[tuple[int, str, int]], int | None]:
    """Rows (lineno, path text, 0-based label) of a list of `<path> <label>` lines, and the label base used
    (None for class names).

    Lines are space-separated (the official files) or comma-separated (`path,label`, as some repositories
    redistribute them). The label is a class name (any case) or a number (`label_base`: 0, 1 or auto); one
    file uses one kind. A first line that is no row (a header such as `path,label`: neither a class nor a
    number, and a first field without '/' or '.') is skipped.
    """
    names = _class_by_name(classes)
    parsed: list[tuple[int, str, str]] = []
    for k, (lineno, line) in enumerate(read_lines(path)):
        tokens = [t.strip() for t in next(csv.reader([line]))] if "," in line else line.split()
        if len(tokens) != 2 or not all(tokens):
            raise AnnotationError(path, lineno, f"expected {expected}, got {line!r}")
        item, label = tokens
        if k == 0 and label.lower() not in names and not label.isdigit() and not set("/.") & set(item):
            continue
        parsed.append((lineno, item, label))
    if not parsed:
        raise AnnotationError(path, None, f"no rows; expected lines {expected}")
    numeric = parsed[0][2].isdigit()
    for lineno, _, label in parsed:
        if label.isdigit() != numeric:
            kind = "a number" if numeric else "a class name"
            raise AnnotationError(path, lineno, f"label {label!r}: expected {kind}, like the first row")
        if not numeric and label.lower() not in names:
            raise AnnotationError(
                path, lineno, f"unknown class {label!r}; expected one of {', '.join(classes)}"
            )
    if not numeric:
        return [(n, item, names[label.lower()]) for n, item, label in parsed], None
    base = resolve_label_base(
        path, [(n, int(label)) for n, _, label in parsed], len(classes), label_base, zero_unlabelled=False
    )
    return [(n, item, int(label) - base) for n, item, label in parsed], base
