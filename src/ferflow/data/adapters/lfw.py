"""LFW's verification protocol: `lfw/<Name>/<Name>_0001.jpg` with the pairs file `pairs.txt`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferflow.data.adapters.base import AnnotationError, media_problem, safe_relative
from ferflow.data.records import Record, Skip
from ferflow.data.synthetic.faceid import HELDOUT_DIR, PAIRS_FILE


@dataclass(frozen=True)
class VerificationSet:
    """Verification pairs: `pairs[k]` are two sample ids of `records`, `same[k]` whether they show one
    person, `folds[k]` the protocol's fold (0-based). Pairs whose images are unusable are dropped."""

    records: tuple[Record, ...]
    pairs: tuple[tuple[str, str], ...]
    same: tuple[bool, ...]
    folds: tuple[int, ...]
    skipped: tuple[Skip, ...] = ()
    sources: tuple[Path, ...] = ()


def _pair_number(path: Path, lineno: int, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise AnnotationError(path, lineno, f"image number must be a positive integer, got {text!r}")
    return int(text)


def _pair_name(path: Path, lineno: int, text: str) -> str:
    if safe_relative(text, path, lineno).as_posix() != text:
        raise AnnotationError(path, lineno, f"person name {text!r} must be one folder name")
    return text


def parse_lfw_pairs(path: str | Path) -> tuple[list[tuple[str, int, str, int]], list[int]]:
    """Read LFW's `pairs.txt`: header `folds<TAB>n`, then per fold n matched lines `name n1 n2` and n
    mismatched lines `name1 n1 name2 n2`. Returns the pairs (name, number, name, number) and their folds.

    Raises:
        AnnotationError: A missing file, a bad header, a line with the wrong fields for its place, or a
            line count that does not match the header.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "pairs file not found (LFW's pairs.txt)")
    lines = [
        (i, line.split()) for i, line in enumerate(path.read_text().splitlines(), start=1) if line.strip()
    ]
    if not lines:
        raise AnnotationError(path, None, "empty pairs file")
    lineno, header = lines[0]
    if len(header) != 2 or not all(t.isdigit() and int(t) > 0 for t in header):
        raise AnnotationError(
            path, lineno, f"expected the header 'folds<TAB>pairs', e.g. '10 300', got {header}"
        )
    n_folds, n = map(int, header)
    body = lines[1:]
    if len(body) != 2 * n * n_folds:
        raise AnnotationError(
            path,
            None,
            f"header promises {n_folds} folds x {2 * n} pairs = {2 * n * n_folds} lines, found {len(body)}",
        )
    pairs, folds = [], []
    for k, (lineno, tokens) in enumerate(body):
        matched = k % (2 * n) < n
        if matched and len(tokens) == 3:
            name = _pair_name(path, lineno, tokens[0])
            pairs.append(
                (name, _pair_number(path, lineno, tokens[1]), name, _pair_number(path, lineno, tokens[2]))
            )
        elif not matched and len(tokens) == 4:
            pairs.append(
                (
                    _pair_name(path, lineno, tokens[0]),
                    _pair_number(path, lineno, tokens[1]),
                    _pair_name(path, lineno, tokens[2]),
                    _pair_number(path, lineno, tokens[3]),
                )
            )
        else:
            expected = "a matched pair 'name n1 n2'" if matched else "a mismatched pair 'name1 n1 name2 n2'"
            raise AnnotationError(path, lineno, f"expected {expected} here, got {' '.join(tokens)!r}")
        folds.append(k // (2 * n))
    return pairs, folds


def load_lfw(
    root: str | Path,
    *,
    pairs: str | Path = PAIRS_FILE,
    image_dir: str | Path = HELDOUT_DIR,
    image_ext: str = ".jpg",
) -> VerificationSet:
    """LFW's verification protocol: `<root>/<pairs>` over images `<root>/<image_dir>/<Name>/<Name>_0001.jpg`.

    A pair whose image is missing or empty is dropped; the image is recorded as a skip.
    """
    root = Path(root)
    pairs_path = root / pairs
    base = root / image_dir
    listed, folds = parse_lfw_pairs(pairs_path)
    records: dict[str, Record] = {}
    skipped: dict[str, Skip] = {}
    names = sorted({p[0] for p in listed} | {p[2] for p in listed})
    label = {name: i for i, name in enumerate(names)}
    kept_pairs, same, kept_folds = [], [], []
    for (a, i, b, j), fold in zip(listed, folds, strict=True):
        ids = []
        for name, number in ((a, i), (b, j)):
            sample_id = f"{name}/{name}_{number:04d}"
            media = base / f"{sample_id}{image_ext}"
            if sample_id not in records and sample_id not in skipped:
                problem = media_problem(media, "image")
                if problem:
                    skipped[sample_id] = Skip(sample_id, media, problem)
                else:
                    records[sample_id] = Record(sample_id, media, "image", label[name], "test", "lfw", name)
            ids.append(sample_id)
        if all(s in records for s in ids):
            kept_pairs.append((ids[0], ids[1]))
            same.append(a == b)
            kept_folds.append(fold)
    if not kept_pairs:
        raise AnnotationError(pairs_path, None, f"no pair has both images under {base}")
    return VerificationSet(
        tuple(records.values()),
        tuple(kept_pairs),
        tuple(same),
        tuple(kept_folds),
        tuple(skipped.values()),
        (pairs_path,),
    )
