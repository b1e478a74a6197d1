"""The datasets by name: class names in official label order, folds, and the options each adapter takes.

What the parameters are checked against when they load (config.py), without reading any dataset; the
adapters that read them live in `ferflow.data.adapters`, and a test keeps `OPTIONS` and `CHOICES` equal to
what their loaders accept.
"""

from __future__ import annotations

from collections.abc import Iterable

DFEW_CLASSES: tuple[str, ...] = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
FERV39K_CLASSES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
MAFW_CLASSES: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
    "contempt",
    "anxiety",
    "helplessness",
    "disappointment",
)
RAFDB_CLASSES: tuple[str, ...] = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")

CLASSES: dict[str, tuple[str, ...]] = {
    "dfew": DFEW_CLASSES,
    "ferv39k": FERV39K_CLASSES,
    "mafw": MAFW_CLASSES,
    "rafdb": RAFDB_CLASSES,
    "synthetic_video": DFEW_CLASSES,
    "synthetic_image": RAFDB_CLASSES,
}
NUM_FOLDS: dict[str, int] = {"dfew": 5, "mafw": 5, "synthetic_video": 5}

LABEL_BASES: tuple[str, ...] = ("auto", "0", "1")


#: Options every loader takes but the pipeline sets itself (data.max_skip_fraction; media are always checked).
_PIPELINE = ("check_media", "max_skip_fraction")
PIPELINE_OPTIONS = frozenset(_PIPELINE)
#: The keyword options of each dataset's loader (`data.adapters.registry.LOADERS`), in signature order.
OPTIONS: dict[str, tuple[str, ...]] = {
    "dfew": ("split_dir", "media", "media_dir", "video_ext", "label_base", *_PIPELINE),
    "ferv39k": (
        "split_dir",
        "train_file",
        "test_file",
        "media",
        "media_dir",
        "video_ext",
        "label_base",
        *_PIPELINE,
    ),
    "mafw": ("split_dir", "media", "media_dir", "video_ext", "label_base", *_PIPELINE),
    "rafdb": ("label_file", "media", "media_dir", *_PIPELINE),
    "synthetic_video": ("dfew_dir", "ground_truth", *_PIPELINE),
    "synthetic_image": ("test_identities", "holdout", "rafdb_dir", "media", "ground_truth", *_PIPELINE),
}

_ALIASES = {"raf_db": "rafdb", "raf-db": "rafdb", "ferv39": "ferv39k"}


def canonical_name(dataset: str) -> str:
    """The registered name for `dataset` (case-insensitive; '-' and '_' interchangeable)."""
    key = dataset.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in CLASSES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(CLASSES)}")
    return key


#: The values each adapter's choice options accept; every other option is a path or a name (a string).
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "dfew": {"media": ("frames", "frames16", "video"), "label_base": LABEL_BASES},
    "ferv39k": {"media": ("frames", "video"), "label_base": LABEL_BASES},
    "mafw": {"media": ("frames", "video"), "label_base": LABEL_BASES},
    "rafdb": {"media": ("aligned", "original")},
    "synthetic_video": {},
    "synthetic_image": {
        "media": ("aligned", "original"),
        "test_identities": ("seen", "unseen"),
        "holdout": ("test", "validation"),
    },
}


def option_problems(dataset: str, options: dict[str, object]) -> list[tuple[str, str]]:
    """(option, what is wrong) for a dataset's adapter options as `params.yaml` gives them: unknown names,
    options the pipeline sets itself, values outside a choice, non-string paths. Empty when all is well."""
    name = canonical_name(dataset)
    accepted = [k for k in OPTIONS[name] if k not in PIPELINE_OPTIONS]
    problems = []
    for key, value in options.items():
        choices = CHOICES[name].get(key)
        if key in PIPELINE_OPTIONS:
            problems.append((key, "set by the pipeline (see data.max_skip_fraction), not a dataset option"))
        elif key not in accepted:
            problems.append((key, f"not an option of {name}; its options: {', '.join(accepted)}"))
        elif choices is not None and (isinstance(value, bool) or str(value).lower() not in choices):
            problems.append((key, f"expected one of {', '.join(choices)}, got {value!r}"))
        elif choices is None and not isinstance(value, str):
            problems.append((key, f"expected a path or name (a string), got {value!r}"))
    if name == "ferv39k" and options.get("media") == "video" and "media_dir" not in options:
        problems.append(("media_dir", "FERV39k videos need it: the folder of <scene>/<Emotion>/<id>.mp4"))
    return problems


def class_names(dataset: str) -> tuple[str, ...]:
    """The dataset's class names in its official label order."""
    return CLASSES[canonical_name(dataset)]


def iter_folds(dataset: str) -> Iterable[int | None]:
    """The folds to evaluate for `dataset`: 1..k, or just None for a fixed split."""
    name = canonical_name(dataset)
    return range(1, NUM_FOLDS[name] + 1) if name in NUM_FOLDS else (None,)
