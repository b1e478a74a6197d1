"""Which identities the image set holds out: the rule shared by the generator's unseen-identity split and the
adapter's validation split carved from the training identities. Numpy only (the adapters import it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Share of the training part that a validation split holds out (identities for `unseen`, each identity's
#: images per class for `seen`): the same share as the default `synthetic.image_test_fraction`.
VALIDATION_FRACTION = 0.25
#: The random stream of the validation carve (fixed: the carve must not move with the benchmark's seed
#: between a validation run and the test run of the same project).
VALIDATION_SEED = 0x5A11D


def held_out_count(identities: int, fraction: float) -> int:
    """How many of `identities` to hold out: `fraction` of them, rounded, at least 2 (so that an identity
    probe has two classes) and leaving at least 2 (so that training pairs can show different people)."""
    return max(1, min(max(2, round(identities * fraction)), identities - 2))


def choose_held_out(identities: Sequence[str], fraction: float, rng: np.random.Generator) -> set[str]:
    """A random `held_out_count` of `identities` (order does not matter: they are sorted first)."""
    ordered = sorted(identities, key=lambda s: (len(s), s))
    k = held_out_count(len(ordered), fraction)
    return {ordered[int(i)] for i in rng.permutation(len(ordered))[:k]}
